import CofferCrypto
import CofferEngine
import CofferModel
import CofferRepository
import Foundation

extension JobRuntime {
    /// Makes the snapshots of one backup: the resource itself, or each disk of
    /// a server (its child backups), each by the driver of its resource type.
    func runBackup(_ job: JobRecord) async throws {
        guard var backup = try await store.backup(id: job.targetId) else { return }
        guard let vault = try await vaults.record(id: backup.vaultId) else {
            throw ServiceError(.vaultNotFound, "vault \(backup.vaultId) no longer exists")
        }
        try await endLog(job, .started)
        let repository = try await vaults.openRepository(vault)
        let children = try await store.children(of: backup.id)
        let parts = children.isEmpty ? [backup] : children
        // Progress: bytes read against what the resources hold (volume sizes,
        // or the previous snapshot's total for a directory); 100 only when done.
        let progress = ProgressMeter(expected: parts.map(\.resourceSize).reduce(0, +))
        let reporter = reportProgress(progress, log: job.operationLogId)
        defer { reporter.cancel() }
        // Capacity: what the vault may still take, shared by the server's disks.
        var capacityLeft = max(0, Int64(vault.sizeGB) << 30 - vault.usedBytes)
        func snapshot(of part: BackupRecord) async throws -> BackupResult {
            let resource = try await resources.view(project: part.projectId, id: part.resourceId)
            var options = BackupOptions()
            options.hostname = "coffer"
            options.tags = ["coffer-backup:\(part.id)", "coffer-resource:\(resource.record.id)"]
            options.labels = try await recoveryLabels(for: part, resource: resource, vault: vault)
            options.parent = part.incremental ? .auto : .none
            // An auto_expand vault grows instead (after the backup, below).
            options.maxBytesAdded = vault.autoExpand ? nil : capacityLeft
            options.progressInterval = 0.25
            options.progress = { p in progress.update(current: p.bytesRead, expected: p.bytesExpected) }
            let result: BackupResult
            do {
                result = try await drivers.driver(for: resource.type).backUp(resource, with: Archiver(repository: repository), options: options, context: driverContext)
            } catch let error as EngineError where error.code == .limit {
                throw ServiceError(.vaultFull, "vault \(vault.id) is full: backing up \(resource.record.name) needs more than the \(capacityLeft >> 20) MiB left of its \(vault.sizeGB) GB")
            } catch let error as ServiceError {
                throw error
            } catch {
                throw ServiceError(.backupFailed, "backing up \(resource.record.name) failed", detail: "\(resource.record.path ?? ""): \(error)")
            }
            capacityLeft = max(0, capacityLeft - result.summary.bytesAdded)
            progress.finishPart(result.summary.bytesTotal)
            return result
        }
        var made: [String: BackupResult] = [:]
        for part in parts { made[part.id] = try await snapshot(of: part) }
        try await recordBackupMade(job, backup: backup, children: children,
                                   snapshots: made.mapValues { ($0.snapshotID, $0.summary.bytesTotal, $0.summary.bytesRead) },
                                   vault: vault, repository: repository)
    }

    /// Records the snapshots of a backup's parts (the backup itself, or each
    /// disk), makes it available, and settles vault usage and checkpoint.
    func recordBackupMade(_ job: JobRecord, backup: BackupRecord, children: [BackupRecord], snapshots: [String: (id: Hash256, bytesTotal: Int64, bytesRead: Int64)],
                          vault: VaultRecord, repository: Repository) async throws {
        var backup = backup
        func made(_ row: inout BackupRecord, _ result: (id: Hash256, bytesTotal: Int64, bytesRead: Int64)?) {
            if let result {
                row.snapshotId = result.id.hex
                row.resourceSize = result.bytesTotal
            }
            row.status = row.status.after(.made) ?? row.status
            row.protectedAt = nowMS
            row.updatedAt = nowMS
        }
        if children.isEmpty {
            made(&backup, snapshots[backup.id])
        } else {
            var total: Int64 = 0
            for var child in children {
                made(&child, snapshots[child.id])
                try await store.updateBackup(child, expected: .protecting)
                total += child.resourceSize
            }
            made(&backup, nil)
            backup.resourceSize = total
        }
        try await vaults.refreshUsage(vault: vault.id, repository: repository, sample: false)
        let usedNow = try await vaults.record(id: vault.id)?.usedBytes ?? vault.usedBytes
        metrics.backupBytes(vault: vault.id, read: snapshots.values.map(\.bytesRead).reduce(0, +), added: usedNow - vault.usedBytes)
        if vault.autoExpand { try await vaults.expandToUsage(vault: vault.id) }
        guard try await store.updateBackup(backup, expected: .protecting) else {
            throw ServiceError(.internalFailure, "backup \(backup.id) changed state while it was being made")
        }
        try await vaults.sampleUsage(vault: vault.id)
        try await endLog(job, .succeeded)
        try await settleCheckpoint(backup.checkpointId, project: backup.projectId)
    }
}
