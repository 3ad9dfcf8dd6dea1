import CofferAPI
import CofferBlobStore
import CofferCrypto
import CofferEngine
import CofferRepository
import CofferService
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The agent's side of its jobs (docs/agents.md): it claims a job with its
// credential, reads and seals the data here with the job's writer session,
// asks which blobs the vault holds, uploads only new objects through the
// server's append-only endpoint, and reports. It holds no key that opens
// anything stored before this job.

/// The server's append-only endpoint for one job, as a blob store: it takes
/// new objects and gives nothing back (the agent reads nothing from the vault).
final class AgentObjectStore: BlobStore, @unchecked Sendable {
    let client: APIClient
    let job: String

    init(client: APIClient, job: String) {
        self.client = client
        self.job = job
    }

    var location: String { "agent job endpoint \(job)" }
    /// One pack uploading at a time: the server checks each pack while it arrives, on the same cores as the agent when both share a host.
    var isRemote: Bool { false }

    func put(_ key: String, data: Data) async throws {
        let parts = key.split(separator: "/")
        guard parts.count >= 2, let kind = parts.first, let name = parts.last else { throw BlobStoreError.invalidKey(key, "not an object a writer stores") }
        try await AgentObjectStore.retrying {
            // Objects are named by their SHA-256: the signature's payload hash without a second pass.
            _ = try await self.client.send("PUT", "\(self.job)/objects/\(kind)/\(name)", raw: data, contentType: "application/octet-stream",
                                           contentSHA256: String(name))
        }
    }

    func get(_ key: String, range: Range<Int>?) async throws -> Data { throw BlobStoreError.notFound(key) }
    func head(_ key: String) async throws -> BlobInfo { throw BlobStoreError.notFound(key) }
    func list(prefix: String) async throws -> [BlobInfo] { [] }
    func delete(_ key: String) async throws { throw BlobStoreError.unsupported("an agent deletes nothing") }

    /// Network failures and 5xx are tried again (objects are named by their hash, so a repeat is harmless); a refusal is not.
    static func retrying<T>(_ body: () async throws -> T) async throws -> T {
        var delay: UInt64 = 500_000_000
        for attempt in 1... {
            do { return try await body() } catch let error as CLIError where attempt < 4 && (error.status == 0 || error.status >= 500) {
                try await Task.sleep(nanoseconds: delay)
                delay *= 2
            }
        }
        fatalError("unreachable")
    }
}

/// Asks the server, in batches, which blobs the vault already holds.
struct AgentPresence: BlobPresence {
    let client: APIClient
    let job: String

    func held(_ ids: [Hash256]) async throws -> Set<Hash256> {
        var out = Set<Hash256>()
        for start in stride(from: 0, to: ids.count, by: 10_000) {
            let batch = ids[start..<min(ids.count, start + 10_000)].map(\.hex)
            let answer = try await AgentObjectStore.retrying {
                try await client.call("POST", "\(job)/held", body: AgentJobs.HeldRequest(ids: batch), as: AgentJobs.HeldResponse.self)
            }
            for hex in answer.held { if let id = Hash256(hex: hex) { out.insert(id) } }
        }
        return out
    }
}

/// The trees and snapshot this agent wrote last for one resource, as
/// plaintext files (0600) under its state directory: names, sizes, times
/// and blob ids, no file contents. The agent cannot read them back from
/// the vault; with them an unchanged file is not read again.
final class FileTreeStash: TreeStash, @unchecked Sendable {
    let directory: String

    init(directory: String) throws {
        self.directory = directory
        for sub in ["", "/trees", "/snapshots"] {
            try FileManager.default.createDirectory(atPath: directory + sub, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    private func treePath(_ id: Hash256) -> String { "\(directory)/trees/\(id.hex)" }
    private func snapshotPath(_ id: Hash256) -> String { "\(directory)/snapshots/\(id.hex)" }

    func tree(_ id: Hash256) -> Data? { FileManager.default.contents(atPath: treePath(id)) }

    func snapshot(_ id: Hash256) -> Snapshot? {
        FileManager.default.contents(atPath: snapshotPath(id)).flatMap { try? ModelCoding.decoder().decode(Snapshot.self, from: $0) }
    }

    func keep(tree id: Hash256, plaintext: Data) {
        guard !FileManager.default.fileExists(atPath: treePath(id)) else { return }
        try? CofferServices.writePrivateFile(treePath(id), plaintext)
    }

    func keep(snapshot: Snapshot, id: Hash256) {
        if let data = try? ModelCoding.encoder().encode(snapshot) { try? CofferServices.writePrivateFile(snapshotPath(id), data) }
    }

    /// The snapshot the next backup starts from.
    var last: Hash256? {
        FileManager.default.contents(atPath: directory + "/last").flatMap { Hash256(hex: String(decoding: $0, as: UTF8.self)) }
    }

    /// Makes `id` the last snapshot (once the server has accepted it) and drops every tree and snapshot it does not need.
    func commit(_ id: Hash256, reachable trees: Set<Hash256>) throws {
        try CofferServices.writePrivateFile(directory + "/last", Data(id.hex.utf8))
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: directory + "/trees")) ?? [] where Hash256(hex: name).map({ !trees.contains($0) }) ?? true {
            try? fm.removeItem(atPath: directory + "/trees/" + name)
        }
        for name in (try? fm.contentsOfDirectory(atPath: directory + "/snapshots")) ?? [] where name != id.hex {
            try? fm.removeItem(atPath: directory + "/snapshots/" + name)
        }
    }
}

/// Claims and runs this agent's jobs.
struct AgentJobRunner {
    let client: APIClient
    let agentID: String
    /// The host operator's roots: nothing outside them is read.
    let roots: [String]
    let stateDirectory: String

    /// Waits up to `wait` seconds for a job and runs it; whether one ran.
    func runNext(wait: Int) async throws -> Bool {
        let answer = try await client.call("POST", "/agents/\(agentID)/jobs/claim", body: AgentJobs.ClaimRequest(waitSeconds: wait),
                                           as: AgentJobs.ClaimResponse.self)
        guard let job = answer.job else { return false }
        await run(job)
        return true
    }

    func run(_ job: AgentJobs.Assignment) async {
        let base = "/agents/\(agentID)/jobs/\(job.jobID)"
        let meter = ProgressMeter(expected: job.parts.map(\.expectedBytes).reduce(0, +))
        let meterTotal = job.kind == "restore" ? (job.items ?? []).map(\.expectedBytes).reduce(0, +) : 0
        if meterTotal > 0 { meter.update(current: 0, expected: meterTotal) }
        let work = Task { () -> Report in
            job.kind == "restore" ? .restored(try await restore(job, base: base, meter: meter)) : .backedUp(try await backUp(job, base: base, meter: meter))
        }
        // Progress also keeps the job's lease; a job the server took back (409) is stopped.
        let reporter = Task {
            let every = UInt64(max(1, min(10, job.leaseSeconds / 4))) * 1_000_000_000
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: every)
                if Task.isCancelled { return }
                do {
                    try await client.send("POST", "\(base)/progress", body: AgentJobs.ProgressRequest(percent: meter.percent))
                } catch let error as CLIError where error.status == 409 || error.status == 404 {
                    stderrLine("coffer agent: job \(job.jobID) was taken back by the server (\(error)); stopping it")
                    work.cancel()
                    return
                } catch {}
            }
        }
        defer { reporter.cancel() }
        do {
            switch try await work.value {
            case let .backedUp((snapshots, commits)):
                try await client.send("POST", "\(base)/complete", body: AgentJobs.CompleteRequest(snapshots: snapshots))
                for commit in commits { try? commit() }
            case let .restored((errors, skipped)):
                try await client.send("POST", "\(base)/complete", body: AgentJobs.CompleteRequest(errors: errors, skipped: skipped))
            }
            stderrLine("coffer agent: job \(job.jobID) done (\(job.kind) of backup \(job.backupID))")
        } catch is CancellationError {
            return
        } catch {
            stderrLine("coffer agent: job \(job.jobID) failed: \(error)")
            _ = try? await client.send("POST", "\(base)/fail", body: AgentJobs.FailRequest(message: "\(error)"))
        }
    }

    /// Where a part may be read: its path exactly as registered, with no symlink in it, under a root of this host.
    func checkedPath(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else { throw CLIError("\(path) does not exist on this host") }
        defer { free(resolved) }
        let real = String(cString: resolved)
        guard real == path else { throw CLIError("\(path) is not a plain path on this host (it resolves to \(real)); register the real path") }
        guard AgentCommand.RootOptions.covers(roots, real) else {
            throw CLIError("\(path) is outside every --resource-root of this host (\(roots.joined(separator: ", "))): not read")
        }
        return real
    }

    typealias Commit = () throws -> Void
    enum Report {
        case backedUp(([String: String], [Commit]))
        case restored((errors: [String], skipped: [String]))
    }

    /// Writes each item from the blobs the server sends, confined beneath its resource on this host.
    func restore(_ job: AgentJobs.Assignment, base: String, meter: ProgressMeter) async throws -> (errors: [String], skipped: [String]) {
        guard let idKey = job.repository["id_key"].flatMap({ Data(base64Encoded: $0) }), idKey.count == 32,
              let seed = job.repository["chunker_seed"].flatMap(UInt64.init) else { throw CLIError("the server's restore grant is malformed") }
        let source = RemoteSnapshotSource(client: client, job: base, keys: RepositoryKeys(writerIDKey: Array(idKey), chunkerSeed: seed, sessionKey: randomBytes(32)))
        var errors: [String] = [], skipped: [String] = []
        for item in job.items ?? [] {
            let resource = try checkedPath(item.resourcePath)
            guard item.targetPath == resource || item.targetPath.hasPrefix(resource == "/" ? "/" : resource + "/") else {
                throw CLIError("\(item.targetPath) is not inside \(resource)")
            }
            guard let snapshot = Hash256(hex: item.snapshotID) else { throw CLIError("backup \(item.backupID) has no snapshot") }
            var options = RestoreOptions()
            options.specialFiles = item.specialFiles
            if item.resourceType != "volume" { options.beneath = resource }
            options.progress = { p in meter.update(current: p.bytesWritten, expected: nil) }
            let result = try await Restorer(repository: source).restore(snapshot: snapshot, target: item.targetPath, options: options)
            errors += result.errors
            skipped += result.skipped
            meter.finishPart(item.expectedBytes)
        }
        return (errors, skipped)
    }

    func backUp(_ job: AgentJobs.Assignment, base: String, meter: ProgressMeter) async throws -> ([String: String], [Commit]) {
        guard job.kind == "backup" else { throw CLIError("this agent does not run \(job.kind) jobs") }
        guard let grant = WriterGrant(fields: job.repository) else { throw CLIError("the server's writer session is malformed") }
        let presence = AgentPresence(client: client, job: base)
        var capacity = job.maxBytesAdded
        var snapshots: [String: String] = [:]
        var commits: [Commit] = []
        for part in job.parts {
            let path = try checkedPath(part.path)
            guard isPlainID(part.resourceID) else { throw CLIError("resource id \(part.resourceID) is not a plain id") }
            let stash = try FileTreeStash(directory: stateDirectory + "/stash/" + part.resourceID)
            let repository = try Repository.writer(store: AgentObjectStore(client: client, job: base), grant: grant, presence: presence, stash: stash)
            var options = BackupOptions()
            options.hostname = "coffer"
            options.tags = part.tags
            options.labels = part.labels
            options.maxBytesAdded = capacity
            options.excludes = Set(part.excludePaths)
            options.parent = .none
            options.progressInterval = 0.5
            options.progress = { p in meter.update(current: p.bytesRead, expected: p.bytesExpected) }
            // The last snapshot kept here, if the vault still holds what it references: unchanged files are not read again.
            var parentBlobs: (tree: Hash256, ids: Set<Hash256>)?
            if let last = stash.last, let kept = stash.snapshot(last), let ids = try? await repository.stashedBlobs(of: kept) {
                repository.index.addKnown(try await presence.held(Array(ids)))
                options.parent = .snapshot(last)
                parentBlobs = (kept.tree, ids)
            }
            let archiver = Archiver(repository: repository)
            let result = part.resourceType == "volume" ? try await archiver.backupVolume(path: path, options: options)
                                                       : try await archiver.backup(path: path, options: options)
            meter.finishPart(result.summary.bytesTotal)
            snapshots[part.backupID] = result.snapshotID.hex
            if let left = capacity { capacity = max(0, left - result.summary.bytesAdded) }
            // What a snapshot references follows from its root tree alone: an unchanged backup's is its parent's, walked above.
            let trees: Set<Hash256>
            if let parentBlobs, parentBlobs.tree == result.snapshot.tree {
                trees = parentBlobs.ids
            } else {
                trees = try await repository.stashedBlobs(of: result.snapshot)
            }
            commits.append { try stash.commit(result.snapshotID, reachable: trees) }
        }
        return (snapshots, commits)
    }
}

/// A restore's view of the vault through the server: the snapshots and the
/// plaintext blobs this job needs, nothing else (the agent holds no key that
/// opens the vault). Blobs are grouped into 16 buckets by id, so the
/// restorer fetches several batches at once.
final class RemoteSnapshotSource: SnapshotSource, @unchecked Sendable {
    let client: APIClient
    let job: String
    let keys: RepositoryKeys

    init(client: APIClient, job: String, keys: RepositoryKeys) {
        self.client = client
        self.job = job
        self.keys = keys
    }

    func prepareIndex() async throws {}
    var damagedIndexFiles: [String] { [] }

    func loadSnapshot(_ id: Hash256) async throws -> Snapshot {
        let data = try await AgentObjectStore.retrying { try await client.send("GET", "\(job)/snapshots/\(id.hex)", raw: Data(), contentType: "application/json").data }
        return try ModelCoding.decoder().decode(Snapshot.self, from: data)
    }

    func loadTree(_ id: Hash256) async throws -> Tree { try TreeCodec.decode(try await loadBlob(id, type: .tree), what: "tree \(id.short)") }

    func loadBlob(_ id: Hash256, type: BlobType) async throws -> Data {
        guard let data = try await fetch([id])[id] else { throw CLIError("the server did not send blob \(id.short)") }
        return data
    }

    /// Each "pack" is a request to the server for up to 256 blobs (`readBlobs`).
    var packReadsAtOnce: Int { 6 }

    func locate(_ id: Hash256) -> (pack: Hash256, entry: PackEntry)? {
        (Hash256(bytes: [UInt8(truncatingIfNeeded: id.a >> 60)]), PackEntry(type: .data, id: id, offset: 0, length: 0, rawLength: 0))
    }

    func readBlobs(pack: Hash256, entries: [PackEntry], _ body: (PackEntry, Result<Data, Error>) async throws -> Void) async rethrows {
        for start in stride(from: 0, to: entries.count, by: 256) {
            let batch = Array(entries[start..<min(entries.count, start + 256)])
            let answer: Result<[Hash256: Data], Error>
            do { answer = .success(try await fetch(batch.map(\.id))) } catch { answer = .failure(error) }
            for entry in batch {
                switch answer {
                case let .success(found): try await body(entry, found[entry.id].map { .success($0) } ?? .failure(CLIError("the server did not send blob \(entry.id.short)")))
                case let .failure(error): try await body(entry, .failure(error))
                }
            }
        }
    }

    /// Asks until every id is answered (an answer stops at ~32 MiB); each blob is checked against its id.
    func fetch(_ ids: [Hash256]) async throws -> [Hash256: Data] {
        var out: [Hash256: Data] = [:]
        var left = ids
        while !left.isEmpty {
            let request = try JSONEncoder().encode(AgentJobs.BlobsRequest(ids: left.map(\.hex)))
            let data = try await AgentObjectStore.retrying { try await client.send("POST", "\(job)/blobs", raw: request, contentType: "application/json").data }
            var position = data.startIndex
            var got = 0
            while data.endIndex - position >= 36 {
                let id = Hash256(bytes: data[position..<(position + 32)])
                var length: UInt32 = 0
                withUnsafeMutableBytes(of: &length) { $0.copyBytes(from: data[(position + 32)..<(position + 36)]) }
                let end = position + 36 + Int(UInt32(littleEndian: length))
                guard end <= data.endIndex else { throw CLIError("the server's answer for blob \(id.short) is truncated") }
                let plain = Data(data[(position + 36)..<end])
                guard keys.blobID(plain) == id else { throw CLIError("blob \(id.short) from the server does not match its id") }
                out[id] = plain
                got += 1
                position = end
            }
            guard got > 0 else { throw CLIError("the server answered none of \(left.count) blobs") }
            left = left.filter { out[$0] == nil }
        }
        return out
    }
}

/// Ids the server makes (UUIDs, hex) are used as file names here: nothing else is.
func isPlainID(_ id: String) -> Bool {
    !id.isEmpty && id.count <= 64 && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || $0 == 45 }
}
