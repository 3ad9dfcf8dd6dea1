import CofferModel
import CofferSystem
import Foundation

/// One vault as the dashboard shows it (`coffer status`, the console).
public struct VaultDashboardRow: Sendable {
    public var vault: VaultRecord
    public var policyName: String?
    /// The bound policy's next occurrence (ms).
    public var nextRunAt: Int64?
    /// The newest available backup of any of its resources (ms).
    public var lastSuccessAt: Int64?
    /// Some resource's newest finished backup failed.
    public var lastBackupFailed: Bool
    public var failuresLastDay: Int
    /// Its operations running now.
    public var running: [OperationLogRecord]
    /// Why it needs attention, worst first (empty: none).
    public var problems: [String]
}

/// The state of every vault of a project in one read: last success, next
/// scheduled run, failures in the last 24 h, use of its capacity, what runs
/// now; vaults with problems first. A fixed number of catalog reads whatever
/// the number of vaults and backups.
public struct DashboardService: Sendable {
    let catalog: any Catalog
    let clock: any Clock
    /// A scheduled occurrence this long ago without a success since is a problem.
    static let overdueGrace: Int64 = 3_600_000
    /// Used over this share of the capacity is a problem.
    static let fullShare = 0.9

    public init(catalog: any Catalog, clock: any Clock) {
        self.catalog = catalog
        self.clock = clock
    }

    public func dashboard(caller: Principal) async throws -> [VaultDashboardRow] {
        guard caller.role != .agent else { throw ServiceError(.forbidden, "an agent credential reads no dashboard") }
        let project = caller.projectID, now = clock.now().epochMilliseconds
        let vaults = try await catalog.vaults.list(project: project, filter: VaultFilter(), offset: 0, limit: 100_000).items
        let policies = Dictionary(uniqueKeysWithValues: try await catalog.policies.list(project: project, filter: PolicyFilter()).map { ($0.id, $0) })
        let statistics = Dictionary(grouping: try await catalog.backups.resourceStatistics(project: project), by: \.vaultId)
        var failed = OperationLogFilter()
        failed.status = .failed
        failed.startTime = now - 86_400_000
        let failures = Dictionary(grouping: try await catalog.operationLogs.list(project: project, filter: failed, offset: 0, limit: 100_000).items, by: \.vaultId)
        var runningFilter = OperationLogFilter()
        runningFilter.status = .running
        let running = Dictionary(grouping: try await catalog.operationLogs.list(project: project, filter: runningFilter, offset: 0, limit: 100_000).items, by: \.vaultId)
        var rows: [VaultDashboardRow] = []
        for vault in vaults {
            let stats = statistics[vault.id] ?? []
            var row = VaultDashboardRow(vault: vault, lastSuccessAt: stats.compactMap(\.lastSuccessAt).max(),
                                        lastBackupFailed: stats.contains { !$0.lastSucceeded }, failuresLastDay: failures[vault.id]?.count ?? 0,
                                        running: running[vault.id] ?? [], problems: [])
            var schedule: Schedule?
            if let id = vault.policyID, let policy = policies[id], policy.enabled {
                row.policyName = policy.name
                if let patterns = try? JSONDecoder().decode([String].self, from: Data(policy.patterns.utf8)) {
                    schedule = try? Schedule(patterns: patterns, anchor: policy.createdAt)
                    row.nextRunAt = schedule?.next(after: now)
                }
            }
            if row.lastBackupFailed { row.problems.append("its last backup failed") }
            if row.failuresLastDay > 0 { row.problems.append("\(row.failuresLastDay) failed operation\(row.failuresLastDay == 1 ? "" : "s") in the last 24 h") }
            if let due = schedule?.previous(before: now - DashboardService.overdueGrace), due >= vault.createdAt.epochMilliseconds,
               (row.lastSuccessAt ?? 0) < due {
                row.problems.append("no successful backup since the scheduled one of \(UTCTimeFormat.cbrString(epochMilliseconds: due).prefix(16))")
            }
            if vault.sizeGB > 0, vault.usedPercent >= DashboardService.fullShare * 100 {
                row.problems.append("\(Int(vault.usedPercent)) % of its capacity is used")
            }
            rows.append(row)
        }
        return rows.sorted { a, b in
            if a.problems.isEmpty != b.problems.isEmpty { return !a.problems.isEmpty }
            return (a.vault.name, a.vault.id) < (b.vault.name, b.vault.id)
        }
    }
}
