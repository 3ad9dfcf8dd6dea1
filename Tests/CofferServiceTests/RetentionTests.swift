import Foundation
import Testing
@testable import CofferService

/// Retention as a pure function: counts, durations, the long-term rules in
/// the policy's timezone, and the expiry each kept backup is given.
@Suite struct RetentionRules {
    let hour: Int64 = 3_600_000, day: Int64 = 86_400_000
    /// 2027-01-04, a Monday, 00:00 UTC.
    let monday: Int64 = 1_799_020_800_000

    func rules(_ edit: (inout PolicyDefinition) -> Void) -> PolicyDefinition {
        var d = PolicyDefinition()
        edit(&d)
        return d
    }

    func kept(_ decisions: [Retention.Decision]) -> Set<String> { Set(decisions.filter(\.keep).map(\.id)) }

    @Test func countKeepsTheNewestAndForeseesWhenEachGoes() {
        let backups = (0..<5).map { Retention.Candidate(id: "b\($0)", createdAt: monday + Int64($0) * day) }
        let upcoming = (5..<10).map { monday + Int64($0) * day }
        let d = Retention.decide(backups, rules: rules { $0.maxBackups = 3 }, now: monday + 4 * day + hour, upcoming: upcoming)
        #expect(kept(d) == ["b4", "b3", "b2"])
        // b2 is the oldest kept: the next backup pushes it out; b4 goes with the third.
        #expect(d.first { $0.id == "b2" }?.expiresAt == upcoming[0] && d.first { $0.id == "b4" }?.expiresAt == upcoming[2])
        #expect(d.first { $0.id == "b0" }?.keptBy.isEmpty == true)
    }

    @Test func durationKeepsTheYoungAndSaysUntilWhen() {
        let backups = (0..<10).map { Retention.Candidate(id: "b\($0)", createdAt: monday + Int64($0) * day) }
        let now = monday + 9 * day + hour
        let d = Retention.decide(backups, rules: rules { $0.retentionDurationDays = 7 }, now: now)
        #expect(kept(d) == Set((3..<10).map { "b\($0)" }))
        #expect(d.filter(\.keep).allSatisfy { k in k.expiresAt == backups.first { $0.id == k.id }!.createdAt + 7 * day })
    }

    @Test func longTermRulesKeepTheLatestOfEachPeriodBeyondTheCount() {
        // Every 6 hours for 20 days, from Monday 00:00 UTC.
        let backups = (0..<80).map { Retention.Candidate(id: "b\($0)", createdAt: monday + Int64($0) * 6 * hour) }
        let now = monday + 19 * day + 22 * hour
        let d = Retention.decide(backups, rules: rules { $0.maxBackups = 2; $0.dayBackups = 3; $0.weekBackups = 2; $0.timezone = "UTC+00:00" }, now: now)
        // Newest two (b79, b78), the last of each of the last 3 days (days 19, 18, 17: b79, b75, b71),
        // the last of each of the last 2 weeks (this one: b79; the one before, ended Sunday 18:00: b55).
        #expect(kept(d) == ["b79", "b78", "b75", "b71", "b55"])
        #expect(d.first { $0.id == "b71" }?.keptBy == ["day_backups"])
        #expect(d.first { $0.id == "b71" }?.expiresAt == monday + 20 * day, "day 17's keeper goes when day 20 begins")
        #expect(d.first { $0.id == "b79" }?.keptBy == ["max_backups", "day_backups", "week_backups"])
    }

    @Test func daysBeginInThePolicysTimezone() {
        // 15:30 and 16:30 UTC: one UTC day, but 23:30 and 00:30 in UTC+08:00.
        let backups = [Retention.Candidate(id: "late", createdAt: monday + 16 * hour + 30 * 60_000),
                       Retention.Candidate(id: "early", createdAt: monday + 15 * hour + 30 * 60_000),
                       Retention.Candidate(id: "old", createdAt: monday - 10 * day)]
        let now = monday + 17 * hour
        let utc = Retention.decide(backups, rules: rules { $0.maxBackups = 1; $0.dayBackups = 5; $0.timezone = "UTC+00:00" }, now: now)
        #expect(kept(utc) == ["late"])
        let east = Retention.decide(backups, rules: rules { $0.maxBackups = 1; $0.dayBackups = 5; $0.timezone = "UTC+08:00" }, now: now)
        #expect(kept(east) == ["late", "early"])
    }

    @Test func noCountAndNoDurationKeepsEverything() {
        let backups = (0..<3).map { Retention.Candidate(id: "b\($0)", createdAt: monday + Int64($0) * day) }
        let d = Retention.decide(backups, rules: rules { $0.fullBackupInterval = -1; $0.maxBackups = -1 }, now: monday + 100 * day)
        #expect(d.allSatisfy { $0.keep && $0.expiresAt == nil && $0.keptBy == ["no limit"] })
    }
}
