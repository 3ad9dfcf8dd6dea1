import CofferModel
import Foundation

/// One page of a backup listing, with the disk backups of the server backups on it.
public struct BackupPage: Sendable {
    public var items: [BackupRecord]
    /// Matching backups before paging.
    public var total: Int
    /// Where the page starts (after the marker, when one was given).
    public var offset: Int
    public var children: [String: [BackupRecord]]
}

/// The read side of backups and operation logs, for the API's listings.
extension BackupService {
    /// `project` nil: every project's (the service admin's all_tenants).
    /// `marker`: keyset paging, continuing after the marker's position in the
    /// same order; a marker not in the listing is a 400 naming it as `markerNoun`.
    public func listBackups(project: String?, filter: BackupFilter, sort: [(String, Bool)], offset: Int, limit: Int,
                            marker: String? = nil, markerNoun: String = "a backup id") async throws -> BackupPage {
        var offset = offset
        if let marker {
            guard let i = try await store.position(of: marker, project: project, filter: filter, sort: sort) else {
                throw ServiceError.validation("marker \(marker) is not \(markerNoun) in this listing")
            }
            offset += i + 1
        }
        let (items, total) = try await store.listBackups(project: project, filter: filter, sort: sort, offset: offset, limit: limit)
        let servers = items.filter { $0.resourceType == ResourceType.server.rawValue }.map(\.id)
        return BackupPage(items: items, total: total, offset: offset, children: try await store.children(of: servers))
    }

    public func countBackups(project: String?, filter: BackupFilter) async throws -> Int {
        try await store.countBackups(project: project, filter: filter)
    }

    /// The disk backups of these backups, by parent id.
    public func children(of ids: [String]) async throws -> [String: [BackupRecord]] { try await store.children(of: ids) }

    /// The newest operation log of each backup, by backup id.
    public func latestLogs(backups ids: [String]) async throws -> [String: OperationLogRecord] { try await logs.latest(backups: ids) }

    public func operationLogs(project: String, filter: OperationLogFilter, offset: Int, limit: Int) async throws -> (items: [OperationLogRecord], total: Int) {
        try await logs.list(project: project, filter: filter, offset: offset, limit: limit)
    }

    /// 404 `BackupService.6500` when the project has no such log.
    public func operationLog(project: String, id: String) async throws -> OperationLogRecord {
        guard let log = try await logs.get(project: project, id: id) else {
            throw ServiceError(.operationLogNotFound, "Operation log does not exist.")
        }
        return log
    }
}
