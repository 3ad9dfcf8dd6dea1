import CofferCrypto
import CofferEngine
import CofferModel
import CofferRepository
import Foundation

extension JobRuntime {
    /// Restores each planned item with the driver of its target's type; the
    /// driver checks the target again now that the job runs.
    func runRestore(_ job: JobRecord) async throws {
        guard let backup = try await store.backup(id: job.targetId), let vault = try await vaults.record(id: backup.vaultId) else { return }
        guard let payload = job.payload, let plan = try? JSONDecoder().decode(RestorePlan.self, from: Data(payload.utf8)) else {
            throw ServiceError(.internalFailure, "restore job \(job.id) has no plan")
        }
        try await endLog(job, .started)
        let repository = try await vaults.openRepository(vault)
        var failures: [String] = []
        var sizes: [String: Int64] = [:]
        for id in Set(plan.items.map(\.backupID)) { sizes[id] = try await store.backup(id: id)?.resourceSize ?? 0 }
        let progress = ProgressMeter(expected: plan.items.map { sizes[$0.backupID] ?? 0 }.reduce(0, +))
        let reporter = reportProgress(progress, log: job.operationLogId)
        defer { reporter.cancel() }
        var skipped: [String] = []
        for item in plan.items {
            guard let snapshot = Hash256(hex: item.snapshotID) else { failures.append("backup \(item.backupID) has no snapshot"); continue }
            do {
                let target = try await resources.stillOwned(project: job.projectId, id: item.targetResourceID)
                let driver = drivers.driver(for: ResourceType(rawValue: target.type) ?? .volume)
                let result = try await driver.restore(item, snapshot: snapshot, with: Restorer(repository: repository), project: job.projectId,
                                                      progress: { progress.update(current: $0, expected: nil) }, context: driverContext)
                failures += result.errors
                skipped += result.skipped
            } catch {
                logger.error("restore item failed", metadata: ["job": "\(job.id)", "target": "\(item.targetPath)", "error": "\(ServiceError.logText(error))"])
                failures.append("\(item.targetPath): " + ServiceError.publicFailure(error, reference: "job \(job.id)").message)
            }
            progress.finishPart(sizes[item.backupID] ?? 0)
        }
        try await finishRestore(job, failures: failures, skipped: skipped)
    }

    /// Ends a restore: the backup is as before; failures make it incomplete, what was left out is logged.
    func finishRestore(_ job: JobRecord, failures: [String], skipped: [String]) async throws {
        guard let backup = try await store.backup(id: job.targetId) else { return }
        for var row in [backup] + (try await store.children(of: backup.id)) {
            guard let next = row.status.after(.restoreEnded) else { continue }
            row.status = next
            row.updatedAt = nowMS
            try await store.updateBackup(row, expected: .restoring)
        }
        guard failures.isEmpty else {
            throw ServiceError(.restoreIncomplete, "restore incomplete: " + failures.prefix(5).joined(separator: "; "))
        }
        try await endLog(job, .succeeded, skipped: skipped)
    }

    /// Lays a database backup down as a data directory, by the instance's engine.
    func runDatabaseRestore(_ job: JobRecord) async throws {
        guard let payload = job.payload, let plan = try? JSONDecoder().decode(DatabaseRestorePlan.self, from: Data(payload.utf8)),
              let backup = try await store.backup(id: job.targetId), let vault = try await vaults.record(id: backup.vaultId),
              let snapshot = Hash256(hex: plan.snapshotID) else {
            throw ServiceError(.databaseFailure, "restore job \(job.id) has no plan")
        }
        try await endLog(job, .started)
        let repository = try await vaults.openRepository(vault)
        guard let driver = drivers.driver(for: .database) as? DatabaseDriver else {
            throw ServiceError(.databaseFailure, "no database driver")
        }
        try await driver.restoreDatabase(plan, backup: backup, snapshot: snapshot, with: Restorer(repository: repository), now: nowMS, context: driverContext)
        try await endLog(job, .succeeded)
    }

    /// Removes a backup's snapshots, then its rows; the data no snapshot
    /// uses any more goes with the vault's next prune (one for many deletions).
    func runDelete(_ job: JobRecord) async throws {
        guard let backup = try await store.backup(id: job.targetId) else { return }
        try await endLog(job, .started)
        let rows = [backup] + (try await store.children(of: backup.id))
        if let vault = try await vaults.record(id: backup.vaultId) {
            let repository = try await vaults.openRepository(vault)
            for row in rows {
                if let hex = row.snapshotId, let id = Hash256(hex: hex) { try await repository.deleteSnapshot(id) }
            }
            try await catalog.vaults.prunePlanned(vault: vault.id, at: nowMS)
        }
        try await store.deleteBackups(rows.map(\.id))
        try await endLog(job, .succeeded)
    }

    /// Frees what no snapshot uses, in two phases (docs/repository-format.md
    /// §Prune): unused packs found now are deleted by a later prune, after the
    /// grace period, which is planned here. The vault's `used` follows.
    func runPrune(_ job: JobRecord) async throws {
        guard let vault = try await vaults.record(id: job.targetId) else { return }
        let repository = try await vaults.openRepository(vault)
        var options = PruneOptions()
        let clock = self.clock
        options.now = { clock.now() }
        let report = try await Pruner(repository: repository).run(options)
        try await vaults.refreshUsage(vault: vault.id, repository: repository)
        metrics.pruneFreed(vault: vault.id, bytes: report.bytesDeleted)
        if let next = report.earliestNextDeletion { try await catalog.vaults.prunePlanned(vault: vault.id, at: next.epochMilliseconds) }
        logger.info("pruned", metadata: ["vault": "\(vault.id)", "bytes_deleted": "\(report.bytesDeleted)", "packs_scheduled": "\(report.packsScheduled)"])
    }
}
