import CofferAPI
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// CBR v3 checkpoints, backups (list and show) and operation logs.
struct BackupRoutes {
    let backups: BackupService
    /// RDS shares GET and DELETE /v3/{project_id}/backups: listings naming an instance and RDS backup ids go there.
    let rds: RDSRoutes

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.post, "/v3/:project_id/checkpoints", createCheckpoint)
        add(.get, "/v3/:project_id/checkpoints/:checkpoint_id", showCheckpoint)
        add(.get, "/v3/:project_id/backups", listBackups)
        add(.get, "/v3/:project_id/backups/:backup_id", showBackup)
        add(.put, "/v3/:project_id/backups/:backup_id", updateBackup)
        add(.delete, "/v3/:project_id/backups/:backup_id", deleteBackup)
        add(.post, "/v3/:project_id/backups/:backup_id/restore", restoreBackup)
        add(.get, "/v3/:project_id/operation-logs", listLogs)
        add(.get, "/v3/:project_id/operation-logs/:operation_log_id", showLog)
    }

    static func time(_ ms: Int64) -> String { UTCTimeFormat.cbrString(epochMilliseconds: ms) }

    static func checkpoint(_ c: CheckpointRecord, _ resources: [CheckpointResource], _ skipped: [SkippedResource]) -> CBR.Checkpoint {
        var out = CBR.Checkpoint()
        out.id = c.id
        out.projectID = c.projectId
        out.status = CBRWire.status(c.status)
        out.createdAt = time(c.createdAt)
        out.extraInfo.name = c.name
        out.extraInfo.description = c.description
        out.vault.id = c.vaultId
        out.vault.name = c.vaultName
        out.vault.resources = resources.map {
            CBR.Checkpoint.Resource(id: $0.id, name: $0.name, type: $0.type, protectStatus: c.status == .protecting ? "protecting" : "available",
                                    resourceSize: String(($0.resourceSize + (1 << 30) - 1) >> 30))
        }
        out.vault.skippedResources = skipped.map { CBR.Checkpoint.Skipped(id: $0.id, name: $0.name, type: $0.type, code: ErrorFamily.cbr.stored($0.code), reason: $0.reason) }
        return out
    }

    /// CBR BackupResp (shared/api/cbr-v3.md §6.2); children are a server backup's volume backups.
    static func backup(_ b: BackupRecord, children: [BackupRecord]) -> CBR.Backup {
        var o = CBR.Backup()
        o.id = b.id
        o.checkpointID = b.checkpointId
        o.projectID = b.projectId
        o.vaultID = b.vaultId
        o.name = b.name
        o.description = b.description
        o.status = CBRWire.status(b.status)
        o.imageType = b.imageType
        o.providerID = b.providerId
        o.resourceID = b.resourceId
        o.resourceName = b.resourceName
        o.resourceType = b.resourceType
        o.resourceSize = (b.resourceSize + (1 << 30) - 1) >> 30
        o.resourceAZ = b.resourceAz
        o.createdAt = time(b.createdAt)
        o.updatedAt = time(b.updatedAt)
        o.protectedAt = b.protectedAt.map(time)
        o.expiredAt = b.expiredAt.map(time)
        o.parentID = b.parentId
        o.incremental = b.incremental
        o.extendInfo.autoTrigger = b.autoTrigger
        o.extendInfo.bootable = b.bootable
        o.extendInfo.snapshotID = b.snapshotId ?? ""
        o.extendInfo.containSystemDisk = children.contains { $0.bootable }
        o.extendInfo.systemDisk = b.bootable
        o.children = children.map { backup($0, children: []) }
        o.failReason = b.failReason
        o.scheduledOperationID = b.policyId
        return o
    }

    static func operationLog(_ l: OperationLogRecord) -> CBR.OperationLog {
        var o = CBR.OperationLog()
        o.id = l.id
        o.projectID = l.projectId
        o.operationType = l.operationType
        o.status = CBRWire.status(l.status)
        o.providerID = l.providerId
        o.vaultID = l.vaultId
        o.vaultName = l.vaultName
        o.checkpointID = l.checkpointId ?? ""
        o.createdAt = time(l.createdAt)
        o.startedAt = l.startedAt.map(time)
        o.endedAt = l.endedAt.map(time)
        o.updatedAt = time(l.updatedAt)
        o.errorInfo.code = ErrorFamily.cbr.stored(l.errorCode ?? "")
        o.errorInfo.message = l.errorMsg ?? ""
        o.extraInfo.common.progress = l.progress
        o.extraInfo.common.requestID = l.id
        o.extraInfo.common.taskID = l.id
        if l.errorCode != nil {
            o.extraInfo.common.code = l.errorCode.map(ErrorFamily.cbr.stored)
            o.extraInfo.common.message = l.errorMsg ?? ""
        }
        if let agent = l.awaitedAgent { o.extraInfo.common.message = "waiting for agent \(agent)" }
        o.extraInfo.backup.backupID = l.backupId ?? ""
        o.extraInfo.resource.id = l.resourceId
        o.extraInfo.resource.name = l.resourceName
        o.extraInfo.resource.type = l.resourceType
        if l.operationType == "vault_delete", let details = l.details, let counts = try? JSONDecoder().decode([String: Int].self, from: Data(details.utf8)) {
            o.extraInfo.vaultDelete = .init(failed: counts["fail_count"] ?? 0, total: counts["total_count"] ?? 0)
        }
        if let skipped = l.skipped, let lines = try? JSONDecoder().decode([String].self, from: Data(skipped.utf8)) {
            // What a restore left out, or what a verification read.
            if l.operationType == "verify" { o.extraInfo.verify = .init(notes: lines) } else { o.extraInfo.restore = .init(skipped: lines) }
        }
        return o
    }

    @Sendable func createCheckpoint(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let c = try await JSONBody.decode(CBR.CheckpointCreateRequest.self, &request, context: context).checkpoint
        var input = CheckpointInput(vaultID: c.vaultID)
        if let p = c.parameters {
            if let resources = p.resources { input.resources = resources }
            input.name = p.name
            input.description = p.description ?? ""
            input.incremental = p.incremental ?? true
            input.autoTrigger = p.autoTrigger ?? false
        }
        let (row, resources, skipped) = try await backups.createCheckpoint(caller: caller, input)
        return try JSONBody.encoded(CBR.CheckpointResponse(BackupRoutes.checkpoint(row, resources, skipped)))
    }

    @Sendable func showCheckpoint(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (row, resources, skipped) = try await backups.checkpoint(project: caller.projectID, id: try context.parameters.require("checkpoint_id"))
        return try JSONBody.encoded(CBR.CheckpointResponse(BackupRoutes.checkpoint(row, resources, skipped)))
    }

    @Sendable func listBackups(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        if q["instance_id"] != nil { return try await rds.list(request, context) }
        let limit = try q.int("limit", range: 1...1000, default: 1000)
        let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
        var filter = BackupFilter()
        filter.excludedTypes = [ResourceType.database.rawValue]
        filter.vaultID = q["vault_id"]
        filter.resourceID = q["resource_id"]
        filter.resourceType = q["resource_type"]
        filter.checkpointID = q["checkpoint_id"]
        filter.statuses = try q.all("status").flatMap { $0.split(separator: ",").map(String.init) }.map { s in
            guard let status = CBRWire.backupStatus(s) else {
                throw APIError.validation("status must be one of \(CBRWire.backupFilterOrder.map(CBRWire.status).joined(separator: ", "))")
            }
            return status
        }
        filter.name = q["name"]
        filter.parentID = q["parent_id"]
        filter.imageType = try q.oneOf("image_type", ["backup", "replication"])
        filter.incremental = try q.bool("incremental")
        filter.startTime = try Query.parseTime(q["start_time"], field: "start_time")
        filter.endTime = try Query.parseTime(q["end_time"], field: "end_time")
        filter.resourceName = q["resource_name"]
        filter.resourceAz = q["resource_az"]
        if q["used_percent"] != nil { filter.usedPercent = try q.int("used_percent", range: 1...100, default: 100) }
        _ = try q.bool("show_replication")  // replication_records are always shown (empty until replication exists)
        // Coffer has no dedicated cloud, no enterprise projects but "0" and no
        // sharing yet: asking for those kinds of backup matches nothing.
        if try q.bool("dec") == true { filter.matchesNothing = true }
        if let own = try q.oneOf("own_type", ["all_granted", "private", "shared"]), own == "shared" { filter.matchesNothing = true }
        if try q.oneOf("member_status", ["pending", "accepted", "rejected"]) != nil { filter.matchesNothing = true }
        if let ep = q["enterprise_project_id"], ep != "0", ep != "all_granted_eps" { filter.matchesNothing = true }
        let sort = try Query.parseSort(q["sort"])
        let page = try await backups.listBackups(project: caller.projectID, filter: filter, sort: sort, offset: offset, limit: limit, marker: q["marker"])
        let out = page.items.map { BackupRoutes.backup($0, children: page.children[$0.id] ?? []) }
        return try JSONBody.encoded(CBR.BackupList(backups: out, count: page.total, offset: page.offset, limit: limit))
    }

    @Sendable func showBackup(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (b, children) = try await backups.backup(project: caller.projectID, id: try context.parameters.require("backup_id"))
        return try JSONBody.encoded(CBR.BackupResponse(BackupRoutes.backup(b, children: children)))
    }

    @Sendable func updateBackup(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        // The SDK's BackupUpdateReq makes the body optional: an empty body changes nothing.
        let name = try await JSONBody.decodeOptional(CBR.BackupUpdateRequest.self, &request, context: context)?.backup?.name
        let (b, children) = try await backups.update(caller: caller, id: try context.parameters.require("backup_id"), name: name)
        return try JSONBody.encoded(CBR.BackupResponse(BackupRoutes.backup(b, children: children)))
    }

    @Sendable func deleteBackup(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.parameters.require("backup_id")
        if id.hasSuffix("br03") { return try await rds.delete(request, context, id: id) }
        _ = try await backups.delete(caller: caller, id: id)
        return Response(status: .noContent)
    }

    @Sendable func restoreBackup(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let r = try await JSONBody.decode(CBR.RestoreRequest.self, &request, context: context).restore
        var input = RestoreInput()
        input.volumeID = r.volumeID
        input.serverID = r.serverID
        input.resourceID = r.resourceID
        input.powerOn = r.powerOn ?? true
        input.mappings = (r.mappings ?? []).map { ($0.backupID, $0.volumeID) }
        input.destinationPath = r.details?.destinationPath
        let log = try await backups.restore(caller: caller, id: try context.parameters.require("backup_id"), input)
        return try JSONBody.encoded(status: .accepted, CBR.RestoreAccepted(log))
    }

    @Sendable func listLogs(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        let limit = try q.int("limit", range: 1...1000, default: 1000)
        let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
        var filter = OperationLogFilter()
        filter.operationType = try q.oneOf("operation_type", CBR.operationTypes)
        filter.status = try q.oneOf("status", CBRWire.operationFilterOrder.map(CBRWire.status)).flatMap(CBRWire.operationStatus)
        filter.vaultID = q["vault_id"]
        filter.resourceID = q["resource_id"]
        filter.resourceName = q["resource_name"]
        filter.vaultName = q["vault_name"]
        filter.providerID = q["provider_id"]
        filter.startTime = try Query.parseTime(q["start_time"], field: "start_time")
        filter.endTime = try Query.parseTime(q["end_time"], field: "end_time")
        let (items, total) = try await backups.operationLogs(project: caller.projectID, filter: filter, offset: offset, limit: limit)
        return try JSONBody.encoded(CBR.OperationLogList(items.map(BackupRoutes.operationLog), count: total, offset: offset, limit: limit))
    }

    @Sendable func showLog(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.parameters.require("operation_log_id")
        return try JSONBody.encoded(CBR.OperationLogResponse(BackupRoutes.operationLog(try await backups.operationLog(project: caller.projectID, id: id))))
    }
}
