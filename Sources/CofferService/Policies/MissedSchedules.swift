import CofferModel
import CofferSystem
import Foundation

/// The dead man's switch: every claimed occurrence is checked once its
/// window is over, and one that produced no successful backup (missed while
/// no server ran, skipped because the last one still ran, failed to start,
/// or started but not available in time) is published as `schedule.missed`,
/// one event per schedule and pass. Checking marks the claim in the catalog
/// first, so with several processes one reports each occurrence.
extension Scheduler {
    /// How long after its occurrence a backup has to succeed: until the next occurrence, at most a day.
    static func window(_ schedule: Schedule, occurrence: Int64) -> Int64 {
        let next = schedule.next(after: occurrence) ?? (occurrence + 86_400_000)
        return min(max(next - occurrence, 60_000), 86_400_000)
    }

    /// What a claim's occurrence is checked against, or nil when its schedule no longer applies (the policy was deleted, unbound or disabled).
    struct AuditedSchedule {
        var schedule: Schedule
        var policyName: String
    }

    /// `bindings`: this pass's (every enabled backup policy bound to a vault), whose parsed schedules the
    /// scheduler keeps; only RDS instances are looked up. The vault's name is read when a miss is reported.
    func auditedSchedule(_ claim: ScheduleClaim, bindings: [String: ScheduleBinding], now: Int64) async throws -> AuditedSchedule? {
        if claim.policyID.hasPrefix("rds:") {
            guard let record = try await catalog.databases.get(claim.vaultID),
                  let policy = try? JSONDecoder().decode(DatabaseService.Policy.self, from: Data(record.policy.utf8)),
                  let schedule = DatabaseService.schedule(policy) else { return nil }
            return AuditedSchedule(schedule: schedule, policyName: "automated backups")
        }
        guard let binding = bindings[claim.policyID + "/" + claim.vaultID], let schedule = try? plan(binding, now: now).schedule else { return nil }
        return AuditedSchedule(schedule: schedule, policyName: binding.policy.name)
    }

    /// Whether the occurrence's backup is available.
    func succeeded(_ claim: ScheduleClaim) async throws -> (ok: Bool, status: String?) {
        guard claim.outcome == "started", let id = claim.checkpointID else { return (false, nil) }
        if claim.policyID.hasPrefix("rds:") {
            let status = try await catalog.backups.backup(id: id)?.status
            return (status == .available, status?.rawValue)
        }
        // From its backups (the checkpoint's own status is settled after them).
        let made = try await catalog.backups.backups(checkpoint: id).filter { $0.parentId == nil }.map(\.status)
        guard !made.isEmpty else { return (false, nil) }
        let status = CheckpointStatus.settled(from: made)
        return (status == .available, status.rawValue)
    }

    func auditOccurrences(now: Int64, bindings list: [ScheduleBinding]) async throws {
        let claims = try await catalog.policies.unaudited(before: now - 60_000)
        guard !claims.isEmpty else { return }
        let bindings = Dictionary(list.map { ($0.policy.id + "/" + $0.vaultID, $0) }, uniquingKeysWith: { a, _ in a })
        var schedules: [String: AuditedSchedule?] = [:]
        var missed: [String: (claim: ScheduleClaim, audited: AuditedSchedule, window: Int64, occurrences: [MissedSchedulePayload.Occurrence])] = [:]
        for claim in claims {
            let key = claim.policyID + "/" + claim.vaultID
            if schedules[key] == nil { schedules[key] = .some(try await auditedSchedule(claim, bindings: bindings, now: now)) }
            guard let audited = schedules[key] ?? nil else {
                // Its schedule no longer applies: nothing was owed.
                _ = try await catalog.policies.markAudited(claim, at: now)
                continue
            }
            let window = Scheduler.window(audited.schedule, occurrence: claim.occurrence)
            guard claim.occurrence + window <= now else { continue }
            let (ok, status) = try await succeeded(claim)
            guard try await catalog.policies.markAudited(claim, at: now), !ok else { continue }
            let occurrence = MissedSchedulePayload.Occurrence(occurrence: UTCTimeFormat.cbrString(epochMilliseconds: claim.occurrence), outcome: claim.outcome,
                                                              checkpoint_id: claim.checkpointID, checkpoint_status: status)
            missed[key, default: (claim, audited, window, [])].occurrences.append(occurrence)
        }
        guard let events else { return }
        for (_, miss) in missed.sorted(by: { $0.key < $1.key }) {
            let rds = miss.claim.policyID.hasPrefix("rds:")
            let vaultName = rds ? nil : try await catalog.vaults.get(project: miss.claim.projectID, id: miss.claim.vaultID)?.name
            logger.warning("scheduled backups missed", metadata: ["policy": "\(miss.claim.policyID)", "target": "\(miss.claim.vaultID)", "count": "\(miss.occurrences.count)"])
            await events.publish(.scheduleMissed, project: miss.claim.projectID, data: MissedSchedulePayload(
                policy_id: miss.claim.policyID, policy_name: miss.audited.policyName, vault_id: rds ? nil : miss.claim.vaultID, vault_name: vaultName,
                instance_id: rds ? miss.claim.vaultID : nil, window_seconds: miss.window / 1000, occurrences: Array(miss.occurrences.suffix(100))))
        }
    }
}
