import CofferBlobStore
import CofferCrypto
import Foundation

public struct PruneOptions: Sendable {
    public var dryRun = false
    /// How long an unused pack is kept after prune first finds it unused
    /// (and how old an unindexed pack must be) before it is deleted. Must
    /// exceed the longest gap between a backup loading the index and
    /// finishing (see PackWriter.finish), so concurrent backups stay safe.
    /// Zero deletes at once: only when no backup can be running.
    public var grace: TimeInterval = 3600
    /// Packs whose unused share of bytes exceeds this are repacked.
    public var maxUnusedFraction = 0.25
    public var now: @Sendable () -> Date = { Date() }
    public init() {}
}

public struct PruneReport: Sendable {
    public var snapshots = 0
    public var packsTotal = 0
    public var packsDeleted = 0
    public var bytesDeleted: Int64 = 0
    public var packsRepacked = 0
    public var blobsRepacked = 0
    public var bytesRepacked: Int64 = 0
    public var packsScheduled = 0
    public var bytesScheduled: Int64 = 0
    public var unindexedDeleted = 0
    public var indexFilesReplaced = 0
    public var dryRun = false
    public var earliestNextDeletion: Date?
}

/// Garbage collection in two phases (docs/repository-format.md §Prune):
/// unused packs are first recorded in a pending-deletion object, which new
/// backups honour (they do not dedup against those packs and copy out any
/// blob they already reused); a later prune deletes them once the record is
/// older than the grace period, copying out any blob a newer snapshot needs.
public final class Pruner: @unchecked Sendable {
    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    public func run(_ options: PruneOptions = PruneOptions()) async throws -> PruneReport {
        let store = repository.store
        var report = PruneReport()
        report.dryRun = options.dryRun
        let now = options.now()

        // 1. The index as stored, file by file (prune refuses to work on a damaged one).
        var indexFiles: [Hash256] = []
        var packEntries: [Hash256: [PackEntry]] = [:]
        for object in try await store.list(prefix: "index/") {
            guard let id = ObjectKey.id(of: object.key) else { continue }
            let data = try await store.get(object.key)
            let file: IndexFile
            do { file = try await repository.decodeIndexFile(data, name: object.key) } catch {
                throw RepositoryError(.damaged, "prune refused: \(error); run 'check' first")
            }
            indexFiles.append(id)
            for p in file.packs where packEntries[p.pack] == nil { packEntries[p.pack] = p.entries }
        }
        try await repository.loadIndex()
        let records = try await repository.loadPendingDeletions()
        var pendingSince: [Hash256: Date] = [:]
        for r in records { for p in r.packs { pendingSince[p] = min(pendingSince[p] ?? r.created, r.created) } }

        // 2. Mark every blob some snapshot needs. Any unreadable snapshot or tree stops prune.
        var used = Set<Hash256>()
        var seen = Set<Hash256>()
        let walker = TreeWalker(repository: repository)
        for id in try await repository.snapshotIDs() {
            let snapshot: Snapshot
            do { snapshot = try await repository.loadSnapshot(id) } catch {
                throw RepositoryError(.damaged, "prune refused: \(error); run 'check' first")
            }
            report.snapshots += 1
            used.insert(snapshot.tree)
            try await walker.walk(snapshot.tree, seen: &seen, visit: { _, node in
                if let s = node.subtree { used.insert(s) }
                for e in node.content ?? [] { used.insert(e.blob) }
            }, unreadable: { path, tree, error in
                throw RepositoryError(.damaged, "prune refused: snapshot \(id.short) directory \(path) (tree \(tree.short)) is unreadable: \(error); run 'check' first")
            })
        }

        // 3. What is stored.
        var present: [Hash256: BlobInfo] = [:]
        for object in try await store.list(prefix: ObjectKey.packPrefix) {
            if let id = ObjectKey.id(of: object.key), object.key == ObjectKey.pack(id) { present[id] = object }
        }
        report.packsTotal = present.count

        // 4. One live copy per used blob, preferring packs not scheduled for deletion.
        var owner: [Hash256: Hash256] = [:]
        let ordered = packEntries.keys.filter { present[$0] != nil }.sorted { (pendingSince[$0] == nil ? 0 : 1, $0) < (pendingSince[$1] == nil ? 0 : 1, $1) }
        for pack in ordered {
            for e in packEntries[pack]! where used.contains(e.id) && owner[e.id] == nil { owner[e.id] = pack }
        }
        for id in used where owner[id] == nil {
            throw RepositoryError(.damaged, "prune refused: blob \(id.short) is needed by a snapshot but stored in no pack; run 'check'")
        }

        // 5. Classify.
        var toCopy: [(pack: Hash256, entry: PackEntry)] = []
        var newlyUnused: [Hash256] = []
        var deleteNow: [Hash256] = []
        for pack in ordered {
            let entries = packEntries[pack]!
            let live = entries.filter { owner[$0.id] == pack }
            let total = entries.reduce(0) { $0 + Int64($1.length) }
            let liveBytes = live.reduce(0) { $0 + Int64($1.length) }
            if let since = pendingSince[pack] {
                // Already scheduled: copy out what newer snapshots need, then delete when old enough.
                toCopy += live.map { (pack, $0) }
                if options.grace == 0 || now.timeIntervalSince(since) >= options.grace { deleteNow.append(pack) }
                else { report.earliestNextDeletion = min(report.earliestNextDeletion ?? .distantFuture, since.addingTimeInterval(options.grace)) }
                continue
            }
            let unusedFraction = total == 0 ? 1 : Double(total - liveBytes) / Double(total)
            if live.isEmpty || unusedFraction > options.maxUnusedFraction {
                toCopy += live.map { (pack, $0) }
                newlyUnused.append(pack)
                if !live.isEmpty { report.packsRepacked += 1 }
            }
        }
        report.blobsRepacked = toCopy.count
        report.bytesRepacked = toCopy.reduce(0) { $0 + Int64($1.entry.rawLength) }
        if options.grace == 0 {
            deleteNow += newlyUnused
            newlyUnused = []
        }
        let unindexed = present.values.filter { info in
            guard let id = ObjectKey.id(of: info.key) else { return false }
            return packEntries[id] == nil && (options.grace == 0 || now.timeIntervalSince(info.modified) >= options.grace)
        }
        report.packsDeleted = deleteNow.count
        report.bytesDeleted = deleteNow.reduce(0) { $0 + Int64(present[$1]?.size ?? 0) } + unindexed.reduce(0) { $0 + Int64($1.size) }
        report.unindexedDeleted = unindexed.count
        report.packsScheduled = newlyUnused.count
        report.bytesScheduled = newlyUnused.reduce(0) { $0 + Int64(present[$1]?.size ?? 0) }
        if !newlyUnused.isEmpty && options.grace > 0 {
            report.earliestNextDeletion = min(report.earliestNextDeletion ?? .distantFuture, now.addingTimeInterval(options.grace))
        }
        if options.dryRun { return report }

        // 6. Copy live blobs out of packs that go (new packs + their index first).
        if !toCopy.isEmpty {
            let writer = PackWriter(repository: repository)
            var order: [Hash256] = []
            var byPack: [Hash256: [PackEntry]] = [:]
            for (pack, entry) in toCopy {
                if byPack[pack] == nil { order.append(pack) }
                byPack[pack, default: []].append(entry)
            }
            for pack in order {
                try await repository.readBlobs(pack: pack, entries: byPack[pack]!) { entry, plain in
                    try await writer.storeCopy(id: entry.id, type: entry.type, plaintext: plain.get())
                }
            }
            try await writer.finish()
        }
        // 7. One index for everything that stays, replacing the files read in step 1.
        let deleting = Set(deleteNow)
        let survivors = packEntries.filter { present[$0.key] != nil && !deleting.contains($0.key) }
        let sessions = repository.index.packSessionMap.filter { survivors[$0.key] != nil }
        let consolidated = IndexFile(packs: survivors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, supersedes: indexFiles.sorted(), sessions: sessions)
        if !indexFiles.isEmpty {
            let data = repository.encodeIndexFile(consolidated)
            let newID = Hash256.sha256(data)
            try await store.put(ObjectKey.index(newID), data: data)
            report.indexFilesReplaced = indexFiles.count
            // 8. Schedule newly unused packs.
            if !newlyUnused.isEmpty { try await writeRecord(PendingDeletion(created: now, packs: newlyUnused.sorted())) }
            try await store.delete(indexFiles.filter { $0 != newID }.map(ObjectKey.index))
        } else if !newlyUnused.isEmpty {
            try await writeRecord(PendingDeletion(created: now, packs: newlyUnused.sorted()))
        }
        // 9. Only now, with no index naming them, delete packs.
        try await store.delete(deleteNow.map(ObjectKey.pack) + unindexed.map(\.key))
        // 10. Records whose packs are all gone.
        for record in records {
            guard let id = record.id else { continue }
            if record.packs.allSatisfy({ deleting.contains($0) || present[$0] == nil }) {
                try await store.delete(ObjectKey.deletion(id))
            }
        }
        try await repository.loadIndex()
        if let cache = store as? CachingBlobStore {
            let index = repository.index
            await cache.sweepTrees { index.lookup($0) != nil }
        }
        return report
    }

    private func writeRecord(_ record: PendingDeletion) async throws {
        let sealed = Sealer.seal(try ModelCoding.encoder().encode(record), key: repository.keys.dataKey, context: Context.deletion)
        try await repository.store.put(ObjectKey.deletion(Hash256.sha256(sealed)), data: sealed)
    }
}

extension PackWriter {
    /// Stores a copy of a blob even though the index already has it (repacking).
    func storeCopy(id: Hash256, type: BlobType, plaintext: Data) async throws {
        guard claimForCopy(id) else { return }
        try await store(id: id, type: type, sealed: repository.sealBlob(plaintext, type: type, id: id), rawLength: plaintext.count)
    }
}
