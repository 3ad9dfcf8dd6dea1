import Foundation
import SQLKit
import CofferModel

/// Vault rows and their resource bindings, scoped by project.
struct SQLVaultStore: VaultStore {
    let catalog: SQLCatalog

    static let columns = ["id", "project_id", "user_id", "name", "description", "object_type", "protect_type", "consistent_level", "cloud_type",
                          "charging_mode", "size_gb", "status", "auto_bind", "auto_expand", "smn_notify", "threshold", "locked", "availability_zone",
                          "enterprise_project_id", "backup_name_prefix", "policy_id", "tags", "bind_rules", "used_bytes", "key_sealed", "created_at", "updated_at",
                          "repository_url"]

    func values(_ v: VaultRecord) -> [any SQLExpression] {
        [SQLBind(v.id), SQLBind(v.projectID), SQLBind(v.userID), SQLBind(v.name), SQLBind(v.description), SQLBind(v.objectType), SQLBind(v.protectType),
         SQLBind(v.consistentLevel), SQLBind(v.cloudType), SQLBind(v.chargingMode), SQLBind(v.sizeGB), SQLBind(v.status), SQLBind(v.autoBind),
         SQLBind(v.autoExpand), SQLBind(v.smnNotify), SQLBind(v.threshold), SQLBind(v.locked), SQLBind(v.availabilityZone), SQLBind(v.enterpriseProjectID),
         SQLBind(v.backupNamePrefix), SQLBind(v.policyID), SQLBind(v.tags), SQLBind(v.bindRules), SQLBind(v.usedBytes), SQLBind(v.keySealed),
         SQLBind(v.createdAt.epochMilliseconds), SQLBind(v.updatedAt.epochMilliseconds), SQLBind(v.repositoryURL)]
    }

    func decode(_ r: any SQLRow) throws -> VaultRecord {
        VaultRecord(id: try r.decode(column: "id", as: String.self), projectID: try r.decode(column: "project_id", as: String.self),
                    userID: try r.decode(column: "user_id", as: String.self), name: try r.decode(column: "name", as: String.self),
                    description: try r.decode(column: "description", as: String.self), objectType: try r.decode(column: "object_type", as: String.self),
                    protectType: try r.decode(column: "protect_type", as: String.self), consistentLevel: try r.decode(column: "consistent_level", as: String.self),
                    cloudType: try r.decode(column: "cloud_type", as: String.self), chargingMode: try r.decode(column: "charging_mode", as: String.self),
                    sizeGB: try r.decode(column: "size_gb", as: Int.self), status: try r.decode(column: "status", as: String.self),
                    autoBind: try r.decode(column: "auto_bind", as: Bool.self), autoExpand: try r.decode(column: "auto_expand", as: Bool.self),
                    smnNotify: try r.decode(column: "smn_notify", as: Bool.self), threshold: try r.decode(column: "threshold", as: Int.self),
                    locked: try r.decode(column: "locked", as: Bool.self), availabilityZone: try r.decode(column: "availability_zone", as: String.self),
                    enterpriseProjectID: try r.decode(column: "enterprise_project_id", as: String.self),
                    backupNamePrefix: try r.decode(column: "backup_name_prefix", as: String.self), policyID: try r.decode(column: "policy_id", as: String?.self),
                    tags: try r.decode(column: "tags", as: String.self), bindRules: try r.decode(column: "bind_rules", as: String.self),
                    usedBytes: try r.decode(column: "used_bytes", as: Int64.self), keySealed: try r.decode(column: "key_sealed", as: String.self),
                    createdAt: Date(epochMilliseconds: try r.decode(column: "created_at", as: Int64.self)),
                    updatedAt: Date(epochMilliseconds: try r.decode(column: "updated_at", as: Int64.self)),
                    repositoryURL: try r.decode(column: "repository_url", as: String?.self))
    }

    func select(_ db: any SQLDatabase) -> SQLSelectBuilder {
        db.select().columns(SQLVaultStore.columns.map { SQLColumn($0, table: "vaults") }).from("vaults")
    }

    /// Inserts a vault with its bindings; a resource already bound elsewhere fails the whole insert.
    func insert(_ vault: VaultRecord, resources: [VaultResourceRecord]) async throws {
        try await catalog.withTransaction { db in
            try await catalog.quotas.checkNewVault(project: vault.projectID, sizeGB: vault.sizeGB)
            try await db.insert(into: "vaults").columns(SQLVaultStore.columns).values(values(vault)).run()
            try await bind(resources, on: db)
        }
    }

    func bind(_ resources: [VaultResourceRecord], on db: any SQLDatabase) async throws {
        for r in resources {
            if try await db.select().column("vault_id").from("vault_resources").where("resource_id", .equal, SQLBind(r.resourceID)).first() != nil {
                throw CatalogError(.conflict, "resource \(r.resourceID) is already in a vault")
            }
            try await db.insert(into: "vault_resources").columns("resource_id", "vault_id", "project_id", "extra_info", "position")
                .values(SQLBind(r.resourceID), SQLBind(r.vaultID), SQLBind(r.projectID), SQLBind(r.extraInfo), SQLBind(r.position)).run()
        }
    }

    func addResources(_ resources: [VaultResourceRecord]) async throws {
        try await catalog.withTransaction { db in try await bind(resources, on: db) }
    }

    func removeResources(vault: String, ids: [String]) async throws {
        try await catalog.withTransaction { db in
            for id in ids {
                try await db.delete(from: "vault_resources").where("vault_id", .equal, SQLBind(vault)).where("resource_id", .equal, SQLBind(id)).run()
            }
        }
    }

    func get(project: String, id: String) async throws -> VaultRecord? {
        try await select(catalog.sql).where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).first().map(decode)
    }

    /// Every vault of every project (startup upkeep, disaster recovery).
    func all() async throws -> [VaultRecord] {
        try await select(catalog.sql).all().map(decode)
    }

    func capacities() async throws -> [VaultCapacity] {
        try await catalog.sql.select().columns("id", "project_id", "size_gb", "used_bytes").from("vaults").orderBy("id").all().map { r in
            VaultCapacity(id: try r.decode(column: "id", as: String.self), projectID: try r.decode(column: "project_id", as: String.self),
                          sizeGB: try r.decode(column: "size_gb", as: Int.self), usedBytes: try r.decode(column: "used_bytes", as: Int64.self))
        }
    }

    /// Any project's vault (workers act for the project that queued the job).
    func get(id: String) async throws -> VaultRecord? {
        try await select(catalog.sql).where("id", .equal, SQLBind(id)).first().map(decode)
    }

    func prunePlanned(vault: String, at: Int64) async throws {
        try await catalog.sql.raw("""
            UPDATE vaults SET prune_due_at = CASE WHEN prune_due_at IS NULL OR prune_due_at > \(bind: at) THEN \(bind: at) ELSE prune_due_at END \
            WHERE id = \(bind: vault)
            """).run()
    }

    func takePrunesDue(now: Int64) async throws -> [VaultRecord] {
        try await catalog.sql.update("vaults").set("prune_due_at", to: SQLLiteral.null).where("prune_due_at", .lessThanOrEqual, SQLBind(now))
            .returning(SQLLiteral.all).all().map(decode)
    }

    func setUsage(vault: String, bytes: Int64, at: Int64?) async throws {
        try await catalog.sql.update("vaults").set("used_bytes", to: SQLBind(bytes)).where("id", .equal, SQLBind(vault)).run()
        guard let at else { return }
        // What the available backups protect, read in the same statement; two samples in one millisecond keep the first.
        let available = BackupStatus.available.rawValue
        try await catalog.sql.raw("""
            INSERT INTO vault_usage (vault_id, at, used_bytes, protected_bytes)
            SELECT id, \(bind: at), \(bind: bytes),
                   (SELECT CAST(COALESCE(SUM(resource_size), 0) AS BIGINT) FROM backups WHERE vault_id = \(bind: vault) AND parent_id IS NULL AND status = \(bind: available))
            FROM vaults WHERE id = \(bind: vault)
            ON CONFLICT (vault_id, at) DO NOTHING
            """).run()
    }

    func usageHistory(vault: String, limit: Int) async throws -> [VaultUsageSample] {
        try await catalog.sql.select().columns("at", "used_bytes", "protected_bytes").from("vault_usage").where("vault_id", .equal, SQLBind(vault))
            .orderBy("at", .descending).limit(max(0, limit)).all().map { r in
                VaultUsageSample(at: try r.decode(column: "at", as: Int64.self), usedBytes: try r.decode(column: "used_bytes", as: Int64.self),
                                 protectedBytes: try r.decode(column: "protected_bytes", as: Int64.self))
            }.reversed()
    }

    func resources(vault: String) async throws -> [VaultResourceRecord] {
        try await catalog.sql.select().columns("resource_id", "vault_id", "project_id", "extra_info", "position").from("vault_resources")
            .where("vault_id", .equal, SQLBind(vault)).orderBy("position").all().map { r in
                VaultResourceRecord(resourceID: try r.decode(column: "resource_id", as: String.self), vaultID: try r.decode(column: "vault_id", as: String.self),
                                    projectID: try r.decode(column: "project_id", as: String.self), extraInfo: try r.decode(column: "extra_info", as: String.self),
                                    position: try r.decode(column: "position", as: Int.self))
            }
    }

    /// The vault a resource is bound to, if any.
    func vault(ofResource id: String) async throws -> String? {
        try await catalog.sql.select().column("vault_id").from("vault_resources").where("resource_id", .equal, SQLBind(id)).first()
            .map { try $0.decode(column: "vault_id", as: String.self) }
    }

    func list(project: String, filter: VaultFilter, offset: Int, limit: Int) async throws -> (items: [VaultRecord], total: Int) {
        func apply(_ q: SQLSelectBuilder) -> SQLSelectBuilder {
            var q = q.where(SQLColumn("project_id", table: "vaults"), .equal, SQLBind(project))
            if let v = filter.name { q = q.where("name", .like, SQLBind("%" + v + "%")) }
            if let v = filter.objectType { q = q.where("object_type", .equal, SQLBind(v)) }
            if let v = filter.protectType { q = q.where("protect_type", .equal, SQLBind(v)) }
            if let v = filter.cloudType { q = q.where("cloud_type", .equal, SQLBind(v)) }
            if let v = filter.status { q = q.where("status", .equal, SQLBind(v)) }
            if let v = filter.policyID { q = q.where("policy_id", .equal, SQLBind(v)) }
            if !filter.ids.isEmpty { q = q.where(SQLColumn("id", table: "vaults"), .in, SQLBind.group(filter.ids)) }
            if !filter.resourceIDs.isEmpty {
                q = q.where(SQLColumn("id", table: "vaults"), .in, SQLGroupExpression(
                    catalog.sql.select().column("vault_id").from("vault_resources").where("resource_id", .in, SQLBind.group(filter.resourceIDs)).select))
            }
            return q
        }
        let total = try await apply(catalog.sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("vaults")).first()?
            .decode(column: "n", as: Int.self) ?? 0
        let items = try await apply(select(catalog.sql)).orderBy("created_at", .descending).orderBy("id").offset(offset).limit(limit).all().map(decode)
        return (items, total)
    }

    func update(_ vault: VaultRecord) async throws {
        var q = catalog.sql.update("vaults")
        for (column, value) in zip(SQLVaultStore.columns, values(vault)) where column != "id" && column != "project_id" {
            q = q.set(SQLIdentifier(column), to: value)
        }
        try await q.where("project_id", .equal, SQLBind(vault.projectID)).where("id", .equal, SQLBind(vault.id)).run()
    }

    func delete(project: String, id: String) async throws {
        try await catalog.sql.delete(from: "vaults").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).run()
    }

    /// Total capacity and usage of a project's vaults.
    func summary(project: String) async throws -> (sizeGB: Int, usedBytes: Int64) {
        // PostgreSQL sums bigints as numeric: cast back (a no-op on SQLite).
        let row = try await catalog.sql.raw("""
            SELECT CAST(COALESCE(SUM(size_gb), 0) AS BIGINT) AS size, CAST(COALESCE(SUM(used_bytes), 0) AS BIGINT) AS used FROM vaults \
            WHERE project_id = \(bind: project)
            """).first()
        return (try row?.decode(column: "size", as: Int.self) ?? 0, try row?.decode(column: "used", as: Int64.self) ?? 0)
    }
}
