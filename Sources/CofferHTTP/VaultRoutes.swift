import CofferAPI
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// CBR v3 vaults (shared/api/cbr-v3.md §5 Vaults, §6.2 Vault models).
struct VaultRoutes {
    let vaults: VaultService
    let backups: BackupService

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.post, "/v3/:project_id/vaults", create)
        add(.get, "/v3/:project_id/vaults", list)
        add(.get, "/v3/:project_id/vaults/summary", summary)
        add(.get, "/v3/:project_id/vaults/:vault_id", show)
        add(.put, "/v3/:project_id/vaults/:vault_id", update)
        add(.delete, "/v3/:project_id/vaults/:vault_id", delete)
        add(.post, "/v3/:project_id/vaults/:vault_id/addresources", addResources)
        add(.post, "/v3/:project_id/vaults/:vault_id/removeresources", removeResources)
        add(.post, "/v3/:project_id/coffer/vaults/:vault_id/verify", verify)
    }

    /// CBR's timestamp form, e.g. 2020-02-05T10:38:34.209782 (UTC, no zone suffix).
    static func cbrTime(_ d: Date) -> String { UTCTimeFormat.cbrString(epochMilliseconds: d.epochMilliseconds) }

    static func vault(_ view: VaultView) -> CBR.Vault {
        let v = view.record
        var out = CBR.Vault()
        out.billing.allocated = v.sizeGB
        out.billing.chargingMode = v.chargingMode
        out.billing.cloudType = v.cloudType
        out.billing.consistentLevel = v.consistentLevel
        out.billing.objectType = v.objectType
        out.billing.protectType = v.protectType
        out.billing.size = v.sizeGB
        out.billing.specCode = VaultService.specCodes[v.objectType] ?? ""
        out.billing.status = v.status
        out.billing.used = mebibytes(v.usedBytes)
        out.resources = view.resources.map { binding, r in
            var o = CBR.VaultResource()
            o.id = r.record.id
            o.name = r.record.name
            o.type = r.record.type
            o.size = ResourceRoutes.gigabytes(r.sizeBytes) ?? 0
            o.extraInfo = JSONValue.object(text: binding.extraInfo)
            return o
        }
        out.id = v.id
        out.name = v.name
        out.description = v.description
        out.projectID = v.projectID
        out.providerID = VaultService.providerIDs[v.objectType] ?? ""
        out.tags = ((try? JSONDecoder().decode([Tag].self, from: Data(v.tags.utf8))) ?? []).map { CBR.Tag(key: $0.key, value: $0.value) }
        out.enterpriseProjectID = v.enterpriseProjectID
        out.autoBind = v.autoBind
        out.bindRules = (try? JSONDecoder().decode(JSONObject.self, from: Data(v.bindRules.utf8))) ?? ["tags": .array([])]
        out.userID = v.userID
        out.createdAt = cbrTime(v.createdAt)
        out.updatedAt = cbrTime(v.updatedAt)
        out.autoExpand = v.autoExpand
        out.smnNotify = v.smnNotify
        out.threshold = v.threshold
        out.locked = v.locked
        out.availabilityZone = v.availabilityZone
        out.backupNamePrefix = v.backupNamePrefix
        out.policyID = v.policyID
        return out
    }

    /// CBR reports used space in MiB, rounded up.
    static func mebibytes(_ bytes: Int64) -> Int { Int((bytes + (1 << 20) - 1) >> 20) }

    static func resources(_ list: [CBR.VaultResourceInput]) -> [VaultInput.Resource] {
        list.map { VaultInput.Resource(id: $0.id, type: $0.type, extraInfo: JSONValue.text($0.extraInfo ?? [:])) }
    }

    @Sendable func create(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let v = try await JSONBody.decode(CBR.VaultCreateRequest.self, &request, context: context).vault
        let b = v.billing
        var input = VaultInput(name: v.name, billing: .init(consistentLevel: b.consistentLevel, objectType: b.objectType, protectType: b.protectType,
                                                            size: b.size, cloudType: b.cloudType, chargingMode: b.chargingMode))
        input.description = v.description ?? ""
        input.resources = VaultRoutes.resources(v.resources)
        input.tags = v.tags?.map { Tag(key: $0.key, value: $0.value ?? "") }
        input.backupPolicyID = v.backupPolicyID
        input.autoBind = v.autoBind ?? false
        input.autoExpand = v.autoExpand ?? false
        input.smnNotify = v.smnNotify ?? true
        input.threshold = v.threshold ?? 80
        input.locked = v.locked ?? false
        input.availabilityZone = v.availabilityZone ?? ""
        input.enterpriseProjectID = v.enterpriseProjectID ?? "0"
        input.backupNamePrefix = v.backupNamePrefix ?? ""
        let view = try await vaults.create(caller: caller, input)
        return try JSONBody.encoded(CBR.VaultResponse(VaultRoutes.vault(view)))
    }

    @Sendable func list(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        let limit = try q.int("limit", range: 1...1000, default: 1000)
        let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
        var filter = VaultFilter()
        filter.name = q["name"]
        filter.cloudType = try q.oneOf("cloud_type", ["public", "hybrid"])
        filter.protectType = try q.oneOf("protect_type", ["backup", "replication"])
        filter.objectType = try q.oneOf("object_type", VaultService.objectTypes)
        filter.status = q["status"]
        filter.policyID = q["policy_id"]
        filter.ids = q.all("id").flatMap { $0.split(separator: ",").map(String.init) }
        filter.resourceIDs = q["resource_ids"].map { $0.split(separator: ",").map(String.init) } ?? []
        let (items, total) = try await vaults.list(project: caller.projectID, filter: filter, offset: offset, limit: limit)
        return try JSONBody.encoded(CBR.VaultList(vaults: items.map(VaultRoutes.vault), count: total, limit: limit, offset: offset))
    }

    @Sendable func summary(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (size, used) = try await vaults.summary(project: caller.projectID)
        return try JSONBody.encoded(CBR.VaultSummary(size: size, usedSize: VaultRoutes.mebibytes(used)))
    }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.encoded(CBR.VaultResponse(VaultRoutes.vault(try await vaults.view(project: caller.projectID, id: try context.parameters.require("vault_id")))))
    }

    @Sendable func update(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let v = try await JSONBody.decode(CBR.VaultUpdateRequest.self, &request, context: context).vault
        var input = VaultUpdateInput()
        input.name = v.name
        input.size = v.billing?.size
        input.consistentLevel = v.billing?.consistentLevel
        input.autoBind = v.autoBind
        input.autoExpand = v.autoExpand
        input.smnNotify = v.smnNotify
        input.threshold = v.threshold
        input.locked = v.locked
        let view = try await vaults.update(caller: caller, id: try context.parameters.require("vault_id"), input)
        return try JSONBody.encoded(CBR.VaultResponse(VaultRoutes.vault(view)))
    }

    @Sendable func delete(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try await backups.deleteVault(caller: caller, id: try context.parameters.require("vault_id"))
        return Response(status: .noContent)
    }

    /// Coffer extension: verify the vault's data as a job (body optional: `{"verify": {"subset", "max_duration_seconds"}}`).
    @Sendable func verify(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let v = try await JSONBody.decodeOptional(CBR.VerifyRequest.self, &request, context: context)?.verify
        let id = try await backups.verify(caller: caller, vaultID: try context.parameters.require("vault_id"), subset: v?.subset, maxDurationSeconds: v?.maxDurationSeconds)
        return try JSONBody.encoded(status: .accepted, CBR.OperationLogID(id))
    }

    @Sendable func addResources(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.AddResourcesRequest.self, &request, context: context)
        let ids = try await vaults.addResources(caller: caller, id: try context.parameters.require("vault_id"), VaultRoutes.resources(body.resources))
        return try JSONBody.encoded(CBR.AddResourcesResponse(ids))
    }

    @Sendable func removeResources(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.RemoveResourcesRequest.self, &request, context: context)
        let ids = try await vaults.removeResources(caller: caller, id: try context.parameters.require("vault_id"), body.resourceIDs)
        return try JSONBody.encoded(CBR.RemoveResourcesResponse(ids))
    }
}
