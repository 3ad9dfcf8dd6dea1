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

    /// A read that breaks part way goes on from the first byte not handed over: every byte
    /// arrives once, in order. What the consumer throws is not retried and comes out as thrown.
    @Test func aBrokenReadGoesOnWhereItStopped() async throws {
        let data = Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let breaking = BreakingStream(data, piece: 1_000, breakAfter: [3_500, 3_500, 8_000])
        let delays = Delays()
        let store = RetryingBlobStore(wrapping: breaking, attempts: 4, sleep: { delays.add($0) }, jitter: { $0 })
        var got = Data()
        try await store.read("data/k", range: 500..<10_000) { got.append($0) }
        #expect(got == data[500..<10_000])
        #expect(breaking.reads == [500..<10_000, 3_500..<10_000, 3_500..<10_000, 8_000..<10_000])
        #expect(delays.all.count == 3)

        struct Stop: Error {}
        let again = BreakingStream(data, piece: 1_000, breakAfter: [])
        let retried = RetryingBlobStore(wrapping: again, attempts: 4, sleep: { _ in })
        await #expect(throws: Stop.self) {
            try await retried.read("data/k", range: 0..<10_000) { _ in throw Stop() }
        }
        #expect(again.reads.count == 1, "the consumer's error is not retried")
        // Nor one that looks transient: it is the consumer's, not the store's.
        await #expect(throws: BlobStoreError.self) {
            try await retried.read("data/k", range: 0..<10_000) { _ in throw BlobStoreError.transient("data/k", "the consumer's own") }
        }
        #expect(again.reads.count == 2)
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

/// Streams an object in pieces and breaks (transiently) once the read reaches each offset of `breakAfter`.
final class BreakingStream: BlobStore, @unchecked Sendable {
    let data: Data
    let piece: Int
    private let lock = NSLock()
    private var breaks: [Int]
    private(set) var reads: [Range<Int>] = []
    init(_ data: Data, piece: Int, breakAfter: [Int]) { self.data = data; self.piece = piece; breaks = breakAfter }
    var location: String { "breaking stream" }
    var isRemote: Bool { true }
    func read(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws {
        let breakAt: Int? = lock.withLock { reads.append(range); return breaks.isEmpty ? nil : breaks.removeFirst() }
        var at = range.lowerBound
        while at < min(range.upperBound, data.count) {
            if let breakAt, at >= breakAt { throw BlobStoreError.transient(key, "connection reset") }
            let end = min(at + piece - at % piece, range.upperBound, data.count, breakAt.map { max($0, at + 1) } ?? Int.max)
            try await consume(data.subdata(in: at..<end))
            at = end
        }
    }
    func put(_ key: String, data: Data) async throws {}
    func get(_ key: String, range: Range<Int>?) async throws -> Data { data }
    func head(_ key: String) async throws -> BlobInfo { BlobInfo(key: key, size: data.count, modified: Date()) }
    func list(prefix: String) async throws -> [BlobInfo] { [] }
    func delete(_ key: String) async throws {}
}
