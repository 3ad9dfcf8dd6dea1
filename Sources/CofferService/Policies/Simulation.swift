import CofferModel
import Foundation

/// What a policy would do over a span of time, without touching anything:
/// each occurrence of its schedule makes a backup (of one resource), and
/// retention (`Retention.decide`, the function the scheduler applies) runs
/// after each one, as the scheduler does.
public struct Simulation: Sendable {
    public struct Backup: Sendable, Equatable {
        public var createdAt: Int64
        /// The rules that keep it at the end of the span; empty when retention deleted it.
        public var keptBy: [String]
        /// When retention deleted it (nil: still kept at the end).
        public var deletedAt: Int64?
        /// For kept ones: when it would expire, as the scheduler would record it.
        public var expiresAt: Int64?
    }
    public var start: Int64
    public var end: Int64
    public var backups: [Backup]

    public static let maxSpanDays = 366
    public static let maxBackups = 5_000

    public static func run(definition: PolicyDefinition, schedule: Schedule, start: Int64, end: Int64) throws -> Simulation {
        guard end > start else { throw ServiceError.validation("simulate.end must be after simulate.start") }
        guard end - start <= Int64(maxSpanDays) * 86_400_000 else { throw ServiceError.validation("simulate may span at most \(maxSpanDays) days") }
        var made: [Int64] = []
        var t = start - 1
        while let next = schedule.next(after: t), next <= end {
            guard made.count < maxBackups else { throw ServiceError.validation("the schedule makes more than \(maxBackups) backups in this span; simulate a shorter one") }
            made.append(next)
            t = next
        }
        var alive: [Int: Int64] = [:]   // index -> created
        var deletedAt: [Int: Int64] = [:]
        let keepsAll = (definition.maxBackups ?? -1) <= 0 && (definition.retentionDurationDays ?? -1) <= 0
        for (i, created) in made.enumerated() {
            alive[i] = created
            guard !keepsAll else { continue }
            let decisions = Retention.decide(alive.map { Retention.Candidate(id: String($0.key), createdAt: $0.value) }, rules: definition, now: created)
            for d in decisions where !d.keep {
                let index = Int(d.id)!
                alive[index] = nil
                deletedAt[index] = created
            }
        }
        // Expired by time alone between the last backup and the end of the span.
        let upcoming = Retention.upcoming(schedule, after: end, rules: definition)
        let final = Retention.decide(alive.map { Retention.Candidate(id: String($0.key), createdAt: $0.value) }, rules: definition, now: end, upcoming: upcoming)
        var kept: [Int: Retention.Decision] = [:]
        for d in final {
            if d.keep { kept[Int(d.id)!] = d } else { deletedAt[Int(d.id)!] = end }
        }
        let backups = made.enumerated().map { i, created in
            Backup(createdAt: created, keptBy: kept[i]?.keptBy ?? [], deletedAt: deletedAt[i], expiresAt: kept[i]?.expiresAt)
        }
        return Simulation(start: start, end: end, backups: backups)
    }
}

extension PolicyService {
    /// Simulates a stored policy, or one given inline, from `start` to `end` (epoch milliseconds).
    public func simulate(caller: Principal, policyID: String?, inline: PolicyInput?, start: Int64?, end: Int64?, days: Int?) async throws -> Simulation {
        let definition: PolicyDefinition, patterns: [String], anchor: Int64
        switch (policyID, inline) {
        case let (id?, nil):
            let view = try await view(project: caller.projectID, id: id)
            (definition, patterns, anchor) = (view.definition, view.patterns, view.record.createdAt)
        case let (nil, input?):
            try PolicyService.check(input.definition, unsupported: input.unsupported)
            (definition, patterns, anchor) = (input.definition, input.patterns, start ?? clock.now().epochMilliseconds)
        default:
            throw ServiceError.validation("simulate needs policy_id or policy (one of them)")
        }
        let schedule = try PolicyService.schedule(patterns, anchor: anchor)
        let from = start ?? clock.now().epochMilliseconds
        if let days, !(1...Simulation.maxSpanDays).contains(days) { throw ServiceError.validation("simulate.days must be 1 to \(Simulation.maxSpanDays)") }
        let to = end ?? from + Int64(days ?? 30) * 86_400_000
        return try Simulation.run(definition: definition, schedule: schedule, start: from, end: to)
    }
}
