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
