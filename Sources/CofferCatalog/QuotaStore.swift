import Foundation
import SQLKit

/// Operator-set limits of one project; nil is no limit.
public struct ProjectQuota: Sendable, Equatable, Codable {
    public var maxVaults: Int?
    public var maxCapacityGB: Int?
    public var maxQueuedJobs: Int?

    enum CodingKeys: String, CodingKey {
        case maxVaults = "max_vaults"
        case maxCapacityGB = "max_capacity_gb"
        case maxQueuedJobs = "max_queued_jobs"
    }

    public init(maxVaults: Int? = nil, maxCapacityGB: Int? = nil, maxQueuedJobs: Int? = nil) {
        self.maxVaults = maxVaults
        self.maxCapacityGB = maxCapacityGB
        self.maxQueuedJobs = maxQueuedJobs
    }
}

/// Quotas are read inside the transaction that would exceed them, so two
/// requests racing for the last slot cannot both get it.
public struct QuotaStore: Sendable {
    public let catalog: Catalog
    public init(catalog: Catalog) { self.catalog = catalog }

    public func get(project: String) async throws -> ProjectQuota { try await QuotaStore.read(project, on: catalog.sql) }

    static func read(_ project: String, on db: any SQLDatabase) async throws -> ProjectQuota {
        try await db.select().columns("max_vaults", "max_capacity_gb", "max_queued_jobs").from("project_quotas")
            .where("project_id", .equal, SQLBind(project)).first(decoding: ProjectQuota.self) ?? ProjectQuota()
    }

    public func set(project: String, _ quota: ProjectQuota) async throws {
        try await catalog.transaction { db in
            try await db.delete(from: "project_quotas").where("project_id", .equal, SQLBind(project)).run()
            try await db.insert(into: "project_quotas").columns("project_id", "max_vaults", "max_capacity_gb", "max_queued_jobs")
                .values(SQLBind(project), SQLBind(quota.maxVaults), SQLBind(quota.maxCapacityGB), SQLBind(quota.maxQueuedJobs)).run()
        }
    }

    /// Throws `.quotaVaults` or `.quotaCapacity` when one more vault of `sizeGB` would exceed the project's quota.
    static func checkVault(project: String, sizeGB: Int, on db: any SQLDatabase) async throws {
        let quota = try await read(project, on: db)
        guard quota.maxVaults != nil || quota.maxCapacityGB != nil else { return }
        let row = try await db.raw("SELECT COUNT(*) AS n, COALESCE(SUM(size_gb), 0) AS gb FROM vaults WHERE project_id = \(bind: project)").first()
        let count = try row?.decode(column: "n", as: Int.self) ?? 0
        let gb = try row?.decode(column: "gb", as: Int.self) ?? 0
        if let max = quota.maxVaults, count + 1 > max { throw CatalogError(.quotaVaults, "project \(project) may hold at most \(max) vaults (operator quota)") }
        if let max = quota.maxCapacityGB, gb + sizeGB > max {
            throw CatalogError(.quotaCapacity, "project \(project) may allocate at most \(max) GB to its vaults (operator quota); \(gb) GB are allocated")
        }
    }

    /// Throws `.quotaCapacity` when growing one vault from `from` to `to` GB would exceed the project's quota.
    public func checkResize(project: String, from: Int, to: Int) async throws {
        guard let max = try await get(project: project).maxCapacityGB else { return }
        let row = try await catalog.sql.raw("SELECT COALESCE(SUM(size_gb), 0) AS gb FROM vaults WHERE project_id = \(bind: project)").first()
        let gb = try row?.decode(column: "gb", as: Int.self) ?? 0
        if gb - from + to > max {
            throw CatalogError(.quotaCapacity, "project \(project) may allocate at most \(max) GB to its vaults (operator quota); \(gb) GB are allocated")
        }
    }

    /// Throws `.quotaJobs` when `adding` more queued or running jobs would exceed the project's quota.
    static func checkJobs(project: String, adding: Int, on db: any SQLDatabase) async throws {
        let quota = try await read(project, on: db)
        guard let max = quota.maxQueuedJobs else { return }
        let row = try await db.raw("SELECT COUNT(*) AS n FROM jobs WHERE project_id = \(bind: project) AND status IN ('queued', 'running')").first()
        let active = try row?.decode(column: "n", as: Int.self) ?? 0
        if active + adding > max {
            throw CatalogError(.quotaJobs, "project \(project) may have at most \(max) queued or running jobs (operator quota); \(active) are")
        }
    }
}
