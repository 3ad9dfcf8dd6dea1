import CofferModel
import CofferCrypto
import CofferEngine
import CofferRepository
import CofferSystem
import Foundation
import Logging

public struct CheckpointInput: Sendable {
    public var vaultID: String
    public var resources: [String]?
    public var name: String?
    public var description: String = ""
    public var incremental = true
    public var autoTrigger = false
    /// JSON array of {key, value} for every backup made (CSBS protect tags).
    public var tags = "[]"
    /// Top-level backup ids as 32 hex digits and this suffix (RDS: `br03`) instead of UUIDs.
    public var idSuffix: String?
    public init(vaultID: String) { self.vaultID = vaultID }
}

public struct SkippedResource: Codable, Sendable, Equatable {
    public var id: String
    public var type: String
    public var name: String
    public var code: String
    public var reason: String
}

public struct CheckpointResource: Codable, Sendable, Equatable {
    public var id: String
    public var type: String
    public var name: String
    public var resourceSize: Int64
    public var backupID: String
}

/// Checkpoints (backup runs) and backups. Creating a checkpoint writes every
/// backup row as `protecting` and queues one job per resource in the same
/// transaction, so the backups are listable at once; workers do the work.
public final class BackupService: @unchecked Sendable {
    let catalog: any Catalog
    var store: any BackupStore { catalog.backups }
    var logs: any OperationLogStore { catalog.operationLogs }
    let vaults: VaultService
    let resources: ResourceService
    let clock: any Clock

    public init(catalog: any Catalog, vaults: VaultService, resources: ResourceService, clock: any Clock = SystemClock()) {
        self.catalog = catalog
        self.vaults = vaults
        self.resources = resources
        self.clock = clock
    }

    static func newID() -> String { UUID().uuidString.lowercased() }

    /// `nameIsValidated`: the caller checked the name by its own API's rule (CSBS allows 255 characters).
    public func createCheckpoint(caller: Principal, _ input: CheckpointInput, nameIsValidated: Bool = false) async throws -> (CheckpointRecord, [CheckpointResource], [SkippedResource]) {
        let vaultView = try await vaults.view(project: caller.projectID, id: input.vaultID)
        let vault = vaultView.record
        guard vault.status == "available" else { throw ServiceError(.badRequest, "BackupService.6113", "vault \(vault.id) is \(vault.status); backups need an available vault") }
        guard vault.autoExpand || vault.usedBytes < Int64(vault.sizeGB) << 30 else {
            throw ServiceError(.badRequest, "BackupService.6114", "vault \(vault.id) has used its capacity of \(vault.sizeGB) GB; enlarge it (billing.size)")
        }
        if let name = input.name, !nameIsValidated { try VaultService.validateName(name, field: "checkpoint.parameters.name") }
        guard input.description.count <= 255, !input.description.contains("<"), !input.description.contains(">") else {
            throw ServiceError.validation("checkpoint.parameters.description must be at most 255 characters without < or >")
        }
        let bound = vaultView.resources
        var selected: [ResourceView] = []
        if let wanted = input.resources {
            for (i, id) in wanted.enumerated() {
                guard let r = bound.first(where: { $0.resource.record.id == id }) else {
                    throw ServiceError(.badRequest, "BackupService.6135", "checkpoint.parameters.resources[\(i)] \(id) is not in vault \(vault.id)")
                }
                if !selected.contains(where: { $0.record.id == id }) { selected.append(r.resource) }
            }
        } else {
            selected = bound.map(\.resource)
        }
        var skipped: [SkippedResource] = []
        var chosen: [ResourceView] = []
        for r in selected {
            if try await store.hasActiveBackup(resource: r.record.id) {
                skipped.append(SkippedResource(id: r.record.id, type: r.record.type, name: r.record.name, code: "BackupService.0002", reason: "the resource is being backed up"))
            } else {
                chosen.append(r)
            }
        }
        guard !chosen.isEmpty else {
            throw ServiceError(.badRequest, "BackupService.0001", skipped.isEmpty ? "vault \(vault.id) has no resource to back up" : "every resource of the checkpoint is already being backed up")
        }
        let now = clock.now().epochMilliseconds
        let checkpointID = BackupService.newID()
        var backups: [BackupRecord] = [], logs: [OperationLogRecord] = [], jobs: [JobRecord] = [], listed: [CheckpointResource] = []
        let provider = VaultService.providerIDs[vault.objectType] ?? ""
        let baseName = input.name ?? "manualbk_\(String(checkpointID.prefix(4)))"
        for r in chosen {
            let id = input.idSuffix.map { UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() + $0 } ?? BackupService.newID()
            let incremental = input.incremental ? try await store.latestAvailable(resource: r.record.id) != nil : false
            func row(_ id: String, _ res: ResourceView, parent: String?) -> BackupRecord {
                BackupRecord(id: id, projectId: caller.projectID, vaultId: vault.id, checkpointId: checkpointID, parentId: parent, resourceId: res.record.id,
                          resourceType: res.record.type, resourceName: res.record.name, resourceSize: res.sizeBytes ?? 0,
                          name: chosen.count == 1 ? baseName : baseName + "_" + res.record.name, description: input.description, status: "protecting",
                          imageType: "backup", providerId: provider, incremental: incremental, autoTrigger: input.autoTrigger,
                          bootable: res.record.bootable, snapshotId: nil, failReason: nil, createdAt: now, protectedAt: nil, updatedAt: now, expiredAt: nil,
                          resourceAz: vault.availabilityZone, tags: input.tags)
            }
            backups.append(row(id, r, parent: nil))
            for disk in r.children { backups.append(row(BackupService.newID(), disk, parent: id)) }
            let logID = BackupService.newID()
            logs.append(OperationLogRecord(id: logID, projectId: caller.projectID, operationType: "backup", status: "waiting", vaultId: vault.id, vaultName: vault.name,
                                        providerId: provider, resourceId: r.record.id, resourceName: r.record.name, resourceType: r.record.type,
                                        checkpointId: checkpointID, backupId: id, progress: 0, errorCode: nil, errorMsg: nil,
                                        createdAt: now, startedAt: nil, endedAt: nil, updatedAt: now))
            jobs.append(JobRecord(id: BackupService.newID(), projectId: caller.projectID, kind: "backup", targetId: id, operationLogId: logID, status: "queued",
                               owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now))
            listed.append(CheckpointResource(id: r.record.id, type: r.record.type, name: r.record.name, resourceSize: r.sizeBytes ?? 0, backupID: id))
        }
        let encoder = JSONEncoder()
        let checkpoint = CheckpointRecord(id: checkpointID, projectId: caller.projectID, vaultId: vault.id, vaultName: vault.name, status: "protecting",
                                       name: baseName, description: input.description,
                                       resources: String(decoding: try encoder.encode(listed), as: UTF8.self),
                                       skipped: String(decoding: try encoder.encode(skipped), as: UTF8.self), createdAt: now, updatedAt: now)
        do {
            try await withinQuota {
                try await catalog.transaction {
                    try await catalog.quotas.checkJobs(project: checkpoint.projectId, adding: jobs.count)
                    // Checked again inside the transaction: two checkpoints racing for one resource cannot both start.
                    for b in backups where b.parentId == nil {
                        if try await store.hasActiveBackup(resource: b.resourceId) {
                            throw CatalogError(.conflict, "resource \(b.resourceId) is already being backed up")
                        }
                    }
                    try await store.insertCheckpoint(checkpoint)
                    try await store.insertBackups(backups)
                    for l in logs { try await catalog.operationLogs.insert(l) }
                    for j in jobs { try await catalog.jobs.insert(j) }
                }
            }
        } catch let e as CatalogError where e.code == .conflict {
            throw ServiceError(.badRequest, "BackupService.0002", e.description)
        }
        return (checkpoint, listed, skipped)
    }

    /// Deletes a vault with its backups and repository; refused while any of its backups is in progress.
    public func deleteVault(caller: Principal, id: String) async throws {
        _ = try await vaults.view(project: caller.projectID, id: id)
        if try await store.vaultBusy(id) {
            throw ServiceError(.badRequest, "BackupService.6203", "vault \(id) has a backup in progress; delete it when the work has finished")
        }
        try await vaults.delete(caller: caller, id: id)
        try await store.deleteBackups(vault: id)
    }

    public func checkpoint(project: String, id: String) async throws -> (CheckpointRecord, [CheckpointResource], [SkippedResource]) {
        guard let c = try await store.checkpoint(project: project, id: id) else {
            throw ServiceError(.notFound, "BackupService.6217", "checkpoint \(id) does not exist")
        }
        let decoder = JSONDecoder()
        return (c, (try? decoder.decode([CheckpointResource].self, from: Data(c.resources.utf8))) ?? [],
                (try? decoder.decode([SkippedResource].self, from: Data(c.skipped.utf8))) ?? [])
    }

    public func backup(project: String, id: String) async throws -> (BackupRecord, [BackupRecord]) {
        guard let b = try await store.backup(project: project, id: id) else { throw ServiceError(.notFound, "BackupService.6200", "backup \(id) does not exist") }
        // Only a server backup has children (one per disk).
        return (b, b.resourceType == ResourceType.server.rawValue ? try await store.children(of: b.id) : [])
    }
}

/// Runs queued jobs: claims one under a lease, keeps the lease alive while
/// working, and records the outcome on the backup, its operation log and its
/// checkpoint. A job whose worker died is found by its expired lease and
/// queued again (at most three attempts), or ends in `error` with the reason.
public final class Worker: @unchecked Sendable {
    let catalog: any Catalog
    var store: any BackupStore { catalog.backups }
    var jobs: any JobStore { catalog.jobs }
    var logs: any OperationLogStore { catalog.operationLogs }
    let vaults: VaultService
    let resources: ResourceService
    let clock: any Clock
    let logger: Logger
    public let id = "worker-" + UUID().uuidString.prefix(8).lowercased()
    public var leaseDuration: TimeInterval = 60
    public var maxAttempts = 3

    public init(catalog: any Catalog, vaults: VaultService, resources: ResourceService, clock: any Clock = SystemClock(), logger: Logger) {
        self.catalog = catalog
        self.vaults = vaults
        self.resources = resources
        self.clock = clock
        self.logger = logger
    }

    var nowMS: Int64 { clock.now().epochMilliseconds }

    /// Runs jobs until none is queued. Returns how many ran.
    @discardableResult
    public func drain() async throws -> Int {
        try await recoverExpired()
        var count = 0
        while !Task.isCancelled, let job = try await jobs.claim(owner: id, now: nowMS, leaseUntil: clock.now().addingTimeInterval(leaseDuration).epochMilliseconds) {
            await run(job)
            count += 1
        }
        return count
    }

    /// Polls until cancelled (the server's worker role).
    public func runForever(pollInterval: Duration = .milliseconds(500)) async {
        while !Task.isCancelled {
            do {
                if try await drain() == 0 { try? await Task.sleep(for: pollInterval) }
            } catch {
                logger.error("worker: \(error)")
                try? await Task.sleep(for: pollInterval)
            }
        }
    }

    public func recoverExpired() async throws {
        for job in try await jobs.expired(now: nowMS) {
            if job.attempts < maxAttempts {
                logger.warning("requeueing job whose lease expired", metadata: ["job": "\(job.id)", "attempts": "\(job.attempts)"])
                try await jobs.requeue(job.id, now: nowMS)
            } else {
                try await jobs.finish(job.id, status: "failed", error: "interrupted \(job.attempts) times", now: nowMS)
                try await fail(job, code: "BackupService.9910", reason: "the backup was interrupted \(job.attempts) times (worker stopped or crashed)")
            }
        }
    }

    func run(_ job: JobRecord) async {
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(1, leaseDuration / 3)))
                try? await jobs.extendLease(job: job.id, owner: id, until: clock.now().addingTimeInterval(leaseDuration).epochMilliseconds)
            }
        }
        defer { heartbeat.cancel() }
        do {
            switch job.kind {
            case "backup": try await runBackup(job)
            case "restore": try await runRestore(job)
            case "delete": try await runDelete(job)
            case "db_restore": try await runDatabaseRestore(job)
            case "verify": try await runVerify(job)
            default: throw ServiceError(.internalFailure, "BackupService.9910", "unknown job kind \(job.kind)")
            }
            try await jobs.finish(job.id, status: "succeeded", error: nil, now: nowMS)
        } catch {
            logger.error("job failed", metadata: ["job": "\(job.id)", "error": "\(error)"])
            try? await jobs.finish(job.id, status: "failed", error: "\(error)", now: nowMS)
            try? await fail(job, code: (error as? ServiceError)?.apiCode ?? "BackupService.9910", reason: "\(error)")
        }
    }

    func fail(_ job: JobRecord, code: String, reason: String) async throws {
        if job.kind == "backup", var b = try await store.backup(id: job.targetId) {
            for var child in try await store.children(of: b.id) where child.status != "available" {
                child.status = "error"; child.failReason = reason; child.updatedAt = nowMS
                try await store.updateBackup(child)
            }
            b.status = "error"; b.failReason = reason; b.updatedAt = nowMS
            try await store.updateBackup(b)
            try await settleCheckpoint(b.checkpointId, project: b.projectId)
        }
        if job.kind != "backup", let b = try await store.backup(id: job.targetId) {
            // A failed restore leaves the backup as it was; a failed delete leaves it in error.
            let status = job.kind == "delete" ? "error" : "available"
            for id in [b.id] + (try await store.children(of: b.id)).map(\.id) {
                if var row = try await store.backup(id: id) {
                    row.status = status; row.updatedAt = nowMS
                    if job.kind == "delete" { row.failReason = reason }
                    try await store.updateBackup(row)
                }
            }
        }
        if var log = try await logs.get(id: job.operationLogId) {
            log.status = "failed"; log.errorCode = code; log.errorMsg = reason; log.endedAt = nowMS; log.updatedAt = nowMS
            try await logs.update(log)
        }
    }

    func runBackup(_ job: JobRecord) async throws {
        guard var backup = try await store.backup(id: job.targetId) else { return }
        guard let vault = try await vaults.record(id: backup.vaultId) else {
            throw ServiceError(.notFound, "BackupService.6105", "vault \(backup.vaultId) no longer exists")
        }
        if var log = try await logs.get(id: job.operationLogId) {
            log.status = "running"; log.startedAt = nowMS; log.updatedAt = nowMS
            try await logs.update(log)
        }
        let repository = try await vaults.openRepository(vault)
        let children = try await store.children(of: backup.id)
        let parts = children.isEmpty ? [backup] : children
        // Progress: bytes read against what the resources hold (volume sizes,
        // or the previous snapshot's total for a directory), written to the
        // operation log about once a second; 100 only when done.
        let progress = BackupProgressMeter(expected: parts.map(\.resourceSize).reduce(0, +))
        let reporter = reportProgress(progress, log: job.operationLogId)
        defer { reporter.cancel() }
        // Capacity: what the vault may still take, shared by the server's disks.
        var capacityLeft = max(0, Int64(vault.sizeGB) << 30 - vault.usedBytes)
        func snapshot(of backupRow: BackupRecord) async throws -> (String, Int64, Int64) {
            let resource = try await resources.view(project: backupRow.projectId, id: backupRow.resourceId)
            // A database is copied first (pg_basebackup into a staging directory kept per
            // instance, so consecutive backups find their parent), then stored as a tree.
            var staging: String?
            if resource.type == .database {
                let directory = vaults.dataDirectory + "/staging/" + resource.record.id
                let connection = try await resources.databaseConnection(resource.record.id)
                do {
                    try await PostgresTools.baseBackup(connection, into: directory)
                } catch {
                    try? FileManager.default.removeItem(atPath: directory)
                    throw ServiceError(.internalFailure, "DBS.200001", "base backup of \(connection) failed: \(error)")
                }
                if let version = PostgresTools.version(of: directory) { try await resources.databases.setVersion(resource.record.id, version) }
                staging = directory
            }
            defer { if let staging { try? FileManager.default.removeItem(atPath: staging) } }
            // The source must still be what the operator registered: a path swapped for a symlink or another file is not read.
            if staging == nil { try ResourceService.verifyStillRegistered(resource.record) }
            guard let path = staging ?? resource.record.path else { throw ServiceError(.internalFailure, "BackupService.9910", "resource \(resource.record.id) has no path") }
            var options = BackupOptions()
            options.hostname = "coffer"
            options.tags = ["coffer-backup:\(backupRow.id)", "coffer-resource:\(resource.record.id)"]
            options.labels = try await recoveryLabels(for: backupRow, resource: resource, vault: vault)
            options.parent = backupRow.incremental ? .auto : .none
            // An auto_expand vault grows instead (after the backup, below).
            options.maxBytesAdded = vault.autoExpand ? nil : capacityLeft
            options.progressInterval = 0.25
            options.progress = { p in progress.update(current: p.bytesRead, expected: p.bytesExpected) }
            let archiver = Archiver(repository: repository)
            let result: BackupResult
            do {
                result = resource.type == .volume ? try await archiver.backupVolume(path: path, options: options) : try await archiver.backup(path: path, options: options)
            } catch let error as EngineError where error.code == .limit {
                throw ServiceError(.badRequest, "BackupService.6114", "vault \(vault.id) is full: backing up \(resource.record.name) needs more than the \(capacityLeft >> 20) MiB left of its \(vault.sizeGB) GB")
            } catch {
                throw ServiceError(.internalFailure, "BackupService.6215", "backing up \(resource.record.name) (\(path)) failed: \(error)")
            }
            capacityLeft = max(0, capacityLeft - result.summary.bytesAdded)
            progress.finishPart(result.summary.bytesTotal)
            return (result.snapshotID.hex, result.summary.bytesTotal, result.summary.bytesAdded)
        }
        if children.isEmpty {
            let (snap, size, _) = try await snapshot(of: backup)
            backup.snapshotId = snap
            backup.resourceSize = size
        } else {
            var total: Int64 = 0
            for var child in children {
                let (snap, size, _) = try await snapshot(of: child)
                child.snapshotId = snap; child.resourceSize = size; child.status = "available"
                child.protectedAt = nowMS; child.updatedAt = nowMS
                try await store.updateBackup(child)
                total += size
            }
            backup.resourceSize = total
        }
        try await vaults.refreshUsage(vault: vault.id, repository: repository)
        if vault.autoExpand { try await vaults.expandToUsage(vault: vault.id) }
        backup.status = "available"; backup.protectedAt = nowMS; backup.updatedAt = nowMS
        try await store.updateBackup(backup)
        if var log = try await logs.get(id: job.operationLogId) {
            log.status = "success"; log.progress = 100; log.endedAt = nowMS; log.updatedAt = nowMS
            try await logs.update(log)
        }
        try await settleCheckpoint(backup.checkpointId, project: backup.projectId)
    }

    /// Writes the meter's percentage into the running operation log about once a second.
    func reportProgress(_ meter: BackupProgressMeter, log id: String) -> Task<Void, Never> {
        Task {
            var written = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let percent = meter.percent
                guard percent != written else { continue }
                try? await logs.setProgress(log: id, percent: percent, now: nowMS)
                written = percent
            }
        }
    }

    /// A checkpoint is done when none of its backups is in progress.
    func settleCheckpoint(_ id: String, project: String) async throws {
        guard var checkpoint = try await store.checkpoint(project: project, id: id) else { return }
        let all = try await store.backups(checkpoint: id).filter { $0.parentId == nil }
        guard !all.contains(where: { $0.status == "protecting" || $0.status == "waiting_protect" }) else { return }
        checkpoint.status = all.allSatisfy { $0.status == "available" } ? "available" : "error"
        checkpoint.updatedAt = nowMS
        try await store.updateCheckpoint(checkpoint)
    }
}

/// How far a backup is: parts (disks) done plus the current part's bytes read,
/// against the expected total. Stays below 100 until the job ends.
final class BackupProgressMeter: @unchecked Sendable {
    private let lock = NSLock()
    private var expected: Int64
    private var done: Int64 = 0
    private var current: Int64 = 0

    init(expected: Int64) { self.expected = expected }

    func update(current bytes: Int64, expected part: Int64?) {
        lock.withLock {
            current = bytes
            // A directory's size is known only from its previous snapshot.
            if let part, expected < done + part { expected = done + part }
        }
    }

    func finishPart(_ bytes: Int64) { lock.withLock { done += bytes; current = 0; expected = max(expected, done) } }

    var percent: Int {
        lock.withLock {
            guard expected > 0 else { return 0 }
            return Int(min(99, (done + current) * 100 / expected))
        }
    }
}

/// A database restore: which snapshot, which data directory, in place or new.
public struct DatabaseRestorePlan: Codable, Sendable {
    public var instanceID: String
    public var snapshotID: String
    public var dataDirectory: String
    public var inPlace: Bool
    /// A new directory: the caller's file-system resource it is created in.
    public var beneathResourceID: String?
}

/// Where a restore writes: one (backup, target path) per disk or tree.
public struct RestorePlan: Codable, Sendable, Equatable {
    public struct Item: Codable, Sendable, Equatable {
        public var backupID: String
        public var snapshotID: String
        public var targetPath: String
        public var targetResourceID: String
    }
    public var items: [Item]
}

public struct RestoreInput: Sendable {
    public var volumeID: String?
    public var serverID: String?
    public var resourceID: String?
    public var mappings: [(backupID: String, volumeID: String)] = []
    public var destinationPath: String?
    public var powerOn = true
    public init() {}
}

extension BackupService {
    /// Seed 000: a backup name holds at most 255 characters (the vault name pattern otherwise).
    static func validateBackupName(_ name: String) throws {
        try VaultService.validateName(name, field: "backup.name", maxLength: 255)
    }

    public func update(caller: Principal, id: String, name: String?) async throws -> (BackupRecord, [BackupRecord]) {
        guard var b = try await store.backup(project: caller.projectID, id: id) else { throw ServiceError(.notFound, "BackupService.6200", "backup \(id) does not exist") }
        if let name {
            try BackupService.validateBackupName(name)
            b.name = name
            b.updatedAt = clock.now().epochMilliseconds
            try await store.updateBackup(b)
        }
        return (b, try await store.children(of: b.id))
    }

    func logRow(_ b: BackupRecord, type: String, vaultName: String, resourceID: String? = nil, resourceName: String? = nil) -> OperationLogRecord {
        let now = clock.now().epochMilliseconds
        return OperationLogRecord(id: BackupService.newID(), projectId: b.projectId, operationType: type, status: "waiting", vaultId: b.vaultId, vaultName: vaultName,
                               providerId: b.providerId, resourceId: resourceID ?? b.resourceId, resourceName: resourceName ?? b.resourceName,
                               resourceType: b.resourceType, checkpointId: b.checkpointId, backupId: b.id, progress: 0, errorCode: nil, errorMsg: nil,
                               createdAt: now, startedAt: nil, endedAt: nil, updatedAt: now)
    }

    /// Marks the backup `deleting` and queues the job that removes its snapshots.
    public func delete(caller: Principal, id: String) async throws -> String {
        guard let b = try await store.backup(project: caller.projectID, id: id) else { throw ServiceError(.notFound, "BackupService.6200", "backup \(id) does not exist") }
        guard b.parentId == nil else { throw ServiceError(.badRequest, "BackupService.6201", "backup \(id) is a disk of server backup \(b.parentId!); delete that one") }
        guard b.status == "available" || b.status == "error" else {
            throw ServiceError(.badRequest, "BackupService.6201", "backup \(id) is \(b.status); only available or error backups can be deleted")
        }
        let vaultName = (try await vaults.record(id: b.vaultId))?.name ?? ""
        let log = logRow(b, type: "delete", vaultName: vaultName)
        let now = clock.now().epochMilliseconds
        let job = JobRecord(id: BackupService.newID(), projectId: b.projectId, kind: "delete", targetId: b.id, operationLogId: log.id, status: "queued",
                         owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now)
        let children = try await store.children(of: b.id).map(\.id)
        try await enqueue(job, log: log) {
            // The guard runs in the transaction that changes the status: a racing delete or restore sees "deleting".
            guard let current = try await self.store.backup(id: b.id), current.status == "available" || current.status == "error" else {
                throw ServiceError(.badRequest, "BackupService.6201", "backup \(id) is no longer available or error; only those can be deleted")
            }
            try await self.store.setStatus(backups: [b.id] + children, to: "deleting", now: now)
        }
        return log.id
    }

    /// Queues a job with its operation log, after `prepare` (which checks and
    /// changes rows) in the same transaction, within the project's job quota.
    func enqueue(_ job: JobRecord, log: OperationLogRecord, prepare: () async throws -> Void) async throws {
        try await withinQuota {
            try await catalog.transaction {
                try await catalog.quotas.checkJobs(project: job.projectId, adding: 1)
                try await prepare()
                try await catalog.operationLogs.insert(log)
                try await catalog.jobs.insert(job)
            }
        }
    }

    /// Validates a restore, plans its targets, marks the backup `restoring` and queues the job.
    public func restore(caller: Principal, id: String, _ input: RestoreInput) async throws -> String {
        guard let b = try await store.backup(project: caller.projectID, id: id) else { throw ServiceError(.notFound, "BackupService.6200", "backup \(id) does not exist") }
        guard b.status == "available" else { throw ServiceError(.badRequest, "BackupService.2005", "backup \(id) is \(b.status); only available backups can be restored") }
        guard let vault = try await vaults.record(id: b.vaultId), vault.status == "available" else {
            throw ServiceError(.badRequest, "BackupService.6202", "restore is only allowed when the vault is available")
        }
        var items: [RestorePlan.Item] = []
        func volumeTarget(_ volumeID: String, field: String) async throws -> (String, String) {
            guard let v = try? await resources.view(project: caller.projectID, id: volumeID), v.type == .volume, let path = v.record.path else {
                throw ServiceError(.notFound, "BackupService.6302", "\(field) \(volumeID): volume does not exist")
            }
            return (v.record.id, path)
        }
        switch ResourceType(rawValue: b.resourceType) {
        case .volume:
            guard let target = input.volumeID ?? input.resourceID else { throw ServiceError.validation("restore.volume_id is required to restore a volume backup") }
            let (rid, path) = try await volumeTarget(target, field: "restore.volume_id")
            items.append(.init(backupID: b.id, snapshotID: b.snapshotId ?? "", targetPath: path, targetResourceID: rid))
        case .server:
            guard input.serverID ?? input.resourceID != nil else { throw ServiceError.validation("restore.server_id is required to restore a server backup") }
            guard !input.mappings.isEmpty else { throw ServiceError.validation("restore.mappings is required to restore a server backup") }
            let children = try await store.children(of: b.id)
            var seenTargets = Set<String>()
            for (i, m) in input.mappings.enumerated() {
                guard let child = children.first(where: { $0.id == m.backupID }) else {
                    throw ServiceError.validation("restore.mappings[\(i)].backup_id \(m.backupID) is not a disk backup of backup \(b.id)")
                }
                let (rid, path) = try await volumeTarget(m.volumeID, field: "restore.mappings[\(i)].volume_id")
                guard seenTargets.insert(rid).inserted else { throw ServiceError.validation("restore.mappings[\(i)].volume_id \(m.volumeID) is the target of two disks") }
                items.append(.init(backupID: child.id, snapshotID: child.snapshotId ?? "", targetPath: path, targetResourceID: rid))
            }
        case .fileSystem:
            let path: String
            let rid: String
            if let destination = input.destinationPath {
                guard (1...255).contains(destination.count) else { throw ServiceError.validation("restore.details.destination_path must be 1 to 255 characters") }
                // Only into the caller's own file systems: never wherever the server can write.
                let (owner, relative) = try await resources.ownedTarget(destination, project: caller.projectID, types: [.fileSystem],
                                                                        field: "restore.details.destination_path")
                path = ([owner.path ?? ""] + relative).joined(separator: "/")
                rid = owner.id
            } else {
                let original = try await resources.view(project: caller.projectID, id: input.resourceID ?? b.resourceId)
                guard original.type == .fileSystem, let p = original.record.path else { throw ServiceError.validation("restore.resource_id must be a file system resource") }
                path = p
                rid = original.record.id
            }
            items.append(.init(backupID: b.id, snapshotID: b.snapshotId ?? "", targetPath: path, targetResourceID: rid))
        case .database:
            throw ServiceError(.badRequest, "BackupService.6102", "backup \(id) is a database backup: restore it through the RDS API (POST /v3/{project_id}/instances/recovery)")
        case .none:
            throw ServiceError(.internalFailure, "BackupService.9910", "backup \(id) has an unknown resource type")
        }
        if try await logs.restoreActive(resources: items.map(\.targetResourceID)) {
            throw ServiceError(.badRequest, "BackupService.2010", "a restore onto this resource is already in progress")
        }
        let log = logRow(b, type: "restore", vaultName: vault.name, resourceID: items.first?.targetResourceID)
        let now = clock.now().epochMilliseconds
        let payload = String(decoding: try JSONEncoder().encode(RestorePlan(items: items)), as: UTF8.self)
        let job = JobRecord(id: BackupService.newID(), projectId: b.projectId, kind: "restore", targetId: b.id, operationLogId: log.id, status: "queued",
                         owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now, payload: payload)
        let children = try await store.children(of: b.id).map(\.id)
        let targets = items.map(\.targetResourceID)
        try await enqueue(job, log: log) {
            // Guards and change in one transaction: one restore per target, only from an available backup.
            guard let current = try await self.store.backup(id: b.id), current.status == "available" else {
                throw ServiceError(.badRequest, "BackupService.2005", "backup \(id) is no longer available")
            }
            if try await self.logs.restoreActive(resources: targets) {
                throw ServiceError(.badRequest, "BackupService.2010", "a restore onto this resource is already in progress")
            }
            try await self.store.setStatus(backups: [b.id] + children, to: "restoring", now: now)
        }
        return log.id
    }
}

extension Worker {
    func runRestore(_ job: JobRecord) async throws {
        guard let backup = try await store.backup(id: job.targetId), let vault = try await vaults.record(id: backup.vaultId) else { return }
        guard let payload = job.payload, let plan = try? JSONDecoder().decode(RestorePlan.self, from: Data(payload.utf8)) else {
            throw ServiceError(.internalFailure, "BackupService.9910", "restore job \(job.id) has no plan")
        }
        try await markLog(job, status: "running")
        let repository = try await vaults.openRepository(vault)
        var failures: [String] = []
        var sizes: [String: Int64] = [:]
        for id in Set(plan.items.map(\.backupID)) { sizes[id] = try await store.backup(id: id)?.resourceSize ?? 0 }
        let progress = BackupProgressMeter(expected: plan.items.map { sizes[$0.backupID] ?? 0 }.reduce(0, +))
        let reporter = reportProgress(progress, log: job.operationLogId)
        defer { reporter.cancel() }
        var skipped: [String] = []
        for item in plan.items {
            guard let snapshot = Hash256(hex: item.snapshotID) else { failures.append("backup \(item.backupID) has no snapshot"); continue }
            do {
                var options = try await confinedOptions(project: job.projectId, item: item)
                options.progress = { p in progress.update(current: p.bytesWritten, expected: nil) }
                let result = try await Restorer(repository: repository).restore(snapshot: snapshot, target: item.targetPath, options: options)
                failures += result.errors
                skipped += result.skipped
            } catch {
                failures.append("\(item.targetPath): \(error)")
            }
            progress.finishPart(sizes[item.backupID] ?? 0)
        }
        let ids = [backup.id] + (try await store.children(of: backup.id)).map(\.id)
        for id in ids {
            if var row = try await store.backup(id: id) { row.status = "available"; row.updatedAt = nowMS; try await store.updateBackup(row) }
        }
        guard failures.isEmpty else {
            throw ServiceError(.internalFailure, "BackupService.2005", "restore incomplete: " + failures.prefix(5).joined(separator: "; "))
        }
        try await markLog(job, status: "success", skipped: skipped)
    }

    /// The confinement a restore item runs under, checked again now that the
    /// job runs: the target resource must still be the project's, the path
    /// still inside it, a volume still the file or device registered.
    func confinedOptions(project: String, item: RestorePlan.Item) async throws -> RestoreOptions {
        let resource = try await resources.stillOwned(project: project, id: item.targetResourceID)
        guard let base = resource.path, componentsBelow(base, item.targetPath) != nil else {
            throw ServiceError(.badRequest, "BackupService.6302", "\(item.targetPath) is no longer inside resource \(resource.id)")
        }
        var options = RestoreOptions()
        options.specialFiles = resource.restoreSpecialFiles
        if resource.type == ResourceType.volume.rawValue {
            guard item.targetPath == base else { throw ServiceError(.badRequest, "BackupService.6302", "\(item.targetPath) is not volume \(resource.id)") }
            options.expectedIdentity = resource.registeredIdentity
        } else {
            options.beneath = base
        }
        return options
    }

    /// Lays a database backup down as a data directory. In place: stop the
    /// instance (as the directory's owner), keep the old directory aside,
    /// restore, start, check it answers; on any failure put the old one back
    /// and start it again. Into a new directory: restore, give it to the
    /// parent directory's owner, leave it stopped.
    func runDatabaseRestore(_ job: JobRecord) async throws {
        guard let payload = job.payload, let plan = try? JSONDecoder().decode(DatabaseRestorePlan.self, from: Data(payload.utf8)),
              let backup = try await store.backup(id: job.targetId), let vault = try await vaults.record(id: backup.vaultId),
              let snapshot = Hash256(hex: plan.snapshotID) else {
            throw ServiceError(.internalFailure, "DBS.200001", "restore job \(job.id) has no plan")
        }
        try await markLog(job, status: "running")
        let repository = try await vaults.openRepository(vault)
        // Checked again now that the job runs: the directory must still be inside what the project owns.
        let confinement = try await resources.stillOwned(project: backup.projectId, id: plan.beneathResourceID ?? plan.instanceID)
        guard let base = confinement.path, componentsBelow(base, plan.dataDirectory) != nil else {
            throw ServiceError(.badRequest, "DBS.200001", "\(plan.dataDirectory) is no longer inside resource \(confinement.id)")
        }
        func lay(into directory: String) async throws {
            var options = RestoreOptions()
            // In place the data directory itself is moved aside and made anew: walk from its (operator-chosen) parent.
            options.beneath = plan.inPlace ? (base as NSString).deletingLastPathComponent : base
            options.specialFiles = confinement.restoreSpecialFiles
            let result = try await Restorer(repository: repository).restore(snapshot: snapshot, target: directory, options: options)
            guard result.errors.isEmpty else { throw ServiceError(.internalFailure, "DBS.200001", "restore incomplete: " + result.errors.prefix(5).joined(separator: "; ")) }
        }
        let target = plan.dataDirectory
        guard plan.inPlace else {
            // The new directory belongs to whoever runs the source instance (its data directory's owner), else to the parent's owner.
            let parent = (target as NSString).deletingLastPathComponent
            let sourceDirectory = try? await resources.view(project: backup.projectId, id: backup.resourceId).record.path
            guard let owner = sourceDirectory.flatMap({ $0 }).flatMap(PostgresTools.owner(of:)) ?? PostgresTools.owner(of: parent) else {
                throw ServiceError(.internalFailure, "DBS.200001", "\(parent) is gone")
            }
            do {
                try await lay(into: target)
                try PostgresTools.prepare(target, uid: owner.uid, gid: owner.gid)
            } catch {
                try? FileManager.default.removeItem(atPath: target)
                throw error
            }
            try await markLog(job, status: "success")
            return
        }
        guard let owner = PostgresTools.owner(of: target) else { throw ServiceError(.internalFailure, "DBS.200001", "data directory \(target) is gone") }
        let connection = try await resources.databaseConnection(plan.instanceID)
        let aside = target + ".coffer-old-" + String(nowMS)
        let log = NSTemporaryDirectory() + "coffer-pg-\(plan.instanceID).log"
        try await PostgresTools.stop(target, owner: owner.name)
        guard rename(target, aside) == 0 else {
            let reason = String(cString: strerror(errno))
            try? await PostgresTools.start(target, owner: owner.name, log: log)
            throw ServiceError(.internalFailure, "DBS.200001", "cannot move \(target) aside: \(reason)")
        }
        do {
            try await lay(into: target)
            try PostgresTools.prepare(target, uid: owner.uid, gid: owner.gid)
            try await PostgresTools.start(target, owner: owner.name, log: log)
            guard await PostgresTools.accepts(connection) else { throw ServiceError(.internalFailure, "DBS.200001", "the restored instance does not accept connections") }
        } catch {
            logger.error("database restore failed; putting the old data directory back", metadata: ["instance": "\(plan.instanceID)", "error": "\(error)"])
            try? await PostgresTools.stop(target, owner: owner.name)
            try? FileManager.default.removeItem(atPath: target)
            if rename(aside, target) == 0 { try? await PostgresTools.start(target, owner: owner.name, log: log) }
            throw ServiceError(.internalFailure, "DBS.200001", "restore of \(plan.instanceID) failed, the previous data directory is back: \(error)")
        }
        try? FileManager.default.removeItem(atPath: aside)
        try await markLog(job, status: "success")
    }

    func runDelete(_ job: JobRecord) async throws {
        guard let backup = try await store.backup(id: job.targetId) else { return }
        try await markLog(job, status: "running")
        let rows = [backup] + (try await store.children(of: backup.id))
        if let vault = try await vaults.record(id: backup.vaultId) {
            let repository = try await vaults.openRepository(vault)
            for row in rows {
                if let hex = row.snapshotId, let id = Hash256(hex: hex) { try await repository.deleteSnapshot(id) }
            }
            // Unreferenced data goes in two phases (grace period), as concurrent backups may still use it.
            _ = try await Pruner(repository: repository).run(PruneOptions())
            try await vaults.refreshUsage(vault: vault.id, repository: repository)
        }
        try await store.deleteBackups(rows.map(\.id))
        try await markLog(job, status: "success")
    }

    func markLog(_ job: JobRecord, status: String, skipped: [String] = []) async throws {
        guard var log = try await logs.get(id: job.operationLogId) else { return }
        log.status = status
        if !skipped.isEmpty { log.skipped = String(decoding: JSONWriter.bytes(Array(skipped.prefix(1000))), as: UTF8.self) }
        log.updatedAt = nowMS
        if status == "running" { log.startedAt = nowMS }
        if status == "success" { log.endedAt = nowMS; log.progress = 100 }
        try await logs.update(log)
    }
}
