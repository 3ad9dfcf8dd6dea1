import Foundation
import Testing
@testable import CofferBlobStore

/// One suite, run against every store implementation.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case memory, local, faultInjectingPassThrough, retryingLimited
    var testDescription: String { rawValue }

    func make() throws -> (BlobStore, () -> Void) {
        switch self {
        case .memory: return (MemoryBlobStore(), {})
        case .local:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-store-\(UUID().uuidString)")
            return (LocalBlobStore(root: dir), { try? FileManager.default.removeItem(at: dir) })
        case .faultInjectingPassThrough:
            return (FaultInjectingBlobStore(wrapping: MemoryBlobStore()), {})
        case .retryingLimited:
            return (RetryingBlobStore(wrapping: LimitedBlobStore(wrapping: MemoryBlobStore(), concurrency: 2), sleep: { _ in }), {})
        }
    }
}

@Suite struct BlobStoreConformance {
    @Test(arguments: StoreKind.allCases)
    func putGetRoundTripAndOverwrite(kind: StoreKind) async throws {
        let (store, cleanup) = try kind.make(); defer { cleanup() }
        let data = Data((0..<10_000).map { UInt8($0 % 251) })
        try await store.put("data/ab/abc", data: data)
        #expect(try await store.get("data/ab/abc") == data)
        try await store.put("data/ab/abc", data: Data("new".utf8))
        #expect(try await store.get("data/ab/abc") == Data("new".utf8))
        try await store.put("empty", data: Data())
        #expect(try await store.get("empty") == Data())
        #expect(try await store.head("empty").size == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func rangedGet(kind: StoreKind) async throws {
        let (store, cleanup) = try kind.make(); defer { cleanup() }
        let data = Data((0..<1000).map { UInt8($0 % 256) })
        try await store.put("k", data: data)
        #expect(try await store.get("k", range: 10..<20) == data[10..<20])
        #expect(try await store.get("k", range: 990..<2000) == data[990..<1000])
        await #expect(throws: BlobStoreError.self) { try await store.get("k", range: 1000..<1001) }
        await #expect(throws: BlobStoreError.self) { try await store.get("k", range: 5000..<6000) }
    }

    @Test(arguments: StoreKind.allCases)
    func notFoundSemantics(kind: StoreKind) async throws {
        let (store, cleanup) = try kind.make(); defer { cleanup() }
        do { _ = try await store.get("missing/x"); Issue.record("expected not found") } catch let e as BlobStoreError { #expect(e.isNotFound) }
        do { _ = try await store.head("missing"); Issue.record("expected not found") } catch let e as BlobStoreError { #expect(e.isNotFound) }
        try await store.delete("missing")  // idempotent
        #expect(try await store.list(prefix: "missing").isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func listByPrefixSortedAndDelete(kind: StoreKind) async throws {
        let (store, cleanup) = try kind.make(); defer { cleanup() }
        for key in ["data/01/0123", "data/01/0199", "data/ff/ff00", "index/aa", "snapshots/s1", "config"] {
            try await store.put(key, data: Data(key.utf8))
        }
        #expect(try await store.list(prefix: "data/").map(\.key) == ["data/01/0123", "data/01/0199", "data/ff/ff00"])
        #expect(try await store.list(prefix: "data/01/01").map(\.key) == ["data/01/0123", "data/01/0199"])
        #expect(try await store.list(prefix: "").count == 6)
        #expect(try await store.list(prefix: "index/").first?.size == 8)
        try await store.delete("data/01/0123")
        #expect(try await store.list(prefix: "data/").map(\.key) == ["data/01/0199", "data/ff/ff00"])
        await #expect(throws: BlobStoreError.self) { try await store.get("data/01/0123") }
    }

    @Test(arguments: StoreKind.allCases)
    func invalidKeysRefused(kind: StoreKind) async throws {
        let (store, cleanup) = try kind.make(); defer { cleanup() }
        for key in ["", "/abs", "a//b", "../escape", "a/../b", "a/./b", ".hidden", "sp ace", "a\0b", "tr/"] {
            await #expect(throws: BlobStoreError.self, "key \(key)") { try await store.put(key, data: Data([1])) }
            await #expect(throws: BlobStoreError.self, "key \(key)") { try await store.get(key) }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentPutsOfDistinctKeys(kind: StoreKind) async throws {
        let (store, cleanup) = try kind.make(); defer { cleanup() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask { try await store.put("data/\(i % 4)/obj\(i)", data: Data(repeating: UInt8(i), count: 100 + i)) }
            }
            try await group.waitForAll()
        }
        let listed = try await store.list(prefix: "data/")
        #expect(listed.count == 64)
        for i in 0..<64 { #expect(try await store.get("data/\(i % 4)/obj\(i)") == Data(repeating: UInt8(i), count: 100 + i)) }
    }
}

@Suite struct LocalStoreSpecifics {
    @Test func stagingLeftoversAreInvisible() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = LocalBlobStore(root: dir)
        try await store.put("a/b", data: Data([1, 2, 3]))
        // A crash between write and rename leaves a staging file behind.
        try Data([9]).write(to: dir.appendingPathComponent(".staging/leftover"))
        #expect(try await store.list(prefix: "").map(\.key) == ["a/b"])
        let perms = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("a/b").path)[.posixPermissions] as? Int
        #expect(perms == 0o600)
    }

    @Test func urlFactory() throws {
        #expect(try BlobStores.open(url: "file:///tmp/x").location == "file:///tmp/x")
        #expect(throws: BlobStoreError.self) { try BlobStores.open(url: "ftp://x") }
        #expect(throws: BlobStoreError.self) { try BlobStores.open(url: "file://relative") }
    }
}

@Suite struct FaultInjection {
    @Test func failTruncateFlip() async throws {
        let inner = MemoryBlobStore()
        let store = FaultInjectingBlobStore(wrapping: inner)
        store.inject(.fail, on: .put, keyPrefix: "data/", skip: 1, times: 1)
        try await store.put("data/1", data: Data([1]))
        await #expect(throws: BlobStoreError.self) { try await store.put("data/2", data: Data([2])) }
        try await store.put("data/3", data: Data([3]))
        #expect(try await inner.list(prefix: "data/").map(\.key) == ["data/1", "data/3"])

        store.inject(.truncate(keep: 2), on: .put, keyPrefix: "t", times: 1)
        try await store.put("t", data: Data([1, 2, 3, 4]))
        #expect(try await inner.get("t") == Data([1, 2]))

        try await inner.put("f", data: Data([0, 0, 0]))
        store.inject(.flipBit(offset: 1), on: .get, keyPrefix: "f", times: 1)
        #expect(try await store.get("f") == Data([0, 0x10, 0]))
        #expect(try await store.get("f") == Data([0, 0, 0]))
        #expect(store.count(.get) == 2)
    }
}
