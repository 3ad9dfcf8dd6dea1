import CofferModel
import Foundation
import SQLKit

/// Quotas are read inside the transaction that would exceed them, so two
/// requests racing for the last slot cannot both get it.
struct SQLQuotaStore: QuotaStore {
    let catalog: SQLCatalog
    var sql: any SQLDatabase { catalog.sql }

    func get(project: String) async throws -> ProjectQuota {
        try await sql.select().columns("max_vaults", "max_capacity_gb", "max_queued_jobs").from("project_quotas")
            .where("project_id", .equal, SQLBind(project)).first(decoding: ProjectQuota.self) ?? ProjectQuota()
    }

    func set(project: String, _ quota: ProjectQuota) async throws {
        try await catalog.withTransaction { db in
            try await db.delete(from: "project_quotas").where("project_id", .equal, SQLBind(project)).run()
            try await db.insert(into: "project_quotas").columns("project_id", "max_vaults", "max_capacity_gb", "max_queued_jobs")
                .values(SQLBind(project), SQLBind(quota.maxVaults), SQLBind(quota.maxCapacityGB), SQLBind(quota.maxQueuedJobs)).run()
        }
    }

    func checkNewVault(project: String, sizeGB: Int) async throws {
        let quota = try await get(project: project)
        guard quota.maxVaults != nil || quota.maxCapacityGB != nil else { return }
        let row = try await sql.raw("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size_gb), 0) AS BIGINT) AS gb FROM vaults WHERE project_id = \(bind: project)").first()
        let count = try row?.decode(column: "n", as: Int.self) ?? 0
        let gb = try row?.decode(column: "gb", as: Int.self) ?? 0
        if let max = quota.maxVaults, count + 1 > max { throw CatalogError(.quotaVaults, "project \(project) may hold at most \(max) vaults (operator quota)") }
        if let max = quota.maxCapacityGB, gb + sizeGB > max {
            throw CatalogError(.quotaCapacity, "project \(project) may allocate at most \(max) GB to its vaults (operator quota); \(gb) GB are allocated")
        }
    }

    func checkResize(project: String, from: Int, to: Int) async throws {
        guard let max = try await get(project: project).maxCapacityGB else { return }
        let row = try await sql.raw("SELECT CAST(COALESCE(SUM(size_gb), 0) AS BIGINT) AS gb FROM vaults WHERE project_id = \(bind: project)").first()
        let gb = try row?.decode(column: "gb", as: Int.self) ?? 0
        if gb - from + to > max {
            throw CatalogError(.quotaCapacity, "project \(project) may allocate at most \(max) GB to its vaults (operator quota); \(gb) GB are allocated")
        }
    }

    func checkJobs(project: String, adding: Int) async throws {
        guard let max = try await get(project: project).maxQueuedJobs else { return }
        let row = try await sql.raw("SELECT COUNT(*) AS n FROM jobs WHERE project_id = \(bind: project) AND status IN ('queued', 'running')").first()
        let active = try row?.decode(column: "n", as: Int.self) ?? 0
        if active + adding > max {
            throw CatalogError(.quotaJobs, "project \(project) may have at most \(max) queued or running jobs (operator quota); \(active) are")
        }
    }
}
