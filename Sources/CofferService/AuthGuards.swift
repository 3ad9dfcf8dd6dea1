import Foundation

/// Refuses a state-changing signed request seen before: the same access key
/// and signature within the signature's validity window (15 minutes either
/// side). Reads are not remembered: the SDKs sign with one-second dates and
/// poll the same GET several times a second.
///
/// In memory, per process: the signature window is short and a restarted
/// process refuses nothing it should. (Several processes on one catalog need
/// a shared table; see docs/security.md.)
public final class ReplayGuard: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String: Date] = [:]
    private var oldest = Date.distantPast
    let window: TimeInterval
    let capacity: Int

    public init(window: TimeInterval = 2 * AKSKSignature.maxClockSkew, capacity: Int = 1_000_000) {
        self.window = window
        self.capacity = capacity
    }

    /// Records the request; false when it was already recorded (a replay), or
    /// when the table is full of unexpired signatures (fail closed).
    public func firstUse(accessKey: String, signature: String, now: Date) -> Bool {
        lock.withLock {
            if now.timeIntervalSince(oldest) > window || seen.count >= capacity {
                seen = seen.filter { now.timeIntervalSince($0.value) <= window }
                oldest = seen.values.min() ?? now
            }
            let key = accessKey + ":" + signature
            if let at = seen[key], now.timeIntervalSince(at) <= window { return false }
            guard seen.count < capacity else { return false }
            seen[key] = now
            if seen.count == 1 { oldest = now }
            return true
        }
    }
}

/// Failed password logins per user name and per source address: after
/// `limit` failures within `window`, that key is refused until the window
/// since its first counted failure has passed. A pure state machine: the
/// caller passes the time.
public final class LoginThrottle: @unchecked Sendable {
    struct Count { var first: Date; var failures: Int }
    private let lock = NSLock()
    private var counts: [String: Count] = [:]
    let limit: Int
    let window: TimeInterval

    public init(limit: Int = 10, window: TimeInterval = 300) {
        self.limit = limit
        self.window = window
    }

    /// How many failures a key may have: a source address may stand for many
    /// users (a proxy, a NAT), so it gets more room than one user name.
    func limit(for key: String) -> Int { key.hasPrefix("source:") ? limit * 10 : limit }

    /// Seconds to wait when any of `keys` is over its limit, else nil.
    public func retryAfter(_ keys: [String], now: Date) -> Int? {
        lock.withLock {
            let waits = keys.compactMap { key -> TimeInterval? in
                guard let c = counts[key] else { return nil }
                let left = window - now.timeIntervalSince(c.first)
                if left <= 0 { counts[key] = nil; return nil }
                return c.failures >= limit(for: key) ? left : nil
            }
            return waits.max().map { Int($0.rounded(.up)) }
        }
    }

    public func failed(_ keys: [String], now: Date) {
        lock.withLock {
            if counts.count > 100_000 { counts = counts.filter { now.timeIntervalSince($0.value.first) < window } }
            for key in keys {
                if let c = counts[key], now.timeIntervalSince(c.first) < window {
                    counts[key] = Count(first: c.first, failures: c.failures + 1)
                } else {
                    counts[key] = Count(first: now, failures: 1)
                }
            }
        }
    }

    public func succeeded(_ key: String) { lock.withLock { counts[key] = nil } }
}
