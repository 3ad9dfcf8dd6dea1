import Foundation
import Testing
import CofferBlobStoreTesting
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

@Suite struct BlobStoreConformanceTests {
    static let cases = StoreKind.allCases.flatMap { kind in BlobStoreConformance.checks.map { "\(kind.rawValue): \($0.name)" } }

    @Test(arguments: cases)
    func check(_ name: String) async throws {
        let kind = try #require(StoreKind.allCases.first { name.hasPrefix($0.rawValue + ": ") })
        let run = try #require(BlobStoreConformance.checks.first { name == "\(kind.rawValue): \($0.name)" }).run
        let (store, cleanup) = try kind.make()
        defer { cleanup() }
        try await run(store)
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

    /// A page-aligned pack-sized buffer goes out with O_DIRECT where the file system takes it
    /// (the unaligned tail with a plain write); unaligned and small buffers with plain writes.
    /// Every byte reads back either way.
    @Test(arguments: [(1 << 20) + 123, 3 << 20, 1 << 20, 5000])
    func largeAlignedPutsReadBackExactly(size: Int) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = LocalBlobStore(root: dir)
        let page = UnsafeMutableRawPointer.allocate(byteCount: size + 4096, alignment: 4096)
        defer { page.deallocate() }
        var state: UInt64 = UInt64(size)
        for i in 0..<(size + 4096) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            page.storeBytes(of: UInt8(truncatingIfNeeded: state >> 33), toByteOffset: i, as: UInt8.self)
        }
        let aligned = Data(bytesNoCopy: page, count: size, deallocator: .none)
        let unaligned = Data(bytesNoCopy: page + 16, count: size, deallocator: .none)
        try await store.put("packs/aligned", data: aligned)
        try await store.put("packs/unaligned", data: unaligned)
        #expect(try await store.get("packs/aligned", range: nil) == aligned)
        #expect(try await store.get("packs/unaligned", range: nil) == unaligned)
        #expect(try await store.head("packs/aligned").size == size)

        // The direct path itself, where this file system supports O_DIRECT (ext4 here; tmpfs may refuse it).
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let probe = dir.appendingPathComponent("probe").path
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | LocalBlobStore.oDirect, 0o600)
        let supported = fd >= 0
        if fd >= 0 { close(fd) }
        let out = open(dir.appendingPathComponent("direct").path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #expect(out >= 0)
        let written = aligned.withUnsafeBytes { LocalBlobStore.writeDirect(out, $0) }
        let alignedPart = size >= LocalBlobStore.directMinimum ? size / 4096 * 4096 : 0
        #expect(written == (supported ? alignedPart : 0), "wrote \(written) of \(size) directly; O_DIRECT supported: \(supported)")
        #expect(unaligned.withUnsafeBytes { LocalBlobStore.writeDirect(out, $0) } == 0)
        close(out)
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
