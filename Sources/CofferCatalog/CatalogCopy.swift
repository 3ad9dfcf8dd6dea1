import CofferModel
import Foundation
import SQLKit

/// Copies a whole catalog into an empty one of the same schema version, on
/// either engine (SQLite to PostgreSQL when an installation outgrows one
/// machine): table by table in the order their references need, values
/// converted by the target's column types (SQLite keeps booleans as
/// integers), in one transaction on the target. Every table of the source
/// must be one the copy knows, so a table added later cannot be left behind.
/// The target's statistics are refreshed afterwards: a freshly loaded
/// PostgreSQL table has none, and counts over it read every row.
extension SQLCatalog {
    /// Tables in the order their references need (parents before the rows that name them).
    static let copyOrder = ["domains", "projects", "users", "role_assignments", "access_keys", "tokens", "resources", "database_instances",
                            "vaults", "vault_resources", "policies", "checkpoints", "backups", "jobs", "job_turns", "operation_logs", "project_quotas",
                            "schedule_claims", "agents", "agent_paths", "webhooks", "webhook_deliveries", "webhook_attempts", "vault_usage"]

    /// Copies every row of this catalog into `target`; the rows copied per table.
    public func copy(to target: SQLCatalog) async throws -> [(table: String, rows: Int)] {
        let sourceVersion = try await sql.raw("SELECT MAX(version) AS v FROM schema_migrations").first()?.decode(column: "v", as: Int?.self) ?? nil
        let targetVersion = try await target.sql.raw("SELECT MAX(version) AS v FROM schema_migrations").first()?.decode(column: "v", as: Int?.self) ?? nil
        guard sourceVersion == targetVersion else {
            throw CatalogError(.migration, "the source catalog is at schema version \(sourceVersion ?? 0), the target at \(targetVersion ?? 0): open the source with this coffer once to migrate it")
        }
        // The target keeps its own migrations' bookkeeping and generations (nothing has read it yet).
        let unknown = Set(try await backend.tables()).subtracting(SQLCatalog.copyOrder + ["schema_migrations", "table_generations"])
        guard unknown.isEmpty else { throw CatalogError(.migration, "the catalog copy does not know the tables \(unknown.sorted().joined(separator: ", "))") }
        let copied: [(table: String, rows: Int)] = try await target.withTransaction { db in
            for table in ["projects", "users"] where try await db.select().column("id").from(table).first() != nil {
                throw CatalogError(.conflict, "the target catalog already holds \(table); the copy goes only into an empty catalog")
            }
            try await target.backend.commitDurably(db)
            // The admin bootstrap of an empty catalog may have made the default domain.
            try await db.delete(from: "domains").run()
            var counts: [(table: String, rows: Int)] = []
            for table in SQLCatalog.copyOrder {
                let columns = try await target.backend.columns(of: table)
                var query = sql.select().columns(columns.map { SQLColumn($0.name) }).from(table)
                // Disks after the servers they belong to.
                if table == "resources" { query = query.orderBy(SQLRaw("parent_id IS NOT NULL")) }
                let rows = try await query.all()
                for start in stride(from: 0, to: rows.count, by: 200) {
                    var insert = db.insert(into: table).columns(columns.map(\.name))
                    for row in rows[start..<min(start + 200, rows.count)] {
                        insert = insert.values(try columns.map { try SQLCatalog.value(row, $0.name, type: $0.type, table: table) })
                    }
                    try await insert.run()
                }
                counts.append((table, rows.count))
            }
            return counts
        }
        try await target.backend.analyze()
        return copied
    }

    static func value(_ row: any SQLRow, _ column: String, type: String, table: String) throws -> any SQLExpression {
        guard !(try row.decodeNil(column: column)) else { return SQLLiteral.null }
        do {
            switch type {
            case "bigint", "integer", "int8": return SQLBind(try row.decode(column: column, as: Int64.self))
            case "boolean", "bool": return SQLBind(try row.decode(column: column, as: Bool.self))
            default: return SQLBind(try row.decode(column: column, as: String.self))
            }
        } catch {
            throw CatalogError(.migration, "\(table).\(column): a value that is not \(type): \(error)")
        }
    }
}
