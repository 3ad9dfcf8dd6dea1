import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Query items of the raw query, percent-decoded, repeated keys kept.
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

    static func json(_ view: VaultView) -> [String: Any] {
        let v = view.record
        let tags = (try? JSONSerialization.jsonObject(with: Data(v.tags.utf8))) as? [[String: Any]] ?? []
        let bindRules = (try? JSONSerialization.jsonObject(with: Data(v.bindRules.utf8))) as? [String: Any] ?? ["tags": []]
        let billing: [String: Any] = [
            "allocated": v.sizeGB, "charging_mode": v.chargingMode, "cloud_type": v.cloudType, "consistent_level": v.consistentLevel,
            "object_type": v.objectType, "protect_type": v.protectType, "size": v.sizeGB, "spec_code": VaultService.specCodes[v.objectType] ?? "",
            "status": v.status, "storage_unit": "", "used": Int((v.usedBytes + (1 << 20) - 1) >> 20), "frozen_scene": "", "is_multi_az": false,
            "order_id": NSNull(), "product_id": NSNull(),
        ]
        let resources: [[String: Any]] = view.resources.map { b, r in
            let extra = (try? JSONSerialization.jsonObject(with: Data(b.extraInfo.utf8))) as? [String: Any] ?? [:]
            return ["id": r.record.id, "name": r.record.name, "type": r.record.type, "protect_status": "available",
                    "size": ResourceRoutes.gigabytes(r.sizeBytes) ?? 0, "backup_size": 0, "backup_count": 0, "auto_protect": false, "extra_info": extra]
        }
        return ["id": v.id, "name": v.name, "description": v.description, "project_id": v.projectID, "provider_id": VaultService.providerIDs[v.objectType] ?? "",
                "billing": billing, "resources": resources, "tags": tags, "enterprise_project_id": v.enterpriseProjectID, "auto_bind": v.autoBind,
                "bind_rules": bindRules, "user_id": v.userID, "created_at": VaultRoutes.cbrTime(v.createdAt), "updated_at": VaultRoutes.cbrTime(v.updatedAt),
                "auto_expand": v.autoExpand, "smn_notify": v.smnNotify, "threshold": v.threshold, "sys_lock_source_service": "", "locked": v.locked,
                "availability_zone": v.availabilityZone, "backup_name_prefix": v.backupNamePrefix, "demand_billing": false, "cbc_delete_count": 0, "frozen": false]
    }

    func resourceList(_ fields: Fields, key: String, required: Bool) throws -> [VaultInput.Resource] {
        guard let raw = fields.object[key], !(raw is NSNull) else {
            if required { throw APIError.validation("\(fields.name(key)) is required (send [] for none)") }
            return []
        }
        guard let list = raw as? [Any] else { throw APIError.validation("\(fields.name(key)) must be an array") }
        return try list.enumerated().map { i, item in
            guard let o = item as? [String: Any] else { throw APIError.validation("\(fields.name(key))[\(i)] must be an object") }
            let f = Fields(o, path: "\(fields.name(key))[\(i)]")
            var extra = "{}"
            if let e = try f.optionalObject("extra_info") {
                extra = String(decoding: try JSONSerialization.data(withJSONObject: e.object, options: [.sortedKeys]), as: UTF8.self)
            }
            return VaultInput.Resource(id: try f.string("id"), type: try f.string("type"), extraInfo: extra)
        }
    }

    @Sendable func create(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let v = try Fields(try await JSONBody.object(&request, context: context)).object("vault")
        let b = try v.object("billing")
        guard let size = try b.optionalInt("size") else { throw APIError.validation("vault.billing.size is required") }
        var input = VaultInput(name: try v.string("name"), billing: .init(consistentLevel: try b.string("consistent_level"), objectType: try b.string("object_type"),
                                                                         protectType: try b.string("protect_type"), size: size, cloudType: try b.optionalString("cloud_type"),
                                                                         chargingMode: try b.optionalString("charging_mode")))
        input.description = try v.optionalString("description") ?? ""
        input.resources = try resourceList(v, key: "resources", required: true)
        if let raw = v.object["tags"], !(raw is NSNull) {
            guard let list = raw as? [Any] else { throw APIError.validation("vault.tags must be an array") }
            input.tags = try list.enumerated().map { i, item in
                guard let o = item as? [String: Any] else { throw APIError.validation("vault.tags[\(i)] must be an object") }
                let f = Fields(o, path: "vault.tags[\(i)]")
                return Tag(key: try f.string("key"), value: try f.optionalString("value") ?? "")
            }
        }
        input.backupPolicyID = try v.optionalString("backup_policy_id")
        input.autoBind = try v.optionalBool("auto_bind") ?? false
        input.autoExpand = try v.optionalBool("auto_expand") ?? false
        input.smnNotify = try v.optionalBool("smn_notify") ?? true
        input.threshold = try v.optionalInt("threshold") ?? 80
        input.locked = try v.optionalBool("locked") ?? false
        input.availabilityZone = try v.optionalString("availability_zone") ?? ""
        input.enterpriseProjectID = try v.optionalString("enterprise_project_id") ?? "0"
        input.backupNamePrefix = try v.optionalString("backup_name_prefix") ?? ""
        let view = try await vaults.create(caller: caller, input)
        return JSONBody.response(["vault": VaultRoutes.json(view)])
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
        return JSONBody.response(["vaults": items.map(VaultRoutes.json), "count": total, "limit": limit, "offset": offset])
    }

    @Sendable func summary(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (size, used) = try await vaults.summary(project: caller.projectID)
        return JSONBody.response(["size": size, "used_size": Int((used + (1 << 20) - 1) >> 20)])
    }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        return JSONBody.response(["vault": VaultRoutes.json(try await vaults.view(project: caller.projectID, id: try context.parameters.require("vault_id")))])
    }

    @Sendable func update(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let v = try Fields(try await JSONBody.object(&request, context: context)).object("vault")
        var input = VaultUpdateInput()
        input.name = try v.optionalString("name")
        if let b = try v.optionalObject("billing") {
            input.size = try b.optionalInt("size")
            input.consistentLevel = try b.optionalString("consistent_level")
        }
        input.autoBind = try v.optionalBool("auto_bind")
        input.autoExpand = try v.optionalBool("auto_expand")
        input.smnNotify = try v.optionalBool("smn_notify")
        input.threshold = try v.optionalInt("threshold")
        input.locked = try v.optionalBool("locked")
        let view = try await vaults.update(caller: caller, id: try context.parameters.require("vault_id"), input)
        return JSONBody.response(["vault": VaultRoutes.json(view)])
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
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        var subset: String?, seconds: Int?
        if buffer.readableBytes > 0, let v = try Fields(try await JSONBody.object(&request, context: context)).optionalObject("verify") {
            subset = try v.optionalString("subset")
            seconds = try v.optionalInt("max_duration_seconds")
        }
        let id = try await backups.verify(caller: caller, vaultID: try context.parameters.require("vault_id"), subset: subset, maxDurationSeconds: seconds)
        return JSONBody.response(status: .accepted, ["operation_log_id": id])
    }

    @Sendable func addResources(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = Fields(try await JSONBody.object(&request, context: context))
        let ids = try await vaults.addResources(caller: caller, id: try context.parameters.require("vault_id"), try resourceList(body, key: "resources", required: true))
        return JSONBody.response(["add_resource_ids": ids])
    }

    @Sendable func removeResources(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = Fields(try await JSONBody.object(&request, context: context))
        let ids = try await vaults.removeResources(caller: caller, id: try context.parameters.require("vault_id"), try body.stringArray("resource_ids"))
        return JSONBody.response(["remove_resource_ids": ids])
    }
}
