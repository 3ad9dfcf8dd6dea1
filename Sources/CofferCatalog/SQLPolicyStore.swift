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

    func schedules() async throws -> [ScheduleBinding] {
        let rows = try await sql.select().columns(SQLPolicyStore.columns.map { SQLColumn($0, table: "policies") } + [SQLAlias(SQLColumn("id", table: "vaults"), as: SQLIdentifier("bound_vault"))])
            .from("policies").join("vaults", on: SQLColumn("policy_id", table: "vaults"), .equal, SQLColumn("id", table: "policies"))
            .where(SQLColumn("enabled", table: "policies"), .equal, SQLBind(true)).where(SQLColumn("operation_type", table: "policies"), .equal, SQLBind("backup"))
            .where(SQLColumn("project_id", table: "vaults"), .equal, SQLColumn("project_id", table: "policies"))
            .orderBy(SQLColumn("id", table: "policies")).orderBy(SQLColumn("id", table: "vaults")).all()
        return try rows.map { ScheduleBinding(policy: try $0.decode(model: PolicyRecord.self), vaultID: try $0.decode(column: "bound_vault", as: String.self)) }
    }

    func lastClaim(policy: String, vault: String) async throws -> Int64? {
        try await sql.raw("SELECT MAX(occurrence) AS last FROM schedule_claims WHERE policy_id = \(bind: policy) AND vault_id = \(bind: vault)").first()?
            .decode(column: "last", as: Int64?.self)
    }

    func lastClaims() async throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for row in try await sql.raw("SELECT policy_id, vault_id, MAX(occurrence) AS last FROM schedule_claims GROUP BY policy_id, vault_id").all() {
            out[try row.decode(column: "policy_id", as: String.self) + "/" + row.decode(column: "vault_id", as: String.self)] = try row.decode(column: "last", as: Int64.self)
        }
        return out
    }

    /// An insert that does nothing on a claimed key; RETURNING tells whether this one made the row (SQLite 3.35+, PostgreSQL).
    func claim(_ c: ScheduleClaim) async throws -> Bool {
        let rows = try await sql.raw("""
            INSERT INTO schedule_claims (policy_id, vault_id, project_id, occurrence, outcome, checkpoint_id, claimed_at) \
            VALUES (\(bind: c.policyID), \(bind: c.vaultID), \(bind: c.projectID), \(bind: c.occurrence), \(bind: c.outcome), \(bind: c.checkpointID), \(bind: c.claimedAt)) \
            ON CONFLICT (policy_id, vault_id, occurrence) DO NOTHING RETURNING policy_id
            """).all()
        return !rows.isEmpty
    }

    func settle(policy: String, vault: String, occurrence: Int64, outcome: String, checkpoint: String?) async throws {
        try await sql.update("schedule_claims").set("outcome", to: SQLBind(outcome)).set("checkpoint_id", to: SQLBind(checkpoint))
            .where("policy_id", .equal, SQLBind(policy)).where("vault_id", .equal, SQLBind(vault)).where("occurrence", .equal, SQLBind(occurrence)).run()
    }

    func claims(policy: String, vault: String) async throws -> [ScheduleClaim] {
        try await sql.select().columns("policy_id", "vault_id", "project_id", "occurrence", "outcome", "checkpoint_id", "claimed_at").from("schedule_claims")
            .where("policy_id", .equal, SQLBind(policy)).where("vault_id", .equal, SQLBind(vault)).orderBy("occurrence").all(decoding: ScheduleClaim.self)
    }

    func claims(outcome: String, before: Int64) async throws -> [ScheduleClaim] {
        try await sql.select().columns("policy_id", "vault_id", "project_id", "occurrence", "outcome", "checkpoint_id", "claimed_at").from("schedule_claims")
            .where("outcome", .equal, SQLBind(outcome)).where("claimed_at", .lessThan, SQLBind(before)).orderBy("claimed_at").all(decoding: ScheduleClaim.self)
    }

    func resolve(_ claim: ScheduleClaim, from: String, to: String) async throws -> Bool {
        try await !sql.update("schedule_claims").set("outcome", to: SQLBind(to))
            .where("policy_id", .equal, SQLBind(claim.policyID)).where("vault_id", .equal, SQLBind(claim.vaultID))
            .where("occurrence", .equal, SQLBind(claim.occurrence)).where("outcome", .equal, SQLBind(from)).returning("policy_id").all().isEmpty
    }

    func forgetClaims(before: Int64) async throws -> Int {
        try await sql.raw("""
            DELETE FROM schedule_claims WHERE claimed_at < \(bind: before) AND outcome <> 'running' AND EXISTS \
            (SELECT 1 FROM schedule_claims later WHERE later.policy_id = schedule_claims.policy_id AND later.vault_id = schedule_claims.vault_id \
            AND later.occurrence > schedule_claims.occurrence) RETURNING policy_id
            """).all().count
    }

    func unaudited(before: Int64) async throws -> [ScheduleClaim] {
        try await sql.select().columns("policy_id", "vault_id", "project_id", "occurrence", "outcome", "checkpoint_id", "claimed_at").from("schedule_claims")
            .where(SQLColumn("audited_at"), .is, SQLLiteral.null).where("occurrence", .lessThan, SQLBind(before)).where("outcome", .notEqual, SQLBind("baseline"))
            .orderBy("occurrence").limit(10_000).all(decoding: ScheduleClaim.self)
    }

    func markAudited(_ claim: ScheduleClaim, at: Int64) async throws -> Bool {
        try await !sql.update("schedule_claims").set("audited_at", to: SQLBind(at))
            .where("policy_id", .equal, SQLBind(claim.policyID)).where("vault_id", .equal, SQLBind(claim.vaultID))
            .where("occurrence", .equal, SQLBind(claim.occurrence)).where(SQLColumn("audited_at"), .is, SQLLiteral.null).returning("policy_id").all().isEmpty
    }

    func bind(vault: String, project: String, policy: String?) async throws {
        try await sql.update("vaults").set("policy_id", to: policy.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null)
            .where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(vault)).run()
    }
}
