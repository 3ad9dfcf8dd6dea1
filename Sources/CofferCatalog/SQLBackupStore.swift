import Foundation
import SQLKit
import CofferModel

/// Checkpoints and backups.
struct SQLBackupStore: BackupStore {
    let catalog: SQLCatalog
    var sql: any SQLDatabase { catalog.sql }

    func insertCheckpoint(_ checkpoint: CheckpointRecord) async throws { try await insertRow(checkpoint, into: "checkpoints", on: sql) }

    /// Parents before children (the parent_id reference).
    func insertBackups(_ backups: [BackupRecord]) async throws {
        try await catalog.withTransaction { db in
            for b in backups where b.parentId == nil { try await insertRow(b, into: "backups", on: db) }
            for b in backups where b.parentId != nil { try await insertRow(b, into: "backups", on: db) }
            try await BackupCounts.backupsChanged(on: db)
        }
    }

    func checkpoint(project: String, id: String) async throws -> CheckpointRecord? {
        try await sql.select().column("*").from("checkpoints").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id))
            .first(decoding: CheckpointRecord.self)
    }

    func updateCheckpoint(_ row: CheckpointRecord) async throws { try await updateRow(row, in: "checkpoints", id: row.id, on: sql) }

    func backup(project: String, id: String) async throws -> BackupRecord? {
        try await selectBackups().where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id))
            .first().map(BackupRecord.init(catalogRow:))
    }

    /// For workers, which act for whichever project queued the job; `db` inside a transaction.
    func backup(id: String) async throws -> BackupRecord? {
        try await selectBackups().where("id", .equal, SQLBind(id)).first().map(BackupRecord.init(catalogRow:))
    }

    func children(of parent: String) async throws -> [BackupRecord] {
        try await selectBackups().where("parent_id", .equal, SQLBind(parent)).orderBy("created_at").orderBy("id")
            .all().map(BackupRecord.init(catalogRow:))
    }

    func backups(checkpoint: String) async throws -> [BackupRecord] {
        try await selectBackups().where("checkpoint_id", .equal, SQLBind(checkpoint)).orderBy("created_at").orderBy("id")
            .all().map(BackupRecord.init(catalogRow:))
    }

    func updateBackup(_ row: BackupRecord, expected: BackupStatus?) async throws -> Bool {
        let wrote = try await updateRow(row, in: "backups", id: row.id, expectedStatus: expected?.rawValue, on: sql)
        if wrote { try await BackupCounts.backupsChanged(on: sql) }
        return wrote
    }

    func expiryCandidates(vault: String) async throws -> [ExpiryCandidate] {
        try await sql.select().columns("id", "resource_id", "created_at", "expired_at").from("backups").where("vault_id", .equal, SQLBind(vault))
            .where("status", .equal, SQLBind(BackupStatus.available.rawValue)).where("auto_trigger", .equal, SQLBind(true)).where("parent_id", .is, SQLLiteral.null)
            .all().map { row in
                ExpiryCandidate(id: try row.decode(column: "id", as: String.self), resourceID: try row.decode(column: "resource_id", as: String.self),
                                createdAt: try row.decode(column: "created_at", as: Int64.self), expiredAt: try row.decode(column: "expired_at", as: Int64?.self))
            }
    }

    /// Only the one column: a whole-row update rewrites every index of the table.
    func setExpiry(_ expiries: [(id: String, expiresAt: Int64?)]) async throws {
        try await catalog.withTransaction { db in
            for (id, at) in expiries {
                try await db.update("backups").set("expired_at", to: at.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null)
                    .where("id", .equal, SQLBind(id)).where("status", .equal, SQLBind(BackupStatus.available.rawValue)).run()
            }
            try await BackupCounts.backupsChanged(on: db)
        }
    }

    func setStatus(backups ids: [String], to status: BackupStatus, expected: BackupStatus?, now: Int64) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        var q = sql.update("backups").set("status", to: SQLBind(status.rawValue)).set("updated_at", to: SQLBind(now)).where("id", .in, SQLBind.group(ids))
        if let expected { q = q.where("status", .equal, SQLBind(expected.rawValue)) }
        let changed = try await q.returning("id").all().count
        if changed > 0 { try await BackupCounts.backupsChanged(on: sql) }
        return changed
    }

    /// Whether any backup of the vault is being made, restored or deleted.
    func vaultBusy(_ vault: String) async throws -> Bool {
        try await sql.select().column("id").from("backups").where("vault_id", .equal, SQLBind(vault))
            .where("status", .in, SQLBind.group(BackupStatus.allCases.filter(\.isBusy).map(\.rawValue))).first() != nil
    }

    func deleteBackups(vault: String) async throws {
        try await sql.delete(from: "backups").where("vault_id", .equal, SQLBind(vault)).run()
        try await BackupCounts.backupsChanged(on: sql)
    }

    func deleteBackups(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await sql.delete(from: "backups").where("id", .in, SQLBind.group(ids)).run()
        try await BackupCounts.backupsChanged(on: sql)
    }

    /// The newest available top-level backup of a resource (the parent for an incremental one).
    /// One grouped read over the finished top-level backups, whatever their number, from the
    /// covering index `backups_project_statistics` (a window function for the newest outcome took longer
    /// than the whole of this: bench/metrics.sh).
    /// The newest finished backup succeeded when no failed one is newer than the newest available one.
    func resourceStatistics(project: String?) async throws -> [ResourceBackupStatistics] {
        let available = BackupStatus.available.rawValue, error = BackupStatus.error.rawValue
        let scope: SQLQueryString = project.map { "AND project_id = \(bind: $0)" } ?? ""
        return try await sql.raw("""
            SELECT project_id, vault_id, resource_id, resource_type,
                   MAX(CASE WHEN status = \(bind: available) THEN protected_at END) AS last_success,
                   CAST(SUM(CASE WHEN status = \(bind: available) THEN resource_size ELSE 0 END) AS BIGINT) AS protected,
                   MAX(CASE WHEN status = \(bind: available) THEN created_at END) AS newest_available,
                   MAX(created_at) AS newest_finished
            FROM backups WHERE parent_id IS NULL AND status IN (\(bind: available), \(bind: error)) \(scope)
            GROUP BY resource_id, vault_id, project_id, resource_type
            """).all().map { row in
            let newestAvailable = try row.decode(column: "newest_available", as: Int64?.self)
            let newestFinished = try row.decode(column: "newest_finished", as: Int64?.self)
            return ResourceBackupStatistics(
                projectId: try row.decode(column: "project_id", as: String.self), vaultId: try row.decode(column: "vault_id", as: String.self),
                resourceId: try row.decode(column: "resource_id", as: String.self), resourceType: try row.decode(column: "resource_type", as: String.self),
                lastSuccessAt: try row.decode(column: "last_success", as: Int64?.self),
                lastSucceeded: newestAvailable != nil && newestAvailable == newestFinished,
                protectedBytes: try row.decode(column: "protected", as: Int64?.self) ?? 0)
        }.sorted { ($0.vaultId, $0.resourceId) < ($1.vaultId, $1.resourceId) }
    }

    func latestAvailable(resource: String) async throws -> BackupRecord? {
        try await selectBackups().where("resource_id", .equal, SQLBind(resource)).where("status", .equal, SQLBind(BackupStatus.available.rawValue))
            .orderBy("created_at", .descending).first().map(BackupRecord.init(catalogRow:))
    }

    /// Whether a resource already has a top-level backup of this name.
    func nameTaken(resource: String, name: String) async throws -> Bool {
        try await sql.select().column("id").from("backups").where("resource_id", .equal, SQLBind(resource)).where("name", .equal, SQLBind(name)).first() != nil
    }

    /// Whether a resource has a backup still being made.
    func hasActiveBackup(resource: String) async throws -> Bool {
        try await sql.select().column("id").from("backups").where("resource_id", .equal, SQLBind(resource))
            .where("status", .in, SQLBind.group(BackupStatus.allCases.filter(\.isBeingMade).map(\.rawValue))).first() != nil
    }

    /// `project` nil: every project's (the service admin's all_tenants).
    private func filtered(_ q: SQLSelectBuilder, project: String?, _ filter: BackupFilter) -> SQLSelectBuilder {
        var q = q
        if let project { q = q.where("project_id", .equal, SQLBind(project)) }
        if let v = filter.vaultID { q = q.where("vault_id", .equal, SQLBind(v)) }
        if let v = filter.resourceID { q = q.where("resource_id", .equal, SQLBind(v)) }
        if let v = filter.resourceType { q = q.where("resource_type", .equal, SQLBind(v)) }
        if let v = filter.checkpointID { q = q.where("checkpoint_id", .equal, SQLBind(v)) }
        if !filter.statuses.isEmpty { q = q.where("status", .in, SQLBind.group(filter.statuses.map(\.rawValue))) }
        if let v = filter.name { q = q.where("name", .like, SQLBind("%" + v + "%")) }
        if let v = filter.parentID { q = q.where("parent_id", .equal, SQLBind(v)) } else { q = q.where("parent_id", .is, SQLLiteral.null) }
        if let v = filter.imageType { q = q.where("image_type", .equal, SQLBind(v)) }
        if let v = filter.incremental { q = q.where("incremental", .equal, SQLBind(v)) }
        if let v = filter.autoTrigger { q = q.where("auto_trigger", .equal, SQLBind(v)) }
        if let v = filter.startTime { q = q.where("created_at", .greaterThanOrEqual, SQLBind(v)) }
        if let v = filter.endTime { q = q.where("created_at", .lessThanOrEqual, SQLBind(v)) }
        if let v = filter.resourceName { q = q.where("resource_name", .like, SQLBind("%" + v + "%")) }
        if let v = filter.resourceAz { q = q.where("resource_az", .equal, SQLBind(v)) }
        if let v = filter.usedPercent {
            q = q.where("vault_id IN (SELECT id FROM vaults WHERE used_bytes * 100 >= size_gb * \(bind: Int64(v) << 30))" as SQLQueryString)
        }
        if !filter.ids.isEmpty { q = q.where("id", .in, SQLBind.group(filter.ids)) }
        if !filter.excludedTypes.isEmpty { q = q.where("resource_type", .notIn, SQLBind.group(filter.excludedTypes)) }
        if filter.matchesNothing { q = q.where(SQLLiteral.numeric("1"), .equal, SQLLiteral.numeric("0")) }
        return q
    }

    private func ordered(_ q: SQLSelectBuilder, _ sort: [(String, Bool)]) -> SQLSelectBuilder {
        var q = q
        for (column, ascending) in sort { q = q.orderBy(column, ascending ? .ascending : .descending) }
        return q.orderBy("id")
    }

    /// Exact; kept by `BackupCounts` until the table changes (a filter on vault usage reads vaults too, so it is counted every time).
    func countBackups(project: String?, filter: BackupFilter) async throws -> Int {
        let key = BackupCounts.Key(project: project, filter: filter)
        let generation = filter.usedPercent == nil ? try await BackupCounts.generation(on: sql) : nil
        if let generation, let known = catalog.backupCounts.count(key, at: generation) { return known }
        let count = try await filtered(sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("backups"), project: project, filter)
            .first()?.decode(column: "n", as: Int.self) ?? 0
        if let generation { catalog.backupCounts.remember(count, for: key, at: generation) }
        return count
    }

    func listBackups(project: String?, filter: BackupFilter, sort: [(String, Bool)], offset: Int, limit: Int) async throws -> (items: [BackupRecord], total: Int) {
        let total = try await countBackups(project: project, filter: filter)
        let items = try await ordered(filtered(selectBackups(), project: project, filter), sort)
            .offset(offset).limit(limit).all().map(BackupRecord.init(catalogRow:))
        return (items, total)
    }

    /// Where `id` stands in the listing (for marker paging), or nil when it is not in it.
    func position(of id: String, project: String?, filter: BackupFilter, sort: [(String, Bool)]) async throws -> Int? {
        let ids = try await ordered(filtered(sql.select().column("id").from("backups"), project: project, filter), sort).all()
        return try ids.firstIndex { try $0.decode(column: "id", as: String.self) == id }
    }

    /// The disk backups of several server backups at once, by parent id.
    func children(of parents: [String]) async throws -> [String: [BackupRecord]] {
        guard !parents.isEmpty else { return [:] }
        let rows = try await selectBackups().where("parent_id", .in, SQLBind.group(parents)).orderBy("created_at").orderBy("id")
            .all().map(BackupRecord.init(catalogRow:))
        return Dictionary(grouping: rows) { $0.parentId ?? "" }
    }
}
