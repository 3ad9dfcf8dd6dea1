import CofferRepository
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A target file being written. A restore plans every file of a batch at
/// once, far more files than a process may keep open, so a file is opened
/// when its bytes come (`FileHandles`) and closed when others need the
/// descriptor. Most files are created then too, by the first writer that
/// brings their bytes (`identity` nil until then): created by the walk, the
/// 15 000 files of the bench took one core for 0.8 s before the first read
/// (ext4 allocating inodes), the other core idle. What was created is
/// remembered by identity: a file reopened as anything else (replaced, or a
/// symlink swapped in on the way) is refused.
final class OpenFile: @unchecked Sendable {
    /// Below the restore's root, never through a symlink.
    let directory: [String]
    let name: String
    /// Set once the file exists (guarded by `creation`).
    var identity: FileIdentity?
    /// Held while the file is created or checked, so that one writer creates it.
    let creation = NSLock()
    let node: Node
    let path: String
    /// A volume's one descriptor, held for the whole restore (a device is not reopened by name).
    let volumeDescriptor: Int32?
    var skipMetadata = false
    unowned let run: RestoreRun
    private let lock = NSLock()
    private var remaining: Int

    init(directory: [String], name: String, identity: FileIdentity?, node: Node, path: String, units: Int, run: RestoreRun, volumeDescriptor: Int32? = nil) {
        self.directory = directory
        self.name = name
        self.identity = identity
        self.node = node
        self.path = path
        self.volumeDescriptor = volumeDescriptor
        remaining = units
        self.run = run
    }

    /// One extent is done (written, already identical, or failed); the last one finishes the file.
    func unitDone() {
        let last: Bool = lock.withLock { remaining -= 1; return remaining == 0 }
        guard last else { return }
        run.fileFinished(self)
    }
}

/// The descriptors of target files in use, opened again on demand and kept
/// for the most recently used `capacity` files, so a restore of a million
/// files holds a bounded number of descriptors. Blocking: call from the
/// blocking pool.
final class FileHandles: @unchecked Sendable {
    let root: Int32
    private let lock = NSLock()
    private var files: DescriptorCache<ObjectIdentifier>
    /// Target directories kept open, by their components below the root.
    private var directories = DescriptorCache<[String]>(capacity: 32)

    init(root: Int32, capacity: Int = 128) {
        self.root = root
        files = DescriptorCache(capacity: capacity)
    }

    var openCount: Int { lock.withLock { files.count } }

    deinit {
        files.closeAll()
        directories.closeAll()
    }

    /// Runs `body` with a descriptor of `file` open for reading and writing.
    func withDescriptor<T>(_ file: OpenFile, _ body: (Int32) throws -> T) throws -> T {
        if let fd = file.volumeDescriptor { return try body(fd) }
        let key = ObjectIdentifier(file)
        var fd = lock.withLock { files.use(key) }
        if fd == nil {
            let opened = try reopen(file)
            fd = lock.withLock { files.adopt(opened, for: key) }
        }
        defer { lock.withLock { files.release(key) } }
        return try body(fd!)
    }

    /// Closes the file's descriptor for good (its last extent is written).
    func finish(_ file: OpenFile) {
        if let fd = file.volumeDescriptor { close(fd); return }
        if let fd = lock.withLock({ files.remove(ObjectIdentifier(file)) }) { close(fd) }
    }

    private func reopen(_ file: OpenFile) throws -> Int32 {
        try file.creation.withLock {
            guard let identity = file.identity else { return try create(file) }
            return try reopen(file, identity)
        }
    }

    /// The file's first opening: nothing may be in its place (the walk removed what was
    /// there), so anything that appeared since, a symlink included, is refused.
    private func create(_ file: OpenFile) throws -> Int32 {
        switch try withDirectory(file, { openSized($0, file.name, size: file.node.size, exclusive: true) }) {
        case let .success((fd, identity)):
            file.identity = identity
            return fd
        case let .failure(failure):
            throw EngineError(.target, "\(file.path): cannot be created: \(failure.text)")
        }
    }

    private func reopen(_ file: OpenFile, _ identity: FileIdentity) throws -> Int32 {
        let (fd, failure) = try withDirectory(file) { dir in
            let fd = openat(dir, file.name, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            return (fd, errno)
        }
        guard fd >= 0 else { throw EngineError(.target, "\(file.path): cannot be opened again: \(errnoText(failure))") }
        guard FileIdentity.of(fd: fd) == identity else {
            close(fd)
            throw EngineError(.target, "\(file.path) was replaced while the restore ran; nothing written to it")
        }
        return fd
    }

    /// Runs `body` with the descriptor of `file`'s directory, opened below the root one
    /// component at a time with O_NOFOLLOW and kept for the next files of that directory
    /// (the files of a pack come mostly from a few directories: opening every component
    /// again for each file was four of a restore's five openat calls). A directory held
    /// open is followed wherever it is moved, as a file's held descriptor is; a symlink
    /// swapped in for it is never entered, because it is opened by descriptor, not by path.
    private func withDirectory<T>(_ file: OpenFile, _ body: (Int32) throws -> T) throws -> T {
        let key = file.directory
        var dir = lock.withLock { directories.use(key) }
        if dir == nil {
            var opened = dup(root)
            for component in key {
                let next = openat(opened, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                close(opened)
                guard next >= 0 else { throw EngineError(.target, "\(file.path): its directory cannot be opened again: \(errnoText())") }
                opened = next
            }
            dir = lock.withLock { directories.adopt(opened, for: key) }
        }
        defer { lock.withLock { directories.release(key) } }
        return try body(dir!)
    }
}

/// Opens (creates; with `exclusive`, only if nothing is there) `name` in `dir`
/// without following a symlink, sizes it to `size`, and returns it with its identity.
func openSized(_ dir: Int32, _ name: String, size: UInt64, exclusive: Bool) -> Result<(Int32, FileIdentity), SizedOpenFailure> {
    let fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (exclusive ? O_EXCL : 0), 0o600)
    guard fd >= 0 else { return .failure(SizedOpenFailure(text: "open: \(errnoText())")) }
    if ftruncate(fd, off_t(size)) != 0 {
        let failure = SizedOpenFailure(text: "truncate: \(errnoText())")
        close(fd)
        return .failure(failure)
    }
    guard let identity = FileIdentity.of(fd: fd) else {
        let failure = SizedOpenFailure(text: "fstat: \(errnoText())")
        close(fd)
        return .failure(failure)
    }
    return .success((fd, identity))
}

struct SizedOpenFailure: Error { let text: String }

/// Descriptors held open by key, each counted while in use, so that past
/// `capacity` the least recently used idle ones can be closed. Not locked:
/// its owner holds a lock around every call.
struct DescriptorCache<Key: Hashable> {
    private struct Handle {
        var fd: Int32
        var users: Int
        var lastUse: UInt64
    }

    let capacity: Int
    private var handles: [Key: Handle] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { handles.count }

    /// The key's descriptor, now counted as in use, if one is held.
    mutating func use(_ key: Key) -> Int32? {
        clock += 1
        guard var handle = handles[key] else { return nil }
        handle.users += 1
        handle.lastUse = clock
        handles[key] = handle
        return handle.fd
    }

    /// Holds `fd` for `key`, in use, and returns it; when another caller put one there
    /// meanwhile, `fd` is closed and that one is used.
    mutating func adopt(_ fd: Int32, for key: Key) -> Int32 {
        if let raced = use(key) {
            close(fd)
            return raced
        }
        handles[key] = Handle(fd: fd, users: 1, lastUse: clock)
        if handles.count > capacity {
            let idle = handles.filter { $0.value.users == 0 }.sorted { $0.value.lastUse < $1.value.lastUse }
            for (key, handle) in idle.prefix(handles.count - capacity) {
                close(handle.fd)
                handles.removeValue(forKey: key)
            }
        }
        return fd
    }

    mutating func release(_ key: Key) { handles[key]?.users -= 1 }

    /// Stops holding the key's descriptor and hands it to the caller to close.
    mutating func remove(_ key: Key) -> Int32? { handles.removeValue(forKey: key)?.fd }

    mutating func closeAll() {
        for handle in handles.values { close(handle.fd) }
        handles = [:]
    }
}
