import CofferBlobStore
import CofferCrypto
import Foundation

public struct CheckReport: Sendable {
    public var errors: [String] = []
    public var warnings: [String] = []
    public var packsChecked = 0
    public var blobsChecked = 0
    public var snapshotsChecked = 0
    public var bytesRead: Int64 = 0
    /// Packs in the repository, and the subset's packs not read because time ran out.
    public var packsTotal = 0
    public var packsLeftForLater = 0
    public var ok: Bool { errors.isEmpty }
}

/// How much of the data a check reads.
public struct DataCheckOptions: Sendable {
    public var subset: DataSubset = .all
    /// Stop starting new pack reads after this long (the rest is left for the next run).
    public var maxDuration: TimeInterval?
    /// Append a verification record (`verified/`) of the packs read.
    public var record = false
    /// Also decompress every blob and recompute its keyed id. Without it every byte is still
    /// verified: the pack's SHA-256 (its name) covers the whole pack and each blob's AES-GCM
    /// tag, whose associated data names the blob's type and id, authenticates its record. The
    /// re-hash catches only a key holder that sealed wrong content under an id (a writer bug:
    /// an agent's packs are re-hashed by the server when they arrive).
    public var verifyContent = false
    public init(subset: DataSubset = .all, maxDuration: TimeInterval? = nil, record: Bool = false, verifyContent: Bool = false) {
        self.subset = subset
        self.maxDuration = maxDuration
        self.record = record
        self.verifyContent = verifyContent
    }
}

/// Verifies a repository: structure (every index file, pack, snapshot and
/// tree is present and readable, every referenced blob is indexed) and, with
/// `readData`, every byte (pack hashes, headers, each blob's authentication
/// tag; with `verifyContent`, each blob decompressed and its keyed id recomputed). Each problem is reported with the snapshots and
/// files it affects.
public final class Checker: @unchecked Sendable {
    public let repository: Repository
    private let lock = NSLock()
    private var report = CheckReport()
    private var bad: [Hash256: String] = [:]  // blob -> what is wrong with it
    private var damagedPacks = Set<Hash256>()

    public init(repository: Repository) { self.repository = repository }

    func error(_ s: String) { lock.withLock { report.errors.append(s) } }
    func warning(_ s: String) { lock.withLock { report.warnings.append(s) } }
    func markBad(_ id: Hash256, _ why: String) { lock.withLock { if bad[id] == nil { bad[id] = why } } }

    /// A damaged copy matters only if it is the copy reads use.
    func markBad(_ id: Hash256, _ why: String, in pack: Hash256) {
        if repository.index.lookup(id)?.pack == pack { markBad(id, why) }
    }

    public func run(readData: Bool, verifyContent: Bool = true, concurrency: Int = 4) async throws -> CheckReport {
        try await run(readData: readData ? DataCheckOptions(verifyContent: verifyContent) : nil, concurrency: concurrency)
    }

    /// `data` nil: structure only; otherwise the packs `data.subset` names are read in full.
    public func run(readData data: DataCheckOptions?, concurrency: Int = 4) async throws -> CheckReport {
        let store = repository.store
        // Index files.
        var indexed: [Hash256: [PackEntry]] = [:]
        for object in try await store.list(prefix: "index/") {
            do {
                let data = try await store.get(object.key)
                if let id = ObjectKey.id(of: object.key), Hash256.sha256(data) != id {
                    error("index file \(object.key) is damaged (hash mismatch)")
                }
                let file = try await repository.decodeIndexFile(data, name: object.key)
                for p in file.packs { indexed[p.pack, default: []].append(contentsOf: p.entries) }
            } catch {
                self.error("index file \(object.key) is unreadable: \(error)")
            }
        }
        try await repository.loadIndex()
        // Packs present vs indexed.
        var present: [Hash256: Int] = [:]
        for object in try await store.list(prefix: ObjectKey.packPrefix) {
            guard let id = ObjectKey.id(of: object.key), object.key == ObjectKey.pack(id) else {
                warning("unexpected object \(object.key) in data/"); continue
            }
            present[id] = object.size
        }
        for (pack, entries) in indexed {
            guard let size = present[pack] else {
                error("pack \(ObjectKey.pack(pack)) is missing (the index lists \(entries.count) blobs in it)")
                for e in entries where repository.index.lookup(e.id)?.pack == pack { markBad(e.id, "its pack \(pack.short) is missing") }
                continue
            }
            let end = entries.map { Int($0.offset) + Int($0.length) }.max() ?? 0
            if end + PackFormat.trailerSize > size {
                error("pack \(ObjectKey.pack(pack)) is truncated (\(size) bytes, index needs more than \(end))")
            }
        }
        for pack in present.keys where indexed[pack] == nil {
            warning("pack \(ObjectKey.pack(pack)) is not in any index (left by an interrupted or running backup; prune removes it)")
        }
        lock.withLock { report.packsTotal = present.count }
        if let data {
            let started = Date()
            let history = data.subset == .all ? [] : try await repository.verificationRecords()
            let chosen = data.subset.select(Array(present.keys), history: history)
            let read = try await readPacks(chosen.packs, indexed: indexed, verifyContent: data.verifyContent, concurrency: concurrency,
                                           deadline: data.maxDuration.map { started.addingTimeInterval($0) })
            lock.withLock { report.packsLeftForLater = chosen.packs.count - read.count }
            if data.record && (!read.isEmpty || chosen.rotation != nil) {
                let damaged = lock.withLock { damagedPacks }
                do {
                    try await repository.saveVerification(VerificationRecord(time: started, packs: read.sorted(), damaged: damaged.intersection(read).sorted(),
                                                                             rotation: chosen.rotation, run: chosen.run))
                } catch {
                    warning("the verification record could not be written (the next rotating check reads these packs again): \(error)")
                }
            }
        }
        // Snapshots and trees.
        let walker = TreeWalker(repository: repository)
        var seen = Set<Hash256>()
        for id in try await repository.snapshotIDs() {
            let snapshot: Snapshot
            do { snapshot = try await repository.loadSnapshot(id) } catch {
                self.error("snapshot \(id.short): \(error)"); continue
            }
            lock.withLock { report.snapshotsChecked += 1 }
            let badNow = lock.withLock { bad }
            if let why = badNow[snapshot.tree] { error("snapshot \(id.short): root tree damaged: \(why)") }
            var local = seen
            try await walker.walk(snapshot.tree, seen: &local, visit: { path, node in
                for e in node.content ?? [] {
                    if let why = badNow[e.blob] {
                        self.error("snapshot \(id.short): file \(path) is damaged (bytes \(e.offset)..<\(e.offset + UInt64(e.length))): \(why)")
                    } else if self.repository.index.lookup(e.blob) == nil {
                        self.error("snapshot \(id.short): file \(path) references data blob \(e.blob.short), which is not in the index")
                    }
                }
                if let sub = node.subtree, let why = badNow[sub] {
                    self.error("snapshot \(id.short): directory \(path) is damaged: \(why)")
                }
            }, unreadable: { path, tree, err in
                if badNow[tree] == nil { self.error("snapshot \(id.short): directory \(path) (tree \(tree.short)) is unreadable: \(err)") }
            })
            // Trees are shared between snapshots; errors for shared trees are
            // reported for the first snapshot only unless something is bad.
            if badNow.isEmpty { seen = local }
        }
        return lock.withLock { report }
    }

    /// Reads `packs` in order, `concurrency` at a time, starting none after
    /// `deadline`; returns the packs read.
    private func readPacks(_ packs: [Hash256], indexed: [Hash256: [PackEntry]], verifyContent: Bool, concurrency: Int, deadline: Date?) async throws -> [Hash256] {
        var started: [Hash256] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            var iterator = packs.makeIterator()
            var running = 0
            while true {
                while running < concurrency, deadline.map({ Date() < $0 }) ?? true, let pack = iterator.next() {
                    running += 1
                    started.append(pack)
                    group.addTask { await self.readPack(pack, indexEntries: indexed[pack], verifyContent: verifyContent) }
                }
                if running == 0 { break }
                try await group.next()
                running -= 1
            }
        }
        return started
    }

    private func readPack(_ pack: Hash256, indexEntries: [PackEntry]?, verifyContent: Bool) async {
        // Every problem found here marks the pack damaged in the verification record.
        func fail(_ message: String) {
            lock.withLock { _ = damagedPacks.insert(pack) }
            self.error(message)
        }
        let key = ObjectKey.pack(pack)
        var data: Data
        do { data = try await repository.store.get(key) } catch {
            fail("pack \(key) cannot be read: \(error)")
            for e in indexEntries ?? [] { markBad(e.id, "its pack cannot be read", in: pack) }
            return
        }
        lock.withLock { report.packsChecked += 1; report.bytesRead += Int64(data.count) }
        if Hash256.sha256(data) != pack { fail("pack \(key) is damaged: its content does not match its name") }
        var entries: [PackEntry]
        // A pack's blobs are sealed under its session's key: the index's word for indexed packs, else
        // the pack's own trailer (a writer session's pack left unindexed by an interrupted backup).
        let indexedSession = repository.index.session(ofPack: pack)
        var session = indexedSession
        do {
            let header = try await repository.packEntries(ofPack: data, name: key)
            entries = header.entries
            if let indexEntries {
                let a = Set(entries.map(\.id)), b = Set(indexEntries.map(\.id))
                if a != b { fail("pack \(key): header and index disagree (\(a.symmetricDifference(b).count) blobs differ)") }
                if header.session != indexedSession { fail("pack \(key): its trailer and the index name different writer sessions") }
            } else {
                session = header.session
            }
        } catch {
            fail("pack \(key): header unreadable: \(error)")
            guard let indexEntries else { return }
            entries = indexEntries  // still check each blob where the index says it is
        }
        let keys: RepositoryKeys
        do { keys = try await repository.keys(forSession: session) } catch {
            fail("pack \(key): \(error)")
            for e in entries { markBad(e.id, "\(error)", in: pack) }
            return
        }
        var whole: [PackEntry] = []
        for e in entries {
            guard Int(e.offset) + Int(e.length) <= data.count else {
                markBad(e.id, "pack \(pack.short) is truncated", in: pack)
                fail("pack \(key): blob \(e.id.short) lies beyond the end of the pack"); continue
            }
            whole.append(e)
        }
        // Every record is opened where it lies in the pack just read (as a restore's reads are).
        let opened = repository.openAll(in: &data, from: 0, entries: whole, keys: .success(keys), pack: pack)
        for (e, record) in zip(whole, opened) {
            do {
                let blob = try record.get()
                if verifyContent {
                    let what = "blob \(e.id.short) in pack \(pack.short)"
                    let plain = try repository.plaintext(of: blob, in: data, what: what)
                    if repository.keys.blobID(plain) != e.id { throw RepositoryError(.damaged, "\(what): content does not match its id") }
                }
                lock.withLock { report.blobsChecked += 1 }
            } catch {
                markBad(e.id, "\(error)", in: pack)
                fail("pack \(key): \(error)")
            }
        }
    }
}
