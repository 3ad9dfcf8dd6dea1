import CofferRepository
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The engine's one error type.
public struct EngineError: Error, CustomStringConvertible {
    public enum Code: Sendable { case source, target, aborted, invalidArgument, limit }
    public let code: Code
    public let description: String
    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

/// `name` inside directory `dir` ("/" has no trailing separator to drop).
func childPath(_ dir: String, _ name: String) -> String { dir == "/" ? "/" + name : dir + "/" + name }

struct Errno: Error, CustomStringConvertible {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { errnoText(code) }
}

struct FileStat {
    var mode: UInt32, uid: UInt32, gid: UInt32
    var size: UInt64, inode: UInt64, device: UInt64, links: UInt64, rdev: UInt64
    var mtime: Timestamp, ctime: Timestamp

    init(_ st: stat) {
        mode = UInt32(st.st_mode); uid = st.st_uid; gid = st.st_gid
        size = UInt64(max(0, st.st_size)); inode = UInt64(st.st_ino); device = UInt64(st.st_dev)
        links = UInt64(st.st_nlink); rdev = UInt64(st.st_rdev)
        mtime = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: Int32(st.st_mtim.tv_nsec))
        ctime = Timestamp(seconds: Int64(st.st_ctim.tv_sec), nanoseconds: Int32(st.st_ctim.tv_nsec))
    }

    var format: UInt32 { mode & UInt32(S_IFMT) }
    var isDirectory: Bool { format == UInt32(S_IFDIR) }
    var isRegular: Bool { format == UInt32(S_IFREG) }
    var isBlockDevice: Bool { format == UInt32(S_IFBLK) }

    var kind: Node.Kind {
        switch format {
        case UInt32(S_IFDIR): return .directory
        case UInt32(S_IFLNK): return .symlink
        case UInt32(S_IFIFO): return .fifo
        case UInt32(S_IFSOCK): return .socket
        case UInt32(S_IFCHR): return .charDevice
        case UInt32(S_IFBLK): return .blockDevice
        default: return .file
        }
    }

    static func lstatPath(_ path: String) -> Result<FileStat, Errno> {
        var st = stat()
        return lstat(path, &st) == 0 ? .success(FileStat(st)) : .failure(Errno(errno))
    }

    static func of(fd: Int32) -> Result<FileStat, Errno> {
        var st = stat()
        return fstat(fd, &st) == 0 ? .success(FileStat(st)) : .failure(Errno(errno))
    }
}

/// uid/gid -> name, cached (getpwuid_r is slow and takes a lock).
final class NameCache: @unchecked Sendable {
    private let lock = NSLock()
    private var users: [UInt32: String?] = [:]
    private var groups: [UInt32: String?] = [:]

    func user(_ uid: UInt32) -> String? {
        if let cached = lock.withLock({ users[uid] }) { return cached }
        var pwd = passwd(), result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        let name: String? = getpwuid_r(uid, &pwd, &buf, buf.count, &result) == 0 && result != nil ? String(cString: pwd.pw_name) : nil
        lock.withLock { users[uid] = name }
        return name
    }

    func group(_ gid: UInt32) -> String? {
        if let cached = lock.withLock({ groups[gid] }) { return cached }
        var grp = Glibc.group(), result: UnsafeMutablePointer<Glibc.group>?
        var buf = [CChar](repeating: 0, count: 4096)
        let name: String? = getgrgid_r(gid, &grp, &buf, buf.count, &result) == 0 && result != nil ? String(cString: grp.gr_name) : nil
        lock.withLock { groups[gid] = name }
        return name
    }
}

/// Reads exactly up to `count` bytes at `offset` (fewer only at end of file).
func preadFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int64) throws -> Int {
    var done = 0
    while done < count {
        let n = pread(fd, buffer + done, count - done, off_t(offset) + off_t(done))
        if n < 0 {
            if errno == EINTR { continue }
            throw EngineError(.source, "read: \(errnoText())")
        }
        if n == 0 { break }
        done += n
    }
    return done
}

func pwriteFully(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: Int64) throws {
    var done = 0
    while done < count {
        let n = pwrite(fd, buffer + done, count - done, off_t(offset) + off_t(done))
        if n < 0 {
            if errno == EINTR { continue }
            throw EngineError(.target, "write: \(errnoText())")
        }
        done += n
    }
}

/// A directory's entries by name, each with its own lstat (or why it failed).
typealias DirectoryEntries = [(String, Result<FileStat, Errno>)]

/// A directory's entries, sorted by name, each with its lstat taken relative
/// to the open directory: a stat by full path resolves every component of it
/// again, which was a fifth of the kernel time of an unchanged re-backup. The
/// directory itself is opened without following a symlink, so one swapped in
/// after the walker's lstat is refused rather than walked.
func listDirectory(_ path: String) -> Result<DirectoryEntries, Errno> {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return .failure(Errno(errno)) }
    guard let d = fdopendir(fd) else {
        let e = errno
        close(fd)
        return .failure(Errno(e))
    }
    defer { closedir(d) }
    var names: [String] = []
    while let entry = readdir(d) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name == "." || name == ".." { continue }
        names.append(name)
    }
    names.sort()
    var st = stat()
    return .success(names.map { name in
        (name, fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? .success(FileStat(st)) : .failure(Errno(errno)))
    })
}

