import Foundation

/// Which automatic backups a policy keeps, and until when: a pure function of
/// the backups, the rules, the time and the schedule's next occurrences. The
/// scheduler applies it; a simulator can show it.
///
/// Rules (CBR's): `max_backups` keeps the newest N; `retention_duration_days`
/// keeps those younger than D days; `day/week/month/year_backups` K keep the
/// latest backup of each of the last K days, weeks (from Monday), months or
/// years in the policy's timezone, beyond `max_backups`. With neither a count
/// nor a duration, everything is kept. Backups are counted per resource.
public enum Retention {
    public struct Candidate: Sendable, Equatable {
        public var id: String
        public var createdAt: Int64
        public init(id: String, createdAt: Int64) {
            self.id = id
            self.createdAt = createdAt
        }
    }

    public struct Decision: Sendable, Equatable {
        public var id: String
        public var keep: Bool
        /// The rules that keep it (`max_backups`, `retention_duration_days`, `day_backups`, ..., `no limit`); empty when it goes.
        public var keptBy: [String]
        /// When it stops being kept under the current rules and schedule; nil: never (or not foreseeable).
        public var expiresAt: Int64?
    }

    static let day: Int64 = 86_400_000

    /// `upcoming`: the schedule's next occurrences, oldest first (each one makes a newer backup and pushes the oldest out of `max_backups`).
    public static func decide(_ backups: [Candidate], rules: PolicyDefinition, now: Int64, upcoming: [Int64] = []) -> [Decision] {
        let newestFirst = backups.sorted { $0.createdAt != $1.createdAt ? $0.createdAt > $1.createdAt : $0.id > $1.id }
        let maxBackups = (rules.maxBackups ?? -1) > 0 ? rules.maxBackups : nil
        let duration = (rules.retentionDurationDays ?? -1) > 0 ? Int64(rules.retentionDurationDays!) * day : nil
        guard maxBackups != nil || duration != nil else {
            return newestFirst.map { Decision(id: $0.id, keep: true, keptBy: ["no limit"], expiresAt: nil) }
        }
        let calendar = Retention.calendar(offsetMinutes: rules.utcOffsetMinutes ?? 0)
        let longTerm: [(String, Int?, Calendar.Component)] = [("day_backups", rules.dayBackups, .day), ("week_backups", rules.weekBackups, .weekOfYear),
                                                              ("month_backups", rules.monthBackups, .month), ("year_backups", rules.yearBackups, .year)]
        var seenPeriods: [String: Set<Date>] = [:]
        return newestFirst.enumerated().map { rank, b in
            var keptBy: [String] = [], expiries: [Int64?] = []
            if let n = maxBackups, rank < n {
                keptBy.append("max_backups")
                // Pushed out by the (n - rank)-th backup still to come.
                let pushes = n - rank
                expiries.append(pushes <= upcoming.count ? upcoming[pushes - 1] : nil)
            }
            if let d = duration, b.createdAt + d > now {
                keptBy.append("retention_duration_days")
                expiries.append(b.createdAt + d)
            }
            for (name, count, component) in longTerm {
                guard let k = count, k > 0 else { continue }
                let start = Retention.periodStart(of: b.createdAt, component, calendar)
                // The first (newest) backup of each period is that period's keeper.
                guard seenPeriods[name, default: []].insert(start).inserted else { continue }
                let current = Retention.periodStart(of: now, component, calendar)
                guard let last = calendar.date(byAdding: component, value: -(k - 1), to: current), start >= last else { continue }
                keptBy.append(name)
                let end = calendar.date(byAdding: component, value: k, to: start) ?? start
                expiries.append(Int64(end.timeIntervalSince1970 * 1000))
            }
            let keep = !keptBy.isEmpty
            let expiresAt: Int64? = keep && !expiries.contains(where: { $0 == nil }) ? expiries.compactMap { $0 }.max() : nil
            return Decision(id: b.id, keep: keep, keptBy: keptBy, expiresAt: expiresAt)
        }
    }

    /// The schedule's next occurrences after `time` that `decide` needs: each
    /// pushes the oldest backup out of `max_backups`, so as many as that count
    /// (at most 1 000); none without a count.
    public static func upcoming(_ schedule: Schedule, after time: Int64, rules: PolicyDefinition) -> [Int64] {
        guard let n = rules.maxBackups, n > 0 else { return [] }
        var out: [Int64] = [], t = time
        while out.count < min(n, 1_000), let next = schedule.next(after: t) {
            out.append(next)
            t = next
        }
        return out
    }

    static func calendar(offsetMinutes: Int) -> Calendar {
        var c = Calendar(identifier: .iso8601)
        c.timeZone = TimeZone(secondsFromGMT: offsetMinutes * 60) ?? TimeZone(identifier: "UTC")!
        return c
    }

    static func periodStart(of ms: Int64, _ component: Calendar.Component, _ calendar: Calendar) -> Date {
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        return calendar.dateInterval(of: component, for: date)?.start ?? date
    }
}
