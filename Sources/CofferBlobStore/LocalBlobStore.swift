import CofferSystem
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory on local disk. Objects are files at their key's path under
/// `root`; a put writes `root/.staging/<random>`, fsyncs it, renames it into
/// place and fsyncs the directory, so a crash leaves the old object or the new
/// one, never a torn file. Staging leftovers of a crash are ignored by `list`.
public final class LocalBlobStore: BlobStore, @unchecked Sendable {
    public let root: URL
    private let staging: URL
    private let knownDirs = DirectorySet()

    public init(root: URL) {
        self.root = root.standardizedFileURL
        staging = self.root.appendingPathComponent(".staging")
    }

    public var location: String { "file://" + root.path }

    private func path(_ key: String) throws -> String {
        try BlobKey.validate(key)
        return root.path + "/" + key
    }

    // Every operation blocks in system calls, so it runs on the blocking pool.
    public func put(_ key: String, data: Data) async throws {
        try await BlockingPool.store.run { try self.putNow(key, data: data) }
    }

    public func get(_ key: String, range: Range<Int>?) async throws -> Data {
        try await BlockingPool.store.run { try self.getNow(key, range: range) }
    }

    public func head(_ key: String) async throws -> BlobInfo {
        try await BlockingPool.store.run { try self.headNow(key) }
    }

    public func list(prefix: String) async throws -> [BlobInfo] {
        try await BlockingPool.store.run { try self.listNow(prefix: prefix) }
    }

    public func delete(_ key: String) async throws {
        try await BlockingPool.store.run { try self.deleteNow(key) }
    }

    public func destroy() async throws {
        try await BlockingPool.store.run {
            do {
                try FileManager.default.removeItem(at: self.root)
            } catch CocoaError.fileNoSuchFile {
            } catch {
                throw BlobStoreError.io("", "remove \(self.root.path): \(error)")
            }
            self.knownDirs.clear()
        }
    }

    private func putNow(_ key: String, data: Data) throws {
        let target = try path(key)
        let parent = (target as NSString).deletingLastPathComponent
        try ensureDirectory(parent, key: key)
        try ensureDirectory(staging.path, key: key)
        let temp = staging.path + "/" + UUID().uuidString
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 { throw BlobStoreError.io(key, "create \(temp): \(errnoText())") }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        do {
            defer { close(fd) }
            try data.withUnsafeBytes { raw in
                var done = LocalBlobStore.writeDirect(fd, raw)
                while done < raw.count {
                    let n = write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw BlobStoreError.io(key, "write: \(errnoText())")
                    }
                    done += n
                }
            }
            if fsync(fd) != 0 { throw BlobStoreError.io(key, "fsync: \(errnoText())") }
        }
        if rename(temp, target) != 0 { throw BlobStoreError.io(key, "rename into place: \(errnoText())") }
        ok = true
        try syncDirectory(parent, key: key)
    }

    /// O_DIRECT's alignment (buffer address, length, file offset): a page covers every block size in use.
    static let directAlignment = 4096
    /// Below this a write's copy into the page cache is cheaper than a direct write's wait.
    static let directMinimum = 1 << 20
    #if arch(arm64)
    static let oDirect: Int32 = 0o200000
    #else
    static let oDirect: Int32 = 0o40000
    #endif

    /// Writes the page-aligned head of a large, page-aligned buffer (a pack from the pack
    /// writer's pool) straight to the disk, bypassing the page cache: the kernel's copy into
    /// the cache was 8 % of an initial backup's CPU, and the fsync that follows waits for the
    /// disk either way. Returns how many bytes it wrote; the caller writes the rest (the
    /// unaligned tail, or everything when the buffer is unaligned or the file system refuses
    /// O_DIRECT) with plain writes.
    static func writeDirect(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Int {
        guard let base = raw.baseAddress, raw.count >= directMinimum, Int(bitPattern: base) % directAlignment == 0 else { return 0 }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | oDirect) == 0 else { return 0 }
        defer { _ = fcntl(fd, F_SETFL, flags) }
        let aligned = raw.count / directAlignment * directAlignment
        var done = 0
        while done < aligned {
            let n = write(fd, base + done, aligned - done)
            if n < 0 && errno == EINTR { continue }
            // EINVAL (no O_DIRECT here) or a short write that breaks alignment: plain writes go on from `done`.
            if n <= 0 || n % directAlignment != 0 { return done + max(n, 0) }
            done += n
        }
        return done
    }

    private func getNow(_ key: String, range: Range<Int>?) throws -> Data {
        let p = try path(key)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { throw BlobStoreError.notFound(key) }
            throw BlobStoreError.io(key, "open: \(errnoText())")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw BlobStoreError.io(key, "stat: \(errnoText())") }
        let r = try BlobKey.clamp(range, size: Int(st.st_size), key: key)
        // Not Data(count:): zero-filling what pread overwrites was a restore's and a check's memset of every pack.
        guard let memory = malloc(max(1, r.count)) else { throw BlobStoreError.io(key, "cannot allocate \(r.count) bytes") }
        var out = Data(bytesNoCopy: memory, count: r.count, deallocator: .free)
        try out.withUnsafeMutableBytes { raw in
            var done = 0
            while done < r.count {
                let n = pread(fd, raw.baseAddress! + done, r.count - done, off_t(r.lowerBound + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw BlobStoreError.io(key, "read: \(errnoText())")
                }
                if n == 0 { throw BlobStoreError.io(key, "object shrank while reading") }
                done += n
            }
        }
        return out
    }

    private func headNow(_ key: String) throws -> BlobInfo {
        let p = try path(key)
        var st = stat()
        if stat(p, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { throw BlobStoreError.notFound(key) }
            throw BlobStoreError.io(key, "stat: \(errnoText())")
        }
        if (st.st_mode & S_IFMT) != S_IFREG { throw BlobStoreError.notFound(key) }
        return BlobInfo(key: key, size: Int(st.st_size), modified: Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9))
    }

    private func listNow(prefix: String) throws -> [BlobInfo] {
        // Walk only the directory the prefix names (keys are paths).
        let slash = prefix.lastIndex(of: "/")
        let dirKey = slash.map { String(prefix[..<$0]) } ?? ""
        let start = dirKey.isEmpty ? root.path : root.path + "/" + dirKey
        var out: [BlobInfo] = []
        try walk(start, keyPrefix: dirKey.isEmpty ? "" : dirKey + "/", filter: prefix, into: &out)
        return out.sorted { $0.key < $1.key }
    }

    private func walk(_ dir: String, keyPrefix: String, filter: String, into out: inout [BlobInfo]) throws {
        guard let d = opendir(dir) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw BlobStoreError.io(keyPrefix, "list: \(errnoText())")
        }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix(".") { continue }
            let key = keyPrefix + name
            var st = stat()
            if lstat(dir + "/" + name, &st) != 0 { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let sub = key + "/"
                if sub.hasPrefix(filter) || filter.hasPrefix(sub) {
                    try walk(dir + "/" + name, keyPrefix: sub, filter: filter, into: &out)
                }
            } else if (st.st_mode & S_IFMT) == S_IFREG, key.hasPrefix(filter) {
                out.append(BlobInfo(key: key, size: Int(st.st_size), modified: Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)))
            }
        }
    }

    private func deleteNow(_ key: String) throws {
        let p = try path(key)
        if unlink(p) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw BlobStoreError.io(key, "delete: \(errnoText())")
        }
        try syncDirectory((p as NSString).deletingLastPathComponent, key: key)
    }

    private func ensureDirectory(_ dir: String, key: String) throws {
        if knownDirs.contains(dir) { return }
        var st = stat()
        if stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            knownDirs.insert(dir)
            return
        }
        let parent = (dir as NSString).deletingLastPathComponent
        if parent != dir { try ensureDirectory(parent, key: key) }
        if mkdir(dir, 0o700) != 0 && errno != EEXIST {
            throw BlobStoreError.io(key, "mkdir \(dir): \(errnoText())")
        }
        // A new directory entry is durable only once its parent is synced.
        try syncDirectory(parent, key: key)
        knownDirs.insert(dir)
    }

    private func syncDirectory(_ dir: String, key: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw BlobStoreError.io(key, "open directory \(dir): \(errnoText())") }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL { throw BlobStoreError.io(key, "fsync directory: \(errnoText())") }
    }
}

private final class DirectorySet: @unchecked Sendable {
    private let lock = NSLock()
    private var dirs: Set<String> = []
    func contains(_ d: String) -> Bool { lock.withLock { dirs.contains(d) } }
    func insert(_ d: String) { lock.withLock { _ = dirs.insert(d) } }
    func clear() { lock.withLock { dirs.removeAll() } }
}

func errnoText() -> String { String(cString: strerror(errno)) }
