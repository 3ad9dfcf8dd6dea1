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

    static func time(_ ms: Int64?) -> Any { ms.map { UTCTimeFormat.cbrString(epochMilliseconds: $0) } ?? NSNull() }

    func checkpointJSON(_ c: CheckpointRecord, _ resources: [CheckpointResource], _ skipped: [SkippedResource]) -> [String: Any] {
        ["id": c.id, "project_id": c.projectId, "status": CBRWire.status(c.status), "created_at": BackupRoutes.time(c.createdAt),
         "extra_info": ["name": c.name, "description": c.description, "retention_duration": -1],
         "vault": ["id": c.vaultId, "name": c.vaultName,
                   "resources": resources.map { ["id": $0.id, "name": $0.name, "type": $0.type, "protect_status": c.status == .protecting ? "protecting" : "available",
                                                 "resource_size": String(($0.resourceSize + (1 << 30) - 1) >> 30), "extra_info": "{}", "backup_size": "0", "backup_count": "0"] },
                   "skipped_resources": skipped.map { ["id": $0.id, "name": $0.name, "type": $0.type, "code": $0.code, "reason": $0.reason] }] as [String: Any]]
    }

    func backupJSON(_ b: BackupRecord, children: [BackupRecord]) -> BackupBody { BackupBody(row: b, children: children) }

    func logJSON(_ l: OperationLogRecord) -> [String: Any] {
        var extra: [String: Any] = ["common": ["progress": l.progress, "request_id": l.id, "task_id": l.id] as [String: Any],
                                    "backup": ["backup_id": l.backupId ?? "", "backup_name": "", "incremental": ""] as [String: Any],
                                    "resource": ["id": l.resourceId, "name": l.resourceName, "type": l.resourceType] as [String: Any]]
        if let skipped = l.skipped, let lines = (try? JSONSerialization.jsonObject(with: Data(skipped.utf8))) as? [String] {
            // What a restore left out, or what a verification read.
            if l.operationType == "verify" { extra["verify"] = ["notes": lines] } else { extra["restore"] = ["skipped": lines] }
        }
        if l.errorCode != nil { extra["common"] = ["progress": l.progress, "request_id": l.id, "task_id": l.id, "code": l.errorCode ?? "", "message": l.errorMsg ?? ""] }
        return ["id": l.id, "project_id": l.projectId, "operation_type": l.operationType, "status": CBRWire.status(l.status), "provider_id": l.providerId,
                "vault_id": l.vaultId, "vault_name": l.vaultName, "checkpoint_id": l.checkpointId ?? "", "created_at": BackupRoutes.time(l.createdAt),
                "started_at": BackupRoutes.time(l.startedAt), "ended_at": BackupRoutes.time(l.endedAt), "updated_at": BackupRoutes.time(l.updatedAt),
                "error_info": ["code": l.errorCode ?? "", "message": l.errorMsg ?? ""], "extra_info": extra, "enterprise_project_id": "0"]
    }

    @Sendable func createCheckpoint(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let c = try Fields(try await JSONBody.object(&request, context: context)).object("checkpoint")
        var input = CheckpointInput(vaultID: try c.string("vault_id"))
        if let p = try c.optionalObject("parameters") {
            if p.object["resources"] != nil && !(p.object["resources"] is NSNull) { input.resources = try p.stringArray("resources") }
            input.name = try p.optionalString("name")
            input.description = try p.optionalString("description") ?? ""
            input.incremental = try p.optionalBool("incremental") ?? true
            input.autoTrigger = try p.optionalBool("auto_trigger") ?? false
        }
        let (row, resources, skipped) = try await backups.createCheckpoint(caller: caller, input)
        return JSONBody.response(["checkpoint": checkpointJSON(row, resources, skipped)])
    }

    @Sendable func showCheckpoint(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (row, resources, skipped) = try await backups.checkpoint(project: caller.projectID, id: try context.parameters.require("checkpoint_id"))
        return JSONBody.response(["checkpoint": checkpointJSON(row, resources, skipped)])
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
        let out = page.items.map { backupJSON($0, children: page.children[$0.id] ?? []) }
        return JSONBody.response(["backups": out, "count": page.total, "offset": page.offset, "limit": limit])
    }

    @Sendable func showBackup(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (b, children) = try await backups.backup(project: caller.projectID, id: try context.parameters.require("backup_id"))
        return JSONBody.response(["backup": backupJSON(b, children: children)])
    }

    @Sendable func updateBackup(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        // The SDK's BackupUpdateReq makes the body optional: an empty body changes nothing.
        var name: String?
        if buffer.readableBytes > 0 {
            let body = Fields(try await JSONBody.object(&request, context: context))
            if let b = try body.optionalObject("backup") { name = try b.optionalString("name") }
        }
        let (b, children) = try await backups.update(caller: caller, id: try context.parameters.require("backup_id"), name: name)
        return JSONBody.response(["backup": backupJSON(b, children: children)])
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
        let r = try Fields(try await JSONBody.object(&request, context: context)).object("restore")
        var input = RestoreInput()
        input.volumeID = try r.optionalString("volume_id")
        input.serverID = try r.optionalString("server_id")
        input.resourceID = try r.optionalString("resource_id")
        input.powerOn = try r.optionalBool("power_on") ?? true
        if let raw = r.object["mappings"], !(raw is NSNull) {
            guard let list = raw as? [Any] else { throw APIError.validation("restore.mappings must be an array") }
            input.mappings = try list.enumerated().map { i, item in
                guard let o = item as? [String: Any] else { throw APIError.validation("restore.mappings[\(i)] must be an object") }
                let f = Fields(o, path: "restore.mappings[\(i)]")
                return (try f.string("backup_id"), try f.string("volume_id"))
            }
        }
        if let d = try r.optionalObject("details") { input.destinationPath = try d.string("destination_path") }
        _ = try await backups.restore(caller: caller, id: try context.parameters.require("backup_id"), input)
        return Response(status: .accepted)
    }

    @Sendable func listLogs(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        let limit = try q.int("limit", range: 1...1000, default: 1000)
        let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
        var filter = OperationLogFilter()
        filter.operationType = try q.oneOf("operation_type", ["backup", "copy", "replication", "delete", "restore", "vault_delete", "remove_resource", "sync", "verify"])
        filter.status = try q.oneOf("status", CBRWire.operationFilterOrder.map(CBRWire.status)).flatMap(CBRWire.operationStatus)
        filter.vaultID = q["vault_id"]
        filter.resourceID = q["resource_id"]
        filter.resourceName = q["resource_name"]
        filter.vaultName = q["vault_name"]
        filter.providerID = q["provider_id"]
        filter.startTime = try Query.parseTime(q["start_time"], field: "start_time")
        filter.endTime = try Query.parseTime(q["end_time"], field: "end_time")
        let (items, total) = try await backups.operationLogs(project: caller.projectID, filter: filter, offset: offset, limit: limit)
        return JSONBody.response(["operation_logs": items.map(logJSON), "count": total, "offset": offset, "limit": limit])
    }

    @Sendable func showLog(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.parameters.require("operation_log_id")
        return JSONBody.response(["operation_log": logJSON(try await backups.operationLog(project: caller.projectID, id: id))])
    }
}

/// CBR BackupResp (shared/api/cbr-v3.md §6.2), written field by field: the
/// listing of a large catalog is dominated by this.
struct BackupBody: JSONWritable {
    let row: BackupRecord
    let children: [BackupRecord]

    func writeJSON(to out: inout JSONOutput) {
        let b = row
        let containsSystemDisk = children.contains { $0.bootable }
        out.object { o in
            func time(_ name: String, _ ms: Int64?) { o.field(name, ms.map { UTCTimeFormat.cbrString(epochMilliseconds: $0) }) }
            o.field("id", b.id); o.field("checkpoint_id", b.checkpointId); o.field("project_id", b.projectId); o.field("vault_id", b.vaultId)
            o.field("name", b.name); o.field("description", b.description); o.field("status", CBRWire.status(b.status)); o.field("image_type", b.imageType)
            o.field("provider_id", b.providerId); o.field("resource_id", b.resourceId); o.field("resource_name", b.resourceName)
            o.field("resource_type", b.resourceType); o.field("resource_size", (b.resourceSize + (1 << 30) - 1) >> 30); o.field("resource_az", b.resourceAz)
            time("created_at", b.createdAt); time("updated_at", b.updatedAt); time("protected_at", b.protectedAt); time("expired_at", b.expiredAt)
            o.field("parent_id", b.parentId); o.field("incremental", b.incremental); o.field("version", 3); o.field("enterprise_project_id", "0")
            o.emptyArray("replication_records")
            o.object("extend_info") { e in
                e.field("auto_trigger", b.autoTrigger); e.field("bootable", b.bootable); e.field("snapshot_id", b.snapshotId ?? ""); e.field("support_lld", false)
                e.field("supported_restore_mode", "backup"); e.emptyArray("os_images_data")
                e.field("contain_system_disk", containsSystemDisk); e.field("encrypted", true); e.field("system_disk", b.bootable); e.field("is_multi_az", false)
            }
            o.array("children", children) { a, child in a.element(BackupBody(row: child, children: [])) }
            if let reason = b.failReason { o.field("fail_reason", reason) }
        }
    }
}
