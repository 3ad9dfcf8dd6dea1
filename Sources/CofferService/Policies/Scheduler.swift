import CofferModel
import CofferSystem
import Foundation
import Logging
import ServiceLifecycle

/// Fires backup policies: every enabled backup policy bound to a vault makes
/// a checkpoint of that vault at each occurrence of its patterns, marked
/// automatic. Each occurrence is claimed once in the catalog (a unique
/// (policy, vault, occurrence) row), so several processes on one catalog fire
/// it once, not a timer per process.
///
/// Rules (CBR's, issue #11): occurrences are counted from the first pass that
/// sees a binding (the baseline); of several occurrences missed while no
/// server ran, only the latest runs, if it is less than one period old (the
/// gap to the occurrence before it), and the others are recorded as skipped;
/// an occurrence while a backup of that vault is still running is skipped
/// and recorded. Skips and failures show as operation logs of the vault.
public final class Scheduler: Service, @unchecked Sendable {
    let catalog: any Catalog
    let backups: BackupService
    /// RDS instances' automated backups (nil: none).
    let databases: DatabaseService?
    let clock: any Clock
    let logger: Logger
    /// How often a pass runs (one-minute granularity is what CBR offers).
    let interval: TimeInterval
    /// How often each vault's retention runs at the least.
    static let retentionInterval: Int64 = 3_600_000
    /// How long settled claims are kept as history (each schedule's latest stays regardless).
    static let claimHistory: Int64 = 30 * 86_400_000
    private let lock = NSLock()
    /// When each vault's retention last ran in this process.
    private var retentionRuns: [String: Int64] = [:]
    /// Per schedule (policy and vault): its parsed patterns and the first
    /// occurrence after the last pass that looked at it. Claims only move
    /// forward, so until then a pass needs no catalog query for it; a policy
    /// edit changes the patterns and so the plan.
    private struct Plan {
        var patterns: String
        var anchor: Int64
        var schedule: Schedule
        var nextDue: Int64?
    }
    private var plans: [String: Plan] = [:]
    private var claimsForgottenAt: Int64?
    /// Where missed occurrences and retention's deletions are counted (/metrics).
    public var metrics = ServiceMetrics()
    /// Where retention's deletions and missed schedules are published for webhooks (nil: nowhere).
    public var events: EventPublisher?

    public init(catalog: any Catalog, backups: BackupService, databases: DatabaseService? = nil, clock: any Clock = SystemClock(), logger: Logger,
                interval: TimeInterval = 30) {
        self.catalog = catalog
        self.backups = backups
        self.databases = databases
        self.clock = clock
        self.logger = logger
        self.interval = interval
    }

    /// What one pass did with one occurrence.
    public struct Fired: Sendable, Equatable {
        public var policyID: String
        public var vaultID: String
        public var occurrence: Int64
        public var outcome: String
        public var checkpointID: String?
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
    }

    /// A pass, then a sleep of `interval`, until cancelled.
    public func runUntilCancelled() async {
        while !Task.isCancelled {
            do { _ = try await pass() } catch { logger.error("scheduler pass failed", metadata: ["error": "\(ServiceError.logText(error))"]) }
            do { try await clock.sleep(for: interval) } catch { return }
        }
    }

    /// One pass over every schedule: the due occurrences it claimed and what became of them.
    @discardableResult
    public func pass() async throws -> [Fired] {
        let now = clock.now().epochMilliseconds
        var fired: [Fired] = []
        try await failInterrupted(now: now)
        try await backups.queuePrunes(now: now)
        if lock.withLock({ claimsForgottenAt.map { now - $0 >= Scheduler.retentionInterval } ?? true }) {
            _ = try await catalog.policies.forgetClaims(before: now - Scheduler.claimHistory)
            lock.withLock { claimsForgottenAt = now }
        }
        // A process's first pass has no plans: every schedule's latest claim in one query instead of one each.
        let known: [String: Int64]? = lock.withLock({ plans.isEmpty }) ? try await catalog.policies.lastClaims() : nil
        let bindings = try await catalog.policies.schedules()
        for binding in bindings {
            do {
                fired += try await pass(binding, now: now, known: known)
                if retentionDue(binding.vaultID, now: now) {
                    try await applyRetention(binding, now: now)
                    lock.withLock { retentionRuns[binding.vaultID] = now }
                }
            } catch {
                logger.error("schedule failed", metadata: ["policy": "\(binding.policy.id)", "vault": "\(binding.vaultID)", "error": "\(ServiceError.logText(error))"])
            }
        }
        fired += try await passDatabases(now: now)
        try await auditOccurrences(now: now, bindings: bindings)
        return fired
    }

    /// Whether a vault's (or instance's) hourly retention is due. A key seen
    /// for the first time counts as run at a moment of the past hour fixed by
    /// the key, so after a start the catalog's retention spreads over the hour
    /// instead of all running in the first pass.
    func retentionDue(_ key: String, now: Int64) -> Bool {
        lock.withLock {
            if retentionRuns[key] == nil {
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                retentionRuns[key] = now - Int64(hash % UInt64(Scheduler.retentionInterval))
            }
            return now - retentionRuns[key]! >= Scheduler.retentionInterval
        }
    }

    /// An occurrence claimed as `running` whose checkpoint never got recorded
    /// (the process stopped in between) is not fired again (at most once):
    /// after an hour it is settled as failed, and the tenant is told.
    func failInterrupted(now: Int64) async throws {
        for claim in try await catalog.policies.claims(outcome: "running", before: now - Scheduler.retentionInterval)
            where try await catalog.policies.resolve(claim, from: "running", to: "failed") {
            guard !claim.policyID.hasPrefix("rds:") else { continue }
            try await record(project: claim.projectID, vaultID: claim.vaultID, status: .failed, reason: .internalFailure, occurrence: claim.occurrence,
                             message: "the scheduled backup of \(UTCTimeFormat.cbrString(epochMilliseconds: claim.occurrence)) did not start: the server stopped while starting it")
        }
    }

    /// What is due for one schedule since its last claim, claimed by this
    /// process: the missed occurrences it recorded as skipped, and the latest
    /// if this process won it (`stale`: older than its period, so skipped too).
    struct Due {
        var missed: [Int64] = []
        var latest: Int64?
        var stale = false
    }

    /// `known`: every schedule's latest claim, read beforehand (nil: look this one up).
    func claimDue(policy: String, target: String, project: String, schedule: Schedule, now: Int64, known: [String: Int64]? = nil) async throws -> Due {
        let store = catalog.policies
        func claim(_ occurrence: Int64, _ outcome: String) async throws -> Bool {
            try await store.claim(ScheduleClaim(policyID: policy, vaultID: target, projectID: project, occurrence: occurrence, outcome: outcome, claimedAt: now))
        }
        let latest: Int64?
        if let known { latest = known[policy + "/" + target] } else { latest = try await store.lastClaim(policy: policy, vault: target) }
        guard let last = latest else {
            // First sight of this schedule: occurrences count from here (a new binding does not fire for the past).
            _ = try await claim(now, "baseline")
            return Due()
        }
        var due: [Int64] = []
        var t = last
        while let next = schedule.next(after: t), next <= now {
            due.append(next)
            t = next
            // A long outage: the newest occurrences are enough to decide; the rest are summarised.
            if due.count > 1_000 { due.removeFirst(due.count - 1_000) }
        }
        guard let latest = due.last else { return Due() }
        var result = Due()
        for occurrence in due.dropLast() where try await claim(occurrence, "skipped_missed") { result.missed.append(occurrence) }
        let previous = schedule.previous(before: latest) ?? latest
        result.stale = latest - previous > 0 && now - latest >= latest - previous
        if try await claim(latest, result.stale ? "skipped_missed" : "running") { result.latest = latest }
        return result
    }

    /// The schedule's parsed patterns, and whether an occurrence may be due (false: its next one is still ahead).
    func plan(_ binding: ScheduleBinding, now: Int64) throws -> (schedule: Schedule, mayBeDue: Bool) {
        let key = binding.policy.id + "/" + binding.vaultID, policy = binding.policy
        if let plan = lock.withLock({ plans[key] }), plan.patterns == policy.patterns, plan.anchor == policy.createdAt {
            return (plan.schedule, plan.nextDue.map { $0 <= now } ?? true)
        }
        let patterns = try JSONDecoder().decode([String].self, from: Data(policy.patterns.utf8))
        let schedule = try Schedule(patterns: patterns, anchor: policy.createdAt)
        lock.withLock { plans[key] = Plan(patterns: policy.patterns, anchor: policy.createdAt, schedule: schedule, nextDue: nil) }
        return (schedule, true)
    }

    /// Every occurrence up to `now` has been claimed (here or elsewhere): the next pass may skip the schedule until its next one.
    func planned(_ binding: ScheduleBinding, schedule: Schedule, after now: Int64) {
        let next = schedule.next(after: now)
        lock.withLock { plans[binding.policy.id + "/" + binding.vaultID]?.nextDue = next ?? .max }
    }

    func pass(_ binding: ScheduleBinding, now: Int64, known: [String: Int64]? = nil) async throws -> [Fired] {
        let policy = binding.policy, vaultID = binding.vaultID
        let (schedule, mayBeDue) = try plan(binding, now: now)
        guard mayBeDue else { return [] }
        let due = try await claimDue(policy: policy.id, target: vaultID, project: policy.projectID, schedule: schedule, now: now, known: known)
        planned(binding, schedule: schedule, after: now)
        var fired = due.missed.map { Fired(policyID: policy.id, vaultID: vaultID, occurrence: $0, outcome: "skipped_missed") }
        guard let latest = due.latest else { return fired }
        if !due.missed.isEmpty || due.stale {
            let count = due.missed.count + (due.stale ? 1 : 0)
            try await record(binding, status: .skipped, reason: .scheduleMissed, occurrence: due.stale ? latest : due.missed.last!,
                             message: "\(count) scheduled backup\(count == 1 ? "" : "s") of policy \(policy.name) missed while no Coffer server ran; "
                                 + (due.stale ? "the latest is more than one period old and was skipped too" : "the latest runs now"))
        }
        if due.stale {
            fired.append(Fired(policyID: policy.id, vaultID: vaultID, occurrence: latest, outcome: "skipped_missed"))
            return fired
        }
        let (outcome, checkpoint) = try await fire(binding, occurrence: latest)
        try await catalog.policies.settle(policy: policy.id, vault: vaultID, occurrence: latest, outcome: outcome, checkpoint: checkpoint)
        fired.append(Fired(policyID: policy.id, vaultID: vaultID, occurrence: latest, outcome: outcome, checkpointID: checkpoint))
        return fired
    }

    // MARK: RDS automated backups

    /// Each database instance whose backup policy keeps days: an automatic
    /// (`auto`) backup in its window on its weekdays, claimed like a policy's
    /// (as `rds:<instance>`), and hourly its automatic backups older than
    /// `keep_days` deleted.
    func passDatabases(now: Int64) async throws -> [Fired] {
        guard let databases else { return [] }
        var fired: [Fired] = []
        for (record, project) in try await catalog.databases.all() {
            guard let policy = try? JSONDecoder().decode(DatabaseService.Policy.self, from: Data(record.policy.utf8)),
                  let schedule = DatabaseService.schedule(policy) else { continue }
            let key = "rds:" + record.resourceId
            do {
                let due = try await claimDue(policy: key, target: record.resourceId, project: project, schedule: schedule, now: now)
                fired += due.missed.map { Fired(policyID: key, vaultID: record.resourceId, occurrence: $0, outcome: "skipped_missed") }
                if let latest = due.latest {
                    var outcome = "skipped_missed", backupID: String?
                    if !due.stale {
                        let caller = Principal.system(project: project)
                        let name = "auto-" + UTCTimeFormat.cbrString(epochMilliseconds: latest).prefix(16).replacingOccurrences(of: ":", with: "")
                        do {
                            backupID = try await databases.createBackup(caller: caller, instanceID: record.resourceId, name: name, description: "automated backup",
                                                                        automatic: true).id
                            outcome = "started"
                        } catch let e as ServiceError where e.reason == .instanceBusy {
                            outcome = "skipped_busy"
                        } catch let e as ServiceError {
                            logger.warning("automated database backup could not start", metadata: ["instance": "\(record.resourceId)", "error": "\(e.description)"])
                            outcome = "failed"
                        }
                        try await catalog.policies.settle(policy: key, vault: record.resourceId, occurrence: latest, outcome: outcome, checkpoint: backupID)
                    }
                    fired.append(Fired(policyID: key, vaultID: record.resourceId, occurrence: latest, outcome: outcome, checkpointID: backupID))
                }
                if retentionDue(key, now: now) {
                    _ = try await databases.expire(project: project, instanceID: record.resourceId, olderThan: now - Int64(policy.keep_days) * 86_400_000)
                    lock.withLock { retentionRuns[key] = now }
                }
            } catch {
                logger.error("database schedule failed", metadata: ["instance": "\(record.resourceId)", "error": "\(ServiceError.logText(error))"])
            }
        }
        return fired
    }

    /// Makes the automatic checkpoint, or says why not.
    func fire(_ binding: ScheduleBinding, occurrence: Int64) async throws -> (outcome: String, checkpoint: String?) {
        guard let vault = try await catalog.vaults.get(project: binding.policy.projectID, id: binding.vaultID) else { return ("failed", nil) }
        for bound in try await catalog.vaults.resources(vault: vault.id) where try await catalog.backups.hasActiveBackup(resource: bound.resourceID) {
            try await record(binding, status: .skipped, reason: .backupBusy, occurrence: occurrence,
                             message: "the scheduled backup of policy \(binding.policy.name) was skipped: the previous backup of vault \(vault.name) is still running")
            return ("skipped_busy", nil)
        }
        var input = CheckpointInput(vaultID: vault.id)
        input.autoTrigger = true
        input.policyID = binding.policy.id
        input.fullEvery = (try? JSONDecoder().decode(PolicyDefinition.self, from: Data(binding.policy.definition.utf8)))?.fullBackupInterval
        let suffix = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(4))
        input.name = (vault.backupNamePrefix.isEmpty ? "autobk" : vault.backupNamePrefix) + "_" + suffix
        let caller = Principal.system(project: vault.projectID)
        do {
            let (checkpoint, _, _) = try await backups.createCheckpoint(caller: caller, input, nameIsValidated: true)
            logger.info("scheduled backup", metadata: ["policy": "\(binding.policy.id)", "vault": "\(vault.id)", "checkpoint": "\(checkpoint.id)"])
            return ("started", checkpoint.id)
        } catch let e as ServiceError {
            try await record(binding, status: .failed, reason: e.reason, occurrence: occurrence,
                             message: "the scheduled backup of policy \(binding.policy.name) could not start: \(e.description)")
            return ("failed", nil)
        }
    }

    /// After an automatic backup is made: its vault's retention runs now rather than within the hour.
    public func backupFinished(_ backupID: String) async {
        do {
            // The backup's own policy, if its vault is still bound to it and it still fires (not every binding of the catalog).
            guard let backup = try await catalog.backups.backup(id: backupID), backup.autoTrigger, let policyID = backup.policyId,
                  try await catalog.vaults.get(id: backup.vaultId)?.policyID == policyID,
                  let policy = try await catalog.policies.get(project: backup.projectId, id: policyID), policy.enabled, policy.operationType == "backup"
            else { return }
            let binding = ScheduleBinding(policy: policy, vaultID: backup.vaultId)
            let now = clock.now().epochMilliseconds
            try await applyRetention(binding, now: now)
            lock.withLock { retentionRuns[binding.vaultID] = now }
        } catch {
            logger.error("retention after a backup failed", metadata: ["backup": "\(backupID)", "error": "\(ServiceError.logText(error))"])
        }
    }

    /// Applies the binding's policy to the vault's available automatic backups,
    /// resource by resource: every kept backup gets the expiry the rules and
    /// the schedule foresee; the others are deleted through the normal delete
    /// path (an operation log each, space reclaimed by its prune), even in a
    /// locked vault. Manual backups are never touched. Returns the deleted ids.
    @discardableResult
    public func applyRetention(_ binding: ScheduleBinding, now: Int64) async throws -> [String] {
        let definition = try JSONDecoder().decode(PolicyDefinition.self, from: Data(binding.policy.definition.utf8))
        let schedule = try plan(binding, now: now).schedule
        let automatic = try await catalog.backups.expiryCandidates(vault: binding.vaultID)
        let upcoming = Retention.upcoming(schedule, after: now, rules: definition)
        var expired: [String] = [], foreseen: [(id: String, expiresAt: Int64?)] = []
        for (_, group) in Dictionary(grouping: automatic, by: \.resourceID) {
            let byID = Dictionary(uniqueKeysWithValues: group.map { ($0.id, $0) })
            let decisions = Retention.decide(group.map { Retention.Candidate(id: $0.id, createdAt: $0.createdAt) }, rules: definition, now: now, upcoming: upcoming)
            for d in decisions {
                guard let backup = byID[d.id] else { continue }
                if !d.keep {
                    expired.append(d.id)
                } else if backup.expiredAt != d.expiresAt {
                    foreseen.append((d.id, d.expiresAt))
                }
            }
        }
        // New expiries in transactions of 500: a first pass over a large vault writes thousands, and other callers wait while one is open.
        for start in stride(from: 0, to: foreseen.count, by: 500) {
            try await catalog.backups.setExpiry(Array(foreseen[start..<min(start + 500, foreseen.count)]))
        }
        let deleted = try await backups.expire(expired, project: binding.policy.projectID)
        metrics.retentionDeleted(vault: binding.vaultID, count: deleted.count)
        if !deleted.isEmpty, let events {
            await events.publish(.retentionDeleted, project: binding.policy.projectID,
                                 data: RetentionPayload(policy_id: binding.policy.id, policy_name: binding.policy.name, vault_id: binding.vaultID,
                                                        deleted_count: deleted.count, deleted_backup_ids: Array(deleted.prefix(1000))))
        }
        if !deleted.isEmpty {
            logger.info("retention", metadata: ["policy": "\(binding.policy.id)", "vault": "\(binding.vaultID)", "deleted": "\(deleted.count)"])
        }
        return deleted
    }

    /// An operation log of the vault saying what became of an occurrence (the tenant reads these).
    func record(_ binding: ScheduleBinding, status: OperationStatus, reason: Reason, occurrence: Int64, message: String) async throws {
        try await record(project: binding.policy.projectID, vaultID: binding.vaultID, status: status, reason: reason, occurrence: occurrence, message: message)
    }

    func record(project: String, vaultID: String, status: OperationStatus, reason: Reason, occurrence: Int64, message: String) async throws {
        guard let vault = try await catalog.vaults.get(project: project, id: vaultID) else { return }
        if reason == .scheduleMissed { metrics.scheduleMissed(project: vault.projectID) }
        let now = clock.now().epochMilliseconds
        try await catalog.operationLogs.insert(OperationLogRecord(
            id: BackupService.newID(), projectId: vault.projectID, operationType: "backup", status: status, vaultId: vault.id, vaultName: vault.name,
            providerId: VaultService.providerIDs[vault.objectType] ?? "", resourceId: "", resourceName: "", resourceType: "", checkpointId: nil, backupId: nil,
            progress: 0, errorCode: reason.rawValue, errorMsg: message, createdAt: now, startedAt: occurrence, endedAt: now, updatedAt: now))
    }
}
