import CofferCatalog
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
    public let store: BackupStore
    let vaults: VaultService
    let resources: ResourceService
    let clock: any Clock

    public init(store: BackupStore, vaults: VaultService, resources: ResourceService, clock: any Clock = SystemClock()) {
        self.store = store
        self.vaults = vaults
        self.resources = resources
        self.clock = clock
    }

    static func newID() -> String { UUID().uuidString.lowercased() }

    public func createCheckpoint(caller: Principal, _ input: CheckpointInput) async throws -> (CheckpointRow, [CheckpointResource], [SkippedResource]) {
        let vaultView = try await vaults.view(project: caller.projectID, id: input.vaultID)
        let vault = vaultView.record
        guard vault.status == "available" else { throw ServiceError(.badRequest, "BackupService.6113", "vault \(vault.id) is \(vault.status); backups need an available vault") }
        guard vault.usedBytes < Int64(vault.sizeGB) << 30 else {
            throw ServiceError(.badRequest, "BackupService.6114", "vault \(vault.id) has used its capacity of \(vault.sizeGB) GB; enlarge it (billing.size)")
        }
        if let name = input.name { try VaultService.validateName(name, field: "checkpoint.parameters.name") }
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
        var backups: [BackupRow] = [], logs: [OperationLogRow] = [], jobs: [JobRow] = [], listed: [CheckpointResource] = []
        let provider = VaultService.providerIDs[vault.objectType] ?? ""
        let baseName = input.name ?? "manualbk_\(String(checkpointID.prefix(4)))"
        for r in chosen {
            let id = BackupService.newID()
            let incremental = input.incremental ? try await store.latestAvailable(resource: r.record.id) != nil : false
            func row(_ id: String, _ res: ResourceView, parent: String?) -> BackupRow {
                BackupRow(id: id, projectId: caller.projectID, vaultId: vault.id, checkpointId: checkpointID, parentId: parent, resourceId: res.record.id,
                          resourceType: res.record.type, resourceName: res.record.name, resourceSize: res.sizeBytes ?? 0,
                          name: chosen.count == 1 ? baseName : baseName + "_" + res.record.name, description: input.description, status: "protecting",
                          imageType: "backup", providerId: provider, incremental: incremental, autoTrigger: input.autoTrigger,
                          bootable: res.record.bootable, snapshotId: nil, failReason: nil, createdAt: now, protectedAt: nil, updatedAt: now, expiredAt: nil)
            }
            backups.append(row(id, r, parent: nil))
            for disk in r.children { backups.append(row(BackupService.newID(), disk, parent: id)) }
            let logID = BackupService.newID()
            logs.append(OperationLogRow(id: logID, projectId: caller.projectID, operationType: "backup", status: "waiting", vaultId: vault.id, vaultName: vault.name,
                                        providerId: provider, resourceId: r.record.id, resourceName: r.record.name, resourceType: r.record.type,
                                        checkpointId: checkpointID, backupId: id, progress: 0, errorCode: nil, errorMsg: nil,
                                        createdAt: now, startedAt: nil, endedAt: nil, updatedAt: now))
            jobs.append(JobRow(id: BackupService.newID(), projectId: caller.projectID, kind: "backup", targetId: id, operationLogId: logID, status: "queued",
                               owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now))
            listed.append(CheckpointResource(id: r.record.id, type: r.record.type, name: r.record.name, resourceSize: r.sizeBytes ?? 0, backupID: id))
        }
        let encoder = JSONEncoder()
        let checkpoint = CheckpointRow(id: checkpointID, projectId: caller.projectID, vaultId: vault.id, vaultName: vault.name, status: "protecting",
                                       name: baseName, description: input.description,
                                       resources: String(decoding: try encoder.encode(listed), as: UTF8.self),
                                       skipped: String(decoding: try encoder.encode(skipped), as: UTF8.self), createdAt: now, updatedAt: now)
        try await store.createCheckpoint(checkpoint, backups: backups, logs: logs, jobs: jobs)
        return (checkpoint, listed, skipped)
    }

    public func checkpoint(project: String, id: String) async throws -> (CheckpointRow, [CheckpointResource], [SkippedResource]) {
        guard let c = try await store.checkpoint(project: project, id: id) else {
            throw ServiceError(.notFound, "BackupService.6217", "checkpoint \(id) does not exist")
        }
        let decoder = JSONDecoder()
        return (c, (try? decoder.decode([CheckpointResource].self, from: Data(c.resources.utf8))) ?? [],
                (try? decoder.decode([SkippedResource].self, from: Data(c.skipped.utf8))) ?? [])
    }

    public func backup(project: String, id: String) async throws -> (BackupRow, [BackupRow]) {
        guard let b = try await store.backup(project: project, id: id) else { throw ServiceError(.notFound, "BackupService.6200", "backup \(id) does not exist") }
        return (b, try await store.children(of: b.id))
    }
}

/// Runs queued jobs: claims one under a lease, keeps the lease alive while
/// working, and records the outcome on the backup, its operation log and its
/// checkpoint. A job whose worker died is found by its expired lease and
/// queued again (at most three attempts), or ends in `error` with the reason.
public final class Worker: @unchecked Sendable {
    let store: BackupStore
    let vaults: VaultService
    let resources: ResourceService
    let clock: any Clock
    let logger: Logger
    public let id = "worker-" + UUID().uuidString.prefix(8).lowercased()
    public var leaseDuration: TimeInterval = 60
    public var maxAttempts = 3

    public init(store: BackupStore, vaults: VaultService, resources: ResourceService, clock: any Clock = SystemClock(), logger: Logger) {
        self.store = store
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
        while !Task.isCancelled, let job = try await store.claimJob(owner: id, now: nowMS, leaseUntil: clock.now().addingTimeInterval(leaseDuration).epochMilliseconds) {
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
        for job in try await store.expiredJobs(now: nowMS) {
            if job.attempts < maxAttempts {
                logger.warning("requeueing job whose lease expired", metadata: ["job": "\(job.id)", "attempts": "\(job.attempts)"])
                try await store.requeue(job.id, now: nowMS)
            } else {
                try await store.finishJob(job.id, status: "failed", error: "interrupted \(job.attempts) times", now: nowMS)
                try await fail(job, code: "BackupService.9910", reason: "the backup was interrupted \(job.attempts) times (worker stopped or crashed)")
            }
        }
    }

    func run(_ job: JobRow) async {
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(1, leaseDuration / 3)))
                try? await store.extendLease(job: job.id, owner: id, until: clock.now().addingTimeInterval(leaseDuration).epochMilliseconds)
            }
        }
        defer { heartbeat.cancel() }
        do {
            switch job.kind {
            case "backup": try await runBackup(job)
            default: throw ServiceError(.internalFailure, "BackupService.9910", "unknown job kind \(job.kind)")
            }
            try await store.finishJob(job.id, status: "succeeded", error: nil, now: nowMS)
        } catch {
            logger.error("job failed", metadata: ["job": "\(job.id)", "error": "\(error)"])
            try? await store.finishJob(job.id, status: "failed", error: "\(error)", now: nowMS)
            try? await fail(job, code: (error as? ServiceError)?.apiCode ?? "BackupService.9910", reason: "\(error)")
        }
    }

    func fail(_ job: JobRow, code: String, reason: String) async throws {
        if var b = try await store.backup(id: job.targetId) {
            for var child in try await store.children(of: b.id) where child.status != "available" {
                child.status = "error"; child.failReason = reason; child.updatedAt = nowMS
                try await store.updateBackup(child)
            }
            b.status = "error"; b.failReason = reason; b.updatedAt = nowMS
            try await store.updateBackup(b)
            try await settleCheckpoint(b.checkpointId, project: b.projectId)
        }
        if var log = try await store.operationLog(id: job.operationLogId) {
            log.status = "failed"; log.errorCode = code; log.errorMsg = reason; log.endedAt = nowMS; log.updatedAt = nowMS
            try await store.updateOperationLog(log)
        }
    }

    func runBackup(_ job: JobRow) async throws {
        guard var backup = try await store.backup(id: job.targetId) else { return }
        guard let vault = try await vaults.record(id: backup.vaultId) else {
            throw ServiceError(.notFound, "BackupService.6105", "vault \(backup.vaultId) no longer exists")
        }
        if var log = try await store.operationLog(id: job.operationLogId) {
            log.status = "running"; log.startedAt = nowMS; log.updatedAt = nowMS
            try await store.updateOperationLog(log)
        }
        let repository = try await vaults.openRepository(vault)
        var added: Int64 = 0
        func snapshot(of backupRow: BackupRow) async throws -> (String, Int64, Int64) {
            let resource = try await resources.view(project: backupRow.projectId, id: backupRow.resourceId)
            guard let path = resource.record.path else { throw ServiceError(.internalFailure, "BackupService.9910", "resource \(resource.record.id) has no path") }
            var options = BackupOptions()
            options.hostname = "coffer"
            options.tags = ["coffer-backup:\(backupRow.id)", "coffer-resource:\(resource.record.id)"]
            options.parent = backupRow.incremental ? .auto : .none
            let archiver = Archiver(repository: repository)
            let result: BackupResult
            do {
                result = resource.type == .fileSystem ? try await archiver.backup(path: path, options: options) : try await archiver.backupVolume(path: path, options: options)
            } catch {
                throw ServiceError(.internalFailure, "BackupService.6215", "backing up \(resource.record.name) (\(path)) failed: \(error)")
            }
            return (result.snapshotID.hex, result.summary.bytesTotal, result.summary.bytesAdded)
        }
        let children = try await store.children(of: backup.id)
        if children.isEmpty {
            let (snap, size, bytesAdded) = try await snapshot(of: backup)
            backup.snapshotId = snap
            backup.resourceSize = size
            added += bytesAdded
        } else {
            var total: Int64 = 0
            for var child in children {
                let (snap, size, bytesAdded) = try await snapshot(of: child)
                child.snapshotId = snap; child.resourceSize = size; child.status = "available"
                child.protectedAt = nowMS; child.updatedAt = nowMS
                try await store.updateBackup(child)
                total += size
                added += bytesAdded
            }
            backup.resourceSize = total
        }
        try await vaults.addUsage(vault: vault.id, bytes: added)
        backup.status = "available"; backup.protectedAt = nowMS; backup.updatedAt = nowMS
        try await store.updateBackup(backup)
        if var log = try await store.operationLog(id: job.operationLogId) {
            log.status = "success"; log.progress = 100; log.endedAt = nowMS; log.updatedAt = nowMS
            try await store.updateOperationLog(log)
        }
        try await settleCheckpoint(backup.checkpointId, project: backup.projectId)
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
