import CofferChunking
import CofferCrypto
import CofferRepository
import CofferSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// CofferEngine: the archiver (this file) and the restorer. Longer than ~400
// lines on purpose: one backup run is one pipeline (walker, read-ahead,
// chunk tasks, tree tasks, pack writer, byte budget) whose parts share the
// run's state under its locks; split across files they would have to expose
// that state module-wide. docs/architecture.md, "The backup pipeline".

public struct BackupOptions: Sendable {
    public enum Parent: Sendable { case none, auto, snapshot(Hash256) }
    public var parent: Parent = .auto
    public var tags: [String] = []
    /// Stored in the snapshot (`Snapshot.labels`).
    public var labels: [String: String]?
    public var hostname = ProcessInfo.processInfo.hostName
    /// Bytes read but not yet packed, at most (bounds memory whatever the source size).
    public var inFlightBytes = 8 << 20
    public var progress: (@Sendable (BackupProgress) -> Void)?
    public var progressInterval: TimeInterval = 0.5
    /// Stop with `EngineError(.limit)` once more new (sealed) bytes than this
    /// were stored: a vault's remaining capacity. What was stored stays
    /// unreferenced until prune removes it.
    public var maxBytesAdded: Int64?
    /// Absolute paths below the backed-up directory that are left out (with everything below them).
    public var excludes: Set<String> = []
    public var now: @Sendable () -> Date = { Date() }
    /// Directory listings taken before the backup started, used instead of listing those directories again.
    public var listings: SourceWarmer?
    public init() {}
}

public struct BackupProgress: Sendable {
    public var files: Int
    public var directories: Int
    public var bytesRead: Int64
    public var bytesAdded: Int64
    public var elapsed: TimeInterval
    public var currentPath: String
    /// What the whole backup will read, when known (a volume's size, or the
    /// parent snapshot's total for a file tree): the basis for an ETA.
    public var bytesExpected: Int64?
}

public struct BackupResult: Sendable {
    public var snapshotID: Hash256
    public var snapshot: Snapshot
    public var summary: SnapshotSummary { snapshot.summary ?? SnapshotSummary() }
}

/// Backs up a directory tree or a volume (disk image / block device) into a
/// repository. Reading, chunking, hashing, compressing, encrypting and
/// uploading overlap: the walker reads while worker tasks process earlier
/// chunks, and small files are read by parallel tasks.
public final class Archiver: @unchecked Sendable {
    public let repository: any SnapshotSink
    public static let volumeBlockSize = 4 << 20

    public init(repository: any SnapshotSink) { self.repository = repository }

    public func backup(path: String, options: BackupOptions = BackupOptions()) async throws -> BackupResult {
        let absolute = Archiver.absolute(path)
        guard case let .success(st) = FileStat.lstatPath(absolute) else {
            throw EngineError(.source, "cannot back up \(absolute): \(errnoText())")
        }
        guard st.isDirectory || st.isRegular else {
            throw EngineError(.source, "cannot back up \(absolute): not a directory or regular file (use volume backup for block devices)")
        }
        let run = try await BackupRun(repository: repository, options: options, kind: .files, paths: [absolute])
        return try await run.runFiles(absolute, isDirectory: st.isDirectory)
    }

    public func backupVolume(path: String, options: BackupOptions = BackupOptions()) async throws -> BackupResult {
        let absolute = Archiver.absolute(path)
        let run = try await BackupRun(repository: repository, options: options, kind: .volume, paths: [absolute])
        return try await run.runVolume(absolute)
    }

    public static func absolute(_ path: String) -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        var p = url.standardizedFileURL.path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }
}

final class BackupRun: @unchecked Sendable {
    let repository: any SnapshotSink
    let writer: PackWriter
    let chunker: Chunker
    let options: BackupOptions
    let budget: AsyncBudget
    let kind: Snapshot.Kind
    let paths: [String]
    let parentID: Hash256?
    let parentSnapshot: Snapshot?
    let names = NameCache()
    let prefetched = PrefetchCache(limit: 512, entryLimit: 20_000)
    /// Subdirectories of the directory being walked whose reading is started ahead of the walker.
    static let directoryWindow = 32
    /// What a small file in flight is charged against the byte budget, at least.
    static let smallFileCharge = 32 << 10
    /// How far ahead of a large file's reads the kernel is asked to read (POSIX_FADV_WILLNEED).
    static let readAhead: Int64 = 32 << 20
    /// Chunks cut from a large file or a volume wait in these for their worker (see BufferPool).
    let chunkBuffers: BufferPool
    let started: Date

    private let lock = NSLock()
    private var files = 0
    private var directories = 0
    private var bytesRead: Int64 = 0
    private var bytesTotal: Int64 = 0
    private var unchanged = 0
    private var warnings: [String] = []
    private var failure: Error?
    private var lastProgress = Date.distantPast

    init(repository: any SnapshotSink, options: BackupOptions, kind: Snapshot.Kind, paths: [String]) async throws {
        self.repository = repository
        self.options = options
        self.kind = kind
        self.paths = paths
        started = ModelCoding.storable(options.now())
        // The parent is looked for while the index loads: on a remote store both begin with a listing.
        async let parent = BackupRun.findParent(options.parent, in: repository, paths: paths, hostname: options.hostname, kind: kind)
        try await repository.prepareIndex()
        writer = repository.makePackWriter()
        let c = repository.config.chunker
        chunker = Chunker(parameters: ChunkerParameters(minSize: c.min, averageSize: c.average, maxSize: c.max), seed: repository.keys.chunkerSeed)
        // Eight average chunks keep both cores busy; a larger budget only held more memory (bench: 16 MiB
        // cost 10 MiB of peak RSS for no speed). A chunk larger than the budget takes all of it.
        budget = AsyncBudget(capacity: max(options.inFlightBytes, c.max))
        // The budget holds about eight average chunks; an idle buffer keeps an average chunk's pages.
        chunkBuffers = BufferPool(bufferSize: max(c.max, Archiver.volumeBlockSize), maxRetained: 8, residentLimit: 1 << 20)
        (parentID, parentSnapshot) = try await parent
    }

    /// The snapshot change detection compares with: the one asked for, or the latest of the same paths, host and kind.
    static func findParent(_ choice: BackupOptions.Parent, in repository: any SnapshotSink, paths: [String], hostname: String,
                           kind: Snapshot.Kind) async throws -> (Hash256?, Snapshot?) {
        switch choice {
        case .none: return (nil, nil)
        case let .snapshot(id): return (id, try await repository.loadSnapshot(id))
        case .auto:
            let all = try await repository.listSnapshots().snapshots
            guard let latest = all.last(where: { $0.1.paths == paths && $0.1.hostname == hostname && $0.1.kind == kind }) else { return (nil, nil) }
            return (latest.0, latest.1)
        }
    }

    // MARK: bookkeeping

    func warn(_ message: String) { lock.withLock { warnings.append(message) } }
    var currentWarnings: [String] { lock.withLock { warnings } }

    func fail(_ error: Error) { lock.withLock { if failure == nil { failure = error } } }

    /// Called by the walker between reads: a worker's failure, or the backup's task cancelled (a shutdown), ends the backup.
    func checkFailure() throws {
        if let f = lock.withLock({ failure }) { throw f }
        try Task.checkCancellation()
    }

    func countRead(_ n: Int) { lock.withLock { bytesRead += Int64(n) } }

    func report(_ path: String) {
        guard let progress = options.progress else { return }
        let now = Date()
        let snapshot: BackupProgress? = lock.withLock {
            guard now.timeIntervalSince(lastProgress) >= options.progressInterval else { return nil }
            lastProgress = now
            return BackupProgress(files: files, directories: directories, bytesRead: bytesRead, bytesAdded: writer.bytesAdded,
                                  elapsed: now.timeIntervalSince(started), currentPath: path,
                                  bytesExpected: kind == .volume ? bytesTotal : parentSnapshot?.summary?.bytesTotal)
        }
        if let snapshot { progress(snapshot) }
    }

    /// Hash, deduplicate, compress, encrypt and pack one chunk.
    func process(_ data: Data) async throws -> Hash256 {
        let id = repository.keys.blobID(data)
        if writer.claim(id) {
            try await writer.store(id: id, type: .data, sealed: repository.sealBlob(data, type: .data, id: id), rawLength: data.count)
            if let limit = options.maxBytesAdded, writer.bytesAdded > limit {
                throw EngineError(.limit, "the backup needs more than the \(limit) bytes of capacity left")
            }
        }
        return id
    }

    /// A chunk handed to a worker task; memory is returned to the budget when packed.
    func spawnChunk(_ data: Data) async -> Task<Hash256, Error> {
        let size = data.count
        await budget.acquire(size)
        // A task keeps its closure (and what it captured) as long as its handle
        // lives, here until the directory's tree is stored; the box lets the
        // chunk's bytes go as soon as they are packed.
        let box = HandOff(data)
        return Task {
            defer { budget.release(size) }
            do { return try await process(box.take()) } catch { fail(error); throw error }
        }
    }

    // MARK: files

    func runFiles(_ root: String, isDirectory: Bool) async throws -> BackupResult {
        let parentRoot = parentSnapshot?.tree
        let treeTask: Task<Hash256, Error>
        if isDirectory {
            treeTask = try await archiveDirectory(root, input: prefetch(root, parentTree: parentRoot))
        } else {
            let dir = (root as NSString).deletingLastPathComponent
            let name = (root as NSString).lastPathComponent
            let parentNodes = BackupRun.byName(await prefetch(dir, parentTree: parentRoot).parent.value)
            guard let pending = try await archiveEntry(dir: dir, name: name, stat: FileStat.lstatPath(root), parentNodes: parentNodes, subdirectory: nil) else {
                throw EngineError(.source, "cannot back up \(root): \(lock.withLock { warnings.last ?? "unreadable" })")
            }
            treeTask = Task { try await self.saveTree([pending]) }
        }
        let tree: Hash256
        do { tree = try await treeTask.value } catch {
            throw lock.withLock { failure } ?? error
        }
        return try await commit(tree: tree)
    }

    enum Pending {
        case ready(Node)
        case chunks(Node, [(offset: UInt64, length: Int, task: Task<Hash256, Error>)])
        case smallFile(Task<Node?, Error>)
        case directory(Node, Task<Hash256, Error>)
    }

    typealias Listing = Result<DirectoryEntries, Errno>

    /// A directory's listing (with every entry's lstat) and its tree in the
    /// parent snapshot, both started before the walker gets there: on a cold
    /// disk the walk is a chain of small reads, and overlapping them is most
    /// of what makes an unchanged re-backup fast.
    struct DirectoryInput {
        let listing: Task<Listing, Never>
        let parent: Task<Tree?, Never>
        let parentID: Hash256?
    }

    func prefetch(_ path: String, parentTree: Hash256?) -> DirectoryInput {
        if let ready = prefetched.take(path) { return ready }
        return startPrefetch(path, parentTree: parentTree)
    }

    /// Starts reading a directory ahead of the walker and, while few are
    /// outstanding, its subdirectories too (depth-first order is kept by the
    /// walker; this only warms what it will ask for).
    func startPrefetch(_ path: String, parentTree: Hash256?) -> DirectoryInput {
        let listings = options.listings
        let listing = Task<Listing, Never> {
            if let ready = listings?.takeListing(path) { return .success(ready) }
            return await BlockingPool.shared.run { listDirectory(path) }
        }
        let repository = self.repository
        let parent = Task<Tree?, Never> {
            guard let parentTree else { return nil }
            return try? await repository.loadTree(parentTree)
        }
        let input = DirectoryInput(listing: listing, parent: parent, parentID: parentTree)
        Task {
            guard case let .success(entries) = await listing.value else { return }
            prefetched.noteEntries(path, entries.count)
            let parentNodes = BackupRun.byName(await parent.value)
            for (name, stat) in entries {
                guard case let .success(st) = stat, st.isDirectory, Node.isSafeName(name) else { continue }
                let sub = childPath(path, name)
                let old = parentNodes[name]
                guard prefetched.reserve(sub) else { return }
                prefetched.put(sub, startPrefetch(sub, parentTree: old?.kind == .directory ? old?.subtree : nil))
            }
        }
        return input
    }

    static func byName(_ tree: Tree?) -> [String: Node] {
        var out: [String: Node] = [:]
        for n in tree?.nodes ?? [] { out[n.name] = n }
        return out
    }

    /// Walks one directory now and returns a task that yields its tree id once
    /// every chunk beneath it is packed, so the walker never waits on workers.
    func archiveDirectory(_ path: String, input: DirectoryInput) async throws -> Task<Hash256, Error> {
        try checkFailure()
        var entries: DirectoryEntries
        switch await input.listing.value {
        case let .success(e): entries = e
        case let .failure(e): throw EngineError(.source, "cannot read directory \(path): \(e)")
        }
        if !options.excludes.isEmpty { entries.removeAll { options.excludes.contains(childPath(path, $0.0)) } }
        let parentTree = await input.parent.value
        let parentNodes = BackupRun.byName(parentTree)
        // Subdirectories are read ahead of the walker, a window of them at a time: starting them
        // all at once held a thousand listings and parent trees of a thousand entries each.
        let subdirectoryNames = entries.compactMap { name, stat -> String? in
            guard case let .success(st) = stat, st.isDirectory, Node.isSafeName(name) else { return nil }
            return name
        }
        var subdirectories: [String: DirectoryInput] = [:]
        var started = 0, reached = 0
        func startAhead() {
            while started < min(reached + BackupRun.directoryWindow, subdirectoryNames.count) {
                let name = subdirectoryNames[started]
                let old = parentNodes[name]
                subdirectories[name] = prefetch(childPath(path, name), parentTree: old?.kind == .directory ? old?.subtree : nil)
                started += 1
            }
        }
        startAhead()
        var pending: [Pending] = []
        for (name, stat) in entries {
            try checkFailure()
            let subdirectory = subdirectories.removeValue(forKey: name)
            if subdirectory != nil {
                reached += 1
                startAhead()
            }
            if let p = try await archiveEntry(dir: path, name: name, stat: stat, parentNodes: parentNodes, subdirectory: subdirectory) { pending.append(p) }
        }
        lock.withLock { directories += 1 }
        report(path)
        let unchanged = parentTree.flatMap { tree in input.parentID.map { (tree, $0) } }
        let handOff = HandOff(pending)
        return Task { try await self.saveTree(handOff.take(), parent: unchanged) }
    }

    func metadataNode(name: String, stat st: FileStat) -> Node {
        var node = Node(name: name, kind: st.kind, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, size: st.kind == .file ? st.size : 0)
        node.ctime = st.ctime
        node.inode = st.inode
        node.device = st.device
        node.links = st.links
        node.user = names.user(st.uid)
        node.group = names.group(st.gid)
        if st.kind == .charDevice || st.kind == .blockDevice { node.rdev = st.rdev }
        return node
    }

    func archiveEntry(dir: String, name: String, stat: Result<FileStat, Errno>, parentNodes: [String: Node], subdirectory: DirectoryInput?) async throws -> Pending? {
        let full = childPath(dir, name)
        guard Node.isSafeName(name) else { warn("\(full): name cannot be stored, skipped"); return nil }
        let st: FileStat
        switch stat {
        case let .success(s): st = s
        case let .failure(e): warn("\(full): \(e), skipped"); return nil
        }
        var node = metadataNode(name: name, stat: st)
        switch st.kind {
        case .directory:
            do {
                let input = subdirectory ?? prefetch(full, parentTree: parentNodes[name].flatMap { $0.kind == .directory ? $0.subtree : nil })
                let sub = try await archiveDirectory(full, input: input)
                return .directory(node, sub)
            } catch let e as EngineError where e.code == .source {
                warn("\(e.description), skipped"); return nil
            }
        case .symlink:
            var buf = [CChar](repeating: 0, count: 4097)
            let n = readlink(full, &buf, 4096)
            if n < 0 { warn("\(full): readlink: \(errnoText()), skipped"); return nil }
            node.linkTarget = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return .ready(node)
        case .fifo, .socket, .charDevice, .blockDevice, .volume:
            return .ready(node)
        case .file:
            lock.withLock { files += 1; bytesTotal += Int64(st.size) }
            if let old = parentNodes[name], let reused = reuse(old, st) {
                lock.withLock { unchanged += 1 }
                node.content = reused
                return .ready(node)
            }
            if st.size <= UInt64(chunker.parameters.minSize) {
                // Charged at least a small file's bookkeeping (its task and node), so a tree of tiny
                // files keeps a few hundred in flight (eight blocking-pool threads read them), not one per byte of the budget.
                let reserved = max(Int(st.size), BackupRun.smallFileCharge)
                await budget.acquire(reserved)
                let task = Task<Node?, Error> {
                    defer { self.budget.release(reserved) }
                    return try await self.archiveSmallFile(full, node: node, before: st)
                }
                return .smallFile(task)
            }
            return try await archiveLargeFile(full, node: node, before: st)
        }
    }

    /// Content of an unchanged file from the parent snapshot, when all of it is still stored.
    func reuse(_ old: Node, _ st: FileStat) -> [Extent]? {
        guard old.kind == .file, old.size == st.size, old.mtime == st.mtime, old.ctime == st.ctime, old.inode == st.inode,
              let content = old.content else { return nil }
        for e in content where !repository.contains(blob: e.blob) { return nil }
        writer.noteReused(content.map(\.blob))
        return content
    }

    func openForReading(_ path: String, before: FileStat) -> Int32? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | oNoATime)
        let fd2 = fd >= 0 ? fd : open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) // O_NOATIME needs ownership
        if fd2 < 0 { warn("\(path): open: \(errnoText()), skipped"); return nil }
        if case let .success(now) = FileStat.of(fd: fd2), now.isRegular { return fd2 }
        close(fd2)
        warn("\(path): replaced by a non-file while being backed up, skipped")
        return nil
    }

    func noteIfChanged(_ path: String, fd: Int32, before: FileStat, read: UInt64) {
        guard case let .success(after) = FileStat.of(fd: fd) else { return }
        if after.mtime != before.mtime || after.ctime != before.ctime || after.size != before.size || read != before.size {
            warn("\(path): changed while being read; the stored copy may be inconsistent")
        }
    }

    /// Reads a whole small file on the blocking pool (nil: skipped, warned).
    func readSmallFile(_ path: String, before: FileStat) -> Data? {
        guard let fd = openForReading(path, before: before) else { return nil }
        defer { close(fd) }
        let size = Int(before.size)
        var data = Data(count: size)
        do {
            let n = try data.withUnsafeMutableBytes { try preadFully(fd, $0.baseAddress!, size, 0) }
            data.count = n
            // A file that grew since stat: take the rest too (it is reported as changed).
            if n == size, size > 0 {
                var extra = [UInt8](repeating: 0, count: 65536)
                var offset = Int64(n)
                while true {
                    let m = try preadFully(fd, &extra, extra.count, offset)
                    if m == 0 { break }
                    data.append(contentsOf: extra[0..<m])
                    offset += Int64(m)
                }
            }
        } catch {
            warn("\(path): \(error), skipped")
            return nil
        }
        noteIfChanged(path, fd: fd, before: before, read: UInt64(data.count))
        return data
    }

    func archiveSmallFile(_ path: String, node: Node, before: FileStat) async throws -> Node? {
        try checkFailure()
        guard let data = await BlockingPool.shared.run({ self.readSmallFile(path, before: before) }) else { return nil }
        countRead(data.count)
        var out = node
        out.size = UInt64(data.count)
        if data.count > chunker.parameters.minSize {
            // Grew past one chunk while being read: chunk it properly.
            var extents: [Extent] = []
            let bytes = [UInt8](data)
            for r in chunker.split(bytes) {
                let id = try await process(Data(bytes[r]))
                extents.append(Extent(offset: UInt64(r.lowerBound), length: UInt32(r.count), blob: id))
            }
            out.content = extents
        } else {
            out.content = data.isEmpty ? [] : [Extent(offset: 0, length: UInt32(data.count), blob: try await process(data))]
        }
        report(path)
        return out
    }

    /// Data regions of a file: holes of at least `minimumHole` bytes (found
    /// with SEEK_DATA/SEEK_HOLE) are left out and restored as holes.
    static func dataRegions(_ fd: Int32, size: Int64, minimumHole: Int64) -> [Range<Int64>] {
        var regions: [Range<Int64>] = []
        var at: Int64 = 0
        while at < size {
            let data = lseek(fd, off_t(at), seekData)
            if data < 0 {
                if errno == ENXIO { break }
                return [0..<size]  // no hole support: all data
            }
            var hole = lseek(fd, off_t(data), seekHole)
            if hole < 0 { hole = off_t(size) }
            let region = Int64(data)..<min(Int64(hole), size)
            if let last = regions.last, region.lowerBound - last.upperBound < minimumHole {
                regions[regions.count - 1] = last.lowerBound..<region.upperBound
            } else if !region.isEmpty {
                regions.append(region)
            }
            at = max(Int64(hole), at + 1)
        }
        return regions
    }

    func archiveLargeFile(_ path: String, node: Node, before: FileStat) async throws -> Pending? {
        guard let fd = openForReading(path, before: before) else { return nil }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        let maxChunk = chunker.parameters.maxSize
        let capacity = maxChunk * 2
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        var parts: [(offset: UInt64, length: Int, task: Task<Hash256, Error>)] = []
        let size = Int64(before.size)
        var end: Int64 = 0
        for region in BackupRun.dataRegions(fd, size: size, minimumHole: Int64(chunker.parameters.minSize)) {
            var filled = 0, fileOffset = region.lowerBound, chunkStart = UInt64(region.lowerBound)
            var hinted = region.lowerBound
            var atEnd = false
            while true {
                try checkFailure()
                if !atEnd && filled < maxChunk {
                    // The last region runs to the end of the file, so growth while reading is kept.
                    let limit = region.upperBound == size ? Int64.max : region.upperBound
                    let want = Int(min(Int64(capacity - filled), limit - fileOffset))
                    let n: Int
                    let (target, at) = (buffer + filled, fileOffset)
                    // Ask the kernel for the next stretch while this one is chunked: one reader's
                    // synchronous preads kept a single request in flight (cold backups were read-bound).
                    let hintEnd = min(region.upperBound, fileOffset + Int64(want) + BackupRun.readAhead)
                    let hint = hinted < hintEnd ? (max(hinted, fileOffset), hintEnd) : nil
                    if let hint { hinted = hint.1 }
                    do {
                        n = try await BlockingPool.shared.run {
                            if let (from, to) = hint { _ = posix_fadvise(fd, off_t(from), off_t(to - from), Int32(POSIX_FADV_WILLNEED)) }
                            return try preadFully(fd, target, want, at)
                        }
                    } catch {
                        for p in parts { p.task.cancel() }
                        warn("\(path): \(error), skipped"); return nil
                    }
                    atEnd = n < want || fileOffset + Int64(n) >= limit
                    filled += n; fileOffset += Int64(n)
                    countRead(n)
                }
                if filled == 0 { break }
                var consumed = 0
                while filled - consumed >= maxChunk || (atEnd && consumed < filled) {
                    let cut = chunker.cutPoint(UnsafeRawBufferPointer(start: buffer + consumed, count: filled - consumed), atEnd: atEnd)
                    let chunk = chunkBuffers.data(copying: buffer + consumed, count: cut)
                    parts.append((chunkStart, cut, await spawnChunk(chunk)))
                    chunkStart += UInt64(cut)
                    consumed += cut
                }
                if consumed > 0 {
                    memmove(buffer, buffer + consumed, filled - consumed)
                    filled -= consumed
                }
                if atEnd && filled == 0 { break }
                report(path)
            }
            end = max(end, Int64(chunkStart))
        }
        let finalSize = max(UInt64(end), before.size)
        noteIfChanged(path, fd: fd, before: before, read: finalSize)
        var out = node
        out.size = finalSize
        return .chunks(out, parts)
    }

    /// Stores a directory's tree. When it equals the directory's tree in the
    /// parent snapshot, that tree is reused without encoding or hashing.
    func saveTree(_ pending: [Pending], parent: (Tree, Hash256)? = nil) async throws -> Hash256 {
        var nodes: [Node] = []
        nodes.reserveCapacity(pending.count)
        for p in pending {
            switch p {
            case let .ready(n): nodes.append(n)
            case let .smallFile(task): if let n = try await task.value { nodes.append(n) }
            case let .chunks(n, parts):
                var node = n
                var extents: [Extent] = []
                extents.reserveCapacity(parts.count)
                for part in parts { extents.append(Extent(offset: part.offset, length: UInt32(part.length), blob: try await part.task.value)) }
                node.content = extents
                nodes.append(node)
            case let .directory(n, task):
                var node = n
                node.subtree = try await task.value
                nodes.append(node)
            }
        }
        if let (old, id) = parent, old.nodes == nodes, repository.contains(blob: id) {
            writer.noteReused([id])
            return id
        }
        let data = TreeCodec.encode(Tree(nodes: nodes))
        do { return try await writer.save(data, type: .tree) } catch { fail(error); throw error }
    }

    func commit(tree: Hash256) async throws -> BackupResult {
        try checkFailure()
        try await writer.finish()
        let summary: SnapshotSummary = lock.withLock {
            SnapshotSummary(files: files, directories: directories, bytesRead: bytesRead, bytesTotal: bytesTotal,
                            bytesAdded: writer.bytesAdded, blobsAdded: writer.blobsAdded, filesUnchanged: unchanged,
                            warnings: warnings, durationSeconds: options.now().timeIntervalSince(started))
        }
        let snapshot = Snapshot(time: started, hostname: options.hostname, username: NameCache().user(getuid()) ?? "\(getuid())",
                                paths: paths, kind: kind, tree: tree, parent: parentID, tags: options.tags, summary: summary, labels: options.labels)
        let id = try await repository.saveSnapshot(snapshot)
        return BackupResult(snapshotID: id, snapshot: snapshot)
    }

    // MARK: volumes

    func runVolume(_ path: String) async throws -> BackupResult {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw EngineError(.source, "cannot open volume \(path): \(errnoText())") }
        defer { close(fd) }
        guard case let .success(st) = FileStat.of(fd: fd), st.isRegular || st.isBlockDevice else {
            throw EngineError(.source, "\(path) is not a disk image file or block device")
        }
        let end = lseek(fd, 0, SEEK_END)
        if end < 0 { throw EngineError(.source, "cannot size volume \(path): \(errnoText())") }
        let size = UInt64(end)
        lock.withLock { files = 1; bytesTotal = Int64(size) }
        let block = Archiver.volumeBlockSize
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 4096)
        defer { buffer.deallocate() }
        var parts: [(offset: UInt64, length: Int, task: Task<Hash256, Error>)] = []
        var offset: UInt64 = 0
        while offset < size {
            try checkFailure()
            // Skip holes without reading them (sparse images).
            let data = lseek(fd, off_t(offset), seekData)
            if data < 0 {
                if errno == ENXIO { break }  // only a hole remains
                if errno != EINVAL { throw EngineError(.source, "\(path): SEEK_DATA: \(errnoText())") }
            } else if UInt64(data) > offset {
                offset = UInt64(data) / UInt64(block) * UInt64(block)
                if offset >= size { break }
            }
            let want = Int(min(UInt64(block), size - offset))
            let n: Int
            let at = Int64(offset)
            do { n = try await BlockingPool.shared.run { try preadFully(fd, buffer, want, at) } } catch {
                throw EngineError(.source, "\(path): read at offset \(offset): \(error)")
            }
            if n < want { throw EngineError(.source, "\(path): volume shrank while being read (short read at \(offset))") }
            countRead(n)
            if !isAllZero(buffer, n) {
                parts.append((offset, n, await spawnChunk(chunkBuffers.data(copying: buffer, count: n))))
            }
            offset += UInt64(n)
            report(path)
        }
        var node = metadataNode(name: (path as NSString).lastPathComponent, stat: st)
        node.kind = .volume
        node.size = size
        let tree = try await saveTree([.chunks(node, parts)])
        return try await commit(tree: tree)
    }
}

/// Directories read ahead of the walker: at most `limit` unconsumed at once, and no new one
/// while those already listed hold `entryLimit` entries (a listing and its parent tree cost
/// about a kilobyte per entry: 512 directories of 1 000 files held 900 MiB).
final class PrefetchCache: @unchecked Sendable {
    private let lock = NSLock()
    private let limit: Int
    private let entryLimit: Int
    private var reserved: Set<String> = []
    private var ready: [String: BackupRun.DirectoryInput] = [:]
    private var entries: [String: Int] = [:]
    private var entryTotal = 0
    /// Every listing seen (read ahead or not), for the entries a directory not yet listed will likely hold.
    private var listingsSeen = 0, entriesSeen = 0

    init(limit: Int, entryLimit: Int) {
        self.limit = limit
        self.entryLimit = entryLimit
    }

    func reserve(_ path: String) -> Bool {
        lock.withLock {
            let unlisted = reserved.count - entries.count
            let expected = entryTotal + unlisted * (listingsSeen == 0 ? 1 : max(1, entriesSeen / listingsSeen))
            guard reserved.count < limit, expected < entryLimit, !reserved.contains(path) else { return false }
            reserved.insert(path)
            return true
        }
    }

    func put(_ path: String, _ input: BackupRun.DirectoryInput) { lock.withLock { ready[path] = input } }

    /// A directory's listing arrived with `count` entries (a read-ahead one's are counted until the walker takes it).
    func noteEntries(_ path: String, _ count: Int) {
        lock.withLock {
            listingsSeen += 1
            entriesSeen += count
            guard reserved.contains(path), entries[path] == nil else { return }
            entries[path] = count
            entryTotal += count
        }
    }

    func take(_ path: String) -> BackupRun.DirectoryInput? {
        lock.withLock {
            guard let input = ready.removeValue(forKey: path) else { return nil }
            reserved.remove(path)
            if let n = entries.removeValue(forKey: path) { entryTotal -= n }
            return input
        }
    }
}

/// A value handed to a task once. A task keeps its closure (and what that captured) for as
/// long as its handle lives; capturing this box instead lets the value go as soon as the
/// task has taken it (a chunk's bytes once packed, a directory's entries once its tree is
/// stored: with handles kept until the parent's tree is stored, a million-file tree held
/// every node until the end).
final class HandOff<Value>: @unchecked Sendable {
    private var value: Value?
    init(_ value: Value) { self.value = value }
    func take() -> Value {
        defer { value = nil }
        return value!
    }
}

// Linux values; Glibc does not export these to Swift.
let oNoATime: Int32 = 0o1000000
let seekData: Int32 = 3
let seekHole: Int32 = 4

func isAllZero(_ p: UnsafeRawPointer, _ count: Int) -> Bool {
    let words = count / 8
    let w = p.assumingMemoryBound(to: UInt64.self)
    var acc: UInt64 = 0
    var i = 0
    while i < words {
        acc |= w[i]
        if i & 1023 == 1023 && acc != 0 { return false }
        i += 1
    }
    if acc != 0 { return false }
    let b = p.assumingMemoryBound(to: UInt8.self)
    for j in (words * 8)..<count where b[j] != 0 { return false }
    return true
}
