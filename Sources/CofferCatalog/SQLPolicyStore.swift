import CofferModel
import Foundation
import SQLKit

/// CBR backup policies and the vaults bound to them (`vaults.policy_id`).
struct SQLPolicyStore: PolicyStore {
    let catalog: SQLCatalog
    var sql: any SQLDatabase { catalog.sql }

    static let columns = ["id", "project_id", "name", "enabled", "operation_type", "definition", "patterns", "start_window_minutes", "trigger_id",
                          "created_at", "updated_at"]

    func values(_ p: PolicyRecord) -> [any SQLExpression] {
        [SQLBind(p.id), SQLBind(p.projectID), SQLBind(p.name), SQLBind(p.enabled), SQLBind(p.operationType), SQLBind(p.definition), SQLBind(p.patterns),
         SQLBind(p.startWindowMinutes), SQLBind(p.triggerID), SQLBind(p.createdAt), SQLBind(p.updatedAt)]
    }

    /// Counted inside the transaction that inserts, so two requests cannot both take the last place.
    func insert(_ policy: PolicyRecord, limit: Int) async throws {
        try await catalog.withTransaction { db in
            let row = try await db.raw("SELECT COUNT(*) AS n FROM policies WHERE project_id = \(bind: policy.projectID)").first()
            let count = try row?.decode(column: "n", as: Int.self) ?? 0
            guard count < limit else { throw CatalogError(.quotaPolicies, "project \(policy.projectID) may hold at most \(limit) policies") }
            try await db.insert(into: "policies").columns(SQLPolicyStore.columns).values(values(policy)).run()
        }
    }

    func get(project: String, id: String) async throws -> PolicyRecord? {
        try await sql.select().columns(SQLPolicyStore.columns.map { SQLColumn($0) }).from("policies")
            .where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).first(decoding: PolicyRecord.self)
    }

    func list(project: String, filter: PolicyFilter) async throws -> [PolicyRecord] {
        var q = sql.select().columns(SQLPolicyStore.columns.map { SQLColumn($0, table: "policies") }).from("policies")
            .where(SQLColumn("project_id", table: "policies"), .equal, SQLBind(project))
        if let type = filter.operationType { q = q.where(SQLColumn("operation_type", table: "policies"), .equal, SQLBind(type)) }
        if let vault = filter.vaultID {
            q = q.join("vaults", on: SQLColumn("policy_id", table: "vaults"), .equal, SQLColumn("id", table: "policies"))
                .where(SQLColumn("id", table: "vaults"), .equal, SQLBind(vault)).where(SQLColumn("project_id", table: "vaults"), .equal, SQLBind(project))
        }
        return try await q.orderBy(SQLColumn("created_at", table: "policies")).orderBy(SQLColumn("id", table: "policies")).all(decoding: PolicyRecord.self)
    }

    func update(_ policy: PolicyRecord) async throws {
        var q = sql.update("policies")
        for (column, value) in zip(SQLPolicyStore.columns, values(policy)) where column != "id" && column != "project_id" {
            q = q.set(SQLIdentifier(column), to: value)
        }
        try await q.where("project_id", .equal, SQLBind(policy.projectID)).where("id", .equal, SQLBind(policy.id)).run()
    }

    func delete(project: String, id: String) async throws {
        try await catalog.withTransaction { db in
            try await db.update("vaults").set("policy_id", to: SQLLiteral.null)
                .where("project_id", .equal, SQLBind(project)).where("policy_id", .equal, SQLBind(id)).run()
            try await db.delete(from: "policies").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).run()
        }
    }

    func vaults(boundTo policies: [String]) async throws -> [String: [String]] {
        guard !policies.isEmpty else { return [:] }
        let rows = try await sql.select().columns("id", "policy_id").from("vaults").where("policy_id", .in, SQLBind.group(policies))
            .orderBy("created_at").orderBy("id").all()
        var out: [String: [String]] = [:]
        for r in rows { out[try r.decode(column: "policy_id", as: String.self), default: []].append(try r.decode(column: "id", as: String.self)) }
        return out
    }

    func bind(vault: String, project: String, policy: String?) async throws {
        try await sql.update("vaults").set("policy_id", to: policy.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null)
            .where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(vault)).run()
    }
}
