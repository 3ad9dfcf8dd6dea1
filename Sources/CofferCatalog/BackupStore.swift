import Foundation
import SQLKit

// Rows map to columns by snake_case conversion; times are epoch milliseconds.

public struct CheckpointRow: Codable, Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var vaultId: String
    public var vaultName: String
    public var status: String
    public var name: String
    public var description: String
    /// JSON arrays: the resources being backed up, and those skipped with a reason.
    public var resources: String
    public var skipped: String
    public var createdAt: Int64
    public var updatedAt: Int64

    /// Column names spelled out: a key strategy converts every key of every row.
    enum CodingKeys: String, CodingKey {
        case id
        case projectId = "project_id"
        case vaultId = "vault_id"
        case vaultName = "vault_name"
        case status
        case name
        case description
        case resources
        case skipped
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, projectId: String, vaultId: String, vaultName: String, status: String, name: String, description: String, resources: String, skipped: String, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.projectId = projectId
        self.vaultId = vaultId
        self.vaultName = vaultName
        self.status = status
        self.name = name
        self.description = description
        self.resources = resources
        self.skipped = skipped
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct BackupRow: Codable, Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var vaultId: String
    public var checkpointId: String
    public var parentId: String?
    public var resourceId: String
    public var resourceType: String
    public var resourceName: String
    public var resourceSize: Int64
    public var name: String
    public var description: String
    public var status: String
    public var imageType: String
    public var providerId: String
    public var incremental: Bool
    public var autoTrigger: Bool
    public var bootable: Bool
    public var snapshotId: String?
    public var failReason: String?
    public var createdAt: Int64
    public var protectedAt: Int64?
    public var updatedAt: Int64
    public var expiredAt: Int64?
    /// The vault's availability zone when the backup was made.
    public var resourceAz: String
    /// JSON array of {key, value}.
    public var tags: String

    /// Column names spelled out: a key strategy converts every key of every row.
    enum CodingKeys: String, CodingKey {
        case id
        case projectId = "project_id"
        case vaultId = "vault_id"
        case checkpointId = "checkpoint_id"
        case parentId = "parent_id"
        case resourceId = "resource_id"
        case resourceType = "resource_type"
        case resourceName = "resource_name"
        case resourceSize = "resource_size"
        case name
        case description
        case status
        case imageType = "image_type"
        case providerId = "provider_id"
        case incremental
        case autoTrigger = "auto_trigger"
        case bootable
        case snapshotId = "snapshot_id"
        case failReason = "fail_reason"
        case createdAt = "created_at"
        case protectedAt = "protected_at"
        case updatedAt = "updated_at"
        case expiredAt = "expired_at"
        case resourceAz = "resource_az"
        case tags
    }

    public init(id: String, projectId: String, vaultId: String, checkpointId: String, parentId: String?, resourceId: String, resourceType: String, resourceName: String, resourceSize: Int64, name: String, description: String, status: String, imageType: String, providerId: String, incremental: Bool, autoTrigger: Bool, bootable: Bool, snapshotId: String?, failReason: String?, createdAt: Int64, protectedAt: Int64?, updatedAt: Int64, expiredAt: Int64?, resourceAz: String = "", tags: String = "[]") {
        self.id = id
        self.projectId = projectId
        self.vaultId = vaultId
        self.checkpointId = checkpointId
        self.parentId = parentId
        self.resourceId = resourceId
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.resourceSize = resourceSize
        self.name = name
        self.description = description
        self.status = status
        self.imageType = imageType
        self.providerId = providerId
        self.incremental = incremental
        self.autoTrigger = autoTrigger
        self.bootable = bootable
        self.snapshotId = snapshotId
        self.failReason = failReason
        self.createdAt = createdAt
        self.protectedAt = protectedAt
        self.updatedAt = updatedAt
        self.expiredAt = expiredAt
        self.resourceAz = resourceAz
        self.tags = tags
    }
}

public struct JobRow: Codable, Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var kind: String
    public var targetId: String
    public var operationLogId: String
    public var status: String
    public var owner: String?
    public var leaseUntil: Int64?
    public var attempts: Int
    public var lastError: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    /// JSON: what the job needs beyond its target (restore destinations).
    public var payload: String?

    /// Column names spelled out: a key strategy converts every key of every row.
    enum CodingKeys: String, CodingKey {
        case id
        case projectId = "project_id"
        case kind
        case targetId = "target_id"
        case operationLogId = "operation_log_id"
        case status
        case owner
        case leaseUntil = "lease_until"
        case attempts
        case lastError = "last_error"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case payload
    }

    public init(id: String, projectId: String, kind: String, targetId: String, operationLogId: String, status: String, owner: String?, leaseUntil: Int64?, attempts: Int, lastError: String?, createdAt: Int64, updatedAt: Int64, payload: String? = nil) {
        self.id = id
        self.projectId = projectId
        self.kind = kind
        self.targetId = targetId
        self.operationLogId = operationLogId
        self.status = status
        self.owner = owner
        self.leaseUntil = leaseUntil
        self.attempts = attempts
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.payload = payload
    }
}

public struct OperationLogRow: Codable, Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var operationType: String
    public var status: String
    public var vaultId: String
    public var vaultName: String
    public var providerId: String
    public var resourceId: String
    public var resourceName: String
    public var resourceType: String
    public var checkpointId: String?
    public var backupId: String?
    public var progress: Int
    public var errorCode: String?
    public var errorMsg: String?
    public var createdAt: Int64
    public var startedAt: Int64?
    public var endedAt: Int64?
    public var updatedAt: Int64
    /// What a restore deliberately left out, as a JSON array of lines (nil: nothing).
    public var skipped: String? = nil

    /// Column names spelled out: a key strategy converts every key of every row.
    enum CodingKeys: String, CodingKey {
        case id
        case skipped
        case projectId = "project_id"
        case operationType = "operation_type"
        case status
        case vaultId = "vault_id"
        case vaultName = "vault_name"
        case providerId = "provider_id"
        case resourceId = "resource_id"
        case resourceName = "resource_name"
        case resourceType = "resource_type"
        case checkpointId = "checkpoint_id"
        case backupId = "backup_id"
        case progress
        case errorCode = "error_code"
        case errorMsg = "error_msg"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, projectId: String, operationType: String, status: String, vaultId: String, vaultName: String, providerId: String, resourceId: String, resourceName: String, resourceType: String, checkpointId: String?, backupId: String?, progress: Int, errorCode: String?, errorMsg: String?, createdAt: Int64, startedAt: Int64?, endedAt: Int64?, updatedAt: Int64) {
        self.id = id
        self.projectId = projectId
        self.operationType = operationType
        self.status = status
        self.vaultId = vaultId
        self.vaultName = vaultName
        self.providerId = providerId
        self.resourceId = resourceId
        self.resourceName = resourceName
        self.resourceType = resourceType
        self.checkpointId = checkpointId
        self.backupId = backupId
        self.progress = progress
        self.errorCode = errorCode
        self.errorMsg = errorMsg
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.updatedAt = updatedAt
    }
}

public struct BackupFilter: Sendable {
    public var vaultID: String?
    public var resourceID: String?
    public var resourceType: String?
    public var checkpointID: String?
    public var statuses: [String] = []
    public var name: String?
    public var parentID: String?
    public var imageType: String?
    public var incremental: Bool?
    public var startTime: Int64?
    public var endTime: Int64?
    public var resourceName: String?
    public var resourceAz: String?
    /// Backups in vaults whose usage is at least this percentage of their size.
    public var usedPercent: Int?
    /// Only these backups (RDS's backup_id filter).
    public var ids: [String] = []
    /// Resource types left out (CBR does not list RDS backups).
    public var excludedTypes: [String] = []
    /// Set when a filter names a kind of backup Coffer never holds (shared with
    /// this project, dedicated cloud, another enterprise project): nothing matches.
    public var matchesNothing = false
    /// Without a parent filter only top-level backups are listed; a server's
    /// disk backups appear in its `children` (or with `parent_id`).
    public init() {}
}

/// Checkpoints, backups, jobs and operation logs.
public struct BackupStore: Sendable {
    public let catalog: Catalog
    public init(catalog: Catalog) { self.catalog = catalog }
    var sql: any SQLDatabase { catalog.sql }

    func insert<T: Encodable>(_ row: T, into table: String, on db: any SQLDatabase) async throws {
        try await db.insert(into: table).model(row, nilEncodingStrategy: .asNil).run()
    }

    func update<T: Encodable>(_ row: T, in table: String, id: String) async throws {
        try await sql.update(table).set(model: row, nilEncodingStrategy: .asNil)
            .where("id", .equal, SQLBind(id)).run()
    }

    /// A checkpoint with its backups, their operation logs and jobs, all at once.
    public func createCheckpoint(_ checkpoint: CheckpointRow, backups: [BackupRow], logs: [OperationLogRow], jobs: [JobRow]) async throws {
        try await catalog.transaction { db in
            try await QuotaStore.checkJobs(project: checkpoint.projectId, adding: jobs.count, on: db)
            // Checked again inside the transaction: two checkpoints racing for one resource cannot both start.
            for b in backups where b.parentId == nil {
                if try await hasActiveBackup(resource: b.resourceId, on: db) {
                    throw CatalogError(.conflict, "resource \(b.resourceId) is already being backed up")
                }
            }
            try await insert(checkpoint, into: "checkpoints", on: db)
            for b in backups { try await insert(b, into: "backups", on: db) }
            for l in logs { try await insert(l, into: "operation_logs", on: db) }
            for j in jobs { try await insert(j, into: "jobs", on: db) }
        }
    }

    /// Rows rebuilt from the repositories (disaster recovery), all at once.
    public func insertRecovered(checkpoints: [CheckpointRow], backups: [BackupRow]) async throws {
        try await catalog.transaction { db in
            for c in checkpoints { try await insert(c, into: "checkpoints", on: db) }
            for b in backups where b.parentId == nil { try await insert(b, into: "backups", on: db) }
            for b in backups where b.parentId != nil { try await insert(b, into: "backups", on: db) }
        }
    }

    public func checkpoint(project: String, id: String) async throws -> CheckpointRow? {
        try await sql.select().column("*").from("checkpoints").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id))
            .first(decoding: CheckpointRow.self)
    }

    public func updateCheckpoint(_ row: CheckpointRow) async throws { try await update(row, in: "checkpoints", id: row.id) }

    public func backup(project: String, id: String) async throws -> BackupRow? {
        try await sql.select().column("*").from("backups").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id))
            .first(decoding: BackupRow.self)
    }

    /// For workers, which act for whichever project queued the job; `db` inside a transaction.
    public func backup(id: String, on db: (any SQLDatabase)? = nil) async throws -> BackupRow? {
        try await (db ?? sql).select().column("*").from("backups").where("id", .equal, SQLBind(id)).first(decoding: BackupRow.self)
    }

    public func children(of parent: String) async throws -> [BackupRow] {
        try await sql.select().column("*").from("backups").where("parent_id", .equal, SQLBind(parent)).orderBy("created_at").orderBy("id")
            .all(decoding: BackupRow.self)
    }

    public func backups(checkpoint: String) async throws -> [BackupRow] {
        try await sql.select().column("*").from("backups").where("checkpoint_id", .equal, SQLBind(checkpoint)).orderBy("created_at").orderBy("id")
            .all(decoding: BackupRow.self)
    }

    public func updateBackup(_ row: BackupRow) async throws { try await update(row, in: "backups", id: row.id) }

    /// Queues a job with its operation log, after `prepare` (which may check and
    /// change rows) in the same transaction.
    public func enqueue(_ job: JobRow, log: OperationLogRow, prepare: @escaping (any SQLDatabase) async throws -> Void) async throws {
        try await catalog.transaction { db in
            try await QuotaStore.checkJobs(project: job.projectId, adding: 1, on: db)
            try await prepare(db)
            try await insert(log, into: "operation_logs", on: db)
            try await insert(job, into: "jobs", on: db)
        }
    }

    public func setStatus(backups ids: [String], to status: String, now: Int64, on db: any SQLDatabase) async throws {
        guard !ids.isEmpty else { return }
        try await db.update("backups").set("status", to: SQLBind(status)).set("updated_at", to: SQLBind(now)).where("id", .in, SQLBind.group(ids)).run()
    }

    /// Whether any backup of the vault is being made, restored or deleted.
    public func vaultBusy(_ vault: String) async throws -> Bool {
        try await sql.select().column("id").from("backups").where("vault_id", .equal, SQLBind(vault))
            .where("status", .in, SQLBind.group(["protecting", "restoring", "deleting", "waiting_protect", "waiting_restore", "waiting_delete"])).first() != nil
    }

    public func deleteBackups(vault: String) async throws {
        try await sql.delete(from: "backups").where("vault_id", .equal, SQLBind(vault)).run()
    }

    public func deleteBackupRows(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await sql.delete(from: "backups").where("id", .in, SQLBind.group(ids)).run()
    }

    /// Whether a restore onto one of these resources is queued or running.
    public func restoreActive(resources: [String], on db: (any SQLDatabase)? = nil) async throws -> Bool {
        guard !resources.isEmpty else { return false }
        return try await (db ?? sql).select().column("id").from("operation_logs").where("operation_type", .equal, SQLBind("restore"))
            .where("status", .in, SQLBind.group(["waiting", "running"])).where("resource_id", .in, SQLBind.group(resources)).first() != nil
    }

    /// The newest available top-level backup of a resource (the parent for an incremental one).
    public func latestAvailable(resource: String) async throws -> BackupRow? {
        try await sql.select().column("*").from("backups").where("resource_id", .equal, SQLBind(resource)).where("status", .equal, SQLBind("available"))
            .orderBy("created_at", .descending).first(decoding: BackupRow.self)
    }

    /// Whether a resource already has a top-level backup of this name.
    public func nameTaken(resource: String, name: String) async throws -> Bool {
        try await sql.select().column("id").from("backups").where("resource_id", .equal, SQLBind(resource)).where("name", .equal, SQLBind(name)).first() != nil
    }

    /// Whether a resource has a backup still being made.
    public func hasActiveBackup(resource: String, on db: (any SQLDatabase)? = nil) async throws -> Bool {
        try await (db ?? sql).select().column("id").from("backups").where("resource_id", .equal, SQLBind(resource))
            .where("status", .in, SQLBind.group(["protecting", "waiting_protect"])).first() != nil
    }

    /// `project` nil: every project's (the service admin's all_tenants).
    private func filtered(_ q: SQLSelectBuilder, project: String?, _ filter: BackupFilter) -> SQLSelectBuilder {
        var q = q
        if let project { q = q.where("project_id", .equal, SQLBind(project)) }
        if let v = filter.vaultID { q = q.where("vault_id", .equal, SQLBind(v)) }
        if let v = filter.resourceID { q = q.where("resource_id", .equal, SQLBind(v)) }
        if let v = filter.resourceType { q = q.where("resource_type", .equal, SQLBind(v)) }
        if let v = filter.checkpointID { q = q.where("checkpoint_id", .equal, SQLBind(v)) }
        if !filter.statuses.isEmpty { q = q.where("status", .in, SQLBind.group(filter.statuses)) }
        if let v = filter.name { q = q.where("name", .like, SQLBind("%" + v + "%")) }
        if let v = filter.parentID { q = q.where("parent_id", .equal, SQLBind(v)) } else { q = q.where("parent_id", .is, SQLLiteral.null) }
        if let v = filter.imageType { q = q.where("image_type", .equal, SQLBind(v)) }
        if let v = filter.incremental { q = q.where("incremental", .equal, SQLBind(v)) }
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

    public func countBackups(project: String?, filter: BackupFilter) async throws -> Int {
        try await filtered(sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("backups"), project: project, filter)
            .first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func listBackups(project: String?, filter: BackupFilter, sort: [(String, Bool)], offset: Int, limit: Int) async throws -> (items: [BackupRow], total: Int) {
        let total = try await countBackups(project: project, filter: filter)
        let items = try await ordered(filtered(sql.select().column("*").from("backups"), project: project, filter), sort)
            .offset(offset).limit(limit).all(decoding: BackupRow.self)
        return (items, total)
    }

    /// Where `id` stands in the listing (for marker paging), or nil when it is not in it.
    public func position(of id: String, project: String?, filter: BackupFilter, sort: [(String, Bool)]) async throws -> Int? {
        let ids = try await ordered(filtered(sql.select().column("id").from("backups"), project: project, filter), sort).all()
        return try ids.firstIndex { try $0.decode(column: "id", as: String.self) == id }
    }

    /// The disk backups of several server backups at once, by parent id.
    public func children(of parents: [String]) async throws -> [String: [BackupRow]] {
        guard !parents.isEmpty else { return [:] }
        let rows = try await sql.select().column("*").from("backups").where("parent_id", .in, SQLBind.group(parents)).orderBy("created_at").orderBy("id")
            .all(decoding: BackupRow.self)
        return Dictionary(grouping: rows) { $0.parentId ?? "" }
    }

    // MARK: operation logs

    public func operationLog(project: String, id: String) async throws -> OperationLogRow? {
        try await sql.select().column("*").from("operation_logs").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id))
            .first(decoding: OperationLogRow.self)
    }

    public func operationLog(id: String) async throws -> OperationLogRow? {
        try await sql.select().column("*").from("operation_logs").where("id", .equal, SQLBind(id)).first(decoding: OperationLogRow.self)
    }

    /// The newest operation log of each backup (its progress, task id and failure), by backup id.
    public func latestLogs(backups ids: [String]) async throws -> [String: OperationLogRow] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await sql.select().column("*").from("operation_logs").where("backup_id", .in, SQLBind.group(ids)).orderBy("created_at")
            .all(decoding: OperationLogRow.self)
        var latest: [String: OperationLogRow] = [:]
        for row in rows { if let b = row.backupId { latest[b] = row } }
        return latest
    }

    public func updateOperationLog(_ row: OperationLogRow) async throws { try await update(row, in: "operation_logs", id: row.id) }

    /// Progress of a running operation only: one that ended keeps its final state.
    public func setProgress(log id: String, percent: Int, now: Int64) async throws {
        try await sql.update("operation_logs").set("progress", to: SQLBind(percent)).set("updated_at", to: SQLBind(now))
            .where("id", .equal, SQLBind(id)).where("status", .equal, SQLBind("running")).run()
    }

    public struct LogFilter: Sendable {
        public var operationType: String?
        public var status: String?
        public var vaultID: String?
        public var resourceID: String?
        public var resourceName: String?
        public var vaultName: String?
        public var providerID: String?
        public var startTime: Int64?
        public var endTime: Int64?
        public init() {}
    }

    public func listOperationLogs(project: String, filter: LogFilter, offset: Int, limit: Int) async throws -> (items: [OperationLogRow], total: Int) {
        func apply(_ q: SQLSelectBuilder) -> SQLSelectBuilder {
            var q = q.where("project_id", .equal, SQLBind(project))
            if let v = filter.operationType { q = q.where("operation_type", .equal, SQLBind(v)) }
            if let v = filter.status { q = q.where("status", .equal, SQLBind(v)) }
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
            .offset(offset).limit(limit).all(decoding: OperationLogRow.self)
        return (items, total)
    }

    // MARK: jobs (claimed under the catalog's transaction; on PostgreSQL this becomes FOR UPDATE SKIP LOCKED)

    /// Takes a queued job, leasing it to `owner` until `leaseUntil`: the
    /// oldest job of the project whose turn is longest ago, so one tenant's
    /// thousand queued restores do not starve another's backup.
    public func claimJob(owner: String, now: Int64, leaseUntil: Int64) async throws -> JobRow? {
        try await catalog.transaction { db in
            guard var job = try await db.raw("""
                SELECT jobs.* FROM jobs LEFT JOIN job_turns ON job_turns.project_id = jobs.project_id WHERE jobs.status = 'queued'
                ORDER BY COALESCE(job_turns.last_claimed_at, 0), jobs.created_at, jobs.id LIMIT 1
                """).first(decoding: JobRow.self) else { return nil }
            try await db.raw("""
                INSERT INTO job_turns (project_id, last_claimed_at) VALUES (\(bind: job.projectId), \(bind: now))
                ON CONFLICT (project_id) DO UPDATE SET last_claimed_at = excluded.last_claimed_at
                """).run()
            job.status = "running"
            job.owner = owner
            job.leaseUntil = leaseUntil
            job.attempts += 1
            job.updatedAt = now
            try await db.update("jobs").set(model: job, nilEncodingStrategy: .asNil).where("id", .equal, SQLBind(job.id)).run()
            return job
        }
    }

    public func extendLease(job: String, owner: String, until: Int64) async throws {
        try await sql.update("jobs").set("lease_until", to: SQLBind(until)).where("id", .equal, SQLBind(job)).where("owner", .equal, SQLBind(owner)).run()
    }

    public func finishJob(_ id: String, status: String, error: String?, now: Int64) async throws {
        try await sql.update("jobs").set("status", to: SQLBind(status)).set("last_error", to: SQLBind(error)).set("lease_until", to: SQLLiteral.null)
            .set("updated_at", to: SQLBind(now)).where("id", .equal, SQLBind(id)).run()
    }

    /// Running jobs whose lease ran out (their worker died).
    public func expiredJobs(now: Int64) async throws -> [JobRow] {
        try await sql.select().column("*").from("jobs").where("status", .equal, SQLBind("running")).where("lease_until", .lessThan, SQLBind(now))
            .all(decoding: JobRow.self)
    }

    public func requeue(_ id: String, now: Int64) async throws {
        try await sql.update("jobs").set("status", to: SQLBind("queued")).set("owner", to: SQLLiteral.null).set("lease_until", to: SQLLiteral.null)
            .set("updated_at", to: SQLBind(now)).where("id", .equal, SQLBind(id)).run()
    }
}
