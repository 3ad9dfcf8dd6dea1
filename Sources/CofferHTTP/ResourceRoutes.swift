import CofferAPI
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

    func resource(_ v: ResourceView) -> Inventory.Resource {
        let r = v.record
        var o = Inventory.Resource()
        o.id = r.id
        o.name = r.name
        o.type = r.type
        o.description = r.description
        o.projectID = r.projectID
        o.createdAt = IdentityRoutes.time(r.createdAt)
        o.updatedAt = IdentityRoutes.time(r.updatedAt)
        if v.type == .database { o.dataDirectory = r.path } else { o.path = r.path }
        o.restoreSpecialFiles = r.restoreSpecialFiles
        o.agentID = r.agentID
        if v.type == .database { o.engine = "PostgreSQL" }  // the connection (with its password) is never shown
        o.sizeBytes = v.sizeBytes
        o.size = ResourceRoutes.gigabytes(v.sizeBytes)
        if v.type == .server {
            o.disks = v.children.map { Inventory.Resource.Disk(id: $0.record.id, name: $0.record.name, path: $0.record.path ?? "", bootable: $0.record.bootable, sizeBytes: $0.sizeBytes) }
        }
        return o
    }

    static func paging(_ q: Query, defaultLimit: Int = 1000) throws -> (offset: Int, limit: Int) {
        (try q.int("offset", range: 0...Int(Int32.max), default: 0), try q.int("limit", range: 1...1000, default: defaultLimit))
    }

    @Sendable func create(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(Inventory.RegisterRequest.self, &request, context: context).resource
        // "rds" is the spelling for a database instance.
        guard let type = body.type == "rds" ? .database : ResourceType(rawValue: body.type) else {
            throw APIError.validation("resource.type must be one of \(ResourceType.allCases.map(\.rawValue).joined(separator: ", ")) or rds")
        }
        let disks = (body.disks ?? []).map { DiskInput(name: $0.name, path: $0.path, bootable: $0.bootable ?? false) }
        var input = ResourceInput(type: type, name: body.name, description: body.description ?? "", path: body.path, disks: disks, projectID: body.projectID)
        input.restoreSpecialFiles = body.restoreSpecialFiles ?? false
        input.agentID = body.agentID
        if type == .database {
            guard let engine = body.engine else { throw APIError.validation("resource.engine is required") }
            guard let connection = body.connection else { throw APIError.validation("resource.connection is required") }
            input.engine = engine
            input.connection = connection
            input.path = body.dataDirectory ?? input.path
        }
        let view = try await resources.register(caller: caller, input)
        return try JSONBody.encoded(Inventory.ResourceResponse(resource(view)))
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
        return try JSONBody.encoded(Inventory.ResourceList(items.map(resource), count: total, offset: offset, limit: limit))
    }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let view = try await resources.view(project: caller.projectID, id: try context.parameters.require("resource_id"))
        return try JSONBody.encoded(Inventory.ResourceResponse(resource(view)))
    }

    @Sendable func update(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(Inventory.UpdateRequest.self, &request, context: context).resource
        if let key = body.unchangeable.first {
            throw APIError.validation("resource.\(key) cannot be changed (only name and description); remove and register again")
        }
        let view = try await resources.update(caller: caller, id: try context.parameters.require("resource_id"), name: body.name, description: body.description)
        return try JSONBody.encoded(Inventory.ResourceResponse(resource(view)))
    }

    @Sendable func delete(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try await resources.remove(caller: caller, id: try context.parameters.require("resource_id"))
        return Response(status: .noContent)
    }

    // MARK: protectables

    /// CBR ProtectablesResp; `protectable.vault` is the vault the resource is bound to, if any.
    func protectable(_ v: ResourceView, project: String) async throws -> CBR.Protectable {
        var p = CBR.Protectable()
        if let vaultID = try await vaults.vaultID(ofResource: v.record.id) {
            p.protectable.vault = VaultRoutes.vault(try await vaults.view(project: project, id: vaultID))
        }
        for c in v.children { p.children.append(try await protectable(c, project: project)) }
        p.id = v.record.id
        p.name = v.record.name
        p.type = v.record.type
        p.detail.path = v.record.path ?? ""
        p.size = ResourceRoutes.gigabytes(v.sizeBytes) ?? 0
        return p
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
        if let status = q["status"], status != "available" { return try JSONBody.encoded(CBR.ProtectableList([])) }
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
        var instances: [CBR.Protectable] = []
        for item in page { instances.append(try await protectable(item, project: caller.projectID)) }
        return try JSONBody.encoded(CBR.ProtectableList(instances))
    }

    @Sendable func showProtectable(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let type = try protectableType(context)
        let view = try await resources.view(project: caller.projectID, id: try context.parameters.require("instance_id"))
        guard view.type == type else { throw APIError(status: .notFound, code: "BackupService.6302", message: "resource \(view.record.id) is not a \(type.protectableType)") }
        return try JSONBody.encoded(CBR.ProtectableResponse(try await protectable(view, project: caller.projectID)))
    }
}
