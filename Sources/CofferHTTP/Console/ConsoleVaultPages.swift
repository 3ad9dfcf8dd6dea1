import CofferModel
import CofferService
import CofferSystem
import Foundation
import Hummingbird

/// Vaults, their resources, policy, backups and charts; a backup and its restore.
struct ConsoleVaultPages {
    let console: ConsoleRoutes
    var services: APIServices { console.services }

    static let objectTypes: [(value: String, label: String)] = [("turbo", "Directories"), ("disk", "Disks and block devices"), ("server", "Servers (sets of disks)")]

    static func typeLabel(_ type: String) -> String {
        switch ResourceType(rawValue: type) {
        case .fileSystem: "directory"
        case .volume: "disk"
        case .server: "server"
        case .database: "database"
        case nil: type
        }
    }

    static func vaultFields(_ v: VaultRecord) -> [String: Any] {
        var fields: [String: Any] = ["id": v.id, "name": v.name, "objectType": v.objectType, "status": v.status, "usedPercent": v.usedPercent,
                                     "used": formatBytes(v.usedBytes), "size": "\(v.sizeGB) GB"]
        // Absent, never a present nil (which mustache would print as "nil").
        fields["policyID"] = v.policyID
        return fields
    }

    static func resourceFields(_ r: ResourceRecord) -> [String: Any] {
        ["id": r.id, "name": r.name, "type": r.type, "typeLabel": typeLabel(r.type), "path": r.path ?? (r.agentID.map { "on agent \($0)" } ?? "")]
    }

    static func backupFields(_ b: BackupRecord) -> [String: Any] {
        ["id": b.id, "name": b.name, "resourceName": b.resourceName, "status": b.status.rawValue, "created": ConsoleInput.time(b.createdAt),
         "kind": (b.incremental ? "incremental" : "full") + (b.autoTrigger ? ", scheduled" : "")]
    }

    // MARK: list and create

    @Sendable func list(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let project = session.caller.projectID
        let offset = try Query(request).int("offset", range: 0...1_000_000, default: 0)
        let (items, total) = try await services.vaults.list(project: project, filter: VaultFilter(), offset: offset, limit: ConsoleRoutes.pageSize)
        let policyNames = Dictionary(try await services.policies.list(project: project, filter: PolicyFilter(), marker: nil, offset: 0, limit: 1000).items
            .map { ($0.record.id, $0.record.name) }, uniquingKeysWith: { a, _ in a })
        var page = session.header(title: "Vaults")
        page["vaults"] = items.map { view -> [String: Any] in
            var v = ConsoleVaultPages.vaultFields(view.record)
            v["resourceCount"] = view.resources.count
            v["policy"] = view.record.policyID.flatMap { policyNames[$0] } ?? "none"
            return v
        }
        page["pager"] = ConsoleInput.pager(base: "/console/vaults", query: [:], offset: offset, count: items.count, total: total, pageSize: ConsoleRoutes.pageSize)
        page["objectTypes"] = ConsoleVaultPages.objectTypes.map { ["value": $0.value, "label": $0.label, "selected": $0.value == "turbo"] }
        page["resources"] = try await freeResources(project: project, types: [.fileSystem, .volume, .server]).map(ConsoleVaultPages.resourceFields)
        return ConsolePage.render("vaults", page)
    }

    /// The project's resources of these types that no vault holds yet.
    func freeResources(project: String, types: [ResourceType]) async throws -> [ResourceRecord] {
        var out: [ResourceRecord] = []
        for type in types {
            for r in try await services.resources.list(project: project, filter: ResourceFilter(type: type.rawValue), offset: 0, limit: 200).items
            where try await services.vaults.vaultID(ofResource: r.record.id) == nil {
                out.append(r.record)
            }
        }
        return out
    }

    @Sendable func create(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        guard let name = form["name"] else { throw ServiceError.validation("name is required") }
        guard let objectType = form["object_type"], VaultService.supportedObjectTypes[objectType] != nil else {
            throw ServiceError.validation("object_type must be one of turbo, disk, server")
        }
        let size = try form.integer("size", label: "size", in: 1...10_485_760) ?? 100
        var input = VaultInput(name: name, billing: .init(consistentLevel: "crash_consistent", objectType: objectType, protectType: "backup", size: size))
        for id in form.all("resource") {
            let r = try await services.resources.view(project: session.caller.projectID, id: try ConsoleInput.id(id, field: "resource"))
            input.resources.append(.init(id: r.record.id, type: r.record.type))
        }
        let view = try await services.vaults.create(caller: session.caller, input)
        return ConsolePage.redirect("/console/vaults/\(view.record.id)")
    }

    // MARK: one vault

    @Sendable func show(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let project = session.caller.projectID
        let id = try ConsoleInput.parameter(context, "vault_id")
        let view = try await services.vaults.view(project: project, id: id)
        let query = try Query(request)
        let offset = try query.int("offset", range: 0...1_000_000, default: 0)
        var filter = BackupFilter()
        filter.vaultID = id
        var kept: [String: String] = [:]
        if let status = query["status"], !status.isEmpty {
            guard let s = BackupStatus(rawValue: status) else { throw ServiceError.validation("status must be a backup status") }
            filter.statuses = [s]
            kept["status"] = status
        }
        if let resource = query["resource_id"], !resource.isEmpty {
            filter.resourceID = try ConsoleInput.id(resource, field: "resource_id")
            kept["resource_id"] = resource
        }
        if let name = query["name"], !name.isEmpty {
            guard name.utf8.count <= 64 else { throw ServiceError.validation("name must be at most 64 bytes") }
            filter.name = name
            kept["name"] = name
        }
        let backups = try await services.backups.listBackups(project: project, filter: filter, sort: [("created_at", false)], offset: offset, limit: ConsoleRoutes.pageSize)
        let policies = try await services.policies.list(project: project, filter: PolicyFilter(operationType: "backup"), marker: nil, offset: 0, limit: 1000).items
        let bound = view.record.policyID
        var page = session.header(title: "Vault \(view.record.name)", notice: ConsoleVaultPages.notices[query["done"] ?? ""])
        page.merge(ConsoleVaultPages.vaultFields(view.record)) { a, _ in a }
        page["policyName"] = policies.first { $0.record.id == bound }?.record.name
        page["policies"] = policies.map { ["id": $0.record.id, "name": $0.record.name, "selected": $0.record.id == bound] }
        page["resources"] = view.resources.map { entry -> [String: Any] in
            var r = ConsoleVaultPages.resourceFields(entry.resource.record)
            r["vaultID"] = id
            r["csrf"] = session.formToken
            r["filtered"] = filter.resourceID == entry.resource.record.id
            return r
        }
        let addable = VaultService.supportedObjectTypes[view.record.objectType].map { [$0] } ?? []
        let free = try await freeResources(project: project, types: addable)
        page["addable"] = free.map(ConsoleVaultPages.resourceFields)
        page["hasAddable"] = !free.isEmpty
        page["statuses"] = [["value": "", "label": "every status", "selected": filter.statuses.isEmpty]]
            + [BackupStatus.available, .protecting, .restoring, .deleting, .error].map { ["value": $0.rawValue, "label": $0.rawValue, "selected": filter.statuses == [$0]] }
        page["nameFilter"] = filter.name ?? ""
        page["backups"] = backups.items.map(ConsoleVaultPages.backupFields)
        page["pager"] = ConsoleInput.pager(base: "/console/vaults/\(id)", query: kept, offset: backups.offset, count: backups.items.count, total: backups.total,
                                           pageSize: ConsoleRoutes.pageSize)
        let history = try await services.vaults.usageHistory(project: project, id: id)
        if history.count >= 1 { page["charts"] = ConsoleCharts.usage(history) }
        return ConsolePage.render("vault", page)
    }

    /// Fixed texts for `?done=` after a form: nothing a link can make the page say.
    static let notices = ["bound": "Policy set.", "unbound": "Policy removed.", "added": "Resource added.", "removed": "Resource removed."]

    @Sendable func checkpoint(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let id = try ConsoleInput.parameter(context, "vault_id")
        _ = try await services.backups.createCheckpoint(caller: session.caller, CheckpointInput(vaultID: id))
        return ConsolePage.redirect("/console/operations?vault_id=\(id)")
    }

    @Sendable func bindPolicy(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let id = try ConsoleInput.parameter(context, "vault_id")
        if let policy = form["policy_id"] {
            try await services.policies.associate(caller: session.caller, vaultID: id, policyID: try ConsoleInput.id(policy, field: "policy_id"))
            return ConsolePage.redirect("/console/vaults/\(id)?done=bound")
        }
        let vault = try await services.vaults.view(project: session.caller.projectID, id: id)
        if let current = vault.record.policyID { try await services.policies.dissociate(caller: session.caller, vaultID: id, policyID: current) }
        return ConsolePage.redirect("/console/vaults/\(id)?done=unbound")
    }

    @Sendable func addResource(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let id = try ConsoleInput.parameter(context, "vault_id")
        guard let resource = form["resource"] else { throw ServiceError.validation("resource is required") }
        let r = try await services.resources.view(project: session.caller.projectID, id: try ConsoleInput.id(resource, field: "resource"))
        _ = try await services.vaults.addResources(caller: session.caller, id: id, [.init(id: r.record.id, type: r.record.type)])
        return ConsolePage.redirect("/console/vaults/\(id)?done=added")
    }

    @Sendable func removeResource(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let id = try ConsoleInput.parameter(context, "vault_id")
        guard let resource = form["resource"] else { throw ServiceError.validation("resource is required") }
        _ = try await services.vaults.removeResources(caller: session.caller, id: id, [try ConsoleInput.id(resource, field: "resource")])
        return ConsolePage.redirect("/console/vaults/\(id)?done=removed")
    }

    @Sendable func delete(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let id = try ConsoleInput.parameter(context, "vault_id")
        let vault = try await services.vaults.view(project: session.caller.projectID, id: id)
        guard form["confirm"] == vault.record.name else { throw ServiceError.validation("confirm must be the vault's name to delete it") }
        try await services.backups.deleteVault(caller: session.caller, id: id)
        return ConsolePage.redirect("/console/operations")
    }

    // MARK: one backup and its restore

    @Sendable func backup(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let project = session.caller.projectID
        let (b, _) = try await services.backups.backup(project: project, id: try ConsoleInput.parameter(context, "backup_id"))
        var page = session.header(title: "Backup \(b.name)")
        page.merge(ConsoleVaultPages.backupFields(b)) { a, _ in a }
        page["vaultID"] = b.vaultId
        page["vaultName"] = (try await services.vaults.record(id: b.vaultId))?.name ?? b.vaultId
        page["typeLabel"] = ConsoleVaultPages.typeLabel(b.resourceType)
        page["failReason"] = b.failReason
        page["restorable"] = b.status == .available
        let type = ResourceType(rawValue: b.resourceType)
        let original = try? await services.resources.view(project: project, id: b.resourceId)
        page["originalTarget"] = original.map { $0.record.path ?? $0.record.name }
        let targets = try await services.resources.list(project: project, filter: ResourceFilter(type: b.resourceType), offset: 0, limit: 200).items
        page["targets"] = targets.map { ConsoleVaultPages.resourceFields($0.record) }
        page["hasTargets"] = !targets.isEmpty
        page["directories"] = type == .fileSystem
        return ConsolePage.render("backup", page)
    }

    @Sendable func restore(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let project = session.caller.projectID
        let id = try ConsoleInput.parameter(context, "backup_id")
        let (b, _) = try await services.backups.backup(project: project, id: id)
        var input = RestoreInput()
        if form["target"] == "other" {
            guard let target = form["target_resource"] else { throw ServiceError.validation("target_resource is required to restore elsewhere") }
            let r = try await services.resources.view(project: project, id: try ConsoleInput.id(target, field: "target_resource"))
            switch ResourceType(rawValue: b.resourceType) {
            case .fileSystem:
                input.resourceID = r.record.id
                if let sub = form["subdirectory"] {
                    guard let base = r.record.path else { throw ServiceError.validation("target_resource has no path on this server") }
                    input.destinationPath = base + "/" + sub
                }
            case .volume: input.volumeID = r.record.id
            case .server: input.serverID = r.record.id
            default: throw ServiceError.validation("this backup is restored through the database pages")
            }
        } else {
            input.resourceID = b.resourceId
            if b.resourceType == ResourceType.volume.rawValue { input.volumeID = b.resourceId }
            if b.resourceType == ResourceType.server.rawValue { input.serverID = b.resourceId }
        }
        _ = try await services.backups.restore(caller: session.caller, id: id, input)
        return ConsolePage.redirect("/console/operations?vault_id=\(b.vaultId)")
    }

    @Sendable func deleteBackup(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let id = try ConsoleInput.parameter(context, "backup_id")
        let (b, _) = try await services.backups.backup(project: session.caller.projectID, id: id)
        _ = try await services.backups.delete(caller: session.caller, id: id)
        return ConsolePage.redirect("/console/operations?vault_id=\(b.vaultId)")
    }
}
