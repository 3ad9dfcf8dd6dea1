import CofferBlobStore
import CofferBlobStoreTesting
import CofferRepository
import Foundation
import Testing
@testable import CofferEngine

/// The local metadata cache a remote repository is opened through
/// (`CachingBlobStore`): an unchanged re-backup reads no index, snapshot, key
/// or tree from the store, and a damaged cache file is only a miss.
@Suite struct MetadataCache {
    func open(_ remote: BlobStore, _ cache: TempDir) async throws -> Repository {
        let repository = try await Repository.open(store: CachingBlobStore(wrapping: remote, directory: URL(fileURLWithPath: cache.path)), secret: .passphrase("test"))
        try await repository.loadIndex()
        return repository
    }

    @Test func anUnchangedReBackupDownloadsNoMetadata() async throws {
        let src = TempDir("src"), cache = TempDir("cache")
        makeSampleTree(src.path)
        let remote = FaultInjectingBlobStore(wrapping: MemoryBlobStore())
        _ = try await newRepository(CachingBlobStore(wrapping: remote, directory: URL(fileURLWithPath: cache.path)))
        let first = try await Archiver(repository: try await open(remote, cache)).backup(path: src.path)
        #expect(first.summary.blobsAdded > 0)

        // From now on the remote refuses every read but the config's: only the cache can answer.
        for prefix in ["index/", "snapshots/", "keys/", "data/"] { remote.inject(.fail, on: .get, keyPrefix: prefix) }
        let second = try await Archiver(repository: try await open(remote, cache)).backup(path: src.path)
        #expect(second.summary.filesUnchanged == 9 && second.summary.blobsAdded == 0)
        #expect(second.snapshot.parent == first.snapshotID && second.snapshot.tree == first.snapshot.tree)

        // Damaged cache files are misses, fetched again and rewritten.
        remote.clear()
        let trees = cache.path + "/trees"
        let treeFiles = try FileManager.default.contentsOfDirectory(atPath: trees)
        #expect(!treeFiles.isEmpty)
        for name in treeFiles { try Data("rot".utf8).write(to: URL(fileURLWithPath: trees + "/" + name)) }
        for name in try FileManager.default.contentsOfDirectory(atPath: cache.path + "/index") {
            try Data("rot".utf8).write(to: URL(fileURLWithPath: cache.path + "/index/" + name))
        }
        let repository = try await open(remote, cache)
        #expect(repository.damagedIndexFiles.isEmpty)
        let third = try await Archiver(repository: repository).backup(path: src.path)
        #expect(third.summary.filesUnchanged == 9)
        let rewritten = try Data(contentsOf: URL(fileURLWithPath: trees + "/" + treeFiles[0]))
        #expect(rewritten != Data("rot".utf8))

        // Metadata deleted from the store (by a prune elsewhere) leaves the cache when listed.
        let snapshots = try await remote.list(prefix: "snapshots/")
        try await remote.delete(snapshots[0].key)
        _ = try await repository.store.list(prefix: "snapshots/")
        #expect(!FileManager.default.fileExists(atPath: cache.path + "/" + snapshots[0].key))
    }
}

/// A backup's task cancelled (a worker's graceful shutdown) stops the walk and stores no snapshot.
@Suite struct CancelledBackup {
    @Test func cancellingTheTaskEndsTheBackupWithoutASnapshot() async throws {
        let src = TempDir("src")
        for i in 0..<40 { write(src.sub("f\(i)"), deterministicBytes(2_000_000, seed: UInt64(i))) }
        let repository = try await newRepository()
        let backup = Task { try await Archiver(repository: repository).backup(path: src.path) }
        backup.cancel()
        await #expect(throws: CancellationError.self) { _ = try await backup.value }
        #expect(try await repository.snapshotIDs().isEmpty)
    }
}

/// A store that says it is remote: packs are read in wider spans (`PackSpans.remote`).
struct RemoteLikeStore: BlobStore {
    let inner = FaultInjectingBlobStore(wrapping: MemoryBlobStore())
    var location: String { "remote-like://" }
    var isRemote: Bool { true }
    func put(_ key: String, data: Data) async throws { try await inner.put(key, data: data) }
    func get(_ key: String, range: Range<Int>?) async throws -> Data { try await inner.get(key, range: range) }
    func head(_ key: String) async throws -> BlobInfo { try await inner.head(key) }
    func list(prefix: String) async throws -> [BlobInfo] { try await inner.list(prefix: prefix) }
    func delete(_ key: String) async throws { try await inner.delete(key) }
}
