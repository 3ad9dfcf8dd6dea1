import CofferAPI
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// RDS v3 database backups (shared/api/csbs-v1-and-rds-v3.md §5, seed 003).
/// `POST /v3/{project_id}/backups` is RDS's (CBR has no such route);
/// `GET /v3/{project_id}/backups` is RDS's when it names an `instance_id`
/// and `DELETE /v3/{project_id}/backups/{id}` when the id is an RDS backup's:
/// BackupRoutes hands those here.
struct RDSRoutes {
    let databases: DatabaseService
    let backups: BackupService
    let resources: ResourceService

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router, family: .rds)
        add(.post, "/v3/:project_id/backups", createBackup)
        add(.get, "/v3/:project_id/instances/:instance_id/backups/policy", showPolicy)
        add(.put, "/v3/:project_id/instances/:instance_id/backups/policy", setPolicy)
        add(.post, "/v3/:project_id/instances/recovery", recover)
        add(.get, "/v3/:project_id/jobs", job)
    }

    /// RDS's time form: 2018-08-06T12:41:14+0000 (seconds, numeric offset).
    static func timeText(_ ms: Int64) -> String { String(UTCTimeFormat.cbrString(epochMilliseconds: ms).prefix(19)) + "+0000" }

    func backup(_ b: BackupRecord, version: String) -> RDS.Backup {
        RDS.Backup(id: b.id, instanceID: b.resourceId, name: b.name, description: b.description, type: b.autoTrigger ? .auto : .manual, status: RDSWire.status(b.status),
                   beginTime: RDSRoutes.timeText(b.createdAt), endTime: b.protectedAt.map(RDSRoutes.timeText), size: (b.resourceSize + 1023) / 1024,
                   datastore: RDS.Datastore(type: "PostgreSQL", version: version), failReason: b.failReason)
    }

    @Sendable func createBackup(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(RDS.CreateBackupRequest.self, &request, context: context)
        let b = try await databases.createBackup(caller: caller, instanceID: body.instanceID, name: body.name, description: body.description ?? "")
        return try JSONBody.encoded(RDS.CreatedBackup(id: b.id, instanceID: b.resourceId, name: b.name, description: b.description,
                                                      beginTime: String(UTCTimeFormat.cbrString(epochMilliseconds: b.createdAt).prefix(19)) + "Z"))
    }

    /// §5.2 list: instance_id (required), backup_id, backup_type, begin_time and end_time together, offset/limit (1-100, default 100).
    func list(_ request: Request, _ context: CofferContext) async throws -> Response {
        try await ErrorFamily.rds.translating {
            let caller = try context.caller()
            let q = try Query(request)
            guard let instanceID = q["instance_id"], !instanceID.isEmpty else { throw APIError.validation("instance_id is required") }
            let instance = try await databases.instance(project: caller.projectID, id: instanceID)
            let limit = try q.int("limit", range: 1...100, default: 100)
            let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
            var filter = BackupFilter()
            filter.resourceID = instance.record.id
            filter.resourceType = ResourceType.database.rawValue
            if let id = q["backup_id"] { filter.ids = [id] }
            switch try q.oneOf("backup_type", ["auto", "manual", "fragment", "incremental"]) {
            case "auto"?: filter.autoTrigger = true
            case "manual"?: filter.autoTrigger = false
            case nil: break
            default: filter.matchesNothing = true  // no fragment or incremental backups here
            }
            switch (q["begin_time"], q["end_time"]) {
            case (nil, nil): break
            case let (begin?, end?):
                filter.startTime = try Query.parseRDSTime(begin, field: "begin_time")
                filter.endTime = try Query.parseRDSTime(end, field: "end_time")
            default: throw APIError.validation("begin_time and end_time must be given together")
            }
            if let status = try q.oneOf("status", ["BUILDING", "COMPLETED", "FAILED", "DELETING"]) {
                filter.statuses = RDSWire.backupStatuses(status)
            }
            let page = try await backups.listBackups(project: caller.projectID, filter: filter, sort: [("created_at", false)], offset: offset, limit: limit)
            let (rows, total) = (page.items, page.total)
            let version = (try await resources.databases.get(instance.record.id))?.version ?? ""
            return try JSONBody.encoded(RDS.BackupList(backups: rows.map { backup($0, version: version) }, totalCount: total))
        }
    }

    func delete(_ request: Request, _ context: CofferContext, id: String) async throws -> Response {
        try await ErrorFamily.rds.translating {
            try await databases.delete(caller: try context.caller(), id: id)
            return Response(status: .ok)
        }
    }

    @Sendable func showPolicy(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let p = try await databases.policy(project: caller.projectID, instanceID: try context.parameters.require("instance_id"))
        return try JSONBody.encoded(RDS.BackupPolicyResponse(RDS.BackupPolicy(keepDays: p.keep_days, startTime: p.start_time, period: p.period)))
    }

    @Sendable func setPolicy(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(RDS.SetBackupPolicyRequest.self, &request, context: context)
        let p = body.backupPolicy
        try await databases.setPolicy(caller: caller, instanceID: try context.parameters.require("instance_id"),
                                      .init(keep_days: p.keepDays, start_time: p.startTime, period: p.period), reserveBackups: body.reserveBackups ?? false)
        return Response(status: .ok)
    }

    @Sendable func recover(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(RDS.RecoveryRequest.self, &request, context: context)
        let type = body.source.type ?? "backup"
        guard type == "backup" else { throw APIError.validation("source.type \(type) is not supported: only backup (no point-in-time recovery yet)") }
        guard body.target.dataDirectory != nil || body.target.instanceID != nil else { throw APIError.validation("target.instance_id is required") }
        if let s = body.source.instanceID { _ = try await databases.instance(project: caller.projectID, id: s) }
        let job = try await databases.recover(caller: caller, backupID: body.source.backupID, targetInstanceID: body.target.instanceID,
                                              newDataDirectory: body.target.dataDirectory)
        return try JSONBody.encoded(RDS.JobID(job))
    }

    @Sendable func job(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        guard let id = try Query(request)["id"] else { throw APIError.validation("id is required") }
        let log = try await databases.job(project: caller.projectID, id: id)
        return try JSONBody.encoded(RDS.JobResponse(RDS.Job(
            id: log.id, name: log.operationType == "restore" ? "RestoreInstance" : "CreateManualSnapshot", status: RDSWire.jobStatus(log.status),
            created: RDSRoutes.timeText(log.createdAt), ended: log.endedAt.map(RDSRoutes.timeText), progress: log.progress,
            instanceID: log.resourceId, instanceName: log.resourceName, backupID: log.backupId ?? "", failReason: log.errorMsg)))
    }
}
