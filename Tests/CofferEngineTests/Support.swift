import CofferBlobStore
import CofferCrypto
import CofferRepository
import Foundation
import Testing
@testable import CofferEngine
#if canImport(Glibc)
import Glibc
#endif

final class TempDir {
    let path: String
    init(_ label: String = "t") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-\(label)-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ s: String) -> String { path + "/" + s }
}

func deterministicBytes(_ count: Int, seed: UInt64) -> Data {
    var state = seed
    var out = Data(count: count)
    out.withUnsafeMutableBytes { raw in
        let p = raw.bindMemory(to: UInt8.self)
        var i = 0
        while i < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for k in 0..<8 where i + k < count { p[i + k] = UInt8(truncatingIfNeeded: z >> UInt64(8 * k)) }
            i += 8
        }
    }
    return out
}

func write(_ path: String, _ data: Data, mode: Int = 0o644) {
    try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: path, contents: data)
    chmod(path, mode_t(mode))
}

func setMtime(_ path: String, _ seconds: Int) {
    var times = [timespec(tv_sec: seconds, tv_nsec: 123_456_789), timespec(tv_sec: seconds, tv_nsec: 123_456_789)]
    utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
}

/// A tree with every kind of entry the archiver handles.
func makeSampleTree(_ root: String) {
    write(root + "/small.txt", Data("hello world\n".utf8))
    write(root + "/empty", Data())
    write(root + "/exec.sh", Data("#!/bin/sh\necho hi\n".utf8), mode: 0o755)
    write(root + "/big.bin", deterministicBytes(3_500_000, seed: 1))
    write(root + "/dup.bin", deterministicBytes(3_500_000, seed: 1))
    write(root + "/nested/deeper/leaf.txt", Data(String(repeating: "text line\n", count: 20000).utf8))
    write(root + "/nested/private", Data("p".utf8), mode: 0o600)
    try! FileManager.default.createDirectory(atPath: root + "/emptydir", withIntermediateDirectories: true)
    symlink("small.txt", root + "/link-to-small")
    symlink("/etc/passwd", root + "/absolute-link")
    symlink("does/not/exist", root + "/dangling")
    link(root + "/small.txt", root + "/nested/hardlink.txt")
    mkfifo(root + "/fifo", 0o640)
    // A name with odd bytes that is still a valid file name.
    write(root + "/with space & ümlaut", Data("x".utf8))
    setMtime(root + "/nested/deeper/leaf.txt", 1_600_000_000)
    setMtime(root + "/nested/deeper", 1_500_000_000)
    setMtime(root + "/link-to-small", 1_400_000_000)
}

struct Entry: Equatable, CustomStringConvertible {
    var path: String, kind: String, mode: UInt32, size: Int64, mtime: Int64, mtimeNs: Int, content: Data?, link: String?, inodeGroup: Int?
    var description: String { "\(path) \(kind) \(String(mode, radix: 8)) \(size) \(mtime).\(mtimeNs) \(link ?? "")" }
}

/// Everything a restore must reproduce, keyed by relative path.
func inventory(_ root: String, compareDirectoryTimes: Bool = true) -> [Entry] {
    var out: [Entry] = []
    var inodes: [UInt64: Int] = [:]
    func visit(_ rel: String) {
        let full = rel.isEmpty ? root : root + "/" + rel
        var st = stat()
        lstat(full, &st)
        let fmt = st.st_mode & S_IFMT
        let kind: String
        var content: Data?
        var link: String?
        switch fmt {
        case S_IFDIR: kind = "dir"
        case S_IFLNK:
            kind = "link"
            link = try? FileManager.default.destinationOfSymbolicLink(atPath: full)
        case S_IFIFO: kind = "fifo"
        default:
            kind = "file"
            content = FileManager.default.contents(atPath: full)
        }
        var group: Int?
        if fmt == S_IFREG && st.st_nlink > 1 {
            group = inodes[UInt64(st.st_ino)] ?? inodes.count
            inodes[UInt64(st.st_ino)] = group
        }
        if !rel.isEmpty {
            let isDir = fmt == S_IFDIR
            out.append(Entry(path: rel, kind: kind, mode: UInt32(st.st_mode & 0o7777), size: isDir ? 0 : Int64(st.st_size),
                             mtime: isDir && !compareDirectoryTimes ? 0 : Int64(st.st_mtim.tv_sec), mtimeNs: isDir && !compareDirectoryTimes ? 0 : st.st_mtim.tv_nsec,
                             content: content, link: link, inodeGroup: group))
        }
        if fmt == S_IFDIR {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: full))?.sorted() ?? [] {
                visit(rel.isEmpty ? name : rel + "/" + name)
            }
        }
    }
    visit("")
    return out
}

func newRepository(_ store: BlobStore = MemoryBlobStore(), packSize: Int = 1 << 20) async throws -> Repository {
    var options = RepositoryOptions()
    options.cheapKDF = true
    options.packSize = packSize
    return try await Repository.initialize(store: store, secret: .passphrase("test"), options: options)
}

func reopen(_ repo: Repository) async throws -> Repository {
    try await Repository.open(store: repo.store, secret: .passphrase("test"))
}
