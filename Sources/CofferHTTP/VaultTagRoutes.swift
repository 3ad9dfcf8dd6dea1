import CofferAPI
import CofferService
import Foundation
import HTTPTypes
import Hummingbird

/// CBR vault tags (cbr-v3.md §5 "Tags"; Terraform's `tags/action`): writes answer 204.
struct VaultTagRoutes {
    let vaults: VaultService

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.get, "/v3/:project_id/vault/tags", projectTags)
        add(.get, "/v3/:project_id/vault/:vault_id/tags", show)
        add(.post, "/v3/:project_id/vault/:vault_id/tags", create)
        add(.post, "/v3/:project_id/vault/:vault_id/tags/action", batch)
        add(.delete, "/v3/:project_id/vault/:vault_id/tags/:key", delete)
    }

    static func tags(_ list: [CBR.Tag]) -> [Tag] { list.map { Tag(key: $0.key, value: $0.value ?? "") } }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let tags = try await vaults.tags(project: caller.projectID, vaultID: try context.parameters.require("vault_id"))
        return try JSONBody.encoded(CBR.VaultTags(tags.map { CBR.Tag(key: $0.key, value: $0.value) }))
    }

    @Sendable func projectTags(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.encoded(CBR.ProjectTags(try await vaults.projectTags(project: caller.projectID).map { .init(key: $0.key, values: $0.values) }))
    }

    @Sendable func create(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.TagCreateRequest.self, &request, context: context)
        try await vaults.addTags(caller: caller, vaultID: try context.parameters.require("vault_id"), VaultTagRoutes.tags([body.tag]), field: "tag")
        return Response(status: .noContent)
    }

    @Sendable func batch(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.TagActionRequest.self, &request, context: context)
        guard body.sysTags?.isEmpty ?? true else { throw APIError.validation("sys_tags are not supported (no enterprise projects)") }
        let tags = VaultTagRoutes.tags(body.tags ?? [])
        let vaultID = try context.parameters.require("vault_id")
        switch body.action {
        case "create": try await vaults.addTags(caller: caller, vaultID: vaultID, tags, field: "tags")
        case "delete": try await vaults.removeTags(caller: caller, vaultID: vaultID, tags, mustExist: false)
        default: throw APIError.validation("action must be create or delete")
        }
        return Response(status: .noContent)
    }

    @Sendable func delete(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let key = try context.parameters.require("key")
        try await vaults.removeTags(caller: caller, vaultID: try context.parameters.require("vault_id"), [Tag(key: key, value: "")], mustExist: true)
        return Response(status: .noContent)
    }
}
