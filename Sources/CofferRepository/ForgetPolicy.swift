import CofferCrypto
import Foundation

/// Which snapshots to keep (the rest are forgotten). Snapshots are grouped
/// by host and paths; each rule keeps the newest snapshot of each of the
/// last N hours/days/... in which a snapshot exists, as restic and borg do.
public struct ForgetPolicy: Sendable, Equatable {
    public var keepLast = 0
    public var keepHourly = 0
    public var keepDaily = 0
    public var keepWeekly = 0
    public var keepMonthly = 0
    public var keepYearly = 0
    public var keepWithin: TimeInterval = 0
    public var keepTags: [String] = []

    public init() {}

    public var isEmpty: Bool {
        keepLast == 0 && keepHourly == 0 && keepDaily == 0 && keepWeekly == 0 && keepMonthly == 0 && keepYearly == 0 && keepWithin == 0 && keepTags.isEmpty
    }

    public struct Decision: Sendable {
        public var keep: [Hash256]
        public var remove: [Hash256]
        public var reasons: [Hash256: [String]]
    }

    public func apply(_ snapshots: [(Hash256, Snapshot)], now: Date) -> Decision {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var keep = Set<Hash256>()
        var reasons: [Hash256: [String]] = [:]
        let groups = Dictionary(grouping: snapshots) { "\($0.1.hostname)\u{0}\($0.1.paths.joined(separator: "\u{0}"))" }
        for (_, group) in groups {
            let newest = group.sorted { ($0.1.time, $0.0) > ($1.1.time, $1.0) }
            func bucketRule(_ name: String, _ count: Int, _ bucket: (Date) -> String) {
                guard count > 0 else { return }
                var buckets = Set<String>()
                for (id, s) in newest {
                    let b = bucket(s.time)
                    if buckets.contains(b) { continue }
                    guard buckets.count < count else { break }
                    buckets.insert(b)
                    keep.insert(id)
                    reasons[id, default: []].append(name)
                }
            }
            bucketRule("last", keepLast) { _ in UUID().uuidString }
            bucketRule("hourly", keepHourly) { d in let c = calendar.dateComponents([.year, .month, .day, .hour], from: d); return "\(c.year!)-\(c.month!)-\(c.day!)-\(c.hour!)" }
            bucketRule("daily", keepDaily) { d in let c = calendar.dateComponents([.year, .month, .day], from: d); return "\(c.year!)-\(c.month!)-\(c.day!)" }
            bucketRule("weekly", keepWeekly) { d in let c = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: d); return "\(c.yearForWeekOfYear!)-\(c.weekOfYear!)" }
            bucketRule("monthly", keepMonthly) { d in let c = calendar.dateComponents([.year, .month], from: d); return "\(c.year!)-\(c.month!)" }
            bucketRule("yearly", keepYearly) { d in "\(calendar.component(.year, from: d))" }
            for (id, s) in newest {
                if keepWithin > 0 && now.timeIntervalSince(s.time) <= keepWithin { keep.insert(id); reasons[id, default: []].append("within") }
                if !keepTags.isEmpty && !Set(keepTags).isDisjoint(with: s.tags) { keep.insert(id); reasons[id, default: []].append("tag") }
            }
        }
        let ordered = snapshots.map(\.0)
        return Decision(keep: ordered.filter { keep.contains($0) }, remove: ordered.filter { !keep.contains($0) }, reasons: reasons)
    }
}
