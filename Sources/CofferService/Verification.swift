import CofferModel
import CofferRepository
import Foundation

/// A vault's data verified by a job (Coffer extension): the worker reads the
/// packs a `DataSubset` names, records what it read in the repository, and
/// the operation log says whether the data was whole.
public struct VerifyPlan: Codable, Sendable {
    /// `N/T`, `next/T` or nil for every pack.
    public var subset: String?
    public var maxDurationSeconds: Int?
}

extension BackupService {
    /// Queues a verification of `vaultID`; returns the operation log's id.
    public func verify(caller: Principal, vaultID: String, subset: String?, maxDurationSeconds: Int?) async throws -> String {
        guard let vault = try await vaults.store.get(project: caller.projectID, id: vaultID) else { throw VaultService.notFound(vaultID) }
        if let subset, DataSubset(subset) == nil {
            throw ServiceError.validation("verify.subset must be N/T (1 <= N <= T <= 10000) or next/T")
        }
        if let seconds = maxDurationSeconds, !(1...604_800).contains(seconds) {
            throw ServiceError.validation("verify.max_duration_seconds must be 1 to 604800")
        }
        let now = clock.now().epochMilliseconds
        let log = OperationLogRecord(id: BackupService.newID(), projectId: caller.projectID, operationType: "verify", status: .waiting, vaultId: vault.id,
                                  vaultName: vault.name, providerId: VaultService.providerIDs[vault.objectType] ?? "", resourceId: "", resourceName: "",
                                  resourceType: "", checkpointId: nil, backupId: nil, progress: 0, errorCode: nil, errorMsg: nil,
                                  createdAt: now, startedAt: nil, endedAt: nil, updatedAt: now)
        let payload = String(decoding: try JSONEncoder().encode(VerifyPlan(subset: subset, maxDurationSeconds: maxDurationSeconds)), as: UTF8.self)
        let job = JobRecord(id: BackupService.newID(), projectId: caller.projectID, kind: .verify, targetId: vault.id, operationLogId: log.id, status: .queued,
                         owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now, payload: payload, vaultId: vault.id)
        try await enqueue(job, log: log) {}
        return log.id
    }
}

extension JobRuntime {
    func runVerify(_ job: JobRecord) async throws {
        guard let vault = try await vaults.record(id: job.targetId) else {
            throw ServiceError(.vaultNotFound, "vault \(job.targetId) no longer exists")
        }
        let plan = job.payload.flatMap { try? JSONDecoder().decode(VerifyPlan.self, from: Data($0.utf8)) } ?? VerifyPlan()
        try await endLog(job, .started)
        let repository = try await vaults.openRepository(vault)
        let options = DataCheckOptions(subset: plan.subset.flatMap(DataSubset.init) ?? .all, maxDuration: plan.maxDurationSeconds.map(TimeInterval.init), record: true)
        let report = try await Checker(repository: repository).run(readData: options)
        guard report.ok else {
            throw ServiceError(.vaultDamaged, "vault \(vault.name) is damaged (\(report.errors.count) problems): " + report.errors.prefix(5).joined(separator: "; "))
        }
        var notes = ["\(report.packsChecked) of \(report.packsTotal) packs read (\(options.subset)), \(report.blobsChecked) blobs verified, \(report.snapshotsChecked) snapshots walked"]
        if report.packsLeftForLater > 0 { notes.append("\(report.packsLeftForLater) packs left for the next run (max_duration_seconds)") }
        try await endLog(job, .succeeded, skipped: notes)
    }
}
