import CofferModel
import Foundation
import SQLKit

/// Operation logs (CBR's tasks): one per backup, restore or delete.
struct SQLOperationLogStore: OperationLogStore {
    let catalog: SQLCatalog
    var sql: any SQLDatabase { catalog.sql }

    func insert(_ log: OperationLogRecord) async throws { try await insertRow(log, into: "operation_logs", on: sql) }

    func get(project: String, id: String) async throws -> OperationLogRecord? {
        try await sql.select().column("*").from("operation_logs").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id))
            .first(decoding: OperationLogRecord.self)
    }

    func get(id: String) async throws -> OperationLogRecord? {
        try await sql.select().column("*").from("operation_logs").where("id", .equal, SQLBind(id)).first(decoding: OperationLogRecord.self)
    }

    /// The newest operation log of each backup (its progress, task id and failure), by backup id.
    func latest(backups ids: [String]) async throws -> [String: OperationLogRecord] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await sql.select().column("*").from("operation_logs").where("backup_id", .in, SQLBind.group(ids)).orderBy("created_at")
            .all(decoding: OperationLogRecord.self)
        var latest: [String: OperationLogRecord] = [:]
        for row in rows { if let b = row.backupId { latest[b] = row } }
        return latest
    }

    func update(_ row: OperationLogRecord, expected: OperationStatus?) async throws -> Bool {
        try await updateRow(row, in: "operation_logs", id: row.id, expectedStatus: expected?.rawValue, on: sql)
    }

    /// Progress of a running operation only: one that ended keeps its final state.
    func setProgress(log id: String, percent: Int, now: Int64) async throws {
        try await sql.update("operation_logs").set("progress", to: SQLBind(percent)).set("updated_at", to: SQLBind(now))
            .where("id", .equal, SQLBind(id)).where("status", .equal, SQLBind(OperationStatus.running.rawValue)).run()
    }

    func list(project: String, filter: OperationLogFilter, offset: Int, limit: Int) async throws -> (items: [OperationLogRecord], total: Int) {
        func apply(_ q: SQLSelectBuilder) -> SQLSelectBuilder {
            var q = q.where("project_id", .equal, SQLBind(project))
            if let v = filter.operationType { q = q.where("operation_type", .equal, SQLBind(v)) }
            if let v = filter.status { q = q.where("status", .equal, SQLBind(v.rawValue)) }
            if let v = filter.vaultID { q = q.where("vault_id", .equal, SQLBind(v)) }
            if let v = filter.resourceID { q = q.where("resource_id", .equal, SQLBind(v)) }
            if let v = filter.resourceName { q = q.where("resource_name", .like, SQLBind("%" + v + "%")) }
            if let v = filter.vaultName { q = q.where("vault_name", .like, SQLBind("%" + v + "%")) }
            if let v = filter.providerID { q = q.where("provider_id", .equal, SQLBind(v)) }
            if let v = filter.startTime { q = q.where("created_at", .greaterThanOrEqual, SQLBind(v)) }
            if let v = filter.endTime { q = q.where("created_at", .lessThanOrEqual, SQLBind(v)) }
            return q
        }
        let total = try await apply(sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("operation_logs")).first()?.decode(column: "n", as: Int.self) ?? 0
        let items = try await apply(sql.select().column("*").from("operation_logs")).orderBy("created_at", .descending).orderBy("id")
            .offset(offset).limit(limit).all(decoding: OperationLogRecord.self)
        return (items, total)
    }

    /// Whether a restore onto one of these resources is queued or running.
    func restoreActive(resources: [String]) async throws -> Bool {
        guard !resources.isEmpty else { return false }
        return try await sql.select().column("id").from("operation_logs").where("operation_type", .equal, SQLBind("restore"))
            .where("status", .in, SQLBind.group(OperationStatus.allCases.filter { !$0.hasEnded }.map(\.rawValue))).where("resource_id", .in, SQLBind.group(resources)).first() != nil
    }
}
