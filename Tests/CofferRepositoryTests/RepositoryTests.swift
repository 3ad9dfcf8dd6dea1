import CofferBlobStore
import CofferCrypto
import Foundation
import Testing
@testable import CofferRepository

func cheapOptions(packSize: Int = 64 << 10) -> RepositoryOptions {
    var o = RepositoryOptions()
    o.cheapKDF = true
    o.packSize = packSize
    return o
}

func makeRepo(_ store: BlobStore = MemoryBlobStore(), packSize: Int = 64 << 10) async throws -> Repository {
    try await Repository.initialize(store: store, secret: .passphrase("pw"), options: cheapOptions(packSize: packSize))
}

func bytes(_ n: Int, _ seed: UInt8) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 7 ^ ($0 >> 8)) }) }

/// Writes a snapshot with one file per (name, data) pair at the root.
@discardableResult
func snapshotOf(_ repo: Repository, _ files: [(String, Data)], time: Date = Date(), tags: [String] = [], writer: PackWriter? = nil) async throws -> Hash256 {
    let w = writer ?? PackWriter(repository: repo)
    var nodes: [Node] = []
    for (name, data) in files {
        var n = Node(name: name, kind: .file, size: UInt64(data.count))
        n.content = data.isEmpty ? [] : [Extent(offset: 0, length: UInt32(data.count), blob: try await w.save(data, type: .data))]
        nodes.append(n)
    }
    let tree = try await w.save(TreeCodec.encode(Tree(nodes: nodes)), type: .tree)
    try await w.finish()
    return try await repo.saveSnapshot(Snapshot(time: time, hostname: "h", username: "u", paths: ["/src"], kind: .files, tree: tree, tags: tags))
}

@Suite struct KeysAndConfig {
    @Test func openWithRightKeyOnly() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store)
        let reopened = try await Repository.open(store: store, secret: .passphrase("pw"))
        #expect(reopened.config == repo.config)
        #expect(reopened.keys.blobID(Data([1])) == repo.keys.blobID(Data([1])))
        do { _ = try await Repository.open(store: store, secret: .passphrase("wrong")); Issue.record("opened with wrong key") } catch let e as RepositoryError {
            #expect(e.code == .wrongKey)
            #expect(e.description.contains("wrong key"))
        }
        do { _ = try await Repository.open(store: store, secret: .keyFile(Array(repeating: 1, count: 32))); Issue.record("opened") } catch let e as RepositoryError {
            #expect(e.code == .wrongKey)
        }
        await #expect(throws: RepositoryError.self) { try await makeRepo(store) }  // already exists
    }

    @Test func missingAndTamperedConfig() async throws {
        let store = MemoryBlobStore()
        do { _ = try await Repository.open(store: store, secret: .passphrase("pw")); Issue.record("opened empty store") } catch let e as RepositoryError {
            #expect(e.code == .notARepository)
            #expect(e.description.contains("config"))
        }
        _ = try await makeRepo(store)
        store.corrupt("config") { data in
            let s = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\"compressionLevel\":3", with: "\"compressionLevel\":4")
            data = Data(s.utf8)
        }
        do { _ = try await Repository.open(store: store, secret: .passphrase("pw")); Issue.record("opened tampered") } catch let e as RepositoryError {
            #expect(e.code == .damaged)
        }
        store.corrupt("config") { $0 = Data("{garbage".utf8) }
        do { _ = try await Repository.open(store: store, secret: .passphrase("pw")); Issue.record("opened garbage") } catch let e as RepositoryError {
            #expect(e.code == .damaged)
            #expect(e.description.contains("'config'"))
        }
    }

    @Test func addAndRemoveKeys() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store)
        let keyFile = randomBytes(32)
        let added = try await repo.addKey(.keyFile(keyFile))
        _ = try await Repository.open(store: store, secret: .keyFile(keyFile))
        let original = try await repo.listKeys().first { $0.id != added }!.id
        try await repo.removeKey(original)
        await #expect(throws: RepositoryError.self) { try await Repository.open(store: store, secret: .passphrase("pw")) }
        _ = try await Repository.open(store: store, secret: .keyFile(keyFile))
        await #expect(throws: RepositoryError.self) { try await repo.removeKey(added) }  // the last one
    }
}

@Suite struct PacksAndIndex {
    @Test func blobsRoundTripThroughPacksAndIndex() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 10_000)
        let writer = PackWriter(repository: repo)
        var ids: [(Hash256, Data)] = []
        for i in 0..<40 {
            let d = i % 2 == 0 ? bytes(3000 + i, UInt8(i)) : Data(String(repeating: "compressible \(i) ", count: 300).utf8)
            ids.append((try await writer.save(d, type: .data), d))
        }
        #expect(try await writer.save(ids[0].1, type: .data) == ids[0].0)  // dedup within a session
        try await writer.finish()
        #expect(writer.blobsAdded == 40)
        let packs = try await store.list(prefix: "data/")
        #expect(packs.count > 1)
        for p in packs { #expect(ObjectKey.id(of: p.key) == Hash256.sha256(try await store.get(p.key))) }
        let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
        try await fresh.loadIndex()
        #expect(fresh.index.count == 40)
        for (id, d) in ids { #expect(try await fresh.loadBlob(id, type: .data) == d) }
        // A second session stores nothing already present.
        let w2 = PackWriter(repository: fresh)
        for (_, d) in ids { _ = try await w2.save(d, type: .data) }
        try await w2.finish()
        #expect(w2.blobsAdded == 0)
        // Stored bytes never contain the plaintext.
        for p in packs {
            let raw = try await store.get(p.key)
            #expect(raw.range(of: Data("compressible".utf8)) == nil)
        }
    }

    @Test func damagedIndexIsRecoveredFromPackHeaders() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 5000)
        let snap = try await snapshotOf(repo, [("a", bytes(20000, 1)), ("b", bytes(7000, 2))])
        for idx in try await store.list(prefix: "index/") { store.corrupt(idx.key) { $0[$0.startIndex + 40] ^= 1 } }
        let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
        try await fresh.loadIndex()
        #expect(!fresh.damagedIndexFiles.isEmpty)
        let tree = try await fresh.loadTree(try await fresh.loadSnapshot(snap).tree)
        #expect(try await fresh.loadBlob(tree.nodes[0].content![0].blob, type: .data) == bytes(20000, 1))
    }

    @Test func snapshotsResolveByPrefixAndLatest() async throws {
        let repo = try await makeRepo()
        let a = try await snapshotOf(repo, [("x", bytes(10, 1))], time: Date(timeIntervalSince1970: 1000))
        let b = try await snapshotOf(repo, [("x", bytes(10, 2))], time: Date(timeIntervalSince1970: 2000))
        #expect(try await repo.resolveSnapshot("latest") == b)
        #expect(try await repo.resolveSnapshot(String(a.hex.prefix(10))) == a)
        await #expect(throws: RepositoryError.self) { try await repo.resolveSnapshot("zz") }
        await #expect(throws: RepositoryError.self) { try await repo.resolveSnapshot("0000000000") }
        await #expect(throws: RepositoryError.self) { try await repo.resolveSnapshot("") }
    }
}

@Suite struct CheckDetectsDamage {
    @Test func healthyRepositoryPasses() async throws {
        let repo = try await makeRepo(packSize: 5000)
        try await snapshotOf(repo, [("a", bytes(20000, 1)), ("b", bytes(700, 2)), ("empty", Data())])
        let report = try await Checker(repository: repo).run(readData: true)
        #expect(report.ok, "\(report.errors)")
        #expect(report.blobsChecked >= 3)
    }

    /// Both data checks: the default (pack hashes and blob tags) and the full one (also content re-hashed).
    @Test(arguments: [false, true]) func everySingleBitFlipInEveryObjectIsDetected(verifyContent: Bool) async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 5000)
        try await snapshotOf(repo, [("a", bytes(9000, 1)), ("b", bytes(700, 2))])
        let objects = try await store.list(prefix: "").filter { !$0.key.hasPrefix("keys/") && $0.key != "config" }
        for object in objects {
            for position in stride(from: 0, to: object.size, by: max(1, object.size / 7)) {
                store.corrupt(object.key) { $0[$0.startIndex + position] ^= 0x04 }
                let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
                let report = try await Checker(repository: fresh).run(readData: true, verifyContent: verifyContent)
                #expect(!report.ok, "flip at \(object.key)@\(position) not detected")
                store.corrupt(object.key) { $0[$0.startIndex + position] ^= 0x04 }
            }
        }
        let clean = try await Checker(repository: try await Repository.open(store: store, secret: .passphrase("pw"))).run(readData: true)
        #expect(clean.ok)
    }

    @Test(arguments: [false, true]) func damagedDataNamesSnapshotAndFile(verifyContent: Bool) async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 1 << 20)
        let w = PackWriter(repository: repo)
        let snap = try await snapshotOf(repo, [("good", bytes(100, 1)), ("victim", bytes(5000, 9))], writer: w)
        let victimBlob = repo.keys.blobID(bytes(5000, 9))
        let loc = repo.index.lookup(victimBlob)!
        store.corrupt(ObjectKey.pack(loc.pack)) { $0[$0.startIndex + Int(loc.entry.offset) + 50] ^= 1 }
        let report = try await Checker(repository: try await Repository.open(store: store, secret: .passphrase("pw"))).run(readData: true, verifyContent: verifyContent)
        #expect(report.errors.contains { $0.contains("snapshot \(snap.short)") && $0.contains("file victim") })
        #expect(!report.errors.contains { $0.contains("file good") })
    }

    @Test func missingPackAndStructureOnlyCheck() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 1 << 20)
        try await snapshotOf(repo, [("f", bytes(100, 1))])
        for p in try await store.list(prefix: "data/") { try await store.delete(p.key) }
        let report = try await Checker(repository: try await Repository.open(store: store, secret: .passphrase("pw"))).run(readData: false)
        #expect(report.errors.contains { $0.contains("missing") })
    }
}

@Suite struct ForgetAndPrune {
    @Test func pruneWithoutGraceFreesSpaceAndKeepsLiveData() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 4000)
        let old = try await snapshotOf(repo, [("a", bytes(20000, 1)), ("shared", bytes(3000, 3))])
        let keep = try await snapshotOf(repo, [("b", bytes(20000, 2)), ("shared", bytes(3000, 3))])
        let before = try await store.list(prefix: "data/").reduce(0) { $0 + $1.size }
        try await repo.deleteSnapshot(old)
        var options = PruneOptions()
        options.grace = 0
        options.dryRun = true
        let dry = try await Pruner(repository: repo).run(options)
        #expect(dry.bytesDeleted > 0)
        #expect(try await store.list(prefix: "data/").reduce(0) { $0 + $1.size } == before)
        options.dryRun = false
        let r = try await Pruner(repository: repo).run(options)
        #expect(r.packsDeleted > 0)
        let after = try await store.list(prefix: "data/").reduce(0) { $0 + $1.size }
        #expect(after < before * 7 / 10)
        let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
        let check = try await Checker(repository: fresh).run(readData: true)
        #expect(check.ok, "\(check.errors)")
        #expect(check.warnings.isEmpty, "\(check.warnings)")
        let tree = try await fresh.loadTree(try await fresh.loadSnapshot(keep).tree)
        for n in tree.nodes { #expect(try await fresh.loadBlob(n.content![0].blob, type: .data).count == Int(n.size)) }
        #expect(try await store.list(prefix: "index/").count == 1)
    }

    @Test func graceDefersDeletionAndConcurrentBackupIsSafe() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 4000)
        let old = try await snapshotOf(repo, [("a", bytes(20000, 1))])
        // A backup starts and reuses blob "a" (dedup against the index)...
        let concurrent = try await Repository.open(store: store, secret: .passphrase("pw"))
        try await concurrent.loadIndex()
        let writer = PackWriter(repository: concurrent)
        let reusedID = concurrent.keys.blobID(bytes(20000, 1))
        #expect(!writer.claim(reusedID))
        // ...while the only snapshot using it is forgotten and pruned.
        try await repo.deleteSnapshot(old)
        let t0 = Date()
        var options = PruneOptions()
        options.grace = 3600
        options.now = { t0 }
        let first = try await Pruner(repository: repo).run(options)
        #expect(first.packsScheduled > 0 && first.packsDeleted == 0)
        #expect(!(try await store.list(prefix: "deletions/")).isEmpty)
        // The backup finishes: it copies the reused blob out of the doomed pack.
        var node = Node(name: "a", kind: .file, size: 20000)
        node.content = [Extent(offset: 0, length: 20000, blob: reusedID)]
        let tree = try await writer.save(TreeCodec.encode(Tree(nodes: [node])), type: .tree)
        try await writer.finish()
        let newSnap = try await concurrent.saveSnapshot(Snapshot(time: Date(), hostname: "h", username: "u", paths: ["/src"], kind: .files, tree: tree))
        // Later, past the grace period, prune deletes the scheduled packs.
        options.now = { t0.addingTimeInterval(7200) }
        let second = try await Pruner(repository: repo).run(options)
        #expect(second.packsDeleted > 0)
        #expect(try await store.list(prefix: "deletions/").isEmpty)
        let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
        let check = try await Checker(repository: fresh).run(readData: true)
        #expect(check.ok, "\(check.errors)")
        let restoredTree = try await fresh.loadTree(try await fresh.loadSnapshot(newSnap).tree)
        #expect(try await fresh.loadBlob(restoredTree.nodes[0].content![0].blob, type: .data) == bytes(20000, 1))
    }

    @Test func newBackupsDoNotDedupAgainstScheduledPacks() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 4000)
        let old = try await snapshotOf(repo, [("a", bytes(9000, 1))])
        try await repo.deleteSnapshot(old)
        var options = PruneOptions()
        options.grace = 3600
        _ = try await Pruner(repository: repo).run(options)
        let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
        try await fresh.loadIndex()
        let w = PackWriter(repository: fresh)
        #expect(w.claim(fresh.keys.blobID(bytes(9000, 1))))
    }

    @Test func forgetPolicyKeepsTheRightSnapshots() {
        let day: TimeInterval = 86400
        let base = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14
        var snaps: [(Hash256, Snapshot)] = []
        for i in 0..<30 {
            let s = Snapshot(time: base.addingTimeInterval(Double(i) * day / 2), hostname: "h", username: "u", paths: ["/p"], kind: .files,
                             tree: Hash256.sha256(Data([UInt8(i)])), tags: i == 3 ? ["keep"] : [])
            snaps.append((Hash256.sha256(Data([UInt8(i), 1])), s))
        }
        var p = ForgetPolicy()
        p.keepLast = 2
        #expect(p.apply(snaps, now: base).keep == [snaps[28].0, snaps[29].0])
        p = ForgetPolicy()
        p.keepDaily = 3
        #expect(p.apply(snaps, now: base).keep.count == 3)
        p.keepTags = ["keep"]
        let d = p.apply(snaps, now: base)
        #expect(d.keep.contains(snaps[3].0) && d.keep.count == 4 && d.remove.count == 26)
        p = ForgetPolicy()
        p.keepWithin = 2 * day
        #expect(p.apply(snaps, now: base.addingTimeInterval(15 * day)).keep.count == 4)  // 13, 13.5, 14 and 14.5 days
        #expect(ForgetPolicy().isEmpty)
    }
}

@Suite struct RotatingVerification {
    /// A repository of many small packs: (repository, store, the snapshot, file name -> pack).
    func manyPacks() async throws -> (Repository, MemoryBlobStore, Hash256, [String: (pack: Hash256, offset: Int)]) {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 4000)
        let files = (0..<16).map { ("f\($0)", Data(randomBytes(3000))) }
        let snapshot = try await snapshotOf(repo, files)
        let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
        try await fresh.loadIndex()
        let tree = try await fresh.loadTree(try await fresh.loadSnapshot(snapshot).tree)
        var packOf: [String: (pack: Hash256, offset: Int)] = [:]
        for node in tree.nodes {
            let location = fresh.index.lookup(node.content![0].blob)!
            packOf[node.name] = (location.pack, Int(location.entry.offset))
        }
        return (fresh, store, snapshot, packOf)
    }

    /// T runs of next/T read every pack exactly once; a flipped bit is found by whichever run reads its pack,
    /// named with its snapshot and file, and that pack is recorded as damaged.
    @Test func tRunsReadEveryPackOnceAndFindTheFlippedBit() async throws {
        let (repo, store, snapshot, packOf) = try await manyPacks()
        let all = Set(try await store.list(prefix: "data/").compactMap { ObjectKey.id(of: $0.key) })
        #expect(all.count >= 8, "\(all.count) packs")
        let runs = 4
        var readCounts: [Hash256: Int] = [:]
        for _ in 0..<runs {
            let report = try await Checker(repository: repo).run(readData: DataCheckOptions(subset: .next(of: runs), record: true))
            #expect(report.ok, "\(report.errors)")
            #expect(report.packsChecked <= (all.count + runs - 1) / runs)
            let newest = try await repo.verificationRecords().last!
            for pack in newest.packs { readCounts[pack, default: 0] += 1 }
        }
        #expect(Set(readCounts.keys) == all && readCounts.values.allSatisfy { $0 == 1 }, "\(readCounts.values.sorted())")

        // A bit flips in the pack holding f7; the next round of T runs finds it exactly once.
        let (victim, offset) = packOf["f7"]!
        store.corrupt(ObjectKey.pack(victim)) { $0[$0.startIndex + offset + 100] ^= 0x10 }
        var found = 0
        for _ in 0..<runs {
            let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
            let report = try await Checker(repository: fresh).run(readData: DataCheckOptions(subset: .next(of: runs), record: true))
            let newest = try await fresh.verificationRecords().last!
            if newest.packs.contains(victim) {
                found += 1
                #expect(!report.ok && report.errors.contains { $0.contains("file f7") && $0.contains(snapshot.short) }, "\(report.errors)")
                #expect(newest.damaged == [victim])
            } else {
                #expect(report.ok, "\(report.errors)")
                #expect(newest.damaged.isEmpty)
            }
        }
        #expect(found == 1)
    }

    @Test func groupsPartitionThePacksAndDurationLeavesTheRestForLater() async throws {
        let (repo, store, _, _) = try await manyPacks()
        let all = try await store.list(prefix: "data/").compactMap { ObjectKey.id(of: $0.key) }
        var seen: [Hash256] = []
        for n in 1...3 {
            let before = try await repo.verificationRecords().count
            let report = try await Checker(repository: repo).run(readData: DataCheckOptions(subset: .group(n, of: 3), record: true))
            #expect(report.ok)
            let records = try await repo.verificationRecords()
            // Pack ids are random: now and then a group holds no pack, and a run that read nothing records nothing.
            if report.packsChecked == 0 {
                #expect(records.count == before)
            } else {
                seen += try #require(records.last).packs
            }
        }
        #expect(seen.count == all.count && Set(seen) == Set(all))
        // No time at all: nothing is read, everything is left for the rotation's next run, which reads it all.
        let report = try await Checker(repository: repo).run(readData: DataCheckOptions(subset: .next(of: 2), maxDuration: 0, record: true))
        #expect(report.packsChecked == 0 && report.packsLeftForLater == (all.count + 1) / 2)
        let skipped = try await repo.verificationRecords().last!
        #expect(skipped.packs.isEmpty && skipped.run == 1 && skipped.rotation == 2)
        let second = try await Checker(repository: repo).run(readData: DataCheckOptions(subset: .next(of: 2), record: true))
        #expect(second.packsChecked == all.count)
        #expect(DataSubset("next/7") == .next(of: 7) && DataSubset("2/5") == .group(2, of: 5))
        for bad in ["0/3", "4/3", "x/3", "1/0", "next/", "1/2/3", ""] { #expect(DataSubset(bad) == nil, "\(bad)") }
    }
}
