import Foundation
import Testing
@testable import CofferBlobStore
import CofferBlobStoreTesting

final class Delays: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    func add(_ d: Double) { lock.withLock { values.append(d) } }
    var all: [Double] { lock.withLock { values } }
}

/// Counts operations in flight at once (each one lingers briefly so they overlap).
final class InFlightCounter: BlobStore, @unchecked Sendable {
    let inner = MemoryBlobStore()
    private let lock = NSLock()
    private var now = 0
    private(set) var most = 0
    var location: String { "in-flight counter" }
    func enter() { lock.withLock { now += 1; most = max(most, now) } }
    func leave() { lock.withLock { now -= 1 } }
    func put(_ key: String, data: Data) async throws { enter(); defer { leave() }; try await Task.sleep(nanoseconds: 2_000_000); try await inner.put(key, data: data) }
    func get(_ key: String, range: Range<Int>?) async throws -> Data { enter(); defer { leave() }; try await Task.sleep(nanoseconds: 2_000_000); return try await inner.get(key, range: range) }
    func head(_ key: String) async throws -> BlobInfo { try await inner.head(key) }
    func list(prefix: String) async throws -> [BlobInfo] { try await inner.list(prefix: prefix) }
    func delete(_ key: String) async throws { try await inner.delete(key) }
}

@Suite struct StoreWrappers {
    @Test func transientFailuresAreRetriedWithGrowingDelays() async throws {
        let faulty = FaultInjectingBlobStore(wrapping: MemoryBlobStore())
        let delays = Delays()
        let store = RetryingBlobStore(wrapping: faulty, attempts: 4, baseDelay: 0.1, maxDelay: 0.3, sleep: { delays.add($0) }, jitter: { $0 })
        faulty.inject(.failTransiently, on: .put, times: 2)
        try await store.put("data/k", data: Data("x".utf8))
        #expect(faulty.count(.put) == 3)
        #expect(delays.all == [0.1, 0.2])
        faulty.inject(.failTransiently, on: .get, times: 3)
        #expect(try await store.get("data/k") == Data("x".utf8))
        #expect(delays.all == [0.1, 0.2, 0.1, 0.2, 0.3], "capped at maxDelay")
        // Out of attempts: a transient error naming the key.
        faulty.inject(.failTransiently, on: .delete, times: 10)
        do {
            try await store.delete("data/k")
            Issue.record("delete should have failed")
        } catch let e as BlobStoreError {
            #expect(e.isTransient && e.description.contains("data/k") && e.description.contains("gave up after 4 attempts"), "\(e)")
        }
        #expect(faulty.count(.delete) == 4)
    }

    @Test func otherErrorsAreNotRetried() async throws {
        let faulty = FaultInjectingBlobStore(wrapping: MemoryBlobStore())
        let delays = Delays()
        let store = RetryingBlobStore(wrapping: faulty, sleep: { delays.add($0) })
        faulty.inject(.fail, on: .put, times: 1)
        await #expect(throws: BlobStoreError.self) { try await store.put("k", data: Data()) }
        #expect(faulty.count(.put) == 1)
        do { _ = try await store.get("missing") } catch let e as BlobStoreError { #expect(e.isNotFound) }
        #expect(faulty.count(.get) == 1 && delays.all.isEmpty)
    }

    @Test func concurrencyIsLimited() async throws {
        let counter = InFlightCounter()
        let store = LimitedBlobStore(wrapping: counter, concurrency: 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<24 { group.addTask { try await store.put("k\(i)", data: Data([UInt8(i)])) } }
            try await group.waitForAll()
        }
        #expect(counter.most <= 3 && counter.most >= 2, "\(counter.most)")
        #expect(try await store.list(prefix: "k").count == 24)
    }
}
