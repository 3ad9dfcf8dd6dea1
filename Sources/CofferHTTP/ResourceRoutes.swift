import CofferModel
import CofferService
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Coffer's resource inventory (`/v3/{project_id}/coffer/resources`, an
/// extension documented in docs/api.md) and the CBR protectables listing
/// built on it.
struct ResourceRoutes {
    let resources: ResourceService
    let vaults: VaultService

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.post, "/v3/:project_id/coffer/resources", create)
        add(.get, "/v3/:project_id/coffer/resources", list)
        add(.get, "/v3/:project_id/coffer/resources/:resource_id", show)
        add(.put, "/v3/:project_id/coffer/resources/:resource_id", update)
        add(.delete, "/v3/:project_id/coffer/resources/:resource_id", delete)
        add(.get, "/v3/:project_id/protectables/:protectable_type/instances", listProtectables)
        add(.get, "/v3/:project_id/protectables/:protectable_type/instances/:instance_id", showProtectable)
    }

    static func gigabytes(_ bytes: Int64?) -> Int? {
        bytes.map { Int(($0 + (1 << 30) - 1) >> 30) }
    }

    func json(_ v: ResourceView) -> [String: Any] {
        let r = v.record
        var o: [String: Any] = ["id": r.id, "name": r.name, "type": r.type, "description": r.description, "project_id": r.projectID,
                                "created_at": IdentityRoutes.time(r.createdAt), "updated_at": IdentityRoutes.time(r.updatedAt)]
        if let p = r.path { o[v.type == .database ? "data_dir" : "path"] = p }
        o["restore_special_files"] = r.restoreSpecialFiles
        if v.type == .database { o["engine"] = "PostgreSQL" }  // the connection (with its password) is never shown
        if let s = v.sizeBytes { o["size_bytes"] = s; o["size"] = ResourceRoutes.gigabytes(s) }
        if v.type == .server {
            o["disks"] = v.children.map { c -> [String: Any] in
                var d: [String: Any] = ["id": c.record.id, "name": c.record.name, "path": c.record.path ?? "", "bootable": c.record.bootable]
                if let s = c.sizeBytes { d["size_bytes"] = s }
                return d
            }
        }
        return o
    }

    static func paging(_ q: Query, defaultLimit: Int = 1000) throws -> (offset: Int, limit: Int) {
        (try q.int("offset", range: 0...Int(Int32.max), default: 0), try q.int("limit", range: 1...1000, default: defaultLimit))
    }

    @Sendable func create(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try Fields(try await JSONBody.object(&request, context: context)).object("resource")
        let typeText = try body.string("type")
        // "rds" is the spelling for a database instance.
        guard let type = typeText == "rds" ? .database : ResourceType(rawValue: typeText) else {
            throw APIError.validation("resource.type must be one of \(ResourceType.allCases.map(\.rawValue).joined(separator: ", ")) or rds")
        }
        var disks: [DiskInput] = []
        if let raw = body.object["disks"], !(raw is NSNull) {
            guard let list = raw as? [Any] else { throw APIError.validation("resource.disks must be an array") }
            for (i, item) in list.enumerated() {
                guard let d = item as? [String: Any] else { throw APIError.validation("resource.disks[\(i)] must be an object") }
                let f = Fields(d, path: "resource.disks[\(i)]")
                disks.append(DiskInput(name: try f.string("name"), path: try f.string("path"), bootable: try f.optionalBool("bootable") ?? false))
            }
        }
        var input = ResourceInput(type: type, name: try body.string("name"), description: try body.optionalString("description") ?? "",
                                  path: try body.optionalString("path"), disks: disks, projectID: try body.optionalString("project_id"))
        input.restoreSpecialFiles = try body.optionalBool("restore_special_files") ?? false
        if type == .database {
            input.engine = try body.string("engine")
            input.connection = try body.string("connection")
            input.path = try body.optionalString("data_dir") ?? input.path
        }
        let view = try await resources.register(caller: caller, input)
        return JSONBody.response(["resource": json(view)])
    }

    @Sendable func list(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        let (offset, limit) = try ResourceRoutes.paging(q, defaultLimit: 100)
        var filter = ResourceFilter()
        if let t = q["type"] {
            guard ResourceType(rawValue: String(t)) != nil else { throw APIError.validation("type must be one of \(ResourceType.allCases.map(\.rawValue).joined(separator: ", "))") }
            filter.type = String(t)
        }
        filter.name = q["name"]
        let (items, total) = try await resources.list(project: caller.projectID, filter: filter, offset: offset, limit: limit)
        return JSONBody.response(["resources": items.map(json), "count": total, "offset": offset, "limit": limit])
    }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let view = try await resources.view(project: caller.projectID, id: try context.parameters.require("resource_id"))
        return JSONBody.response(["resource": json(view)])
    }

    @Sendable func update(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try Fields(try await JSONBody.object(&request, context: context)).object("resource")
        for key in body.object.keys where !["name", "description"].contains(key) {
            throw APIError.validation("resource.\(key) cannot be changed (only name and description); remove and register again")
        }
        let view = try await resources.update(caller: caller, id: try context.parameters.require("resource_id"),
                                              name: try body.optionalString("name"), description: try body.optionalString("description"))
        return JSONBody.response(["resource": json(view)])
    }

    @Sendable func delete(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try await resources.remove(caller: caller, id: try context.parameters.require("resource_id"))
        return Response(status: .noContent)
    }

    // MARK: protectables

    /// CBR ProtectablesResp; `protectable.vault` is the vault the resource is bound to, if any.
    func protectable(_ v: ResourceView, project: String) async throws -> [String: Any] {
        var result: [String: Any] = ["result": true, "code": "", "reason": "", "message": ""]
        if let vaultID = try await vaults.vaultID(ofResource: v.record.id) {
            result["vault"] = VaultRoutes.json(try await vaults.view(project: project, id: vaultID))
        }
        var children: [[String: Any]] = []
        for c in v.children { children.append(try await protectable(c, project: project)) }
        return ["id": v.record.id, "name": v.record.name, "type": v.record.type, "status": "available", "detail": ["path": v.record.path ?? ""],
                "protectable": result, "size": ResourceRoutes.gigabytes(v.sizeBytes) ?? 0, "children": children]
    }

    func protectableType(_ context: CofferContext) throws -> ResourceType {
        let text = try context.parameters.require("protectable_type")
        guard let t = ResourceType(protectableType: text) else {
            throw APIError.validation("protectable_type must be server, disk or turbo")
        }
        return t
    }

    @Sendable func listProtectables(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let type = try protectableType(context)
        let q = try Query(request)
        let (offset, limit) = try ResourceRoutes.paging(q)
        if let status = q["status"], status != "available" { return JSONBody.response(["instances": [[String: Any]]()]) }
        var filter = ResourceFilter(type: type.rawValue, name: q["name"], id: q["id"])
        if type == .volume {
            // A server's disks are volumes too; server_id narrows to one server's.
            filter.topLevelOnly = false
            filter.parentID = q["server_id"]
        }
        var (items, _) = try await resources.list(project: caller.projectID, filter: filter, offset: 0, limit: 1_000_000)
        if let marker = q["marker"] {
            guard let i = items.firstIndex(where: { $0.record.id == marker }) else { throw APIError.validation("marker \(marker) is not an instance id") }
            items = Array(items[(i + 1)...])
        }
        let page = items.dropFirst(offset).prefix(limit)
        var instances: [[String: Any]] = []
        for item in page { instances.append(try await protectable(item, project: caller.projectID)) }
        return JSONBody.response(["instances": instances])
    }

    @Sendable func showProtectable(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let type = try protectableType(context)
        let view = try await resources.view(project: caller.projectID, id: try context.parameters.require("instance_id"))
        guard view.type == type else { throw APIError(status: .notFound, code: "BackupService.6302", message: "resource \(view.record.id) is not a \(type.protectableType)") }
        return JSONBody.response(["instance": try await protectable(view, project: caller.projectID)])
    }
}
