import CofferCrypto
import CofferEngine
import CofferModel
import CofferRepository
import Foundation

// Jobs on an agent's resources (issue #13). The catalog gives such a job
// only to its agent (`JobStore.claim(agent:…)`); the agent long-polls for
// it with its own credential, reads and seals the data on its host, and
// reports through the calls below. The server's part is what a worker does
// around a snapshot (operation log, lease, capacity, recording the backup,
// usage, checkpoint, retention) and checking everything the agent sends:
// the objects through the repository's intake (`acceptFromWriter`), and
// at the end that each snapshot is the job's own and that every blob it
// references is held. The server never opens a path of the agent's host.

/// A job handed to an agent.
public struct AgentAssignment: Sendable {
    public enum Kind: String, Sendable { case backup, restore }
    /// One snapshot to make: the backup itself, or one disk of a server.
    public struct Part: Sendable {
        public var backupID: String
        public var resourceID: String
        /// `.fileSystem` (a directory tree) or `.volume` (a disk image or block device).
        public var resourceType: ResourceType
        public var path: String
        public var excludes: [String]
        public var tags: [String]
        public var labels: [String: String]
        /// Bytes the resource held at its last backup (for progress), if known.
        public var expectedBytes: Int64
    }
    /// One tree or disk to restore, written on the agent's host beneath `resourcePath`.
    public struct Item: Sendable {
        public var backupID: String
        public var snapshotID: String
        public var targetPath: String
        public var resourceID: String
        public var resourcePath: String
        public var resourceType: ResourceType
        /// Device nodes and setuid/setgid bits may be restored (the resource allows it).
        public var specialFiles: Bool
        public var expectedBytes: Int64
    }
    public var jobID: String
    public var kind: Kind
    public var backupID: String
    public var parts: [Part]
    public var items: [Item] = []
    /// What the vault may still take (nil: it grows).
    public var maxBytesAdded: Int64?
    /// Backups: the writer session (`WriterGrant.fields`), what the agent seals with and nothing that opens
    /// older data. Restores: only `id_key` and `chunker_seed` (to compare what is on disk); the blobs come from the server.
    public var grant: [String: String]
    /// Progress reports must come more often than this, or the job goes back to the queue.
    public var leaseSeconds: Int
}

/// The server's side of agents' jobs, for the agent routes.
public final class AgentWork: @unchecked Sendable {
    let runtime: JobRuntime
    let agents: AgentService
    /// Each running job's repository with its index loaded, kept between an agent's calls, and when it was last used.
    /// An agent that vanishes never completes or fails its job: its entry goes once idle for `cacheIdle`, or
    /// when `cacheLimit` others were used since (reopening costs an index load, nothing more).
    let lock = NSLock()
    private var repositories: [String: (repository: Repository, used: Date)] = [:]
    var cacheIdle: TimeInterval { max(120, 2 * runtime.leaseDuration) }
    static let cacheLimit = 32
    /// What a running restore may read: its snapshots and every blob they reference.
    var readable: [String: (snapshots: Set<Hash256>, blobs: Set<Hash256>)] = [:]

    public init(runtime: JobRuntime, agents: AgentService) {
        self.runtime = runtime
        self.agents = agents
    }

    static func owner(_ agent: String) -> String { "agent:" + agent }

    /// Waits up to `wait` seconds for a job of the caller's agent `agent`; nil when none came.
    public func claim(caller: Principal, agent: String, wait: TimeInterval) async throws -> AgentAssignment? {
        guard caller.canMutate else { throw ServiceError(.forbidden, "role readonly cannot run an agent's jobs") }
        _ = try await agents.agent(agent, for: caller)
        let deadline = runtime.clock.now().addingTimeInterval(min(max(wait, 0), 60))
        while true {
            if let job = try await runtime.jobs.claim(agent: agent, project: caller.projectID, owner: AgentWork.owner(agent),
                                                      now: runtime.nowMS, leaseUntil: runtime.leaseEnd()) {
                do {
                    if let assignment = try await assign(job, agent: agent) { return assignment }
                } catch {
                    await runtime.recordFailure(job, error)
                }
                continue
            }
            guard runtime.clock.now() < deadline else { return nil }
            try await runtime.clock.sleep(for: runtime.pollInterval)
        }
    }

    /// Describes a claimed job for its agent; a kind agents do not run fails.
    private func assign(_ job: JobRecord, agent: String) async throws -> AgentAssignment? {
        if job.kind == .restore { return try await assignRestore(job, agent: agent) }
        guard job.kind == .backup else {
            throw ServiceError(.internalFailure, "\(job.kind.rawValue) jobs on an agent's resources are not run by agents")
        }
        guard let backup = try await runtime.store.backup(id: job.targetId) else { return nil }
        guard let vault = try await runtime.vaults.record(id: backup.vaultId) else {
            throw ServiceError(.vaultNotFound, "vault \(backup.vaultId) no longer exists")
        }
        let children = try await runtime.store.children(of: backup.id)
        var parts: [AgentAssignment.Part] = []
        let paths = try await runtime.catalog.agents.paths(project: job.projectId, agents: [agent])[agent] ?? []
        for part in children.isEmpty ? [backup] : children {
            let resource = try await runtime.resources.view(project: part.projectId, id: part.resourceId)
            guard resource.record.agentID == agent, let path = resource.record.path, resource.type == .fileSystem || resource.type == .volume else {
                throw ServiceError(.resourceNotFound, "resource \(part.resourceId) is no longer on agent \(agent)")
            }
            let labels = try await runtime.recoveryLabels(for: part, resource: resource, vault: vault)
            parts.append(.init(backupID: part.id, resourceID: resource.record.id, resourceType: resource.type, path: path,
                               excludes: paths.first { $0.path == path }?.excludes ?? [],
                               tags: ["coffer-backup:\(part.id)", "coffer-resource:\(resource.record.id)"], labels: labels, expectedBytes: part.resourceSize))
        }
        try await runtime.endLog(job, .started)
        let repository = try await runtime.vaults.openRepository(vault)
        let grant: WriterGrant
        do { grant = try await repository.openWriterSession() } catch let e as RepositoryError where e.code == .unsupportedVersion {
            throw ServiceError(.backupFailed, "vault \(vault.name) cannot take backups from agents: \(e.description)")
        }
        // The job remembers its session: every call of the agent is checked against it, on any server process.
        guard try await runtime.jobs.setPayload(job: job.id, owner: AgentWork.owner(agent), payload: grant.session.hex) else { return nil }
        return AgentAssignment(jobID: job.id, kind: .backup, backupID: backup.id, parts: parts,
                               maxBytesAdded: vault.autoExpand ? nil : max(0, Int64(vault.sizeGB) << 30 - vault.usedBytes),
                               grant: grant.fields, leaseSeconds: Int(runtime.leaseDuration))
    }

    /// The backup job, if it is running for this agent of the caller's project, and its session.
    private func running(_ jobID: String, caller: Principal, agent: String) async throws -> (JobRecord, Hash256) {
        let job = try await runningJob(jobID, caller: caller, agent: agent)
        guard job.kind == .backup, let text = job.payload, let session = Hash256(hex: text) else {
            throw ServiceError.validation("job \(jobID) is not a backup job")
        }
        return (job, session)
    }

    /// The job, if it is running for this agent of the caller's project.
    func runningJob(_ jobID: String, caller: Principal, agent: String) async throws -> JobRecord {
        _ = try await agents.agent(agent, for: caller)
        guard let job = try await runtime.jobs.job(id: jobID), job.projectId == caller.projectID, job.agentId == agent else {
            throw ServiceError(.jobNotFound, "job \(jobID) does not exist for agent \(agent)")
        }
        guard job.status == .running, job.owner == AgentWork.owner(agent) else {
            forget(jobID)
            throw ServiceError(.agentJobGone, "job \(jobID) is \(job.status == .running ? "no longer held by this agent" : job.status.rawValue); stop working on it")
        }
        return job
    }

    func repository(for job: JobRecord) async throws -> Repository {
        let now = runtime.clock.now()
        let open: Repository? = lock.withLock {
            repositories = repositories.filter { now.timeIntervalSince($0.value.used) < cacheIdle }
            readable = readable.filter { repositories[$0.key] != nil }
            repositories[job.id]?.used = now
            return repositories[job.id]?.repository
        }
        if let open { return open }
        guard let backup = try await runtime.store.backup(id: job.targetId), let vault = try await runtime.vaults.record(id: backup.vaultId) else {
            throw ServiceError(.backupNotFound, "the backup of job \(job.id) no longer exists")
        }
        let repository = try await runtime.vaults.openRepository(vault)
        try await repository.loadIndex()
        lock.withLock {
            repositories[job.id] = (repository, now)
            while repositories.count > AgentWork.cacheLimit, let oldest = repositories.min(by: { $0.value.used < $1.value.used })?.key {
                repositories.removeValue(forKey: oldest)
                readable.removeValue(forKey: oldest)
            }
        }
        return repository
    }

    /// How many jobs' repositories are kept open (tests).
    public var cachedRepositories: Int { lock.withLock { repositories.count } }

    func forget(_ jobID: String) {
        lock.withLock {
            repositories.removeValue(forKey: jobID)
            readable.removeValue(forKey: jobID)
        }
    }

    /// Which of `ids` the vault holds (live): the agent stores only the others.
    public func held(caller: Principal, agent: String, job jobID: String, ids: [String]) async throws -> [String] {
        guard ids.count <= AgentWork.heldBatch else { throw ServiceError.validation("ids may list at most \(AgentWork.heldBatch) blob ids") }
        var parsed: [Hash256] = []
        parsed.reserveCapacity(ids.count)
        for (i, text) in ids.enumerated() {
            guard let id = Hash256(hex: text) else { throw ServiceError.validation("ids[\(i)] must be 64 hex digits") }
            parsed.append(id)
        }
        let (job, _) = try await running(jobID, caller: caller, agent: agent)
        let repository = try await repository(for: job)
        return parsed.filter { repository.index.hasLive($0) }.map(\.hex)
    }

    public static let heldBatch = 10_000

    /// Stores one object the agent sealed in the job's session (new names only).
    /// Refuses an upload before its body is read: the caller's agent must hold this running backup job.
    public func checkUpload(caller: Principal, agent: String, job jobID: String, kind kindName: String) async throws {
        guard Repository.WriterObject(rawValue: kindName) != nil else { throw ServiceError.validation("object kind must be data, index or snapshots") }
        _ = try await running(jobID, caller: caller, agent: agent)
    }

    /// `verifiedSHA256`: the hex SHA-256 of `data` when the signature's check computed it.
    public func accept(caller: Principal, agent: String, job jobID: String, kind kindName: String, name: String, data: Data,
                       verifiedSHA256: String? = nil) async throws {
        guard let kind = Repository.WriterObject(rawValue: kindName) else { throw ServiceError.validation("object kind must be data, index or snapshots") }
        let (job, session) = try await running(jobID, caller: caller, agent: agent)
        let repository = try await repository(for: job)
        do {
            try await repository.acceptFromWriter(kind, name: name, data: data, session: session, verifiedSHA256: verifiedSHA256)
        } catch let e as RepositoryError where e.code == .invalidArgument || e.code == .damaged {
            throw ServiceError.validation("\(kind.rawValue)/\(name.prefix(64)): \(e.description)")
        }
    }

    /// Progress, which also renews the job's lease (an agent that stops reporting loses the job).
    public func progress(caller: Principal, agent: String, job jobID: String, percent: Int) async throws {
        let job = try await runningJob(jobID, caller: caller, agent: agent)
        guard try await runtime.jobs.extendLease(job: job.id, owner: AgentWork.owner(agent), until: runtime.leaseEnd()) else {
            throw ServiceError(.agentJobGone, "job \(jobID) is no longer held by this agent")
        }
        try await runtime.logs.setProgress(log: job.operationLogId, percent: min(99, max(0, percent)), now: runtime.nowMS)
    }

    /// The agent's snapshots, one per part: each must be the job's own and
    /// reference only what the vault holds; then the backup is available.
    public func complete(caller: Principal, agent: String, job jobID: String, snapshots texts: [String: String]) async throws {
        var snapshots: [String: Hash256] = [:]
        for (backupID, text) in texts {
            guard let id = Hash256(hex: text) else { throw ServiceError.validation("snapshots[\(String(backupID.prefix(64)).debugDescription)] must be 64 hex digits") }
            snapshots[backupID] = id
        }
        let (job, session) = try await running(jobID, caller: caller, agent: agent)
        defer { forget(jobID) }
        do {
            guard let backup = try await runtime.store.backup(id: job.targetId), let vault = try await runtime.vaults.record(id: backup.vaultId) else {
                throw ServiceError(.backupNotFound, "the backup of job \(jobID) no longer exists")
            }
            let children = try await runtime.store.children(of: backup.id)
            let parts = children.isEmpty ? [backup] : children
            let repository = try await runtime.vaults.openRepository(vault)
            try await repository.loadIndex()
            var made: [String: (id: Hash256, bytesTotal: Int64, bytesRead: Int64)] = [:]
            for part in parts {
                guard let id = snapshots[part.id] else { throw ServiceError.validation("snapshots lacks backup \(part.id)") }
                let snapshot = try await repository.loadSnapshot(id)
                let resource = try await runtime.resources.view(project: part.projectId, id: part.resourceId)
                guard try await repository.session(ofSnapshot: id) == session, snapshot.tags.contains("coffer-backup:\(part.id)"),
                      snapshot.paths == [resource.record.path ?? ""], (snapshot.kind == .volume) == (resource.type == .volume) else {
                    throw ServiceError.validation("snapshot \(id.short) is not this job's snapshot of \(resource.record.name)")
                }
                let missing = try await repository.missingBlobs(of: snapshot)
                guard missing.isEmpty else {
                    throw ServiceError(.backupFailed, "snapshot \(id.short) of \(resource.record.name) references what the vault does not hold: "
                                       + missing.joined(separator: "; "))
                }
                made[part.id] = (id, snapshot.summary?.bytesTotal ?? 0, snapshot.summary?.bytesRead ?? 0)
            }
            try await runtime.recordBackupMade(job, backup: backup, children: children, snapshots: made, vault: vault, repository: repository)
            try await runtime.jobs.transition(job, to: .succeeded, error: nil, now: runtime.nowMS)
            if let afterBackup = runtime.afterBackup { await afterBackup(backup.id) }
        } catch let error as ServiceError where error.reason == .invalidRequest {
            // A malformed report is the agent's mistake: answered, and the job fails with it.
            await runtime.recordFailure(job, ServiceError(.backupFailed, "agent \(agent) reported an invalid result: \(error.description)"))
            throw error
        } catch {
            await runtime.recordFailure(job, error)
            throw error
        }
    }

    /// The agent could not do the job; `message` (about the agent's own host) is shown in the operation log.
    public func fail(caller: Principal, agent: String, job jobID: String, message: String) async throws {
        let job = try await runningJob(jobID, caller: caller, agent: agent)
        forget(jobID)
        let text = String(String(message.unicodeScalars.filter { $0.properties.generalCategory != .control }).prefix(1000))
        await runtime.recordFailure(job, ServiceError(job.kind == .restore ? .restoreIncomplete : .backupFailed,
                                                      "agent \(agent): \(text.isEmpty ? "failed without a reason" : text)"))
    }
}

// MARK: restores on an agent's host

extension AgentWork {
    /// A restore for the agent: each item's target (checked again now) and
    /// the id key to compare what is on disk. No key that opens the vault:
    /// the agent asks for the plaintext of the blobs this restore needs.
    func assignRestore(_ job: JobRecord, agent: String) async throws -> AgentAssignment? {
        guard let backup = try await runtime.store.backup(id: job.targetId), let vault = try await runtime.vaults.record(id: backup.vaultId) else { return nil }
        guard let payload = job.payload, let plan = try? JSONDecoder().decode(RestorePlan.self, from: Data(payload.utf8)) else {
            throw ServiceError(.internalFailure, "restore job \(job.id) has no plan")
        }
        var items: [AgentAssignment.Item] = []
        for item in plan.items {
            let target = try await runtime.resources.stillOwned(project: job.projectId, id: item.targetResourceID)
            guard target.agentID == agent, let base = target.path, componentsBelow(base, item.targetPath) != nil else {
                throw ServiceError(.resourceNotFound, "\(item.targetPath) is no longer inside resource \(target.id) on agent \(agent)")
            }
            let size = try await runtime.store.backup(id: item.backupID)?.resourceSize ?? 0
            items.append(.init(backupID: item.backupID, snapshotID: item.snapshotID, targetPath: item.targetPath, resourceID: target.id, resourcePath: base,
                               resourceType: ResourceType(rawValue: target.type) ?? .fileSystem, specialFiles: target.restoreSpecialFiles, expectedBytes: size))
        }
        try await runtime.endLog(job, .started)
        let repository = try await runtime.vaults.openRepository(vault)
        return AgentAssignment(jobID: job.id, kind: .restore, backupID: backup.id, parts: [], items: items, maxBytesAdded: nil,
                               grant: ["id_key": Data(repository.keys.idKeyBytes).base64EncodedString(), "chunker_seed": String(repository.keys.chunkerSeed)],
                               leaseSeconds: Int(runtime.leaseDuration))
    }

    /// The snapshots a running restore may read, and every blob below them (walked once per job and process).
    func readableSet(_ job: JobRecord) async throws -> (Repository, (snapshots: Set<Hash256>, blobs: Set<Hash256>)) {
        let repository = try await repository(for: job)
        if let known = lock.withLock({ readable[job.id] }) { return (repository, known) }
        guard job.kind == .restore, let payload = job.payload, let plan = try? JSONDecoder().decode(RestorePlan.self, from: Data(payload.utf8)) else {
            throw ServiceError.validation("job \(job.id) is not a restore job")
        }
        var snapshots = Set<Hash256>(), blobs = Set<Hash256>(), seen = Set<Hash256>()
        for item in plan.items {
            guard let id = Hash256(hex: item.snapshotID) else { continue }
            snapshots.insert(id)
            let snapshot = try await repository.loadSnapshot(id)
            blobs.insert(snapshot.tree)
            try await TreeWalker(repository: repository).walk(snapshot.tree, seen: &seen, visit: { _, node in
                if let sub = node.subtree { blobs.insert(sub) }
                for e in node.content ?? [] { blobs.insert(e.blob) }
            }, unreadable: { _, _, _ in })
        }
        let set = (snapshots, blobs)
        lock.withLock { readable[job.id] = set }
        return (repository, set)
    }

    /// One of the restore's snapshots, as JSON.
    public func snapshot(caller: Principal, agent: String, job jobID: String, id text: String) async throws -> Data {
        let job = try await runningJob(jobID, caller: caller, agent: agent)
        let (repository, allowed) = try await readableSet(job)
        guard let id = Hash256(hex: text), allowed.snapshots.contains(id) else {
            throw ServiceError(.backupNotFound, "snapshot \(text.prefix(64)) is not one this restore reads")
        }
        return try ModelCoding.encoder().encode(try await repository.loadSnapshot(id))
    }

    /// The plaintext of blobs the restore needs, as frames `id (32) ‖ u32 LE length ‖ bytes`,
    /// until about `AgentWork.blobAnswerBytes`; the agent asks again for the ones not answered.
    public func blobs(caller: Principal, agent: String, job jobID: String, ids texts: [String]) async throws -> Data {
        guard (1...AgentWork.blobBatch).contains(texts.count) else { throw ServiceError.validation("ids must list 1 to \(AgentWork.blobBatch) blob ids") }
        let job = try await runningJob(jobID, caller: caller, agent: agent)
        let (repository, allowed) = try await readableSet(job)
        var byPack: [Hash256: [PackEntry]] = [:]
        var order: [Hash256] = []
        for (i, text) in texts.enumerated() {
            guard let id = Hash256(hex: text), allowed.blobs.contains(id) else { throw ServiceError.validation("ids[\(i)] is not a blob this restore reads") }
            guard let location = repository.locate(id) else { throw ServiceError(.restoreIncomplete, "blob \(id.short) is not in the vault's index") }
            if byPack[location.pack] == nil { order.append(location.pack) }
            byPack[location.pack, default: []].append(location.entry)
        }
        var out = Data()
        for pack in order where out.count < AgentWork.blobAnswerBytes {
            try await repository.readBlobs(pack: pack, entries: byPack[pack]!) { entry, result in
                let plain: Data
                do { plain = try result.get() } catch {
                    throw ServiceError(.vaultDamaged, "blob \(entry.id.short) of this restore cannot be read from the vault", detail: "\(error)")
                }
                out.append(contentsOf: entry.id.bytes)
                withUnsafeBytes(of: UInt32(plain.count).littleEndian) { out.append(contentsOf: $0) }
                out.append(plain)
            }
        }
        return out
    }

    public static let blobBatch = 1_024
    public static let blobAnswerBytes = 32 << 20

    /// The agent restored every item; `errors` (paths that could not be written) make it incomplete.
    public func completeRestore(caller: Principal, agent: String, job jobID: String, errors: [String], skipped: [String]) async throws {
        let job = try await runningJob(jobID, caller: caller, agent: agent)
        guard job.kind == .restore else { throw ServiceError.validation("job \(jobID) is not a restore job") }
        defer { forget(jobID) }
        func clean(_ lines: [String]) -> [String] {
            lines.prefix(1000).map { String(String($0.unicodeScalars.filter { $0.properties.generalCategory != .control }).prefix(1000)) }
        }
        do {
            try await runtime.finishRestore(job, failures: clean(errors), skipped: clean(skipped))
            try await runtime.jobs.transition(job, to: .succeeded, error: nil, now: runtime.nowMS)
        } catch {
            await runtime.recordFailure(job, error)
        }
    }
}

extension JobRuntime {
    /// Fails agents' jobs that waited `agentWait` without their agent taking them.
    func failJobsOfAbsentAgents() async throws {
        for job in try await jobs.waitingForAgents(queuedBefore: nowMS - Int64(agentWait * 1000)) {
            let reason = "agent \(job.agentId ?? "") did not take the job within \(Int(agentWait)) s (it is offline, or was removed)"
            guard let transition = job.status.after(.agentAbsent(code: Reason.agentOffline.rawValue, reason: reason)),
                  try await jobs.transition(job, to: transition.next, error: reason, now: nowMS) else { continue }
            logger.warning("failing a job its agent did not take", metadata: ["job": "\(job.id)", "agent": "\(job.agentId ?? "")"])
            try await apply(transition.actions, to: job)
        }
    }
}
