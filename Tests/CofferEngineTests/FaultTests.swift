import CofferBlobStore
import CofferBlobStoreTesting
import CofferCrypto
import CofferRepository
import Foundation
import Testing
@testable import CofferEngine

@Suite struct StoreFaultsDuringBackup {
    func setUp() async throws -> (FaultInjectingBlobStore, Repository, TempDir, Hash256) {
        let store = FaultInjectingBlobStore(wrapping: MemoryBlobStore())
        let repo = try await newRepository(store, packSize: 1 << 20)
        let src = TempDir("src")
        makeSampleTree(src.path)
        let first = try await Archiver(repository: repo).backup(path: src.path)
        // New data for the next backup.
        for i in 0..<6 { write(src.sub("more/\(i).bin"), deterministicBytes(900_000, seed: UInt64(100 + i))) }
        return (store, repo, src, first.snapshotID)
    }

    func assertFirstSnapshotIntact(_ store: BlobStore, _ first: Hash256, _ src: TempDir) async throws {
        let repo = try await Repository.open(store: store, secret: .passphrase("test"))
        let check = try await Checker(repository: repo).run(readData: true)
        #expect(check.ok, "\(check.errors)")
        #expect(try await repo.snapshotIDs() == [first])
        let dst = TempDir("dst")
        let r = try await Restorer(repository: repo).restore(snapshot: first, target: dst.path)
        #expect(r.errors.isEmpty)
        #expect(FileManager.default.contents(atPath: dst.sub("big.bin")) == FileManager.default.contents(atPath: src.sub("big.bin")))
    }

    @Test(arguments: ["data/", "index/", "snapshots/"])
    func failedWriteEndsBackupAndKeepsEarlierSnapshots(prefix: String) async throws {
        let (store, repo, src, first) = try await setUp()
        store.inject(.fail, on: .put, keyPrefix: prefix, skip: prefix == "data/" ? 2 : 0)
        await #expect(throws: (any Error).self) { try await Archiver(repository: repo).backup(path: src.path) }
        store.clear()
        try await assertFirstSnapshotIntact(store, first, src)
    }
}

@Suite struct CorruptionDuringRestore {
    @Test func flippedBitAffectsOnlyItsFile() async throws {
        let inner = MemoryBlobStore()
        let repo = try await newRepository(inner, packSize: 1 << 20)
        let src = TempDir("src"), dst = TempDir("dst")
        write(src.sub("a.bin"), deterministicBytes(700_000, seed: 1))
        write(src.sub("b.bin"), deterministicBytes(700_000, seed: 2))
        write(src.sub("c.txt"), Data("fine".utf8))
        let r = try await Archiver(repository: repo).backup(path: src.path)
        let victim = try await repo.loadTree(r.snapshot.tree).nodes.first { $0.name == "b.bin" }!.content![0].blob
        let loc = repo.index.lookup(victim)!
        inner.corrupt(ObjectKey.pack(loc.pack)) { $0[$0.startIndex + Int(loc.entry.offset) + 1000] ^= 0x80 }
        let fresh = try await Repository.open(store: inner, secret: .passphrase("test"))
        let res = try await Restorer(repository: fresh).restore(snapshot: r.snapshotID, target: dst.path)
        #expect(res.errors.count == 1)
        #expect(res.errors.first?.contains("b.bin") == true)
        #expect(FileManager.default.contents(atPath: dst.sub("a.bin")) == deterministicBytes(700_000, seed: 1))
        #expect(FileManager.default.contents(atPath: dst.sub("c.txt")) == Data("fine".utf8))
        let check = try await Checker(repository: fresh).run(readData: true)
        #expect(check.errors.contains { $0.contains("file b.bin") && $0.contains(r.snapshotID.short) })
    }

    @Test func truncatedPackIsReported() async throws {
        let inner = MemoryBlobStore()
        let repo = try await newRepository(inner, packSize: 1 << 20)
        let src = TempDir("src"), dst = TempDir("dst")
        write(src.sub("a.bin"), deterministicBytes(300_000, seed: 1))
        let r = try await Archiver(repository: repo).backup(path: src.path)
        for p in try await inner.list(prefix: "data/") { inner.corrupt(p.key) { $0 = $0.prefix($0.count / 3) } }
        let fresh = try await Repository.open(store: inner, secret: .passphrase("test"))
        let check = try await Checker(repository: fresh).run(readData: false)
        #expect(!check.ok)
        await #expect(throws: (any Error).self) { try await Restorer(repository: fresh).restore(snapshot: r.snapshotID, target: dst.path) }
    }
}
