import CofferBlobStore
import CofferCrypto
import CofferSystem
import Foundation

/// A local copy of what a repository on a remote store reads on every backup:
/// its metadata objects (index, snapshots, keys, deletion and verification
/// records) and its tree blobs, so an unchanged re-backup to S3 downloads
/// nothing but listings (restic keeps the same cache).
///
/// Never trusted: metadata objects are named by the SHA-256 of their bytes and
/// a cached copy is used only when it still hashes to its name; a cached tree
/// record is authenticated when it is unsealed (`Repository.loadBlob`), and a
/// bad one is fetched again. Writes are not fsynced (a lost or torn file is
/// only a miss). Everything under `directory` may be deleted at any time.
public struct CachingBlobStore: BlobStore {
    let inner: BlobStore
    public let directory: URL

    /// Prefixes of the objects kept whole (content-addressed, never rewritten).
    static let metadataPrefixes = ["index/", "snapshots/", "keys/", "deletions/", "verified/"]

    public init(wrapping inner: BlobStore, directory: URL) {
        self.inner = inner
        self.directory = directory.standardizedFileURL
    }

    public var location: String { inner.location }
    public var isRemote: Bool { inner.isRemote }

    static func isMetadata(_ key: String) -> Bool { metadataPrefixes.contains { key.hasPrefix($0) } }

    func file(_ name: String) -> String { directory.path + "/" + name }

    public func put(_ key: String, data: Data) async throws {
        try await inner.put(key, data: data)
        if Self.isMetadata(key) { await write(key, data) }
    }

    public func get(_ key: String, range: Range<Int>?) async throws -> Data {
        guard range == nil, Self.isMetadata(key) else { return try await inner.get(key, range: range) }
        if let cached = await read(key), let id = ObjectKey.id(of: key), Hash256.sha256(cached) == id { return cached }
        let data = try await inner.get(key, range: nil)
        await write(key, data)
        return data
    }

    /// Packs stream from the store; metadata comes whole, through the cache.
    public func read(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws {
        if Self.isMetadata(key) { return try await readWhole(key, range: range, into: consume) }
        try await inner.read(key, range: range, into: consume)
    }

    public func head(_ key: String) async throws -> BlobInfo { try await inner.head(key) }

    /// Cached metadata the listing no longer shows (deleted by prune, perhaps by another process) is dropped.
    public func list(prefix: String) async throws -> [BlobInfo] {
        let listed = try await inner.list(prefix: prefix)
        if let kind = Self.metadataPrefixes.first(where: { $0 == prefix }) {
            let present = Set(listed.map(\.key))
            await BlockingPool.store.run {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: self.file(kind))) ?? [] where !present.contains(kind + name) {
                    try? FileManager.default.removeItem(atPath: self.file(kind + name))
                }
            }
        }
        return listed
    }

    public func delete(_ key: String) async throws {
        try await inner.delete(key)
        if Self.isMetadata(key) { await remove(key) }
    }

    public func delete(_ keys: [String]) async throws {
        try await inner.delete(keys)
        for key in keys where Self.isMetadata(key) { await remove(key) }
    }

    public func destroy() async throws {
        try await inner.destroy()
        await BlockingPool.store.run { try? FileManager.default.removeItem(at: self.directory) }
    }

    // MARK: - Tree records

    /// The sealed record of a tree blob, as stored in its pack, if cached.
    func cachedTree(_ id: Hash256) async -> Data? { await read("trees/" + id.hex) }

    func cacheTree(_ id: Hash256, sealed: Data) async { await write("trees/" + id.hex, sealed) }

    /// Drops cached trees the repository no longer holds (after a prune).
    func sweepTrees(keeping live: @escaping @Sendable (Hash256) -> Bool) async {
        await BlockingPool.store.run {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: self.file("trees"))) ?? [] {
                if let id = Hash256(hex: name), live(id) { continue }
                try? FileManager.default.removeItem(atPath: self.file("trees/" + name))
            }
        }
    }

    // MARK: - Files (best effort: the cache never fails an operation)

    func read(_ name: String) async -> Data? {
        await BlockingPool.store.run { FileManager.default.contents(atPath: self.file(name)) }
    }

    func write(_ name: String, _ data: Data) async {
        await BlockingPool.store.run {
            let target = self.file(name)
            let staging = target + ".\(UInt64.random(in: 0...UInt64.max)).tmp"
            try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
            guard FileManager.default.createFile(atPath: staging, contents: data, attributes: [.posixPermissions: 0o600]) else { return }
            if rename(staging, target) != 0 { unlink(staging) }
        }
    }

    func remove(_ name: String) async {
        await BlockingPool.store.run { _ = unlink(self.file(name)) }
    }
}
