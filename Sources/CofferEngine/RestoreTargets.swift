import CofferRepository
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A target file being written. A restore plans every file of a batch at
/// once, far more files than a process may keep open, so a file is created
/// by the walk, closed, and opened again when its bytes come (`FileHandles`).
/// What was created is remembered by identity: a file reopened as anything
/// else (replaced, or a symlink swapped in on the way) is refused.
final class OpenFile: @unchecked Sendable {
    /// Below the restore's root, never through a symlink.
    let directory: [String]
    let name: String
    let identity: FileIdentity
    let node: Node
    let path: String
    /// A volume's one descriptor, held for the whole restore (a device is not reopened by name).
    let volumeDescriptor: Int32?
    var skipMetadata = false
    unowned let run: RestoreRun
    private let lock = NSLock()
    private var remaining: Int

    init(directory: [String], name: String, identity: FileIdentity, node: Node, path: String, units: Int, run: RestoreRun, volumeDescriptor: Int32? = nil) {
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
    private struct Handle {
        var fd: Int32
        var users: Int
        var lastUse: UInt64
    }

    let root: Int32
    let capacity: Int
    private let lock = NSLock()
    private var handles: [ObjectIdentifier: Handle] = [:]
    /// Target directories kept open, by their components below the root.
    private var directories: [[String]: Handle] = [:]
    private let directoryCapacity = 32
    private var clock: UInt64 = 0

    init(root: Int32, capacity: Int = 128) {
        self.root = root
        self.capacity = capacity
    }

    var openCount: Int { lock.withLock { handles.count } }

    deinit {
        for handle in handles.values { close(handle.fd) }
        for handle in directories.values { close(handle.fd) }
    }

    /// Runs `body` with a descriptor of `file` open for reading and writing.
    func withDescriptor<T>(_ file: OpenFile, _ body: (Int32) throws -> T) throws -> T {
        if let fd = file.volumeDescriptor { return try body(fd) }
        let key = ObjectIdentifier(file)
        var fd: Int32? = lock.withLock {
            clock += 1
            guard var handle = handles[key] else { return nil }
            handle.users += 1
            handle.lastUse = clock
            handles[key] = handle
            return handle.fd
        }
        if fd == nil {
            let opened = try reopen(file)
            fd = lock.withLock {
                clock += 1
                if var raced = handles[key] {  // another writer opened it meanwhile
                    raced.users += 1
                    handles[key] = raced
                    close(opened)
                    return raced.fd
                }
                handles[key] = Handle(fd: opened, users: 1, lastUse: clock)
                evictIdle()
                return opened
            }
        }
        defer { lock.withLock { handles[key]?.users -= 1 } }
        return try body(fd!)
    }

    /// Closes the file's descriptor for good (its last extent is written).
    func finish(_ file: OpenFile) {
        if let fd = file.volumeDescriptor { close(fd); return }
        if let handle = lock.withLock({ handles.removeValue(forKey: ObjectIdentifier(file)) }) { close(handle.fd) }
    }

    private func evictIdle() {
        guard handles.count > capacity else { return }
        let idle = handles.filter { $0.value.users == 0 }.sorted { $0.value.lastUse < $1.value.lastUse }
        for (key, handle) in idle.prefix(handles.count - capacity) {
            close(handle.fd)
            handles.removeValue(forKey: key)
        }
    }

    private func reopen(_ file: OpenFile) throws -> Int32 {
        let (fd, failure) = try withDirectory(file) { dir in
            let fd = openat(dir, file.name, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            return (fd, errno)
        }
        guard fd >= 0 else { throw EngineError(.target, "\(file.path): cannot be opened again: \(errnoText(failure))") }
        guard FileIdentity.of(fd: fd) == file.identity else {
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
        let cached: Int32? = lock.withLock {
            clock += 1
            guard var entry = directories[key] else { return nil }
            entry.users += 1
            entry.lastUse = clock
            directories[key] = entry
            return entry.fd
        }
        let dir: Int32
        if let cached {
            dir = cached
        } else {
            var opened = dup(root)
            for component in key {
                let next = openat(opened, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                close(opened)
                guard next >= 0 else { throw EngineError(.target, "\(file.path): its directory cannot be opened again: \(errnoText())") }
                opened = next
            }
            dir = lock.withLock {
                clock += 1
                if var raced = directories[key] {
                    raced.users += 1
                    directories[key] = raced
                    close(opened)
                    return raced.fd
                }
                directories[key] = Handle(fd: opened, users: 1, lastUse: clock)
                if directories.count > directoryCapacity {
                    let idle = directories.filter { $0.value.users == 0 }.sorted { $0.value.lastUse < $1.value.lastUse }
                    for (k, handle) in idle.prefix(directories.count - directoryCapacity) {
                        close(handle.fd)
                        directories.removeValue(forKey: k)
                    }
                }
                return opened
            }
        }
        defer { lock.withLock { directories[key]?.users -= 1 } }
        return try body(dir)
    }
}
