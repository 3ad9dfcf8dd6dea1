import CofferBlobStore
import CofferCrypto
import CofferSystem
import Foundation

/// Writes new blobs for one backup session: appends sealed blobs to packs,
/// stores each full pack, then records it in an index file. The order
/// packs -> index -> (caller) snapshot is the durability contract.
///
/// Thread-safe: many workers call `store` concurrently.
public final class PackWriter: @unchecked Sendable {
    public let repository: Repository
    private let lock = NSLock()
    /// An open or uploading pack. A class, so its bytes have one owner: appending the header
    /// and dropping held blobs happen in place. Its buffer comes from the writer's pool
    /// (page-aligned, so a local store can write it with O_DIRECT) and is handed to the store
    /// with `takeBytes`; it returns to the pool when the store lets go of those bytes.
    final class OpenPack {
        private let pool: BufferPool
        private var buffer: UnsafeMutableRawPointer?
        private var capacity = 0
        private var pooled = false
        private(set) var count = 0
        var entries: [PackEntry] = []
        var isEmpty: Bool { entries.isEmpty }

        init(pool: BufferPool) { self.pool = pool }

        deinit { if let buffer { release(buffer, pooled: pooled, used: count) } }

        private func release(_ buffer: UnsafeMutableRawPointer, pooled: Bool, used: Int) {
            if pooled { pool.give(buffer, used: used) } else { buffer.deallocate() }
        }

        func append(_ data: Data) {
            data.withUnsafeBytes { append($0) }
        }

        func append(_ bytes: UnsafeRawBufferPointer) {
            if buffer == nil {
                buffer = pool.take()
                capacity = pool.bufferSize
                pooled = true
            }
            if count + bytes.count > capacity {
                // A header of many small blobs can outgrow the pool's slack: move to a buffer of its own.
                let size = (count + bytes.count) * 2
                let larger = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
                larger.copyMemory(from: buffer!, byteCount: count)
                release(buffer!, pooled: pooled, used: count)
                buffer = larger
                capacity = size
                pooled = false
            }
            if let from = bytes.baseAddress { (buffer! + count).copyMemory(from: from, byteCount: bytes.count) }
            count += bytes.count
        }

        /// The pack's bytes, handed over without a copy; this pack is empty afterwards.
        func takeBytes() -> Data {
            guard let taken = buffer, count > 0 else { return Data() }
            let (wasPooled, pool) = (pooled, self.pool)
            buffer = nil
            defer { empty() }
            return Data(bytesNoCopy: taken, count: count, deallocator: .custom { p, n in
                if wasPooled { pool.give(p, used: n) } else { p.deallocate() }
            })
        }

        /// Drops the blobs `drop` names, moving the rest down in place; returns the dropped entries.
        func removeBlobs(where drop: (PackEntry) -> Bool) -> [PackEntry] {
            var end = 0
            var kept: [PackEntry] = [], dropped: [PackEntry] = []
            for var e in entries {
                if drop(e) { dropped.append(e); continue }
                // Entries are in offset order, so a blob only ever moves down.
                if Int(e.offset) != end, let base = buffer { memmove(base + end, base + Int(e.offset), Int(e.length)) }
                e.offset = UInt32(end)
                end += Int(e.length)
                kept.append(e)
            }
            count = end
            entries = kept
            return dropped
        }

        func empty() {
            count = 0
            entries.removeAll(keepingCapacity: true)
        }
    }
    /// Pack buffers: the open pack's, and the ones uploading until the store is done with them.
    private let packBuffers: BufferPool
    private var open: OpenPack
    /// Blobs claimed and not yet indexed (in the open pack or uploading); once a pack is
    /// indexed its blobs leave this set, since the index answers for them.
    private var reserved: Set<Hash256> = []
    /// Blobs copied by repacking or rescue: once each per session, whatever the index says.
    private var copied: Set<Hash256> = []
    /// The first 8 bytes of each blob id this session reused from the repository: only
    /// consulted if a concurrent prune dooms packs (`rescueReusedBlobsFromPendingDeletions`),
    /// where a false match costs one extra copy; a set of whole ids cost 64 bytes per blob.
    private var reused: Set<UInt64> = []
    private var unindexed: [(pack: Hash256, entries: [PackEntry])] = []
    private var unindexedEntries = 0
    private var oldestUnindexed: Date?
    /// Packs uploading at once: one to a local disk (a second only competes for it), two to a
    /// remote store, where a pack's round trips would otherwise leave the link idle.
    private let uploads: AsyncBudget
    /// Sealed bytes not yet stored (in the open pack or uploading): the packs
    /// uploading plus the open one, so a slow store slows the workers instead
    /// of growing memory.
    private let buffered: AsyncBudget
    private var sealedBytesAdded: Int64 = 0
    /// Sealed bytes stored in this session (read while workers store).
    public var bytesAdded: Int64 { lock.withLock { sealedBytesAdded } }
    public private(set) var blobsAdded = 0
    public private(set) var packsWritten = 0

    /// Index files are written at least this often so a long backup never
    /// leaves packs unindexed for long (prune's grace period must exceed it).
    public static let indexFlushInterval: TimeInterval = 300
    public static let indexFlushPacks = 16
    /// Or this many blobs: sixteen packs of small files are 600 000 entries, held three
    /// times over (entries, encoded, sealed) while the file is written.
    public static let indexFlushEntries = 32_768

    public init(repository: Repository) {
        self.repository = repository
        // At most two kept idle: the open pack's and the one just stored (RSS holds two packs, as before).
        let packSize = repository.config.packSize + repository.config.chunker.max + (64 << 10)
        let pool = BufferPool(bufferSize: packSize, maxRetained: 2, residentLimit: packSize)
        packBuffers = pool
        open = OpenPack(pool: pool)
        let parallel = repository.store.isRemote ? 2 : 1
        uploads = AsyncBudget(capacity: parallel)
        buffered = AsyncBudget(capacity: repository.config.packSize * parallel + (repository.config.chunker.max + 64) * 2)
    }

    /// Claims a blob for storing. Returns false when it is already stored (or
    /// being stored by another worker in this session): the caller skips it.
    public func claim(_ id: Hash256) -> Bool {
        lock.withLock {
            if reserved.contains(id) || copied.contains(id) { return false }
            if repository.index.hasLive(id) {
                reused.insert(id.a)
                return false
            }
            reserved.insert(id)
            return true
        }
    }

    /// Claims a blob for copying regardless of the index (once per session).
    func claimForCopy(_ id: Hash256) -> Bool {
        lock.withLock { copied.insert(id).inserted }
    }

    /// Records that the snapshot references blobs already in the repository
    /// without claiming them (unchanged files taken from a parent snapshot).
    public func noteReused<S: Sequence>(_ ids: S) where S.Element == Hash256 {
        lock.withLock { for id in ids { reused.insert(id.a) } }
    }

    /// Stores a blob that `claim` returned true for. `sealed` comes from `Repository.sealBlob`.
    public func store(id: Hash256, type: BlobType, sealed: SealedBlob, rawLength: Int) async throws {
        let length = sealed.count
        await buffered.acquire(length)
        let full: OpenPack? = lock.withLock {
            let entry = PackEntry(type: type, id: id, offset: UInt32(open.count), length: UInt32(length), rawLength: UInt32(rawLength))
            // Sized once per buffer: growing by doubling would briefly hold three times a pack.
            open.append(sealed.bytes)
            open.entries.append(entry)
            sealedBytesAdded += Int64(length)
            blobsAdded += 1
            if open.count >= repository.config.packSize { return takePack() }
            return nil
        }
        // Written through, so the next backup walks this one's trees without downloading them.
        if type == .tree, let cache = repository.store as? CachingBlobStore { await cache.cacheTree(id, sealed: Data(sealed.bytes)) }
        if let full { try await upload(full) }
    }

    /// Convenience for small blobs (trees): hash, claim, seal, store.
    @discardableResult
    public func save(_ plaintext: Data, type: BlobType) async throws -> Hash256 {
        let id = repository.keys.blobID(plaintext)
        if type == .tree { repository.stash?.keep(tree: id, plaintext: plaintext) }
        if claim(id) {
            try await store(id: id, type: type, sealed: repository.sealBlob(plaintext, type: type, id: id), rawLength: plaintext.count)
        }
        return id
    }

    /// The open pack (the header is added when it is stored); the next one starts empty. Under the lock.
    private func takePack() -> OpenPack {
        let taken = open
        open = OpenPack(pool: packBuffers)
        return taken
    }

    /// A write-only writer drops the blobs the server says the vault holds
    /// already (stored by another session it cannot see), moving the rest
    /// down in place, before the pack is closed.
    private func dropHeldBlobs(_ pack: OpenPack) async throws {
        guard let presence = repository.presence else { return }
        let held = try await presence.held(pack.entries.map(\.id))
        guard !held.isEmpty else { return }
        repository.index.addKnown(held)
        let dropped = pack.removeBlobs { held.contains($0.id) }
        lock.withLock {
            sealedBytesAdded -= dropped.reduce(0) { $0 + Int64($1.length) }
            blobsAdded -= dropped.count
        }
    }

    private func upload(_ pack: OpenPack) async throws {
        let sealedBytes = pack.entries.reduce(0) { $0 + Int($1.length) }
        // Backpressure: at most `uploads` packs in flight, so memory stays bounded
        // when the store is slower than the workers.
        await uploads.acquire(1)
        defer {
            uploads.release(1)
            buffered.release(sealedBytes)
        }
        try await dropHeldBlobs(pack)
        guard !pack.isEmpty else { return }
        let packEntries = pack.entries
        pack.append(PackFormat.header(packEntries, keys: repository.keys, session: repository.session))
        let id: Hash256
        do {
            // The buffer goes back to the pool when the store lets go of these bytes (a store may keep them).
            let bytes = pack.takeBytes()
            id = Hash256.sha256(bytes)
            try await repository.store.put(ObjectKey.pack(id), data: bytes)
        }
        let flush: [(pack: Hash256, entries: [PackEntry])]? = lock.withLock {
            repository.index.add(pack: id, entries: packEntries, session: repository.session)
            for e in packEntries { reserved.remove(e.id) }
            unindexed.append((id, packEntries))
            unindexedEntries += packEntries.count
            packsWritten += 1
            if oldestUnindexed == nil { oldestUnindexed = Date() }
            if unindexed.count >= Self.indexFlushPacks || unindexedEntries >= Self.indexFlushEntries
                || Date().timeIntervalSince(oldestUnindexed!) > Self.indexFlushInterval {
                defer { unindexed = []; unindexedEntries = 0; oldestUnindexed = nil }
                return unindexed
            }
            return nil
        }
        if let flush { try await writeIndex(flush) }
    }

    private func writeIndex(_ packs: [(pack: Hash256, entries: [PackEntry])]) async throws {
        let data = repository.encodeIndexFile(IndexFile(packs: packs))
        try await repository.store.put(ObjectKey.index(Hash256.sha256(data)), data: data)
    }

    /// Stores the last partial pack and the remaining index entries. Before
    /// that, blobs this session reused from packs that a concurrent prune has
    /// scheduled for deletion are copied into new packs, so the snapshot the
    /// caller writes next never depends on a pack about to disappear.
    public func finish() async throws {
        try await rescueReusedBlobsFromPendingDeletions()
        let last: OpenPack? = lock.withLock { open.isEmpty ? nil : takePack() }
        if let last { try await upload(last) }
        let remaining = lock.withLock { () -> [(pack: Hash256, entries: [PackEntry])] in
            defer { unindexed = []; unindexedEntries = 0; oldestUnindexed = nil }
            return unindexed
        }
        if !remaining.isEmpty { try await writeIndex(remaining) }
    }

    private func rescueReusedBlobsFromPendingDeletions() async throws {
        let pending = try await repository.loadPendingDeletions()
        let doomed = Set(pending.flatMap(\.packs))
        guard !doomed.isEmpty else { return }
        let reusedPrefixes = lock.withLock { reused }
        for (pack, entry) in repository.index.entries(inPacks: doomed) where reusedPrefixes.contains(entry.id.a) {
            // Where the index puts the blob now: a live copy (perhaps stored by this session) needs no rescue.
            guard let location = repository.index.lookup(entry.id), location.pack == pack else { continue }
            let plain: Data
            do {
                plain = try await repository.loadBlob(entry.id, type: entry.type)
            } catch {
                throw RepositoryError(.concurrentPrune, "blob \(entry.id.short) was removed by a concurrent prune while this backup ran (\(error)); run the backup again")
            }
            try await storeCopy(id: entry.id, type: entry.type, plaintext: plain)
        }
    }
}
