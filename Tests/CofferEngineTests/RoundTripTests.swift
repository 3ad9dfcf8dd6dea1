import CofferBlobStore
import CofferCrypto
import CofferRepository
import Foundation
import Testing
@testable import CofferEngine
#if canImport(Glibc)
import Glibc
#endif

@Suite struct FileBackupRoundTrip {
    @Test func everyKindOfEntryRestoresIdentically() async throws {
        let src = TempDir("src"), dst = TempDir("dst")
        makeSampleTree(src.path)
        let repo = try await newRepository()
        let result = try await Archiver(repository: repo).backup(path: src.path)
        #expect(result.summary.warnings.isEmpty, "\(result.summary.warnings)")
        #expect(result.summary.files == 9)
        let restored = try await Restorer(repository: try await reopen(repo)).restore(snapshot: result.snapshotID, target: dst.path)
        #expect(restored.errors.isEmpty, "\(restored.errors)")
        let a = inventory(src.path), b = inventory(dst.path)
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(x == y) }
        // dedup: big.bin and dup.bin share every chunk
        #expect(result.summary.bytesAdded < 5_000_000)
    }

    @Test func secondBackupReusesParentWithoutReading() async throws {
        let src = TempDir("src")
        makeSampleTree(src.path)
        let repo = try await newRepository()
        let first = try await Archiver(repository: repo).backup(path: src.path)
        let second = try await Archiver(repository: repo).backup(path: src.path)
        #expect(second.snapshot.parent == first.snapshotID)
        #expect(second.summary.filesUnchanged == 9)
        #expect(second.summary.bytesRead == 0)
        #expect(second.summary.blobsAdded == 0)
        #expect(second.snapshot.tree == first.snapshot.tree)
        // Touching a file makes it be read again.
        let fh = FileHandle(forWritingAtPath: src.sub("small.txt"))!  // in place: keeps the hard link
        fh.truncateFile(atOffset: 0); fh.write(Data("changed!\n".utf8)); fh.closeFile()
        let third = try await Archiver(repository: repo).backup(path: src.path)
        #expect(third.summary.filesUnchanged == 7)  // small.txt and its hard link changed
        let dst = TempDir("dst")
        _ = try await Restorer(repository: repo).restore(snapshot: third.snapshotID, target: dst.path)
        #expect(FileManager.default.contents(atPath: dst.sub("small.txt")) == Data("changed!\n".utf8))
        #expect(FileManager.default.contents(atPath: dst.sub("nested/hardlink.txt")) == Data("changed!\n".utf8))
    }

    @Test func listingsTakenByTheWarmerMakeTheSameSnapshot() async throws {
        let src = TempDir("src")
        makeSampleTree(src.path)
        let repo = try await newRepository()
        let first = try await Archiver(repository: repo).backup(path: src.path)
        // A file changed after the warmer listed it: the backup is of the tree as listed (the file as
        // its parent holds it, nothing read), and the next backup, listing afresh, reads the change.
        let warmer = SourceWarmer(path: src.path, threads: 2)
        warmer.wait()
        write(src.sub("nested/deeper/leaf.txt"), Data("changed\n".utf8))
        var options = BackupOptions()
        options.listings = warmer
        let second = try await Archiver(repository: repo).backup(path: src.path, options: options)
        #expect(warmer.takeListing(src.path) == nil && warmer.takeListing(src.sub("nested/deeper")) == nil, "the archiver took them")
        #expect(second.summary.filesUnchanged == 9 && second.summary.bytesRead == 0 && second.summary.warnings.isEmpty, "\(second.summary)")
        #expect(second.snapshot.tree == first.snapshot.tree)
        let third = try await Archiver(repository: repo).backup(path: src.path)
        #expect(third.summary.filesUnchanged == 8 && third.summary.bytesRead == 8 && third.summary.warnings.isEmpty, "\(third.summary)")
        #expect(third.snapshot.tree != first.snapshot.tree)
    }

    /// Wider than the walker's read-ahead window (32 subdirectories) and nested: every
    /// directory is backed up once, restored exactly, and an unchanged re-backup reuses all.
    @Test func wideTreesBeyondTheReadAheadWindow() async throws {
        let src = TempDir("wide")
        for d in 0..<(BackupRun.directoryWindow * 3 + 5) {
            write(src.sub("d\(d)/f"), Data("file \(d)".utf8))
            if d % 10 == 0 { for e in 0..<40 { write(src.sub("d\(d)/e\(e)/g"), Data("nested \(d) \(e)".utf8)) } }
        }
        let repo = try await newRepository()
        let first = try await Archiver(repository: repo).backup(path: src.path)
        let files = (BackupRun.directoryWindow * 3 + 5) + 11 * 40
        #expect(first.summary.files == files)
        let second = try await Archiver(repository: repo).backup(path: src.path)
        #expect(second.summary.filesUnchanged == files && second.summary.bytesRead == 0)
        #expect(second.snapshot.tree == first.snapshot.tree)
        let dst = TempDir("wide-dst")
        _ = try await Restorer(repository: repo).restore(snapshot: second.snapshotID, target: dst.path)
        for d in [0, 40, BackupRun.directoryWindow * 3 + 4] {
            #expect(FileManager.default.contents(atPath: dst.sub("d\(d)/f")) == Data("file \(d)".utf8))
        }
        #expect(FileManager.default.contents(atPath: dst.sub("d100/e39/g")) == Data("nested 100 39".utf8))
    }

    @Test func unreadableFilesAreWarningsNotFailures() async throws {
        guard getuid() != 0 else {
            // root reads everything; simulate with a file that vanishes instead.
            return try await vanishingEntryIsAWarning()
        }
        let src = TempDir("src")
        write(src.sub("ok"), Data("ok".utf8))
        write(src.sub("secret"), Data("no".utf8), mode: 0o000)
        let repo = try await newRepository()
        let r = try await Archiver(repository: repo).backup(path: src.path)
        #expect(r.summary.warnings.contains { $0.contains("secret") })
    }

    func vanishingEntryIsAWarning() async throws {
        let src = TempDir("src")
        write(src.sub("ok"), Data("ok".utf8))
        // A symlink loop cannot be opened for reading as a file; an unreadable
        // directory for root does not exist, so use a directory we remove mid-walk
        // via a dangling entry that lstat sees but open refuses: a socket.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let sockPath = src.sub("sock")
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in sockPath.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        defer { close(fd) }
        let repo = try await newRepository()
        let r = try await Archiver(repository: repo).backup(path: src.path)
        let tree = try await repo.loadTree(r.snapshot.tree)
        #expect(tree.nodes.map(\.name) == ["ok", "sock"])
        #expect(tree.nodes[1].kind == .socket)
    }

    @Test func subtreeAndSingleFileRestore() async throws {
        let src = TempDir("src"), dst = TempDir("dst"), one = TempDir("one")
        makeSampleTree(src.path)
        let repo = try await newRepository()
        let r = try await Archiver(repository: repo).backup(path: src.path)
        var options = RestoreOptions()
        options.subpath = "nested"
        _ = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: dst.path, options: options)
        #expect(FileManager.default.contents(atPath: dst.sub("deeper/leaf.txt")) == FileManager.default.contents(atPath: src.sub("nested/deeper/leaf.txt")))
        options.subpath = "nested/deeper/leaf.txt"
        _ = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: one.path, options: options)
        #expect(try FileManager.default.contentsOfDirectory(atPath: one.path) == ["leaf.txt"])
        options.subpath = "nope"
        await #expect(throws: EngineError.self) { try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: one.path, options: options) }
    }

    @Test func restoreNeverFollowsSymlinksInTarget() async throws {
        let src = TempDir("src"), dst = TempDir("dst"), outside = TempDir("outside")
        write(src.sub("dir/file"), Data("inside".utf8))
        let repo = try await newRepository()
        let r = try await Archiver(repository: repo).backup(path: src.path)
        // The target already has dir -> outside; restore must replace the link, not write through it.
        symlink(outside.path, dst.sub("dir"))
        let res = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: dst.path)
        #expect(res.errors.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
        #expect(FileManager.default.contents(atPath: dst.sub("dir/file")) == Data("inside".utf8))
    }

    @Test func unsafeNamesInManifestAreRefused() async throws {
        let dst = TempDir("dst"), outside = TempDir("outside")
        let repo = try await newRepository()
        let writer = PackWriter(repository: repo)
        let blob = try await writer.save(Data("evil".utf8), type: .data)
        var evil: [Node] = []
        for name in ["..", "a/b", "x\0y", "", "."] {
            var n = Node(name: name, kind: .file, size: 4)
            n.content = [Extent(offset: 0, length: 4, blob: blob)]
            evil.append(n)
        }
        var escape = Node(name: "escape", kind: .symlink)
        escape.linkTarget = outside.path
        evil.append(escape)
        var through = Node(name: "escape", kind: .directory)
        through.subtree = try await writer.save(TreeCodec.encode(Tree(nodes: [{ var n = Node(name: "pwned", kind: .file, size: 4); n.content = [Extent(offset: 0, length: 4, blob: blob)]; return n }()])), type: .tree)
        evil.append(through)
        let tree = try await writer.save(TreeCodec.encode(Tree(nodes: evil)), type: .tree)
        try await writer.finish()
        let id = try await repo.saveSnapshot(Snapshot(time: Date(), hostname: "h", username: "u", paths: ["/x"], kind: .files, tree: tree))
        let res = try await Restorer(repository: repo).restore(snapshot: id, target: dst.path)
        #expect(res.errors.filter { $0.contains("unsafe name") }.count == 5)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
    }

    /// A directory the restore made itself is filled without clearing names first: a tree that
    /// names an entry twice (a symlink out, then a directory, a file or a link by the same name)
    /// still gets nothing written through the symlink, and the repeats are reported.
    @Test func repeatedNamesInADirectoryTheRestoreMadeNeverReachOutside() async throws {
        let dst = TempDir("dst"), outside = TempDir("outside")
        let repo = try await newRepository()
        let writer = PackWriter(repository: repo)
        let blob = try await writer.save(Data("evil".utf8), type: .data)
        func file(_ name: String) -> Node {
            var n = Node(name: name, kind: .file, size: 4)
            n.content = [Extent(offset: 0, length: 4, blob: blob)]
            return n
        }
        func link(_ name: String, to target: String) -> Node {
            var n = Node(name: name, kind: .symlink)
            n.linkTarget = target
            return n
        }
        var through = Node(name: "escape", kind: .directory)
        through.subtree = try await writer.save(TreeCodec.encode(Tree(nodes: [file("pwned")])), type: .tree)
        let inner: [Node] = [link("escape", to: outside.path), through, file("escape"),
                             link("victim", to: outside.sub("victim")), file("victim"), file("twice"), file("twice")]
        var made = Node(name: "new", kind: .directory)
        made.subtree = try await writer.save(TreeCodec.encode(Tree(nodes: inner)), type: .tree)
        let tree = try await writer.save(TreeCodec.encode(Tree(nodes: [made])), type: .tree)
        try await writer.finish()
        let id = try await repo.saveSnapshot(Snapshot(time: Date(), hostname: "h", username: "u", paths: ["/x"], kind: .files, tree: tree))
        let res = try await Restorer(repository: repo).restore(snapshot: id, target: dst.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
        #expect(res.errors.count >= 3, "\(res.errors)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dst.sub("new/victim"))) == outside.sub("victim"))
        #expect(FileManager.default.contents(atPath: dst.sub("new/twice")) == Data("evil".utf8))
    }

    @Test func deltaRestoreSkipsIdenticalExtents() async throws {
        let src = TempDir("src"), dst = TempDir("dst")
        write(src.sub("big"), deterministicBytes(6_000_000, seed: 3))
        let repo = try await newRepository()
        let r = try await Archiver(repository: repo).backup(path: src.path)
        _ = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: dst.path)
        // Damage one region of the restored file, then delta-restore.
        let fh = FileHandle(forUpdatingAtPath: dst.sub("big"))!
        fh.seek(toFileOffset: 100); fh.write(Data(repeating: 0xAA, count: 10)); fh.closeFile()
        var options = RestoreOptions(); options.delta = true
        let res = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: dst.path, options: options)
        #expect(res.bytesSkipped > 0 && res.bytesWritten > 0 && res.bytesWritten < 6_000_000)
        #expect(FileManager.default.contents(atPath: dst.sub("big")) == FileManager.default.contents(atPath: src.sub("big")))
    }
}

@Suite struct VolumeRoundTrip {
    @Test func sparseImageRestoresSparseAndExact() async throws {
        let src = TempDir("src"), dst = TempDir("dst")
        let image = src.sub("disk.img")
        let size = 40 << 20 + 12345  // not a multiple of the block size
        FileManager.default.createFile(atPath: image, contents: nil)
        let fh = FileHandle(forUpdatingAtPath: image)!
        fh.truncateFile(atOffset: UInt64(size))
        fh.seek(toFileOffset: 5 << 20); fh.write(deterministicBytes(1 << 20, seed: 5))
        fh.seek(toFileOffset: 20 << 20); fh.write(Data(repeating: 0, count: 4 << 20))  // allocated zeros
        fh.seek(toFileOffset: UInt64(size - 100)); fh.write(deterministicBytes(100, seed: 6))
        fh.closeFile()
        let repo = try await newRepository()
        let r = try await Archiver(repository: repo).backupVolume(path: image)
        #expect(r.snapshot.kind == .volume)
        let tree = try await repo.loadTree(r.snapshot.tree)
        #expect(tree.nodes[0].content?.count == 2)  // the random MiB block and the tail block
        let res = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: dst.path)
        #expect(res.errors.isEmpty)
        #expect(FileManager.default.contents(atPath: dst.sub("disk.img")) == FileManager.default.contents(atPath: image))
        var st = stat()
        stat(dst.sub("disk.img"), &st)
        #expect(Int(st.st_size) == size)
        #expect(Int(st.st_blocks) * 512 < 12 << 20, "restored image should be sparse")
        // Restore to an explicit file path, then delta onto it after changing it.
        let explicit = dst.sub("copy.img")
        _ = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: explicit)
        let damage = FileHandle(forUpdatingAtPath: explicit)!
        damage.seek(toFileOffset: 30 << 20); damage.write(Data(repeating: 7, count: 4096)); damage.closeFile()
        var delta = RestoreOptions(); delta.delta = true
        let d = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: explicit, options: delta)
        #expect(d.bytesSkipped > 0)
        #expect(FileManager.default.contents(atPath: explicit) == FileManager.default.contents(atPath: image))
    }
}

@Suite struct SparseFiles {
    @Test func holesInRegularFilesAreSkippedAndRestoredAsHoles() async throws {
        let src = TempDir("src"), dst = TempDir("dst")
        let path = src.sub("sparse.bin")
        FileManager.default.createFile(atPath: path, contents: nil)
        let fh = FileHandle(forUpdatingAtPath: path)!
        fh.seek(toFileOffset: 3 << 20); fh.write(deterministicBytes(2 << 20, seed: 11))
        fh.seek(toFileOffset: 30 << 20); fh.write(deterministicBytes(1 << 20, seed: 12))
        fh.truncateFile(atOffset: 50 << 20)
        fh.closeFile()
        let repo = try await newRepository()
        let r = try await Archiver(repository: repo).backup(path: src.path)
        #expect(r.summary.bytesRead < 8 << 20, "holes should not be read (\(r.summary.bytesRead))")
        let res = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: dst.path)
        #expect(res.errors.isEmpty)
        #expect(FileManager.default.contents(atPath: dst.sub("sparse.bin")) == FileManager.default.contents(atPath: path))
        var st = stat()
        stat(dst.sub("sparse.bin"), &st)
        #expect(st.st_size == 50 << 20)
        #expect(Int(st.st_blocks) * 512 < 10 << 20, "restored file should be sparse")
    }
}

@Suite struct ChangeDetection {
    @Test func fileChangedWhileReadIsReported() async throws {
        let src = TempDir("src")
        let path = src.sub("growing.log")
        write(path, Data("first line\n".utf8))
        let repo = try await newRepository()
        try await repo.loadIndex()
        let run = try await BackupRun(repository: repo, options: BackupOptions(), kind: .files, paths: [src.path])
        guard case let .success(before) = FileStat.lstatPath(path) else { Issue.record("lstat failed"); return }
        // The file grows between the walker's lstat and the read.
        let fh = FileHandle(forWritingAtPath: path)!
        fh.seekToEndOfFile(); fh.write(Data("second line\n".utf8)); fh.closeFile()
        let data = run.readSmallFile(path, before: before)
        #expect(data == Data("first line\nsecond line\n".utf8))
        #expect(run.currentWarnings.contains { $0.contains("growing.log") && $0.contains("changed while being read") })
    }

    @Test func progressReportsExpectedBytesFromParent() async throws {
        let src = TempDir("src")
        write(src.sub("a"), deterministicBytes(2_000_000, seed: 4))
        let repo = try await newRepository()
        _ = try await Archiver(repository: repo).backup(path: src.path)
        let seen = LockedBox<[BackupProgress]>([])
        var options = BackupOptions()
        options.progressInterval = 0
        options.progress = { p in seen.mutate { $0.append(p) } }
        write(src.sub("b"), Data("new".utf8))
        _ = try await Archiver(repository: repo).backup(path: src.path, options: options)
        #expect(!seen.value.isEmpty)
        #expect(seen.value.allSatisfy { $0.bytesExpected == 2_000_000 })
    }
}

final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ v: T) { stored = v }
    var value: T { lock.withLock { stored } }
    func mutate(_ f: (inout T) -> Void) { lock.withLock { f(&stored) } }
}

/// Volume backup from and restore onto real block devices (loop devices).
/// Needs root and /dev/loop-control; under CI=true their absence is a failure.
@Suite struct BlockDevices {
    func losetup(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/sbin/losetup")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw EngineError(.source, "losetup \(args) failed") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func backupFromAndRestoreOntoBlockDevice() async throws {
        let available = getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control") && FileManager.default.isExecutableFile(atPath: "/sbin/losetup")
        if !available {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "CI machines run as root with loop devices")
            return
        }
        let dir = TempDir("blk")
        let sourceImage = dir.sub("source.img"), targetImage = dir.sub("target.img")
        FileManager.default.createFile(atPath: sourceImage, contents: nil)
        let fh = FileHandle(forWritingAtPath: sourceImage)!
        fh.truncateFile(atOffset: 24 << 20)
        fh.seek(toFileOffset: 4 << 20); fh.write(deterministicBytes(3 << 20, seed: 21))
        fh.closeFile()
        // The target device starts full of other bytes: holes must become zeros on it.
        write(targetImage, deterministicBytes(24 << 20, seed: 22))
        let source = try losetup(["-f", "--show", sourceImage])
        defer { _ = try? losetup(["-d", source]) }
        let target = try losetup(["-f", "--show", targetImage])
        defer { _ = try? losetup(["-d", target]) }
        let repo = try await newRepository()
        let r = try await Archiver(repository: repo).backupVolume(path: source)
        #expect(r.snapshot.summary?.bytesTotal == 24 << 20)
        let res = try await Restorer(repository: repo).restore(snapshot: r.snapshotID, target: target)
        #expect(res.errors.isEmpty)
        let restored = try FileHandle(forReadingFrom: URL(fileURLWithPath: target)).readData(ofLength: 24 << 20)
        #expect(restored == FileManager.default.contents(atPath: sourceImage))
    }
}
