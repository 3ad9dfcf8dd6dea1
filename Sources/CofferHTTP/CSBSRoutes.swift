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

    func tags(_ fields: Fields, _ key: String) throws -> [Tag] {
        guard let raw = fields.object[key], !(raw is NSNull) else { return [] }
        guard let list = raw as? [Any], !list.isEmpty else { throw APIError.validation("\(fields.name(key)) must be a non-empty array of {key, value}") }
        return try list.enumerated().map { i, item in
            guard let o = item as? [String: Any] else { throw APIError.validation("\(fields.name(key))[\(i)] must be an object") }
            let f = Fields(o, path: "\(fields.name(key))[\(i)]")
            // Surrounding spaces are dropped (seed 001).
            return .init(key: try f.string("key").trimmingCharacters(in: .whitespaces), value: (try f.optionalString("value") ?? "").trimmingCharacters(in: .whitespaces))
        }
    }

    func volumes(_ fields: Fields?) throws -> [ProtectionService.VolumeTarget] {
        guard let fields, let raw = fields.object["volumes"], !(raw is NSNull) else { return [] }
        guard let list = raw as? [Any] else { throw APIError.validation("\(fields.name("volumes")) must be an array") }
        return try list.enumerated().map { i, item in
            guard let o = item as? [String: Any] else { throw APIError.validation("\(fields.name("volumes"))[\(i)] must be an object") }
            let f = Fields(o, path: "\(fields.name("volumes"))[\(i)]")
            return .init(backupID: try f.string("backup_id"), volumeID: try f.string("volume_id"))
        }
    }

    func checkpointJSON(_ c: CheckpointRecord, server: ResourceView) -> [String: Any] {
        ["id": c.id, "project_id": c.projectId, "status": CBRWire.status(c.status), "created_at": BackupRoutes.time(c.createdAt), "resource_graph": NSNull(),
         "extra_info": NSNull(),
         "protection_plan": ["id": "fake_" + c.id, "name": "server protect plan for \(server.record.id)",
                             "resources": [["id": server.record.id, "type": server.record.type, "name": server.record.name, "extra_info": [String: Any]()]]] as [String: Any]]
    }

    // MARK: protect and checks

    @Sendable func resourceAction(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try ProtectionService.checkProvider(try context.parameters.require("provider_id"))
        var request = request
        let body = Fields(try await JSONBody.object(&request, context: context))
        guard let p = try body.optionalObject("protect") else { throw APIError.validation("the body must hold protect") }
        if let type = try p.optionalString("resource_type"), type != "OS::Nova::Server" {
            throw APIError(status: .badRequest, code: "CSBS.6003", message: "protect.resource_type must be OS::Nova::Server")
        }
        var input = ProtectionService.ProtectInput()
        input.name = try p.optionalString("backup_name")
        input.description = try p.optionalString("description") ?? ""
        input.incremental = try p.optionalBool("incremental") ?? true
        input.tags = try tags(p, "tags")
        _ = try p.optionalObject("extra_info")
        let (checkpoint, server) = try await protection.protect(caller: caller, serverID: try context.parameters.require("resource_id"), input)
        return JSONBody.response(["checkpoint": checkpointJSON(checkpoint, server: server)])
    }

    func checkJSON(_ c: ProtectionService.Check) -> [String: Any] {
        ["resource_id": c.resourceID, "resource_type": c.resourceType, "result": c.result, "error_code": c.errorCode, "error_msg": c.errorMessage]
    }

    @Sendable func checkAction(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try ProtectionService.checkProvider(try context.parameters.require("provider_id"))
        var request = request
        let body = Fields(try await JSONBody.object(&request, context: context))
        func entries(_ key: String) throws -> [Fields]? {
            guard let raw = body.object[key], !(raw is NSNull) else { return nil }
            guard let list = raw as? [Any], !list.isEmpty else { throw APIError.validation("\(key) must be a non-empty array") }
            return try list.enumerated().map { i, item in
                guard let o = item as? [String: Any] else { throw APIError.validation("\(key)[\(i)] must be an object") }
                return Fields(o, path: "\(key)[\(i)]")
            }
        }
        if let list = try entries("check_protectable") {
            var out: [[String: Any]] = []
            for f in list {
                out.append(checkJSON(await protection.checkProtectable(caller: caller, resourceID: try f.string("resource_id"),
                                                                        resourceType: try f.optionalString("resource_type") ?? "OS::Nova::Server")))
            }
            return JSONBody.response(["protectable": out])
        }
        if let list = try entries("check_restorable") {
            var out: [[String: Any]] = []
            for f in list {
                let target = try f.object("target")
                out.append(checkJSON(await protection.checkRestorable(caller: caller, itemID: try f.string("checkpoint_item_id"), serverID: try target.string("resource_id"),
                                                                       resourceType: try target.optionalString("resource_type") ?? "OS::Nova::Server", volumes: try volumes(target))))
            }
            return JSONBody.response(["restorable": out])
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

    func itemBodies(_ rows: [BackupRecord]) async throws -> [CheckpointItemBody] {
        let children = try await backups.children(of: rows.map(\.id))
        let logs = try await backups.latestLogs(backups: rows.map(\.id))
        return rows.map { CheckpointItemBody(row: $0, children: children[$0.id] ?? [], log: logs[$0.id], region: region) }
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
        return JSONBody.response(["checkpoint_items": try await itemBodies(page.items)])
    }

    @Sendable func countItems(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (project, filter) = try filter(try Query(request), caller: caller)
        return JSONBody.response(["count": try await backups.countBackups(project: project, filter: filter)])
    }

    @Sendable func showItem(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (row, _) = try await protection.item(project: caller.projectID, id: try context.parameters.require("checkpoint_item_id"))
        return JSONBody.response(["checkpoint_item": try await itemBodies([row])[0]])
    }

    @Sendable func deleteCheckpoint(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try ProtectionService.checkProvider(try context.parameters.require("provider_id"))
        try await protection.delete(caller: caller, checkpointID: try context.parameters.require("checkpoint_id"), itemID: try Query(request)["checkpoint_items"])
        return JSONBody.response([String: Any]())
    }

    // MARK: restore and quotas

    @Sendable func restore(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let r = try Fields(try await JSONBody.object(&request, context: context)).object("restore")
        let provider = try r.optionalString("provider_id") ?? ProtectionService.providerID
        try ProtectionService.checkProvider(provider)
        let checkpointID = try r.string("checkpoint_id")
        let p = try r.object("parameters")
        let itemID = try p.string("checkpoint_item_id")
        let targets = try p.optionalObject("targets")
        let serverID = try targets?.optionalString("server_id")
        let restoreTarget = try r.optionalString("restore_target")
        let id = try await protection.restore(caller: caller, checkpointID: checkpointID, itemID: itemID, serverID: serverID, volumes: try volumes(targets),
                                              powerOn: try p.optionalBool("power_on") ?? true)
        return JSONBody.response(["restore": ["id": id, "checkpoint_id": checkpointID, "parameters": p.object, "project_id": caller.projectID, "provider_id": provider,
                                              "restore_target": restoreTarget ?? NSNull(), "status": "in_progress",
                                              "resources_status": [String: Any](), "resources_reason": [String: Any]()] as [String: Any]])
    }

    @Sendable func quotas(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let count = try await backups.countBackups(project: caller.projectID, filter: BackupFilter())
        let (sizeGB, usedBytes) = try await vaults.summary(project: caller.projectID)
        // Coffer limits capacity (vault sizes), not the number of backups: -1 is unlimited.
        return JSONBody.response(["quotas": ["resources": [
            ["type": "backups", "unit": "", "quota": -1, "used": count],
            ["type": "backup_capacity", "unit": "GB", "quota": sizeGB, "used": Int((usedBytes + (1 << 30) - 1) >> 30)],
        ]]])
    }
}

/// A CSBS checkpoint_item (§3.2 model): a server backup, its disks as
/// `volume_backups`, progress and failure from its newest operation log.
struct CheckpointItemBody: JSONWritable {
    let row: BackupRecord
    let children: [BackupRecord]
    let log: OperationLogRecord?
    let region: String

    static func megabytes(_ bytes: Int64) -> Int64 { (bytes + (1 << 20) - 1) >> 20 }

    func writeJSON(to out: inout JSONOutput) {
        let b = row
        let tags = (try? JSONSerialization.jsonObject(with: Data(b.tags.utf8))) ?? [Any]()
        let failed = b.status == .error && log?.status == .failed
        out.object { o in
            func time(_ name: String, _ ms: Int64?) { o.field(name, ms.map { UTCTimeFormat.cbrString(epochMilliseconds: $0) }) }
            o.field("id", b.id); o.field("checkpoint_id", b.checkpointId); o.field("name", b.name); o.field("description", b.description)
            o.field("resource_id", b.resourceId); o.field("resource_type", b.resourceType); o.field("status", CBRWire.status(b.status))
            time("created_at", b.createdAt); time("updated_at", b.updatedAt); time("protected_at", b.protectedAt)
            o.object("backup_data") { d in
                d.field("__openstack_region_name", region); d.field("cloudservicetype", "QEMU"); d.field("disk", (b.resourceSize + (1 << 30) - 1) >> 30)
                d.field("imagetype", "private"); d.field("ram", 0); d.field("vcpus", 0); d.field("eip", ""); d.field("private_ip", "")
            }
            o.field("tags", any: tags)
            o.emptyArray("replication_records")
            o.object("extend_info") { e in
                e.field("auto_trigger", b.autoTrigger); e.field("average_speed", 0); e.field("copy_from", ""); e.field("copy_status", "na")
                e.object("fail_code") { f in
                    if failed { f.field("Code", log?.errorCode ?? ""); f.field("Description", log?.errorMsg ?? "") }
                }
                e.field("fail_op", failed ? log?.operationType ?? "" : ""); e.field("fail_reason", b.failReason ?? "")
                e.field("image_type", b.imageType); e.field("incremental", b.incremental)
                e.field("progress", b.status == .available ? 100 : (log?.progress ?? 0))
                e.field("resource_az", b.resourceAz); e.field("resource_name", b.resourceName); e.field("resource_type", b.resourceType)
                e.field("size", CheckpointItemBody.megabytes(b.resourceSize)); e.field("space_saving_ratio", 0)
                e.array("volume_backups", children) { a, c in
                    a.object { v in
                        v.field("id", c.id); v.field("name", c.name); v.field("status", CBRWire.status(c.status)); v.field("bootable", c.bootable)
                        v.field("incremental", c.incremental); v.field("image_type", "backup"); v.field("average_speed", 0)
                        v.field("size", CheckpointItemBody.megabytes(c.resourceSize)); v.field("source_volume_id", c.resourceId)
                        v.field("source_volume_size", (c.resourceSize + (1 << 30) - 1) >> 30); v.field("source_volume_name", c.resourceName)
                        v.field("space_saving_ratio", 0); v.field("snapshot_id", c.snapshotId ?? "")
                    }
                }
                e.field("finished_at", b.protectedAt.map { UTCTimeFormat.cbrString(epochMilliseconds: $0) } ?? "")
                e.field("supported_restore_mode", "backup"); e.emptyArray("os_images_data")
                e.field("support_lld", false); e.field("taskid", log?.id ?? ""); e.field("hypervisor_type", "QEMU")
            }
        }
    }
}
