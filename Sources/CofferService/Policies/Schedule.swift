import Foundation

/// A policy's patterns, parsed: the RFC 2445 subset CBR accepts
/// (`FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=14;BYMINUTE=00`,
/// `FREQ=DAILY;INTERVAL=3;BYHOUR=02;BYMINUTE=30`), times in UTC as CBR's.
/// Pure: no clock, no I/O. The scheduler asks it for the next occurrence;
/// validation asks it whether two executions come closer than an hour.
public struct Schedule: Sendable, Equatable {
    public enum Frequency: String, Sendable { case daily = "DAILY", weekly = "WEEKLY" }

    public struct Rule: Sendable, Equatable {
        public var frequency: Frequency
        public var interval: Int
        /// ISO weekdays 1 (Monday) ... 7 (Sunday); weekly rules only.
        public var weekdays: Set<Int>
        public var hours: [Int]
        public var minutes: [Int]

        /// Minutes after midnight (UTC) at which the rule fires on a day it fires.
        var times: [Int] { hours.flatMap { h in minutes.map { h * 60 + $0 } }.sorted() }
    }

    public static let maxRules = 24
    static let maxInterval = 99
    static let weekdayNames = ["MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6, "SU": 7]

    public var rules: [Rule]
    /// The day (UTC) INTERVAL counts from: the policy's creation.
    public var anchorDay: Int

    /// Parses `patterns`; each violation is a message naming the pattern and the rule it breaks.
    public init(patterns: [String], anchor: Int64) throws(ScheduleError) {
        guard !patterns.isEmpty else { throw ScheduleError("trigger.properties.pattern must list at least one rule") }
        guard patterns.count <= Schedule.maxRules else {
            throw ScheduleError("trigger.properties.pattern may list at most \(Schedule.maxRules) rules (\(patterns.count) given)")
        }
        rules = try patterns.enumerated().map { i, text throws(ScheduleError) in try Schedule.rule(text, field: "trigger.properties.pattern[\(i)]") }
        anchorDay = Int(floorDiv(anchor, 86_400_000))
        if let (a, b) = closestPair(), b - a < 60 {
            throw ScheduleError("trigger.properties.pattern: executions must be at least one hour apart (two fall \(b - a) minutes apart, at "
                                + "\(Schedule.text(minute: a)) and \(Schedule.text(minute: b)) UTC)")
        }
    }

    static func rule(_ text: String, field: String) throws(ScheduleError) -> Rule {
        var parts: [String: String] = [:]
        for item in text.split(separator: ";", omittingEmptySubsequences: false) {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, !pair[1].isEmpty else { throw ScheduleError("\(field) \(text): \(item) is not KEY=VALUE") }
            let key = pair[0].uppercased()
            guard ["FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE"].contains(key) else {
                throw ScheduleError("\(field) \(text): \(key) is not supported (FREQ, INTERVAL, BYDAY, BYHOUR, BYMINUTE)")
            }
            guard parts[key] == nil else { throw ScheduleError("\(field) \(text): \(key) is given twice") }
            parts[key] = String(pair[1])
        }
        guard let freqText = parts["FREQ"] else { throw ScheduleError("\(field) \(text): FREQ is required (DAILY or WEEKLY)") }
        guard let frequency = Frequency(rawValue: freqText.uppercased()) else { throw ScheduleError("\(field) \(text): FREQ must be DAILY or WEEKLY") }
        var interval = 1
        if let i = parts["INTERVAL"] {
            guard let n = Int(i), (1...maxInterval).contains(n) else { throw ScheduleError("\(field) \(text): INTERVAL must be 1 to \(maxInterval)") }
            interval = n
        }
        var weekdays: Set<Int> = []
        if let days = parts["BYDAY"] {
            guard frequency == .weekly else { throw ScheduleError("\(field) \(text): BYDAY is for FREQ=WEEKLY") }
            for d in days.split(separator: ",", omittingEmptySubsequences: false) {
                guard let n = weekdayNames[d.uppercased()] else { throw ScheduleError("\(field) \(text): BYDAY \(d) is not one of MO, TU, WE, TH, FR, SA, SU") }
                weekdays.insert(n)
            }
        } else if frequency == .weekly {
            throw ScheduleError("\(field) \(text): FREQ=WEEKLY needs BYDAY")
        }
        func numbers(_ key: String, _ range: ClosedRange<Int>) throws(ScheduleError) -> [Int] {
            guard let list = parts[key] else { throw ScheduleError("\(field) \(text): \(key) is required") }
            var out: [Int] = []
            for item in list.split(separator: ",", omittingEmptySubsequences: false) {
                guard item.allSatisfy(\.isASCII), let n = Int(item), range.contains(n) else {
                    throw ScheduleError("\(field) \(text): \(key) \(item) must be \(range.lowerBound) to \(range.upperBound)")
                }
                out.append(n)
            }
            return Array(Set(out)).sorted()
        }
        return Rule(frequency: frequency, interval: interval, weekdays: weekdays, hours: try numbers("BYHOUR", 0...23), minutes: try numbers("BYMINUTE", 0...59))
    }

    /// Whether `rule` fires on `day` (days since 1970-01-01, UTC).
    func fires(_ rule: Rule, on day: Int) -> Bool {
        switch rule.frequency {
        case .daily:
            return floorMod(day - anchorDay, rule.interval) == 0
        case .weekly:
            // 1970-01-01 was a Thursday (ISO 4); weeks start on Monday.
            let weekday = floorMod(day + 3, 7) + 1
            guard rule.weekdays.contains(weekday) else { return false }
            let week = floorDiv(Int64(day + 3), 7), anchorWeek = floorDiv(Int64(anchorDay + 3), 7)
            return floorMod(Int(week - anchorWeek), rule.interval) == 0
        }
    }

    /// The first execution strictly after `time` (epoch milliseconds), or nil if none within two years.
    public func next(after time: Int64) -> Int64? {
        let startDay = Int(floorDiv(time, 86_400_000))
        for day in startDay...(startDay + 800) {
            for t in rules.filter({ fires($0, on: day) }).flatMap(\.times).sorted() {
                let at = Int64(day) * 86_400_000 + Int64(t) * 60_000
                if at > time { return at }
            }
        }
        return nil
    }

    /// The last execution strictly before `time`, or nil if none within two years.
    public func previous(before time: Int64) -> Int64? {
        let startDay = Int(floorDiv(time, 86_400_000))
        for day in stride(from: startDay, through: startDay - 800, by: -1) {
            for t in rules.filter({ fires($0, on: day) }).flatMap(\.times).sorted(by: >) {
                let at = Int64(day) * 86_400_000 + Int64(t) * 60_000
                if at < time { return at }
            }
        }
        return nil
    }

    /// The two executions closest together (minutes since the anchor day), over
    /// every day the rules can line up (two cycles of their longest period).
    func closestPair() -> (Int, Int)? {
        let period = rules.map { $0.frequency == .weekly ? 7 * $0.interval : $0.interval }.reduce(1) { lcm($0, $1) }
        let days = min(2 * max(period, 7), 1_600)
        var all: [Int] = []
        for offset in 0..<days {
            for rule in rules where fires(rule, on: anchorDay + offset) { all.append(contentsOf: rule.times.map { offset * 1440 + $0 }) }
        }
        all = Array(Set(all)).sorted()
        guard all.count > 1 else { return nil }
        var best = (all[0], all[1])
        for (a, b) in zip(all, all.dropFirst()) where b - a < best.1 - best.0 { best = (a, b) }
        return best
    }

    static func text(minute: Int) -> String {
        let m = floorMod(minute, 1440)
        return String(format: "%02d:%02d", m / 60, m % 60)
    }
}

public struct ScheduleError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
func floorMod(_ a: Int, _ b: Int) -> Int { ((a % b) + b) % b }
func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
func lcm(_ a: Int, _ b: Int) -> Int { a / gcd(a, b) * b }
