import CofferSystem
import ArgumentParser
import CofferBlobStore
import CofferCrypto
import CofferEngine
import CofferRepository
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct CofferCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "coffer",
        abstract: "Coffer: deduplicating, compressed, encrypted backups.",
        version: CofferVersion.string,
        subcommands: [Serve.self, Admin.self, ResourceCommand.self, VaultCommand.self, PolicyCommand.self, CheckpointCommand.self, BackupCommand.self, BackupCommand.Restore.self, OplogCommand.self, StatusCommand.self, RDSCommand.self, AgentCommand.self, Repo.self, OpenAPICommand.self]
    )
    public init() {}

    /// What the executable does before parsing its arguments (allocator settings).
    public static func prepareProcess() { ProcessMemory.limitArenas() }
}

struct Repo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "repo",
        abstract: "Work on a repository directly (offline; no server or catalog needed).",
        subcommands: [Init.self, Backup.self, Snapshots.self, Ls.self, Restore.self, Check.self, Forget.self, Prune.self, Key.self]
    )
}

struct RepoOptions: ParsableArguments {
    @Option(name: .customLong("repo"), help: "Repository URL, e.g. file:///srv/backups (or COFFER_REPOSITORY).")
    var repository: String?

    @Option(name: [.customLong("key-file"), .customLong("master-key-file")],
            help: "File holding the key (instead of COFFER_PASSWORD); a Coffer server's master key file opens every vault's repository.")
    var keyFile: String?

    func store() throws -> BlobStore {
        guard let url = repository ?? ProcessInfo.processInfo.environment["COFFER_REPOSITORY"], !url.isEmpty else {
            throw CLIError("no repository given: pass --repo file:///path (or s3://BUCKET/PREFIX) or set COFFER_REPOSITORY")
        }
        return try RepositoryStores.factory(cacheRoot: RepositoryStores.userCacheDirectory()).open(url: url)
    }

    func secret(creating: Bool = false) throws -> MasterSecret {
        if let keyFile {
            if creating && !FileManager.default.fileExists(atPath: keyFile) {
                let fd = Glibc.open(keyFile, O_WRONLY | O_CREAT | O_EXCL, 0o600)
                guard fd >= 0 else { throw CLIError("cannot create key file \(keyFile): \(String(cString: strerror(errno)))") }
                let bytes = randomBytes(32)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, 32) }
                fsync(fd)
                close(fd)
            }
            guard let data = FileManager.default.contents(atPath: keyFile) else { throw CLIError("cannot read key file \(keyFile)") }
            guard data.count >= 16 else { throw CLIError("key file \(keyFile) is too short (at least 16 bytes of random data)") }
            return .keyFile([UInt8](data))
        }
        if let password = ProcessInfo.processInfo.environment["COFFER_PASSWORD"], !password.isEmpty {
            return .passphrase(password)
        }
        throw CLIError("no key given: set COFFER_PASSWORD or pass --key-file FILE")
    }

    /// `lowMemory` (backup) keeps peak RSS down at some cost in page faults;
    /// readers (restore, check) prefer fewer faults.
    func open(lowMemory: Bool = false) async throws -> Repository {
        tuneAllocator(mmapThreshold: lowMemory ? 256 << 10 : 4 << 20)
        return try await Repository.open(store: store(), secret: secret())
    }
}

/// glibc raises its mmap threshold to the size of the largest freed block
/// (up to 32 MiB), after which chunk and pack buffers come from per-thread
/// arenas that never shrink: peak RSS doubled. A fixed threshold keeps every
/// buffer above it in its own mapping, returned when freed
/// (docs/benchmarks.md has the measurements).
func tuneAllocator(mmapThreshold: Int32) {
    #if canImport(Glibc)
    if ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] != nil { return }  // the operator's choice wins
    let mMmapThreshold: Int32 = -3  // <malloc.h>, which Glibc's module does not export
    _ = glibcMallopt(mMmapThreshold, mmapThreshold)
    #endif
}

#if canImport(Glibc)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

struct CLIError: Error, CustomStringConvertible {
    let description: String
    /// The HTTP status of a server's refusal (0: not one).
    var status = 0
    init(_ d: String, status: Int = 0) {
        description = d
        self.status = status
    }
}

/// A listing: one JSON array, or one text line per item.
func printList(_ json: Bool, _ objects: [[String: Any]], lines: [String]) {
    if json {
        let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("[]".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    } else {
        for line in lines { print(line) }
    }
}

/// Prints a JSON object on one line.
func printJSON(_ object: Any) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}

func stderrLine(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a repository.")
    @OptionGroup var repo: RepoOptions
    @Option(help: "Pack size in MiB (4-512).") var packSize = 16
    @Option(help: "zstd level (1-19).") var compressionLevel: Int32 = 3
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard (4...512).contains(packSize) else { throw ValidationError("--pack-size must be between 4 and 512 (MiB)") }
        guard (1...19).contains(compressionLevel) else { throw ValidationError("--compression-level must be between 1 and 19") }
    }

    func run() async throws {
        var options = RepositoryOptions()
        options.packSize = packSize << 20
        options.compressionLevel = compressionLevel
        let store = try repo.store()
        let r = try await Repository.initialize(store: store, secret: repo.secret(creating: true), options: options)
        if json { printJSON(["id": r.config.id, "location": store.location]) } else { print("created repository \(r.config.id) at \(store.location)") }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup", abstract: "Back up a directory, a file, or (with --volume) a disk image or block device.")
    @OptionGroup var repo: RepoOptions
    @Argument(help: "What to back up.") var path: String
    @Flag(help: "Back up a disk image or block device as a volume (fixed 4 MiB blocks, holes skipped).") var volume = false
    @Option(help: "Tag the snapshot (repeatable).") var tag: [String] = []
    @Option(help: "Parent snapshot for change detection (default: latest of the same path and host).") var parent: String?
    @Flag(help: "Read every file, ignoring any parent snapshot.") var noParent = false
    @Option(help: "Host name recorded in the snapshot.") var host: String?
    @Flag(help: "Machine-readable progress and summary, one JSON object per line.") var json = false

    func run() async throws {
        // The source is listed while the key is derived and the store listed; the archiver takes those listings.
        let warmer = volume ? nil : SourceWarmer(path: Archiver.absolute(path))
        defer { warmer?.stop() }
        let repository = try await repo.open(lowMemory: true)
        var options = BackupOptions()
        options.tags = tag
        options.listings = warmer
        if let host { options.hostname = host }
        if noParent { options.parent = .none } else if let parent { options.parent = .snapshot(try await repository.resolveSnapshot(parent)) }
        let tty = isatty(2) == 1
        let started = Date()
        if json {
            options.progress = { p in
                printJSON(["message_type": "status", "files": p.files, "bytes_read": p.bytesRead, "bytes_added": p.bytesAdded, "seconds_elapsed": p.elapsed])
            }
        } else if tty {
            options.progress = { p in
                let rate = p.elapsed > 0 ? Double(p.bytesRead) / p.elapsed : 0
                var line = String(format: "[%@] %d files, %@ read, %@ added, %@/s", elapsedText(p.elapsed), p.files, formatBytes(p.bytesRead), formatBytes(p.bytesAdded), formatBytes(Int64(rate)))
                if let total = p.bytesExpected, rate > 0, total > p.bytesRead { line += ", ETA " + elapsedText(Double(total - p.bytesRead) / rate) }
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            }
        }
        let archiver = Archiver(repository: repository)
        warmer?.stop()  // the archiver lists ahead of its own walk from here
        let result = volume ? try await archiver.backupVolume(path: path, options: options) : try await archiver.backup(path: path, options: options)
        if tty && !json { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let s = result.summary
        for w in s.warnings { stderrLine("warning: \(w)") }
        if json {
            printJSON(["message_type": "summary", "snapshot_id": result.snapshotID.hex, "files": s.files, "directories": s.directories,
                       "files_unchanged": s.filesUnchanged, "bytes_read": s.bytesRead, "bytes_total": s.bytesTotal, "bytes_added": s.bytesAdded,
                       "blobs_added": s.blobsAdded, "duration_seconds": Date().timeIntervalSince(started), "warnings": s.warnings])
        } else {
            print("snapshot \(result.snapshotID.short) saved: \(s.files) files (\(s.filesUnchanged) unchanged), \(formatBytes(s.bytesRead)) read, \(formatBytes(s.bytesAdded)) added in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
        if !s.warnings.isEmpty { throw ExitCode(3) }
    }
}

func elapsedText(_ t: TimeInterval) -> String {
    let s = Int(t)
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

func snapshotJSON(_ id: Hash256, _ s: Snapshot) -> [String: Any] {
    var o: [String: Any] = ["id": id.hex, "short_id": id.short, "time": ModelCoding.formatDate(s.time), "hostname": s.hostname,
                            "username": s.username, "paths": s.paths, "kind": s.kind.rawValue, "tags": s.tags, "tree": s.tree.hex]
    if let p = s.parent { o["parent"] = p.hex }
    if let sum = s.summary {
        o["summary"] = ["files": sum.files, "directories": sum.directories, "bytes_read": sum.bytesRead, "bytes_total": sum.bytesTotal,
                        "bytes_added": sum.bytesAdded, "files_unchanged": sum.filesUnchanged, "warnings": sum.warnings.count,
                        "duration_seconds": sum.durationSeconds] as [String: Any]
    }
    return o
}

struct Snapshots: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List snapshots, oldest first.")
    @OptionGroup var repo: RepoOptions
    @Flag(help: "Print a JSON array.") var json = false

    func run() async throws {
        let repository = try await repo.open()
        let (all, damaged) = try await repository.listSnapshots()
        if json {
            let data = try JSONSerialization.data(withJSONObject: all.map { snapshotJSON($0.0, $0.1) }, options: [.sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            print("ID        Time                      Host          Kind    Paths")
            for (id, s) in all {
                print("\(id.short)  \(ModelCoding.formatDate(s.time).padding(toLength: 24, withPad: " ", startingAt: 0))  \(s.hostname.padding(toLength: 12, withPad: " ", startingAt: 0))  \(s.kind.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))  \(s.paths.joined(separator: ", "))")
            }
            print("\(all.count) snapshots")
        }
        for d in damaged { stderrLine("error: \(d)") }
        if !damaged.isEmpty { throw ExitCode(1) }
    }
}

struct Ls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the files of a snapshot, or one directory of it.")
    @OptionGroup var repo: RepoOptions
    @Argument(help: "Snapshot id, unique prefix, or 'latest'.") var snapshot: String
    @Argument(help: "A directory of the snapshot, relative to the backed-up path (or under it): list only its entries, reading only the trees on the way.")
    var directory: String?
    @Flag(help: "One JSON object per line.") var json = false

    func run() async throws {
        let repository = try await repo.open()
        // A listing reads trees only: the data blobs' entries (most of a tree of small files) are skipped.
        try await repository.loadIndex(only: .tree)
        let id = try await repository.resolveSnapshot(snapshot)
        let s = try await repository.loadSnapshot(id)
        if let directory {
            let relative = Self.relative(directory, to: s.paths)
            let tree = try await TreeWalker(repository: repository).directory(s.tree, at: relative)
            let base = relative.split(separator: "/").joined(separator: "/")
            for node in tree.nodes { show(base.isEmpty ? node.name : base + "/" + node.name, node) }
            return
        }
        var seen = Set<Hash256>()
        var failed = false
        try await TreeWalker(repository: repository).walk(s.tree, seen: &seen, visit: { path, node in
            show(path, node)
        }, unreadable: { path, _, error in
            failed = true
            stderrLine("error: \(path): \(error)")
        })
        if failed { throw ExitCode(1) }
    }

    /// A directory named by its absolute path under the backed-up directory becomes relative to it.
    static func relative(_ directory: String, to paths: [String]) -> String {
        for root in paths where root != "/" {
            if directory == root { return "" }
            if directory.hasPrefix(root + "/") { return String(directory.dropFirst(root.count + 1)) }
        }
        return directory
    }

    func show(_ path: String, _ node: Node) {
        if json {
            printJSON(["path": path, "type": node.kind.rawValue, "size": node.size, "mode": node.mode, "mtime": node.mtime.seconds])
        } else {
            print("\(node.kind == .directory ? "d" : node.kind == .symlink ? "l" : "-") \(String(node.mode, radix: 8).leftPadded(4)) \(String(node.size).leftPadded(12)) \(path)\(node.linkTarget.map { " -> \($0)" } ?? "")")
        }
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore a snapshot (SNAPSHOT or SNAPSHOT:path) into a directory; a volume onto a file or block device.")
    @OptionGroup var repo: RepoOptions
    @Argument(help: "Snapshot id, unique prefix or 'latest', optionally ':path/inside'.") var snapshot: String
    @Option(help: "Directory to restore into (its contents become the snapshot's), or for a volume a file/device.") var target: String
    @Flag(help: "Skip blocks already identical at the target.") var delta = false
    @Option(help: "Packs read at once (1-64; default 4 from an object store, 6 from local disk).") var concurrency: Int?
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws {
        if let concurrency, !(1...64).contains(concurrency) { throw ValidationError("--concurrency must be between 1 and 64") }
    }

    func run() async throws {
        let repository = try await repo.open()
        var options = RestoreOptions()
        options.delta = delta
        options.concurrency = concurrency
        var spec = snapshot
        if let colon = snapshot.firstIndex(of: ":") {
            spec = String(snapshot[..<colon])
            let sub = String(snapshot[snapshot.index(after: colon)...]).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !sub.isEmpty { options.subpath = sub }
        }
        let id = try await repository.resolveSnapshot(spec)
        let started = Date()
        let result = try await Restorer(repository: repository).restore(snapshot: id, target: target, options: options)
        for e in result.errors { stderrLine("error: \(e)") }
        if json {
            printJSON(["message_type": "summary", "snapshot_id": id.hex, "files": result.files, "directories": result.directories,
                       "bytes_written": result.bytesWritten, "bytes_skipped": result.bytesSkipped, "errors": result.errors,
                       "duration_seconds": Date().timeIntervalSince(started)])
        } else {
            print("restored \(result.files) files, \(formatBytes(result.bytesWritten)) written\(delta ? ", \(formatBytes(result.bytesSkipped)) already identical" : "") in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
        if !result.errors.isEmpty { throw ExitCode(1) }
    }
}

extension RepoOptions {
    init(repository: String?, keyFile: String?) {
        self.init()
        self.repository = repository
        self.keyFile = keyFile
    }
}
