import CofferAPI
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// CSBS v1 (shared/api/csbs-v1-and-rds-v3.md §3): protect, capability checks,
/// checkpoint items, delete, restore, quotas. Errors carry `CSBS.xxxx` codes.
struct CSBSRoutes {
    let protection: ProtectionService
    let backups: BackupService
    let vaults: VaultService
    let region: String

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router, family: .csbs)
        add(.post, "/v1/:project_id/providers/:provider_id/resources/:resource_id/action", resourceAction)
        add(.post, "/v1/:project_id/providers/:provider_id/resources/action", checkAction)
        add(.get, "/v1/:project_id/checkpoint_items", listItems)
        add(.get, "/v1/:project_id/checkpoint_items/count", countItems)
        add(.get, "/v1/:project_id/checkpoint_items/:checkpoint_item_id", showItem)
        add(.delete, "/v1/:project_id/providers/:provider_id/checkpoints/:checkpoint_id", deleteCheckpoint)
        add(.post, "/v1/:project_id/restores", restore)
        add(.get, "/v1/:project_id/quotas", quotas)
    }

    // MARK: bodies

    /// Surrounding spaces are dropped (seed 001); an empty list is refused.
    func tags(_ list: [CBR.Tag]?, field: String) throws -> [Tag] {
        guard let list else { return [] }
        guard !list.isEmpty else { throw APIError.validation("\(field) must be a non-empty array of {key, value}") }
        return list.map { Tag(key: $0.key.trimmingCharacters(in: .whitespaces), value: ($0.value ?? "").trimmingCharacters(in: .whitespaces)) }
    }

    func volumes(_ list: [CSBS.VolumeTarget]?) -> [ProtectionService.VolumeTarget] {
        (list ?? []).map { .init(backupID: $0.backupID, volumeID: $0.volumeID) }
    }

    func checkpoint(_ c: CheckpointRecord, server: ResourceView) -> CSBS.ProtectCheckpoint {
        var out = CSBS.ProtectCheckpoint()
        out.id = c.id
        out.projectID = c.projectId
        out.status = CBRWire.status(c.status)
        out.createdAt = BackupRoutes.time(c.createdAt)
        out.protectionPlan.id = "fake_" + c.id
        out.protectionPlan.name = "server protect plan for \(server.record.id)"
        out.protectionPlan.resources = [.init(id: server.record.id, type: server.record.type, name: server.record.name)]
        return out
    }

    // MARK: protect and checks

    @Sendable func resourceAction(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try ProtectionService.checkProvider(try context.parameters.require("provider_id"))
        var request = request
        guard let p = try await JSONBody.decode(CSBS.ProtectRequest.self, &request, context: context).protect else {
            throw APIError.validation("the body must hold protect")
        }
        if let type = p.resourceType, type != "OS::Nova::Server" {
            throw APIError(status: .badRequest, code: "CSBS.6003", message: "protect.resource_type must be OS::Nova::Server")
        }
        var input = ProtectionService.ProtectInput()
        input.name = p.backupName
        input.description = p.description ?? ""
        input.incremental = p.incremental ?? true
        input.tags = try tags(p.tags, field: "protect.tags")
        let (checkpoint, server) = try await protection.protect(caller: caller, serverID: try context.parameters.require("resource_id"), input)
        return try JSONBody.encoded(CSBS.ProtectResponse(self.checkpoint(checkpoint, server: server)))
    }

    func check(_ c: ProtectionService.Check) -> CSBS.Check {
        let code = c.result ? "" : c.reason.map { ErrorFamily.csbs($0).code } ?? ""
        return CSBS.Check(resourceID: c.resourceID, resourceType: c.resourceType, result: c.result, errorCode: code, errorMessage: c.errorMessage)
    }

    @Sendable func checkAction(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try ProtectionService.checkProvider(try context.parameters.require("provider_id"))
        var request = request
        let body = try await JSONBody.decode(CSBS.CheckRequest.self, &request, context: context)
        if let list = body.checkProtectable {
            guard !list.isEmpty else { throw APIError.validation("check_protectable must be a non-empty array") }
            var out: [CSBS.Check] = []
            for entry in list {
                out.append(check(try await protection.checkProtectable(caller: caller, resourceID: entry.resourceID, resourceType: entry.resourceType ?? "OS::Nova::Server")))
            }
            return try JSONBody.encoded(CSBS.CheckResponse(protectable: out))
        }
        if let list = body.checkRestorable {
            guard !list.isEmpty else { throw APIError.validation("check_restorable must be a non-empty array") }
            var out: [CSBS.Check] = []
            for entry in list {
                out.append(check(try await protection.checkRestorable(caller: caller, itemID: entry.checkpointItemID, serverID: entry.target.resourceID,
                                                                  resourceType: entry.target.resourceType ?? "OS::Nova::Server", volumes: volumes(entry.target.volumes))))
            }
            return try JSONBody.encoded(CSBS.CheckResponse(restorable: out))
        }
        throw APIError.validation("the body must hold check_protectable or check_restorable")
    }

    // MARK: checkpoint items

    /// The documented filters; `all_tenants` is the service admin's only.
    func filter(_ q: Query, caller: Principal) throws -> (project: String?, filter: BackupFilter) {
        var filter = BackupFilter()
        filter.resourceType = ResourceType.server.rawValue
        let types = q.all("resource_type")
        if !types.isEmpty, !types.contains(ResourceType.server.rawValue) {
            for t in types where t != "OS::Ironic::BareMetalServer" { throw APIError.validation("resource_type must be OS::Nova::Server or OS::Ironic::BareMetalServer") }
            filter.matchesNothing = true  // no bare-metal servers here
        }
        if let status = try q.oneOf("status", CSBSWire.itemFilterOrder) {
            // Deleted items are gone.
            if let known = CBRWire.backupStatus(status) { filter.statuses = [known] } else { filter.matchesNothing = true }
        }
        filter.name = q["name"]
        filter.resourceID = q["resource_id"]
        filter.resourceName = q["resource_name"]
        filter.resourceAz = q["az"]
        filter.checkpointID = q["checkpoint_id"]
        filter.imageType = try q.oneOf("image_type", ["backup", "replication"])
        filter.startTime = try Query.parseTime(q["start_time"], field: "start_time")
        filter.endTime = try Query.parseTime(q["end_time"], field: "end_time")
        // No policies yet and no server addresses: those filters match nothing.
        if let p = q["policy_id"], !p.isEmpty { filter.matchesNothing = true }
        if let ip = q["ip"], !ip.isEmpty { filter.matchesNothing = true }
        var project: String? = caller.projectID
        if let all = q["all_tenants"], ["1", "true", "True"].contains(all) {
            guard caller.isServiceAdmin else { throw APIError(status: .forbidden, code: "CSBS.1000", message: "all_tenants is for the service admin only") }
            project = nil
        }
        return (project, filter)
    }

    func items(_ rows: [BackupRecord]) async throws -> [CSBS.CheckpointItem] {
        let children = try await backups.children(of: rows.map(\.id))
        let logs = try await backups.latestLogs(backups: rows.map(\.id))
        return rows.map { CSBSRoutes.item($0, children: children[$0.id] ?? [], log: logs[$0.id], region: region) }
    }

    @Sendable func listItems(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        let limit = try q.int("limit", range: 1...1000, default: 1000)
        let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
        let (project, filter) = try filter(q, caller: caller)
        let sort = try Query.parseSort(q["sort"])
        let page = try await backups.listBackups(project: project, filter: filter, sort: sort, offset: offset, limit: limit,
                                                 marker: q["marker"], markerNoun: "a checkpoint item id")
        return try JSONBody.encoded(CSBS.CheckpointItemList(try await items(page.items)))
    }

    @Sendable func countItems(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (project, filter) = try filter(try Query(request), caller: caller)
        return try JSONBody.encoded(CSBS.Count(try await backups.countBackups(project: project, filter: filter)))
    }

    @Sendable func showItem(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (row, _) = try await protection.item(project: caller.projectID, id: try context.parameters.require("checkpoint_item_id"))
        return try JSONBody.encoded(CSBS.CheckpointItemResponse(try await items([row])[0]))
    }

    @Sendable func deleteCheckpoint(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try ProtectionService.checkProvider(try context.parameters.require("provider_id"))
        try await protection.delete(caller: caller, checkpointID: try context.parameters.require("checkpoint_id"), itemID: try Query(request)["checkpoint_items"])
        return try JSONBody.encoded(FreeObject())
    }

    // MARK: restore and quotas

    @Sendable func restore(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let r = try await JSONBody.decode(CSBS.RestoreRequest.self, &request, context: context).restore
        let provider = r.providerID ?? ProtectionService.providerID
        try ProtectionService.checkProvider(provider)
        let p = r.parameters
        let id = try await protection.restore(caller: caller, checkpointID: r.checkpointID, itemID: p.checkpointItemID, serverID: p.targets?.serverID,
                                              volumes: volumes(p.targets?.volumes), powerOn: p.powerOn ?? true)
        return try JSONBody.encoded(CSBS.RestoreResponse(.init(id: id, checkpointID: r.checkpointID, parameters: r.parametersAsSent, projectID: caller.projectID,
                                                               providerID: provider, restoreTarget: r.restoreTarget)))
    }

    @Sendable func quotas(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let count = try await backups.countBackups(project: caller.projectID, filter: BackupFilter())
        let (sizeGB, usedBytes) = try await vaults.summary(project: caller.projectID)
        // Coffer limits capacity (vault sizes), not the number of backups: -1 is unlimited.
        return try JSONBody.encoded(CSBS.Quotas([
            .init(type: "backups", unit: "", quota: -1, used: count),
            .init(type: "backup_capacity", unit: "GB", quota: sizeGB, used: Int((usedBytes + (1 << 30) - 1) >> 30)),
        ]))
    }
}

extension CSBSRoutes {
    static func megabytes(_ bytes: Int64) -> Int64 { (bytes + (1 << 20) - 1) >> 20 }
    static func gigabytes(_ bytes: Int64) -> Int64 { (bytes + (1 << 30) - 1) >> 30 }

    /// A server backup as a checkpoint item; progress and failure come from its newest operation log.
    static func item(_ b: BackupRecord, children: [BackupRecord], log: OperationLogRecord?, region: String) -> CSBS.CheckpointItem {
        let failed = b.status == .error && log?.status == .failed
        var o = CSBS.CheckpointItem()
        o.id = b.id
        o.checkpointID = b.checkpointId
        o.name = b.name
        o.description = b.description
        o.resourceID = b.resourceId
        o.resourceType = b.resourceType
        o.status = CBRWire.status(b.status)
        o.createdAt = BackupRoutes.time(b.createdAt)
        o.updatedAt = BackupRoutes.time(b.updatedAt)
        o.protectedAt = b.protectedAt.map(BackupRoutes.time)
        o.backupData.regionName = region
        o.backupData.disk = gigabytes(b.resourceSize)
        o.tags = (try? JSONDecoder().decode([CBR.Tag].self, from: Data(b.tags.utf8))) ?? []
        var e = CSBS.CheckpointItem.ExtendInfo()
        e.autoTrigger = b.autoTrigger
        if failed {
            // The code as the operation log shows it (CBR's), as it always was.
            e.failCode.code = ErrorFamily.cbr.stored(log?.errorCode ?? "")
            e.failCode.description = log?.errorMsg ?? ""
            e.failOperation = log?.operationType ?? ""
        }
        e.failReason = b.failReason ?? ""
        e.imageType = b.imageType
        e.incremental = b.incremental
        e.progress = b.status == .available ? 100 : (log?.progress ?? 0)
        e.resourceAZ = b.resourceAz
        e.resourceName = b.resourceName
        e.resourceType = b.resourceType
        e.size = megabytes(b.resourceSize)
        e.volumeBackups = children.map { c in
            var v = CSBS.CheckpointItem.VolumeBackup()
            v.id = c.id
            v.name = c.name
            v.status = CBRWire.status(c.status)
            v.bootable = c.bootable
            v.incremental = c.incremental
            v.size = megabytes(c.resourceSize)
            v.sourceVolumeID = c.resourceId
            v.sourceVolumeSize = gigabytes(c.resourceSize)
            v.sourceVolumeName = c.resourceName
            v.snapshotID = c.snapshotId ?? ""
            return v
        }
        e.finishedAt = b.protectedAt.map(BackupRoutes.time) ?? ""
        e.taskID = log?.id ?? ""
        o.extendInfo = e
        return o
    }
}
