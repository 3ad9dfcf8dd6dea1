import CofferCrypto
import CofferRepository
import CofferSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Longer than ~400 lines on purpose: one restore run (tree walk, confinement
// by descriptor, metadata last, deepest first) shares its state under one
// lock; how the bytes are written, pack by pack, is RestorePlan.swift. See
// "The backup pipeline" in docs/architecture.md for the restore half.

public struct RestoreOptions: Sendable {
    /// Skip extents whose bytes at the target already hash to the stored id.
    public var delta = false
    /// Path inside the snapshot to restore (a directory's contents or one file); nil = everything.
    public var subpath: String?
    /// Apply owner/group (only effective as root).
    public var restoreOwnership = getuid() == 0
    /// Packs read at once; nil: as many as the repository's store suits (`PackSpans.readsAtOnce`).
    public var concurrency: Int?
    public var progress: (@Sendable (RestoreProgress) -> Void)?
    /// Confinement: the target is reached from this directory without following
    /// any symlink (`target` must lie inside it); missing directories on the way are created.
    public var beneath: String?
    /// A volume target must still be this file or device (refused otherwise).
    public var expectedIdentity: FileIdentity?
    /// Create device nodes and keep setuid/setgid bits. Tenant restores turn this
    /// off; what was left out is listed in `RestoreResult.skipped`.
    public var specialFiles = true
    /// Extents planned together (`RestorePlan`): each pack is read once per
    /// batch. Memory: ~200 bytes per extent.
    var batchExtents = 1 << 17
    public init() {}
}

/// What a path named when it was registered: st_dev and st_ino of a file, or
/// st_rdev and st_ino of a block device (the device, not the node's file system).
public struct FileIdentity: Codable, Sendable, Equatable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init(_ st: stat) {
        let isDevice = (st.st_mode & S_IFMT) == S_IFBLK || (st.st_mode & S_IFMT) == S_IFCHR
        self.init(device: UInt64(isDevice ? st.st_rdev : st.st_dev), inode: UInt64(st.st_ino))
    }

    /// The identity of what `path` names itself (a symlink is not followed).
    public static func of(path: String) -> FileIdentity? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return FileIdentity(st)
    }

    public static func of(fd: Int32) -> FileIdentity? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return FileIdentity(st)
    }

    public var description: String { "device \(device) inode \(inode)" }
}

/// Opens `relative` below the directory `base` one component at a time with
/// O_NOFOLLOW, creating missing directories (0700) when `create`: a symlink
/// anywhere on the way, even one swapped in after a check, is refused.
public func openDirectoryBeneath(_ base: String, _ relative: [String], create: Bool) throws -> Int32 {
    var fd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    if fd < 0 { throw EngineError(.target, "cannot open \(base): \(errnoText())") }
    var walked = base
    for c in relative {
        guard Node.isSafeName(c) else { close(fd); throw EngineError(.target, "refusing path component \(c.debugDescription) below \(base)") }
        walked += "/" + c
        if create && mkdirat(fd, c, 0o700) != 0 && errno != EEXIST {
            let reason = errnoText(); close(fd)
            throw EngineError(.target, "cannot create \(walked): \(reason)")
        }
        let next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        let failure = errno
        close(fd)
        if next < 0 {
            if failure == ELOOP || failure == ENOTDIR {
                throw EngineError(.target, "\(walked) is a symbolic link or not a directory; a restore never follows one")
            }
            throw EngineError(.target, "cannot open \(walked): \(errnoText(failure))")
        }
        fd = next
    }
    return fd
}

/// `path` as components below `base`, or nil when it is not inside it.
public func componentsBelow(_ base: String, _ path: String) -> [String]? {
    let b = base.split(separator: "/").map(String.init)
    let p = path.split(separator: "/").map(String.init)
    guard p.count >= b.count, Array(p.prefix(b.count)) == b else { return nil }
    return Array(p.dropFirst(b.count))
}

public struct RestoreProgress: Sendable {
    public var files: Int
    public var bytesWritten: Int64
}

public struct RestoreResult: Sendable {
    public var files = 0
    public var directories = 0
    public var bytesWritten: Int64 = 0
    public var bytesSkipped: Int64 = 0
    /// Everything that could not be restored, each naming the path and why.
    public var errors: [String] = []
    /// What was deliberately not restored as stored (device nodes, setuid/setgid bits).
    public var skipped: [String] = []
}

/// Restores a snapshot (or part of it) into a target directory, or a volume
/// snapshot onto a file or block device. Every path is created relative to
/// directory descriptors with O_NOFOLLOW, so a symlink in the target, or one
/// restored earlier, is never followed and nothing lands outside the target.
public final class Restorer: @unchecked Sendable {
    public let repository: any SnapshotSource

    public init(repository: any SnapshotSource) { self.repository = repository }

    public func restore(snapshot id: Hash256, target: String, options: RestoreOptions = RestoreOptions()) async throws -> RestoreResult {
        try await repository.prepareIndex()
        let snapshot = try await repository.loadSnapshot(id)
        let run = RestoreRun(repository: repository, options: options)
        if !repository.damagedIndexFiles.isEmpty {
            run.error("index files damaged (their packs were read directly): \(repository.damagedIndexFiles.joined(separator: ", "))")
        }
        if snapshot.kind == .volume {
            try await run.restoreVolume(snapshot, target: target)
        } else {
            try await run.restoreFiles(snapshot, target: target)
        }
        return run.result
    }
}

final class RestoreRun: @unchecked Sendable {
    let repository: any SnapshotSource
    let options: RestoreOptions
    private let lock = NSLock()
    private var resultStore = RestoreResult()
    private var hardLinks: [String: [String]] = [:]  // "dev:inode" -> first restored path components
    private var directoriesToFinish: [([String], Node)] = []
    /// Target files' descriptors; a volume's one descriptor is held by its `OpenFile`.
    private(set) var handles = FileHandles(root: -1, capacity: 0)

    init(repository: any SnapshotSource, options: RestoreOptions) {
        self.repository = repository
        self.options = options
    }

    var result: RestoreResult { lock.withLock { resultStore } }
    func error(_ message: String) { lock.withLock { resultStore.errors.append(message) } }
    func skip(_ message: String) { lock.withLock { resultStore.skipped.append(message) } }

    // MARK: directory-relative file system access

    /// Opens a directory below the target by components, never following symlinks.
    func openDirectory(_ root: Int32, _ components: [String]) -> Int32 {
        var fd = dup(root)
        for c in components {
            let next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(fd)
            if next < 0 { return -1 }
            fd = next
        }
        return fd
    }

    /// Removes whatever is at `name` unless it is a directory (and `keepDirectory`).
    func clear(_ dirfd: Int32, _ name: String, keepDirectory: Bool) {
        var st = stat()
        guard fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            if !keepDirectory { removeTree(dirfd, name) }
        } else {
            unlinkat(dirfd, name, 0)
        }
    }

    func removeTree(_ dirfd: Int32, _ name: String) {
        let fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            if let d = fdopendir(fd) {
                var names: [String] = []
                while let e = readdir(d) {
                    let n = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
                    if n != "." && n != ".." { names.append(n) }
                }
                for n in names { clear(Glibc.dirfd(d), n, keepDirectory: false) }
                closedir(d)
            } else { close(fd) }
        }
        unlinkat(dirfd, name, AT_REMOVEDIR)
    }

    func applyMetadata(fd: Int32, node: Node, path: String) {
        if options.restoreOwnership { _ = fchown(fd, node.uid, node.gid) }
        var mode = node.mode & 0o7777
        if !options.specialFiles && mode & 0o6000 != 0 {
            mode &= ~0o6000
            skip("\(path): setuid/setgid bits removed")
        }
        _ = fchmod(fd, mode_t(mode))
        setTimes(fd: fd, dirfd: nil, name: nil, node: node)
    }

    func setTimes(fd: Int32?, dirfd: Int32?, name: String?, node: Node) {
        var times = [timespec(tv_sec: time_t(node.mtime.seconds), tv_nsec: Int(node.mtime.nanoseconds)),
                     timespec(tv_sec: time_t(node.mtime.seconds), tv_nsec: Int(node.mtime.nanoseconds))]
        if let fd { _ = futimens(fd, &times) } else if let dirfd, let name { _ = utimensat(dirfd, name, &times, AT_SYMLINK_NOFOLLOW) }
    }

    // MARK: trees

    func restoreFiles(_ snapshot: Snapshot, target: String) async throws {
        var tree = try await repository.loadTree(snapshot.tree)
        if let sub = options.subpath?.split(separator: "/").map(String.init), !sub.isEmpty {
            for (i, component) in sub.enumerated() {
                guard let node = tree.nodes.first(where: { $0.name == component }) else {
                    throw EngineError(.invalidArgument, "path \(options.subpath!) not found in snapshot (no \(sub[0...i].joined(separator: "/")))")
                }
                if node.kind == .directory, let subtree = node.subtree {
                    tree = try await repository.loadTree(subtree)
                } else if i == sub.count - 1 {
                    tree = Tree(nodes: [node])
                } else {
                    throw EngineError(.invalidArgument, "path \(options.subpath!): \(component) is not a directory")
                }
            }
        }
        let root: Int32
        if let base = options.beneath {
            guard let relative = componentsBelow(base, target) else { throw EngineError(.target, "\(target) is not inside \(base)") }
            root = try openDirectoryBeneath(base, relative, create: true)
        } else {
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            root = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if root < 0 { throw EngineError(.target, "cannot open target \(target): \(errnoText())") }
        }
        defer { close(root) }
        handles = FileHandles(root: root)

        try await runBatches { enqueue in
            try await restoreTree(tree, components: [], root: root, madeByThisRun: false, enqueue: enqueue)
        }
        // Directory times last, deepest first, so writing children does not disturb them.
        for (components, node) in lock.withLock({ directoriesToFinish }).reversed() {
            let parent = openDirectory(root, Array(components.dropLast()))
            guard parent >= 0 else { continue }
            let fd = openat(parent, components.last!, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 { applyMetadata(fd: fd, node: node, path: display(components)); close(fd) }
            close(parent)
        }
    }

    /// `madeByThisRun`: the directory was created by this restore (0700), so no name in it needs
    /// clearing first; a name a hostile tree repeats is still refused by O_EXCL/O_NOFOLLOW creation.
    func restoreTree(_ tree: Tree, components: [String], root: Int32, madeByThisRun: Bool, enqueue: Enqueue) async throws {
        let dirfd = openDirectory(root, components)
        guard dirfd >= 0 else {
            error("\(display(components)): cannot open directory: \(errnoText())"); return
        }
        defer { close(dirfd) }
        var ahead = SubtreesAhead(tree, repository: repository)
        defer { ahead.cancel() }
        for (index, node) in tree.nodes.enumerated() {
            let path = components + [node.name]
            guard Node.isSafeName(node.name) else {
                error("refused unsafe name \(node.name.debugDescription) in \(display(components))"); continue
            }
            switch node.kind {
            case .directory:
                let loading = ahead.take(index)
                if !madeByThisRun { clear(dirfd, node.name, keepDirectory: true) }
                let made = mkdirat(dirfd, node.name, 0o700) == 0
                if !made && errno != EEXIST {
                    error("\(display(path)): mkdir: \(errnoText())"); continue
                }
                lock.withLock { resultStore.directories += 1; directoriesToFinish.append((path, node)) }
                guard let loading else { continue }
                let sub: Tree
                do { sub = try await loading.value } catch {
                    self.error("\(display(path)): directory contents lost: \(error)"); continue
                }
                try await restoreTree(sub, components: path, root: root, madeByThisRun: made, enqueue: enqueue)
            case .symlink:
                if !madeByThisRun { clear(dirfd, node.name, keepDirectory: false) }
                if symlinkat(node.linkTarget ?? "", dirfd, node.name) != 0 {
                    error("\(display(path)): symlink: \(errnoText())"); continue
                }
                if options.restoreOwnership { _ = fchownat(dirfd, node.name, node.uid, node.gid, AT_SYMLINK_NOFOLLOW) }
                setTimes(fd: nil, dirfd: dirfd, name: node.name, node: node)
            case .charDevice where !options.specialFiles, .blockDevice where !options.specialFiles:
                skip("\(display(path)): device node not created")
            case .fifo, .socket, .charDevice, .blockDevice:
                if !madeByThisRun { clear(dirfd, node.name, keepDirectory: false) }
                let type: mode_t
                switch node.kind {
                case .fifo: type = S_IFIFO
                case .socket: type = S_IFSOCK
                case .charDevice: type = S_IFCHR
                default: type = S_IFBLK
                }
                if mknodat(dirfd, node.name, type | mode_t(node.mode & 0o7777), dev_t(node.rdev ?? 0)) != 0 {
                    error("\(display(path)): mknod: \(errnoText())"); continue
                }
                if options.restoreOwnership { _ = fchownat(dirfd, node.name, node.uid, node.gid, AT_SYMLINK_NOFOLLOW) }
                setTimes(fd: nil, dirfd: dirfd, name: node.name, node: node)
            case .file, .volume:
                if let links = node.links, links > 1, let inode = node.inode, let device = node.device {
                    let key = "\(device):\(inode)"
                    let first: [String]? = lock.withLock {
                        if let f = hardLinks[key] { return f }
                        hardLinks[key] = path
                        return nil
                    }
                    if let first, linkHard(root: root, from: first, dirfd: dirfd, name: node.name) {
                        lock.withLock { resultStore.files += 1 }
                        continue
                    }
                }
                try await restoreFile(node, dirfd: dirfd, path: path, directoryMadeByThisRun: madeByThisRun, enqueue: enqueue)
            }
        }
    }

    func linkHard(root: Int32, from: [String], dirfd: Int32, name: String) -> Bool {
        let parent = openDirectory(root, Array(from.dropLast()))
        guard parent >= 0 else { return false }
        defer { close(parent) }
        clear(dirfd, name, keepDirectory: false)
        return linkat(parent, from.last!, dirfd, name, 0) == 0
    }

    func display(_ components: [String]) -> String { components.isEmpty ? "/" : components.joined(separator: "/") }

    /// Opens the target file (never through a symlink), sizes it, and hands its
    /// extents to the batches; the last extent written applies metadata.
    func restoreFile(_ node: Node, dirfd: Int32, path: [String], directoryMadeByThisRun: Bool, enqueue: Enqueue) async throws {
        var st = stat()
        let exists = !directoryMadeByThisRun && fstatat(dirfd, node.name, &st, AT_SYMLINK_NOFOLLOW) == 0
        if exists && (st.st_mode & S_IFMT) != S_IFREG { clear(dirfd, node.name, keepDirectory: false) }
        let keep = options.delta && exists && (st.st_mode & S_IFMT) == S_IFREG
        if exists && !keep { unlinkat(dirfd, node.name, 0) }  // a hard-linked old file must not be changed in place
        let extents = node.content ?? []
        // Created by the writer that brings its first bytes (OpenFile); created here: a file kept
        // for a delta restore, an empty one, and the first of hard links (the others link to it).
        if !keep && !extents.isEmpty && (node.links ?? 1) <= 1 {
            let file = OpenFile(directory: Array(path.dropLast()), name: node.name, identity: nil, node: node, path: display(path),
                                units: extents.count, run: self)
            return try await enqueue(file, extents)
        }
        let fd: Int32, identity: FileIdentity
        switch openSized(dirfd, node.name, size: node.size, exclusive: false) {
        case let .success(opened): (fd, identity) = opened
        case let .failure(failure): error("\(display(path)): \(failure.text)"); return
        }
        defer { close(fd) }
        if extents.isEmpty {
            applyMetadata(fd: fd, node: node, path: display(path))
            countFile()
            return
        }
        let file = OpenFile(directory: Array(path.dropLast()), name: node.name, identity: identity, node: node, path: display(path),
                            units: extents.count, run: self)
        try await enqueue(file, extents)
    }

    /// Records one extent's outcome (written, already identical, or failed);
    /// the file is finished with its last extent.
    func finished(_ target: RestoreTarget, failure: Error?, skipped: Bool = false) {
        let e = target.extent, file = target.file
        if let failure {
            error("\(file.path): bytes \(e.offset)..<\(e.offset + UInt64(e.length)) not restored: \(failure)")
        } else if skipped {
            lock.withLock { resultStore.bytesSkipped += Int64(e.length) }
        } else {
            let progress: RestoreProgress = lock.withLock {
                resultStore.bytesWritten += Int64(e.length)
                return RestoreProgress(files: resultStore.files, bytesWritten: resultStore.bytesWritten)
            }
            options.progress?(progress)
        }
        file.unitDone()
    }

    func readExisting(_ fd: Int32, _ e: Extent) throws -> Data {
        var data = Data(count: Int(e.length))
        let n = try data.withUnsafeMutableBytes { try preadFully(fd, $0.baseAddress!, Int(e.length), Int64(e.offset)) }
        guard n == Int(e.length) else { throw EngineError(.target, "short") }
        return data
    }

    /// The last extent of `file` is done: its metadata, then its descriptor closed.
    func fileFinished(_ file: OpenFile) {
        defer { handles.finish(file) }
        if file.skipMetadata { return }
        do {
            try handles.withDescriptor(file) { applyMetadata(fd: $0, node: file.node, path: file.path) }
        } catch {
            self.error("\(file.path): metadata not restored: \(error)")
        }
        countFile()
    }

    func countFile() {
        let progress: RestoreProgress = lock.withLock {
            resultStore.files += 1
            return RestoreProgress(files: resultStore.files, bytesWritten: resultStore.bytesWritten)
        }
        options.progress?(progress)
    }

    // MARK: volumes

    func restoreVolume(_ snapshot: Snapshot, target: String) async throws {
        let tree = try await repository.loadTree(snapshot.tree)
        guard let node = tree.nodes.first, node.kind == .volume else {
            throw RepositoryError(.damaged, "volume snapshot has no volume node")
        }
        guard Node.isSafeName(node.name) else { throw RepositoryError(.damaged, "volume name \(node.name.debugDescription) is unsafe") }
        var st = stat()
        var path = target
        var isDevice = false
        let fd: Int32
        if let expected = options.expectedIdentity {
            // A registered volume: exactly that file or device, never through a symlink, never created.
            fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 { throw EngineError(.target, "cannot open \(path): \(errnoText())") }
            guard fstat(fd, &st) == 0, FileIdentity(st) == expected else {
                close(fd)
                throw EngineError(.target, "\(path) is no longer the file or device registered (\(expected)); refusing to write to it")
            }
            isDevice = (st.st_mode & S_IFMT) == S_IFBLK
        } else {
            if stat(target, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR { path = target + "/" + node.name }
                isDevice = (st.st_mode & S_IFMT) == S_IFBLK
            }
            fd = isDevice ? open(path, O_WRONLY | O_CLOEXEC) : open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd < 0 { throw EngineError(.target, "cannot open \(path): \(errnoText())") }
        }
        if isDevice {
            let end = lseek(fd, 0, SEEK_END)
            guard end >= 0, UInt64(end) >= node.size else {
                close(fd)
                throw EngineError(.target, "block device \(path) holds \(end) bytes; the volume needs \(node.size)")
            }
            // Holes must read back as zeros on a device too.
            try writeZeros(fd: fd, outside: node.content ?? [], size: node.size)
        } else {
            if !options.delta && ftruncate(fd, 0) != 0 { close(fd); throw EngineError(.target, "truncate \(path): \(errnoText())") }
            if ftruncate(fd, off_t(node.size)) != 0 { close(fd); throw EngineError(.target, "truncate \(path): \(errnoText())") }
            if options.delta { try punchOrZero(fd: fd, outside: node.content ?? [], size: node.size) }
        }
        let extents = node.content ?? []
        let file = OpenFile(directory: [], name: node.name, identity: FileIdentity.of(fd: fd) ?? FileIdentity(device: 0, inode: 0), node: node,
                            path: path, units: max(1, extents.count), run: self, volumeDescriptor: fd)
        file.skipMetadata = isDevice
        if extents.isEmpty { file.unitDone(); return }
        try await runBatches { enqueue in try await enqueue(file, extents) }
    }

    func gaps(_ extents: [Extent], size: UInt64) -> [(UInt64, UInt64)] {
        var out: [(UInt64, UInt64)] = []
        var at: UInt64 = 0
        for e in extents.sorted(by: { $0.offset < $1.offset }) {
            if e.offset > at { out.append((at, e.offset)) }
            at = max(at, e.offset + UInt64(e.length))
        }
        if at < size { out.append((at, size)) }
        return out
    }

    func writeZeros(fd: Int32, outside extents: [Extent], size: UInt64) throws {
        for (from, to) in gaps(extents, size: size) { try writeZeros(fd: fd, from: from, to: to) }
    }

    func writeZeros(fd: Int32, from: UInt64, to: UInt64) throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var at = from
        while at < to {
            let n = Int(min(UInt64(zeros.count), to - at))
            try zeros.withUnsafeBytes { try pwriteFully(fd, $0.baseAddress!, n, Int64(at)) }
            at += UInt64(n)
        }
    }

    /// For a delta restore onto an existing image: holes must become zeros again.
    func punchOrZero(fd: Int32, outside extents: [Extent], size: UInt64) throws {
        let punch: Int32 = 0x02 | 0x01  // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
        for (from, to) in gaps(extents, size: size) where to > from {
            if linuxFallocate(fd, punch, Int(from), Int(to - from)) != 0 { try writeZeros(fd: fd, from: from, to: to) }
        }
    }
}

@_silgen_name("fallocate")
private func linuxFallocate(_ fd: Int32, _ mode: Int32, _ offset: Int, _ length: Int) -> Int32
