import Foundation

/// A fixed set of threads for blocking system calls (file reads, writes,
/// fsync). Swift's cooperative pool has one thread per core; a thread blocked
/// in read() or fsync() there is a core doing nothing. Blocking work runs
/// here instead, and many reads can be outstanding at once, which a cold
/// disk needs to reach its throughput.
public final class BlockingPool: @unchecked Sendable {
    /// For reading and writing sources and restore targets.
    public static let shared = BlockingPool(threads: 8, name: "coffer-io")
    /// For blob store I/O, so uploads never queue behind thousands of source reads.
    public static let store = BlockingPool(threads: 4, name: "coffer-store")

    private static let done: () -> Void = {}
    private let condition = NSCondition()
    private var queue: [() -> Void] = []
    private var head = 0

    public init(threads: Int, name: String) {
        for i in 0..<threads {
            let t = Thread { [unowned self] in self.loop() }
            t.name = "\(name)-\(i)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while head == queue.count { condition.wait() }
            let job = queue[head]
            queue[head] = BlockingPool.done  // drop what the job captured (a pack can be 16 MiB)
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }

    public func submit(_ job: @escaping () -> Void) {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on a pool thread and returns its result to the caller.
    public func run<T>(_ body: @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            submit { c.resume(with: Result { try body() }) }
        }
    }

    public func run<T>(_ body: @escaping () -> T) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
            submit { c.resume(returning: body()) }
        }
    }
}

/// An async counting semaphore over a quantity (bytes, slots): bounds what is
/// in flight without blocking a thread while waiting.
public final class AsyncBudget: @unchecked Sendable {
    private let lock = NSLock()
    public let capacity: Int
    private var available: Int
    private var waiters: [(Int, CheckedContinuation<Void, Never>)] = []

    public init(capacity: Int) {
        self.capacity = capacity
        available = capacity
    }

    /// Waits until `n` (capped at the capacity) is available, then takes it.
    public func acquire(_ n: Int) async {
        let want = min(n, capacity)
        let granted: Bool = lock.withLock {
            if waiters.isEmpty && available >= want { available -= want; return true }
            return false
        }
        if granted { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now: Bool = lock.withLock {
                if waiters.isEmpty && available >= want { available -= want; return true }
                waiters.append((want, c))
                return false
            }
            if now { c.resume() }
        }
    }

    public func release(_ n: Int) {
        let want = min(n, capacity)
        var wake: [CheckedContinuation<Void, Never>] = []
        lock.withLock {
            available += want
            while let first = waiters.first, available >= first.0 {
                available -= first.0
                wake.append(first.1)
                waiters.removeFirst()
            }
        }
        for c in wake { c.resume() }
    }
}
