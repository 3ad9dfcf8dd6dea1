import CofferBlobStore
import CofferBlobStoreTesting
import CofferCrypto
import CofferRepository
import Foundation
import Testing
@testable import CofferEngine

/// The restore plans by pack: each pack read once in as few reads as the
/// store wants, each blob written to every place needing it.
@Suite struct PlannedRestore {
    func id(_ n: UInt8) -> Hash256 { Hash256(bytes: [UInt8](repeating: n, count: 32)) }

    @Test func extentsAreGroupedByPackAndABlobIsFetchedOnceForEveryPlaceThatNeedsIt() {
        let packA = id(0xA0), packB = id(0xB0)
        let where_: [Hash256: (pack: Hash256, entry: PackEntry)] = [
            id(1): (packA, PackEntry(type: .data, id: id(1), offset: 0, length: 10, rawLength: 10)),
            id(2): (packB, PackEntry(type: .data, id: id(2), offset: 0, length: 10, rawLength: 10)),
            id(3): (packA, PackEntry(type: .data, id: id(3), offset: 10, length: 10, rawLength: 10)),
        ]
        let wanted: [(blob: Hash256, target: String)] = [(id(2), "f1@0"), (id(1), "f1@10"), (id(2), "f2@0"), (id(9), "f3@0"), (id(3), "f3@10"), (id(2), "f1@20")]
        let plan = RestorePlan(wanted, locate: { where_[$0] })
        #expect(plan.packs.map(\.pack) == [packB, packA])  // the walk's order
        #expect(plan.packs[0].blobs.count == 1 && plan.packs[0].blobs[0].targets == ["f1@0", "f2@0", "f1@20"])
        #expect(plan.packs[1].blobs.map(\.entry.id) == [id(1), id(3)])
        #expect(plan.packs[1].blobs.map(\.targets) == [["f1@10"], ["f3@10"]])
        #expect(plan.missing.map(\.blob) == [id(9)] && plan.missing.map(\.target) == ["f3@0"])
    }

    /// Tiny batches: files end in one batch and begin in the next, a large file's
    /// extents run over several, duplicate content is written everywhere.
    @Test func smallBatchesStillRestoreEveryByteAndFinishEveryFile() async throws {
        let src = TempDir("src"), dst = TempDir("dst")
        makeSampleTree(src.path)
        let shared = deterministicBytes(200_000, seed: 7)
        for i in 0..<40 { write(src.sub("same/f\(i)"), i % 3 == 0 ? shared : deterministicBytes(5_000 + i, seed: UInt64(i))) }
        var big = Data()
        for i in 0..<6 { big += deterministicBytes(1_500_000, seed: UInt64(100 + i % 2)) }  // repeats inside one file
        write(src.sub("big.bin"), big)
        let repository = try await newRepository()
        let backup = try await Archiver(repository: repository).backup(path: src.path)
        #expect(backup.summary.files > 40)
        var options = RestoreOptions()
        options.batchExtents = 2
        options.concurrency = 2
        let restored = try await Restorer(repository: try await reopen(repository)).restore(snapshot: backup.snapshotID, target: dst.path, options: options)
        #expect(restored.errors.isEmpty, "\(restored.errors)")
        let a = inventory(src.path), b = inventory(dst.path)
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(x == y) }
    }

    @Test func aRemoteRestoreReadsEachPackOnceAndIsExact() async throws {
        let src = TempDir("src"), dst = TempDir("dst")
        makeSampleTree(src.path)
        for i in 0..<600 { write(src.sub("many/d\(i % 7)/f\(i)"), deterministicBytes(3_000 + i * 17, seed: UInt64(1_000 + i))) }
        // The same content in many places: fetched once, written everywhere.
        let shared = deterministicBytes(300_000, seed: 99)
        for i in 0..<30 { write(src.sub("copies/c\(i)"), shared) }
        let store = RemoteLikeStore()
        let repository = try await newRepository(store, packSize: 256 << 10)
        let result = try await Archiver(repository: repository).backup(path: src.path)
        let reopened = try await reopen(repository)
        try await reopened.prepareIndex()
        let packs = try await store.list(prefix: "data/").count
        let directories = inventory(src.path).filter { $0.kind == "dir" }.count
        let gets = store.inner.count(.get)
        let restored = try await Restorer(repository: reopened).restore(snapshot: result.snapshotID, target: dst.path)
        #expect(restored.errors.isEmpty, "\(restored.errors)")
        let a = inventory(src.path), b = inventory(dst.path)
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(x == y) }
        // One read per pack for the data (every pack fits one span), one per tree, one for the snapshot.
        let reads = store.inner.count(.get) - gets
        #expect(reads <= packs + directories + 2, "\(reads) reads for \(packs) packs and \(directories) directories")
        #expect(reads < result.summary.blobsAdded / 4, "\(reads) reads for \(result.summary.blobsAdded) blobs")
    }

    @Test func aMissingPackNamesEveryFileAndRangeItHeldAndTheRestIsRestored() async throws {
        let src = TempDir("src"), dst = TempDir("dst")
        for i in 0..<12 { write(src.sub("f\(i)"), deterministicBytes(100_000, seed: UInt64(i))) }
        let store = FaultInjectingBlobStore(wrapping: MemoryBlobStore())
        let repository = try await newRepository(store, packSize: 256 << 10)
        let backup = try await Archiver(repository: repository).backup(path: src.path)
        let reopened = try await reopen(repository)
        try await reopened.prepareIndex()
        let snapshotTree = try await reopened.loadTree(backup.snapshot.tree)
        let victim = snapshotTree.nodes.first { $0.name == "f5" }!
        let pack = reopened.locate(victim.content![0].blob)!.pack
        let lost = Set(snapshotTree.nodes.filter { n in n.content.map { $0.contains { reopened.locate($0.blob)!.pack == pack } } ?? false }.map(\.name))
        #expect(lost.contains("f5") && lost.count < 12)
        try await store.delete(ObjectKey.pack(pack))
        let restored = try await Restorer(repository: reopened).restore(snapshot: backup.snapshotID, target: dst.path)
        for name in lost {
            #expect(restored.errors.contains { $0.hasPrefix("\(name): bytes 0..<100000 not restored") && $0.contains("is missing") }, "\(restored.errors)")
        }
        #expect(restored.errors.count == lost.count)
        for i in 0..<12 where !lost.contains("f\(i)") {
            #expect(FileManager.default.contents(atPath: dst.sub("f\(i)")) == deterministicBytes(100_000, seed: UInt64(i)))
        }
    }
}

/// Target files are reopened on demand with a bounded number of descriptors,
/// and only if they are still the file the restore created.
@Suite struct TargetFileHandles {
    func setUp(_ dir: TempDir, files: Int) async throws -> (RestoreRun, Int32, [OpenFile]) {
        let run = RestoreRun(repository: try await newRepository(), options: RestoreOptions())
        for i in 0..<files { write(dir.sub("sub/f\(i)"), Data("\(i)".utf8)) }
        let root = open(dir.path, O_RDONLY | O_DIRECTORY)
        let targets = (0..<files).map { i in
            OpenFile(directory: ["sub"], name: "f\(i)", identity: FileIdentity.of(path: dir.sub("sub/f\(i)"))!, node: Node(name: "f\(i)", kind: .file),
                     path: "sub/f\(i)", units: 1, run: run)
        }
        return (run, root, targets)
    }

    @Test func descriptorsStayBoundedAndEveryFileIsReachedAgain() async throws {
        let dir = TempDir("handles")
        let (run, root, files) = try await setUp(dir, files: 40)
        defer { close(root) }
        let handles = FileHandles(root: root, capacity: 4)
        for (i, file) in files.enumerated() {
            try handles.withDescriptor(file) { fd in try pwriteFully(fd, "x\(i)", 1 + "\(i)".utf8.count, 0) }
            #expect(handles.openCount <= 4)
        }
        for file in files { handles.finish(file) }
        #expect(handles.openCount == 0)
        #expect(FileManager.default.contents(atPath: dir.sub("sub/f7")) == Data("x7".utf8))
        _ = run
    }

    /// Files the walk leaves to the writers: created by the first one, sized
    /// to the node, reopened afterwards by identity; a name taken in the
    /// meantime (a symlink planted where the walk left nothing) is refused.
    @Test func aFileLeftToTheWritersIsCreatedOnceAndNothingInItsPlaceIsFollowed() async throws {
        let dir = TempDir("lazy"), elsewhere = TempDir("elsewhere")
        let (run, root, _) = try await setUp(dir, files: 0)
        defer { close(root) }
        try FileManager.default.createDirectory(atPath: dir.sub("sub"), withIntermediateDirectories: true)
        var node = Node(name: "new", kind: .file)
        node.size = 10
        let file = OpenFile(directory: ["sub"], name: "new", identity: nil, node: node, path: "sub/new", units: 1, run: run)
        let handles = FileHandles(root: root, capacity: 4)
        try handles.withDescriptor(file) { fd in try pwriteFully(fd, "ab", 2, 3) }
        try handles.withDescriptor(file) { fd in try pwriteFully(fd, "cd", 2, 6) }
        handles.finish(file)
        #expect(FileManager.default.contents(atPath: dir.sub("sub/new")) == Data([0, 0, 0]) + Data("ab".utf8) + Data([0]) + Data("cd".utf8) + Data([0, 0]))
        #expect(file.identity == FileIdentity.of(path: dir.sub("sub/new")))
        // Reopened later by identity, as any file: a replacement is refused.
        rename(dir.sub("sub/new"), dir.sub("sub/new.old"))
        write(dir.sub("sub/new"), Data("other".utf8))
        #expect { try FileHandles(root: root).withDescriptor(file) { _ in } } throws: { "\($0)".contains("was replaced while the restore ran") }

        write(elsewhere.sub("decoy"), Data("decoy".utf8))
        symlink(elsewhere.sub("decoy"), dir.sub("sub/planted"))
        let planted = OpenFile(directory: ["sub"], name: "planted", identity: nil, node: node, path: "sub/planted", units: 1, run: run)
        #expect { try handles.withDescriptor(planted) { fd in try pwriteFully(fd, "x", 1, 0) } } throws: { "\($0)".contains("cannot be created") }
        #expect(FileManager.default.contents(atPath: elsewhere.sub("decoy")) == Data("decoy".utf8))
        #expect(planted.identity == nil)
    }

    @Test func aFileReplacedOrASymlinkOnTheWayIsRefused() async throws {
        let dir = TempDir("handles"), elsewhere = TempDir("elsewhere")
        let (run, root, files) = try await setUp(dir, files: 2)
        defer { close(root) }
        let handles = FileHandles(root: root, capacity: 4)
        // Replaced by another file of the same name (the old one kept, so its inode is not reused): refused by identity.
        rename(dir.sub("sub/f0"), dir.sub("sub/f0.old"))
        write(dir.sub("sub/f0"), Data("other".utf8))
        #expect { try handles.withDescriptor(files[0]) { _ in } } throws: { "\($0)".contains("was replaced while the restore ran") }
        // Its directory moved away and a symlink put in its place, to a directory holding a file of the
        // same name: the symlink is never followed. A directory already held open is the restore's own,
        // wherever it was moved (as a held file is), so the write lands in the file the restore created.
        try FileManager.default.moveItem(atPath: dir.sub("sub"), toPath: elsewhere.sub("moved"))
        try FileManager.default.createDirectory(atPath: elsewhere.sub("decoy"), withIntermediateDirectories: true)
        write(elsewhere.sub("decoy/f1"), Data("decoy".utf8))
        symlink(elsewhere.sub("decoy"), dir.sub("sub"))
        try handles.withDescriptor(files[1]) { fd in try pwriteFully(fd, "mine", 4, 0) }
        #expect(FileManager.default.contents(atPath: elsewhere.sub("moved/f1")) == Data("mine".utf8))
        #expect(FileManager.default.contents(atPath: elsewhere.sub("decoy/f1")) == Data("decoy".utf8))
        // Opened afresh, the way there goes through the symlink: refused.
        let fresh = FileHandles(root: root, capacity: 4)
        #expect { try fresh.withDescriptor(files[1]) { _ in } } throws: { "\($0)".contains("cannot be opened again") }
        #expect(FileManager.default.contents(atPath: elsewhere.sub("decoy/f1")) == Data("decoy".utf8))
        _ = run
    }
}

/// Every tree a restore walks, loaded through a source that holds each load open
/// for a moment and counts how many are open at once.
final class SlowTreeSource: SnapshotSource, @unchecked Sendable {
    let repository: Repository
    let loads = LockedBox((open: 0, mostOpen: 0, ids: [Hash256]()))
    init(_ repository: Repository) { self.repository = repository }

    var keys: RepositoryKeys { repository.keys }
    var damagedIndexFiles: [String] { repository.damagedIndexFiles }
    func prepareIndex() async throws { try await repository.prepareIndex() }
    func loadSnapshot(_ id: Hash256) async throws -> Snapshot { try await repository.loadSnapshot(id) }
    func loadBlob(_ id: Hash256, type: BlobType) async throws -> Data { try await repository.loadBlob(id, type: type) }
    func locate(_ id: Hash256) -> (pack: Hash256, entry: PackEntry)? { repository.locate(id) }
    var packReadsAtOnce: Int { repository.packReadsAtOnce }
    func readBlobs(pack: Hash256, entries: [PackEntry], _ body: (PackEntry, Result<Data, Error>) async throws -> Void) async throws {
        try await repository.readBlobs(pack: pack, entries: entries, body)
    }
    func loadTree(_ id: Hash256) async throws -> Tree {
        loads.mutate { $0.open += 1; $0.mostOpen = max($0.mostOpen, $0.open); $0.ids.append(id) }
        defer { loads.mutate { $0.open -= 1 } }
        try await Task.sleep(for: .milliseconds(3))
        return try await repository.loadTree(id)
    }
}

@Suite struct RestoreWalk {
    /// Subtrees are loaded ahead of the walk, a window per level: loads overlap, each tree
    /// is loaded once, and no more than the window per level of depth are open at once.
    @Test func subtreesAreLoadedAheadOnceEachWithinTheWindow() async throws {
        let src = TempDir("src"), dst = TempDir("dst")
        let wide = SubtreesAhead.window * 2 + 3
        for d in 0..<wide {
            write(src.sub("d\(d)/f"), Data("top \(d)".utf8))
            for e in 0..<(d % 4) { write(src.sub("d\(d)/e\(e)/g"), Data("nested \(d) \(e)".utf8)) }
        }
        let repository = try await newRepository()
        let backup = try await Archiver(repository: repository).backup(path: src.path)
        let source = SlowTreeSource(try await reopen(repository))
        let restored = try await Restorer(repository: source).restore(snapshot: backup.snapshotID, target: dst.path)
        #expect(restored.errors.isEmpty, "\(restored.errors)")
        #expect(inventory(src.path) == inventory(dst.path))
        let loads = source.loads.value
        let directories = wide + (0..<wide).map { $0 % 4 }.reduce(0, +)
        // Identical empty-looking trees may share an id; every directory's load is counted.
        #expect(loads.ids.count == directories + 1, "the root and each directory once")
        #expect(loads.mostOpen > 1, "loads overlapped")
        #expect(loads.mostOpen <= SubtreesAhead.window * 3, "a window per level (three levels)")
    }
}
