// CofferSystem: what every layer may use: clocks, subprocesses, the JSON
// writer, time formats, the blocking pool.

import Foundation

/// Time, injected wherever it matters (tokens, leases, heartbeats, progress,
/// polling, schedules, retention) so tests move it instead of sleeping.
public protocol Clock: Sendable {
    func now() -> Date
    /// Returns once `seconds` have passed on this clock; throws
    /// `CancellationError` when the task is cancelled first.
    func sleep(for seconds: TimeInterval) async throws
}

public struct SystemClock: Clock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for seconds: TimeInterval) async throws {
        try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
    }
}

/// A clock tests set and advance. Sleepers wake when `advance` or `set`
/// moves the time past their deadline, never by themselves.
public final class ManualClock: Clock, @unchecked Sendable {
    private struct Sleeper {
        let id: UInt64
        let deadline: Date
        let continuation: CheckedContinuation<Void, Error>
    }
    private let lock = NSLock()
    private var current: Date
    private var sleepers: [Sleeper] = []
    /// Sleeps begun but not yet waiting, and those of them cancelled meanwhile.
    private var starting: Set<UInt64> = []
    private var cancelledBeforeWaiting: Set<UInt64> = []
    private var nextID: UInt64 = 0

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

    public func now() -> Date { lock.withLock { current } }

    public func advance(by seconds: TimeInterval) { move { $0.addingTimeInterval(seconds) } }

    public func set(_ date: Date) { move { _ in date } }

    /// How many tasks sleep on this clock now.
    public var sleeping: Int { lock.withLock { sleepers.count } }

    /// Waits (in real time, yielding) until at least `count` tasks sleep on
    /// this clock: a test's way to know a loop has parked before it moves time.
    public func waitForSleepers(_ count: Int, timeout: TimeInterval = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while sleeping < count {
            guard Date() < deadline else { throw ManualClockTimeout(expected: count, sleeping: sleeping) }
            try await Task.sleep(nanoseconds: 1_000_000)
        }
    }

    public func sleep(for seconds: TimeInterval) async throws {
        let id: UInt64 = lock.withLock { nextID += 1; starting.insert(nextID); return nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let outcome: Result<Void, Error>? = lock.withLock {
                    starting.remove(id)
                    if cancelledBeforeWaiting.remove(id) != nil { return .failure(CancellationError()) }
                    let deadline = current.addingTimeInterval(seconds)
                    if deadline <= current { return .success(()) }
                    sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper: Sleeper? = lock.withLock {
                if let i = sleepers.firstIndex(where: { $0.id == id }) { return sleepers.remove(at: i) }
                if starting.contains(id) { cancelledBeforeWaiting.insert(id) }
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    private func move(_ change: (Date) -> Date) {
        let due: [Sleeper] = lock.withLock {
            current = change(current)
            let due = sleepers.filter { $0.deadline <= current }
            sleepers.removeAll { $0.deadline <= current }
            return due
        }
        for s in due { s.continuation.resume() }
    }
}

public struct ManualClockTimeout: Error, CustomStringConvertible {
    public let expected: Int
    public let sleeping: Int
    public var description: String { "expected \(expected) sleepers on the manual clock, \(sleeping) after the timeout" }
}
