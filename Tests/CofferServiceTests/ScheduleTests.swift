import Foundation
import Testing
@testable import CofferService

/// The pattern subset as pure functions: parsing, next occurrence, spacing.
@Suite struct Schedules {
    /// 2026-12-02 (a Wednesday) 00:00 UTC.
    let wednesday: Int64 = 1_796_169_600_000
    let hour: Int64 = 3_600_000, day: Int64 = 86_400_000

    @Test func weeklyAndDailyRulesFireWhenTheySay() throws {
        let s = try Schedule(patterns: ["FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=14;BYMINUTE=30"], anchor: wednesday)
        // Next: Friday 14:30, then Monday 14:30.
        let friday = try #require(s.next(after: wednesday))
        #expect(friday == wednesday + 2 * day + 14 * hour + 30 * 60_000)
        #expect(s.next(after: friday) == wednesday + 5 * day + 14 * hour + 30 * 60_000)
        let daily = try Schedule(patterns: ["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"], anchor: wednesday + 5 * hour)
        #expect(daily.next(after: wednesday + 5 * hour) == wednesday + day + 2 * hour)
        #expect(daily.next(after: wednesday + 2 * hour - 1) == wednesday + 2 * hour)
    }

    @Test func intervalCountsFromTheAnchor() throws {
        let s = try Schedule(patterns: ["FREQ=DAILY;INTERVAL=3;BYHOUR=01;BYMINUTE=00"], anchor: wednesday)
        var t = wednesday, seen: [Int64] = []
        for _ in 0..<4 {
            t = try #require(s.next(after: t))
            seen.append((t - wednesday) / day)
        }
        #expect(seen == [0, 3, 6, 9])
        let biweekly = try Schedule(patterns: ["FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=00;BYMINUTE=00"], anchor: wednesday)
        let first = try #require(biweekly.next(after: wednesday - 1))
        #expect(first == wednesday && biweekly.next(after: first) == wednesday + 14 * day)
    }

    @Test func aYearOfExecutionsInOrder() throws {
        let s = try Schedule(patterns: ["FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=03;BYMINUTE=15", "FREQ=DAILY;BYHOUR=12;BYMINUTE=00"], anchor: wednesday)
        var t = wednesday, count = 0
        while let next = s.next(after: t), next < wednesday + 365 * day {
            #expect(next > t)
            t = next
            count += 1
        }
        // 365 noons and 104 or 105 weekend mornings.
        #expect((469...470).contains(count))
    }

    @Test func executionsCloserThanAnHourAreRefused() {
        #expect(throws: ScheduleError.self) { try Schedule(patterns: ["FREQ=DAILY;BYHOUR=23;BYMINUTE=30", "FREQ=DAILY;BYHOUR=00;BYMINUTE=10"], anchor: 0) }
        #expect(throws: ScheduleError.self) { try Schedule(patterns: ["FREQ=DAILY;INTERVAL=7;BYHOUR=05;BYMINUTE=00", "FREQ=DAILY;INTERVAL=11;BYHOUR=05;BYMINUTE=30"], anchor: 0) }
        #expect(throws: Never.self) { try Schedule(patterns: ["FREQ=DAILY;BYHOUR=01;BYMINUTE=00", "FREQ=DAILY;BYHOUR=02;BYMINUTE=00"], anchor: 0) }
    }
}
