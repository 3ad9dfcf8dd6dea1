import CofferSystem
import Foundation

/// Retries operations that failed with a transient error (`isTransient`: a
/// remote store's 5xx, 429 or timeout), with exponential backoff and full
/// jitter, as restic's backend wrapper does. Every operation of the protocol
/// is safe to repeat: puts replace whole objects, deletes are idempotent.
/// Other errors (not found, bad key, local I/O) pass through at once.
public struct RetryingBlobStore: BlobStore {
    let inner: BlobStore
    let attempts: Int
    let baseDelay: Double
    let maxDelay: Double
    /// Injected so tests run without real waiting.
    let sleep: @Sendable (Double) async throws -> Void
    let jitter: @Sendable (Double) -> Double

    public init(wrapping inner: BlobStore, attempts: Int = 6, baseDelay: Double = 0.2, maxDelay: Double = 10,
                sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) },
                jitter: @escaping @Sendable (Double) -> Double = { Double.random(in: 0...$0) }) {
        self.inner = inner
        self.attempts = max(1, attempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.sleep = sleep
        self.jitter = jitter
    }

    public var location: String { inner.location }
    public var isRemote: Bool { inner.isRemote }

    /// The wait before retry `n` (1-based): full jitter over min(max, base * 2^(n-1)).
    func delay(beforeRetry n: Int) -> Double {
        jitter(min(maxDelay, baseDelay * pow(2, Double(n - 1))))
    }

    func retrying<T>(_ key: String, _ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do { return try await body() } catch let e as BlobStoreError where e.isTransient && attempt < attempts {
                try await sleep(delay(beforeRetry: attempt))
                attempt += 1
            } catch let e as BlobStoreError where e.isTransient {
                throw BlobStoreError.transient(key, "gave up after \(attempts) attempts: \(e.detail)")
            }
        }
    }

    public func put(_ key: String, data: Data) async throws { try await retrying(key) { try await inner.put(key, data: data) } }
    public func get(_ key: String, range: Range<Int>?) async throws -> Data { try await retrying(key) { try await inner.get(key, range: range) } }

    /// A read that fails part way goes on from the first byte not yet handed over.
    public func read(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws {
        var delivered = 0
        try await ConsumerFailure.separating(consume) { consume in
            try await retrying(key) {
                guard delivered < range.count else { return }
                try await inner.read(key, range: (range.lowerBound + delivered)..<range.upperBound) { piece in
                    try await consume(piece)
                    delivered += piece.count
                }
            }
        }
    }

    public func head(_ key: String) async throws -> BlobInfo { try await retrying(key) { try await inner.head(key) } }
    public func list(prefix: String) async throws -> [BlobInfo] { try await retrying(prefix) { try await inner.list(prefix: prefix) } }
    public func delete(_ key: String) async throws { try await retrying(key) { try await inner.delete(key) } }
    public func delete(_ keys: [String]) async throws { try await retrying(keys.first ?? "") { try await inner.delete(keys) } }
    public func destroy() async throws { try await retrying("") { try await inner.destroy() } }
}

/// At most `concurrency` operations in flight against the inner store (a
/// remote store's connection budget), the rest wait their turn.
public struct LimitedBlobStore: BlobStore {
    let inner: BlobStore
    let budget: AsyncBudget

    public init(wrapping inner: BlobStore, concurrency: Int) {
        self.init(wrapping: inner, budget: AsyncBudget(capacity: max(1, concurrency)))
    }

    /// Shares one budget among many stores (every repository on one endpoint).
    public init(wrapping inner: BlobStore, budget: AsyncBudget) {
        self.inner = inner
        self.budget = budget
    }

    public var location: String { inner.location }
    public var isRemote: Bool { inner.isRemote }

    func limited<T>(_ body: () async throws -> T) async throws -> T {
        await budget.acquire(1)
        defer { budget.release(1) }
        return try await body()
    }

    public func put(_ key: String, data: Data) async throws { try await limited { try await inner.put(key, data: data) } }
    public func get(_ key: String, range: Range<Int>?) async throws -> Data { try await limited { try await inner.get(key, range: range) } }
    public func read(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws {
        try await limited { try await inner.read(key, range: range, into: consume) }
    }
    public func head(_ key: String) async throws -> BlobInfo { try await limited { try await inner.head(key) } }
    public func list(prefix: String) async throws -> [BlobInfo] { try await limited { try await inner.list(prefix: prefix) } }
    public func delete(_ key: String) async throws { try await limited { try await inner.delete(key) } }
    public func delete(_ keys: [String]) async throws { try await limited { try await inner.delete(keys) } }
    public func destroy() async throws { try await limited { try await inner.destroy() } }
}
