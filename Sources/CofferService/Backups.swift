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
    /// The policy an automatic checkpoint is made for.
    public var policyID: String?
    /// The policy's full_backup_interval N: after N incremental automatic backups of a resource, the next is full (nil or -1: never forced).
    public var fullEvery: Int?
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
    let drivers: ResourceDrivers
    let clock: any Clock

    public init(catalog: any Catalog, vaults: VaultService, resources: ResourceService, drivers: ResourceDrivers, clock: any Clock = SystemClock()) {
        self.catalog = catalog
        self.vaults = vaults
        self.resources = resources
        self.drivers = drivers
        self.clock = clock
    }

    var driverContext: DriverContext {
        DriverContext(resources: resources, vaults: vaults, clock: clock)
    }

    static func newID() -> String { UUID().uuidString.lowercased() }

    /// `nameIsValidated`: the caller checked the name by its own API's rule (CSBS allows 255 characters).
    public func createCheckpoint(caller: Principal, _ input: CheckpointInput, nameIsValidated: Bool = false) async throws -> (CheckpointRecord, [CheckpointResource], [SkippedResource]) {
        let vaultView = try await vaults.view(project: caller.projectID, id: input.vaultID)
        let vault = vaultView.record
        guard vault.status == "available" else { throw ServiceError(.vaultUnavailable, "vault \(vault.id) is \(vault.status); backups need an available vault") }
        guard vault.autoExpand || vault.usedBytes < Int64(vault.sizeGB) << 30 else {
            throw ServiceError(.vaultFull, "vault \(vault.id) has used its capacity of \(vault.sizeGB) GB; enlarge it (billing.size)")
        }
        if let name = input.name, !nameIsValidated { try Validate.cbrName(name, field: "checkpoint.parameters.name") }
        try Validate.description(input.description, field: "checkpoint.parameters.description", max: 255)
        let bound = vaultView.resources
        var selected: [ResourceView] = []
        if let wanted = input.resources {
            for (i, id) in wanted.enumerated() {
                guard let r = bound.first(where: { $0.resource.record.id == id }) else {
                    throw ServiceError(.resourceNotInVault, "checkpoint.parameters.resources[\(i)] \(id) is not in vault \(vault.id)")
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
                skipped.append(SkippedResource(id: r.record.id, type: r.record.type, name: r.record.name, code: Reason.backupBusy.rawValue, reason: "the resource is being backed up"))
            } else {
                chosen.append(r)
            }
        }
        guard !chosen.isEmpty else {
            throw ServiceError(.nothingToBackUp, skipped.isEmpty ? "vault \(vault.id) has no resource to back up" : "every resource of the checkpoint is already being backed up")
        }
        let now = clock.now().epochMilliseconds
        let checkpointID = BackupService.newID()
        var backups: [BackupRecord] = [], logs: [OperationLogRecord] = [], jobs: [JobRecord] = [], listed: [CheckpointResource] = []
        let provider = VaultService.providerIDs[vault.objectType] ?? ""
        let baseName = input.name ?? "manualbk_\(String(checkpointID.prefix(4)))"
        for r in chosen {
            let id = input.idSuffix.map { UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() + $0 } ?? BackupService.newID()
            var incremental = input.incremental ? try await store.latestAvailable(resource: r.record.id) != nil : false
            if incremental, let n = input.fullEvery, n >= 0, try await incrementalsSinceFull(resource: r.record.id, project: caller.projectID, atLeast: n) {
                incremental = false
            }
            func row(_ id: String, _ res: ResourceView, parent: String?) -> BackupRecord {
                var record = BackupRecord(id: id, projectId: caller.projectID, vaultId: vault.id, checkpointId: checkpointID, parentId: parent, resourceId: res.record.id,
                          resourceType: res.record.type, resourceName: res.record.name, resourceSize: res.sizeBytes ?? 0,
                          name: chosen.count == 1 ? baseName : baseName + "_" + res.record.name, description: input.description, status: .protecting,
                          imageType: "backup", providerId: provider, incremental: incremental, autoTrigger: input.autoTrigger,
                          bootable: res.record.bootable, snapshotId: nil, failReason: nil, createdAt: now, protectedAt: nil, updatedAt: now, expiredAt: nil,
                          resourceAz: vault.availabilityZone, tags: input.tags)
                record.policyId = input.policyID
                return record
            }
            backups.append(row(id, r, parent: nil))
            for disk in r.children { backups.append(row(BackupService.newID(), disk, parent: id)) }
            let logID = BackupService.newID()
            var log = OperationLogRecord(id: logID, projectId: caller.projectID, operationType: "backup", status: .waiting, vaultId: vault.id, vaultName: vault.name,
                                         providerId: provider, resourceId: r.record.id, resourceName: r.record.name, resourceType: r.record.type,
                                         checkpointId: checkpointID, backupId: id, progress: 0, errorCode: nil, errorMsg: nil,
                                         createdAt: now, startedAt: nil, endedAt: nil, updatedAt: now)
            // A resource on an agent's host: only that agent runs the job; until it does, the log says whom it waits for.
            if let agent = r.record.agentID { log.details = OperationLogRecord.waitingFor(agent: agent) }
            logs.append(log)
            jobs.append(JobRecord(id: BackupService.newID(), projectId: caller.projectID, kind: .backup, targetId: id, operationLogId: logID, status: .queued,
                               owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now, vaultId: vault.id, agentId: r.record.agentID))
            listed.append(CheckpointResource(id: r.record.id, type: r.record.type, name: r.record.name, resourceSize: r.sizeBytes ?? 0, backupID: id))
        }
        let encoder = JSONEncoder()
        let checkpoint = CheckpointRecord(id: checkpointID, projectId: caller.projectID, vaultId: vault.id, vaultName: vault.name, status: .protecting,
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
            throw ServiceError(.backupBusy, e.description)
        }
        return (checkpoint, listed, skipped)
    }

    /// Deletes a vault with its backups and repository; refused while any of its backups is in progress.
    public func deleteVault(caller: Principal, id: String) async throws {
        let vault = try await vaults.view(project: caller.projectID, id: id).record
        if vault.locked, try await store.countBackups(project: caller.projectID, filter: { var f = BackupFilter(); f.vaultID = id; return f }()) > 0 {
            throw ServiceError(.vaultNotDeletable, "vault \(id) is locked and holds backups: it can be deleted once retention has expired them all")
        }
        if try await store.vaultBusy(id) {
            throw ServiceError(.vaultBusy, "vault \(id) has a backup in progress; delete it when the work has finished")
        }
        let count = try await store.countBackups(project: caller.projectID, filter: { var f = BackupFilter(); f.vaultID = id; return f }())
        try await vaults.delete(caller: caller, id: id)
        try await store.deleteBackups(vault: id)
        // The deletion's own record: what went with the vault (the SDK reads fail_count/total_count, Terraform the vault_delete pair).
        let now = clock.now().epochMilliseconds
        var log = OperationLogRecord(id: BackupService.newID(), projectId: caller.projectID, operationType: "vault_delete", status: .success, vaultId: id,
                                     vaultName: vault.name, providerId: VaultService.providerIDs[vault.objectType] ?? "", resourceId: "", resourceName: "",
                                     resourceType: "", checkpointId: nil, backupId: nil, progress: 100, errorCode: nil, errorMsg: nil, createdAt: now,
                                     startedAt: now, endedAt: now, updatedAt: now)
        log.details = "{\"fail_count\":0,\"total_count\":\(count)}"
        try await catalog.operationLogs.insert(log)
    }

    public func checkpoint(project: String, id: String) async throws -> (CheckpointRecord, [CheckpointResource], [SkippedResource]) {
        guard let c = try await store.checkpoint(project: project, id: id) else {
            throw ServiceError(.checkpointNotFound, "checkpoint \(id) does not exist")
        }
        // Terraform deletes a checkpoint by deleting its backups, then waits for 404.
        guard !(try await store.backups(checkpoint: id)).isEmpty else {
            throw ServiceError(.checkpointNotFound, "checkpoint \(id) does not exist (its backups are all deleted)")
        }
        let decoder = JSONDecoder()
        return (c, (try? decoder.decode([CheckpointResource].self, from: Data(c.resources.utf8))) ?? [],
                (try? decoder.decode([SkippedResource].self, from: Data(c.skipped.utf8))) ?? [])
    }

    public func backup(project: String, id: String) async throws -> (BackupRecord, [BackupRecord]) {
        guard let b = try await store.backup(project: project, id: id) else { throw ServiceError(.backupNotFound, "backup \(id) does not exist") }
        // Only a server backup has children (one per disk).
        return (b, b.resourceType == ResourceType.server.rawValue ? try await store.children(of: b.id) : [])
    }
}

extension BackupService {
    /// Seed 000: a backup name holds at most 255 characters (the vault name pattern otherwise).
    static func validateBackupName(_ name: String) throws {
        try Validate.cbrName(name, field: "backup.name", maxLength: 255)
    }

    public func update(caller: Principal, id: String, name: String?) async throws -> (BackupRecord, [BackupRecord]) {
        guard var b = try await store.backup(project: caller.projectID, id: id) else { throw ServiceError(.backupNotFound, "backup \(id) does not exist") }
        if let name {
            try BackupService.validateBackupName(name)
            b.name = name
            b.updatedAt = clock.now().epochMilliseconds
            try await store.updateBackup(b, expected: nil)
        }
        return (b, try await store.children(of: b.id))
    }

    func logRow(_ b: BackupRecord, type: String, vaultName: String, resourceID: String? = nil, resourceName: String? = nil) -> OperationLogRecord {
        let now = clock.now().epochMilliseconds
        return OperationLogRecord(id: BackupService.newID(), projectId: b.projectId, operationType: type, status: .waiting, vaultId: b.vaultId, vaultName: vaultName,
                               providerId: b.providerId, resourceId: resourceID ?? b.resourceId, resourceName: resourceName ?? b.resourceName,
                               resourceType: b.resourceType, checkpointId: b.checkpointId, backupId: b.id, progress: 0, errorCode: nil, errorMsg: nil,
                               createdAt: now, startedAt: nil, endedAt: nil, updatedAt: now)
    }

    /// Marks the backup `deleting` and queues the job that removes its snapshots.
    /// `byRetention`: the policy's own expiry, which a vault lock does not stop.
    public func delete(caller: Principal, id: String, byRetention: Bool = false) async throws -> String {
        guard let b = try await store.backup(project: caller.projectID, id: id) else { throw ServiceError(.backupNotFound, "backup \(id) does not exist") }
        guard b.parentId == nil else { throw ServiceError(.backupNotDeletable, "backup \(id) is a disk of server backup \(b.parentId!); delete that one") }
        if !byRetention, b.autoTrigger, try await vaults.record(id: b.vaultId)?.locked == true {
            let now = clock.now().epochMilliseconds
            guard let expires = b.expiredAt, expires <= now else {
                throw ServiceError(.backupLocked, "backup \(id) is an automatic backup in a locked vault: it cannot be deleted before it expires"
                                   + (b.expiredAt.map { " (\(UTCTimeFormat.cbrString(epochMilliseconds: $0)))" } ?? " (its policy keeps it without end)"))
            }
        }
        guard b.status.after(.deleteQueued) != nil else {
            throw ServiceError(.backupNotDeletable, "backup \(id) is \(b.status.rawValue); only available or error backups can be deleted")
        }
        let vaultName = (try await vaults.record(id: b.vaultId))?.name ?? ""
        let log = logRow(b, type: "delete", vaultName: vaultName)
        let now = clock.now().epochMilliseconds
        let job = JobRecord(id: BackupService.newID(), projectId: b.projectId, kind: .delete, targetId: b.id, operationLogId: log.id, status: .queued,
                         owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now, vaultId: b.vaultId)
        let children = try await store.children(of: b.id).map(\.id)
        try await enqueue(job, log: log) {
            // One conditional update decides: a racing delete or restore finds the backup moved on.
            guard let next = b.status.after(.deleteQueued), try await self.store.setStatus(backups: [b.id], to: next, expected: b.status, now: now) == 1 else {
                throw ServiceError(.backupNotDeletable, "backup \(id) is no longer available or error; only those can be deleted")
            }
            try await self.store.setStatus(backups: children, to: next, expected: nil, now: now)
        }
        return log.id
    }

    /// Deletes backups because their policy expired them (a vault lock does
    /// not stop this); one already going or being restored is left for the
    /// next run, and so are the rest once the project's queued-job quota is
    /// full. Returns the ids it deleted.
    public func expire(_ ids: [String], project: String) async throws -> [String] {
        var deleted: [String] = []
        for id in ids {
            do {
                _ = try await delete(caller: Principal.system(project: project), id: id, byRetention: true)
                deleted.append(id)
            } catch let e as ServiceError where e.reason == .backupNotDeletable {
                continue
            } catch let e as ServiceError where e.reason == .quotaJobs {
                break
            }
        }
        return deleted
    }

    /// Queues a prune of each vault whose prune is due (after deletions, or
    /// the second phase after the grace period). Maintenance, not a tenant's
    /// operation: no operation log and no job quota. Returns the vaults.
    @discardableResult
    public func queuePrunes(now: Int64) async throws -> [String] {
        try await catalog.transaction {
            let due = try await catalog.vaults.takePrunesDue(now: now)
            for vault in due {
                try await catalog.jobs.insert(JobRecord(id: BackupService.newID(), projectId: vault.projectID, kind: .prune, targetId: vault.id, operationLogId: "",
                                                        status: .queued, owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now,
                                                        vaultId: vault.id))
            }
            return due.map(\.id)
        }
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

    /// Whether the resource's newest automatic backups include at least `n` incremental ones since its last full one.
    func incrementalsSinceFull(resource: String, project: String, atLeast n: Int) async throws -> Bool {
        guard n > 0 else { return true }
        var filter = BackupFilter()
        filter.resourceID = resource
        filter.statuses = [.available]
        var count = 0, offset = 0
        while true {
            let page = try await store.listBackups(project: project, filter: filter, sort: [("created_at", false)], offset: offset, limit: 100).items
            for b in page where b.autoTrigger {
                guard b.incremental else { return false }
                count += 1
                if count >= n { return true }
            }
            if page.count < 100 { return false }
            offset += 100
        }
    }

    /// Validates a restore, plans its targets, marks the backup `restoring` and queues the job.
    public func restore(caller: Principal, id: String, _ input: RestoreInput) async throws -> String {
        guard let b = try await store.backup(project: caller.projectID, id: id) else { throw ServiceError(.backupNotFound, "backup \(id) does not exist") }
        guard b.status.after(.restoreQueued) != nil else { throw ServiceError(.backupNotRestorable, "backup \(id) is \(b.status.rawValue); only available backups can be restored") }
        guard let vault = try await vaults.record(id: b.vaultId), vault.status == "available" else {
            throw ServiceError(.restoreVaultUnavailable, "restore is only allowed when the vault is available")
        }
        guard let type = ResourceType(rawValue: b.resourceType) else {
            throw ServiceError(.internalFailure, "backup \(id) has an unknown resource type")
        }
        let items = try await drivers.driver(for: type).planRestore(b, children: try await store.children(of: b.id), input: input, project: caller.projectID,
                                                                    context: driverContext)
        // One host writes the whole restore: this server, or the agent whose host holds every target.
        var hosts = Set<String?>()
        for item in items { hosts.insert(try await resources.store.get(project: caller.projectID, id: item.targetResourceID)?.agentID) }
        guard hosts.count <= 1 else { throw ServiceError.validation("restore targets lie on different hosts; restore onto one host at a time") }
        let agent = hosts.first ?? nil
        if try await logs.restoreActive(resources: items.map(\.targetResourceID)) {
            throw ServiceError(.restoreRunning, "a restore onto this resource is already in progress")
        }
        var log = logRow(b, type: "restore", vaultName: vault.name, resourceID: items.first?.targetResourceID)
        if let agent { log.details = OperationLogRecord.waitingFor(agent: agent) }
        let now = clock.now().epochMilliseconds
        let payload = String(decoding: try JSONEncoder().encode(RestorePlan(items: items)), as: UTF8.self)
        let job = JobRecord(id: BackupService.newID(), projectId: b.projectId, kind: .restore, targetId: b.id, operationLogId: log.id, status: .queued,
                         owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now, payload: payload, vaultId: b.vaultId,
                         agentId: agent)
        let children = try await store.children(of: b.id).map(\.id)
        let targets = items.map(\.targetResourceID)
        try await enqueue(job, log: log) {
            // Guards and change in one transaction: one restore per target, only from an available backup.
            if try await self.logs.restoreActive(resources: targets) {
                throw ServiceError(.restoreRunning, "a restore onto this resource is already in progress")
            }
            guard let next = b.status.after(.restoreQueued), try await self.store.setStatus(backups: [b.id], to: next, expected: b.status, now: now) == 1 else {
                throw ServiceError(.backupNotRestorable, "backup \(id) is no longer available")
            }
            try await self.store.setStatus(backups: children, to: next, expected: nil, now: now)
        }
        return log.id
    }
}
