import CofferModel
import SQLKit

/// Reads a row's columns in the order they were selected. On PostgreSQL a
/// cell is taken by its position (its name only compared); elsewhere, and
/// whenever the name at that position differs, by name.
struct ColumnReader {
    private let row: any SQLRow
    private let positional: CatalogRow?
    private let columns: [String]
    private var next = 0

    init(_ row: any SQLRow, columns: [String]) {
        self.row = row
        self.positional = row as? CatalogRow
        self.columns = columns
    }

    mutating func callAsFunction<T: Decodable>(_: T.Type = T.self) throws -> T {
        let index = next
        next += 1
        if let positional { return try positional.decode(at: index, column: columns[index], as: T.self) }
        return try row.decode(column: columns[index], as: T.self)
    }
}

/// Backups read without SQLKit's row decoder: through it every row cost a
/// keyed decoding container, a hash of every column name and a type lookup
/// per value, 40 % of the server's CPU for a page of 100 backups.
extension BackupRecord {
    /// Every column of `backups`, in the order `init(catalogRow:)` reads them.
    static let catalogColumns = ["id", "project_id", "vault_id", "checkpoint_id", "parent_id", "resource_id", "resource_type", "resource_name", "resource_size",
                                 "name", "description", "status", "image_type", "provider_id", "incremental", "auto_trigger", "bootable", "snapshot_id",
                                 "fail_reason", "created_at", "protected_at", "updated_at", "expired_at", "resource_az", "tags", "policy_id"]

    init(catalogRow row: any SQLRow) throws {
        var c = ColumnReader(row, columns: Self.catalogColumns)
        let id: String = try c(), projectId: String = try c(), vaultId: String = try c(), checkpointId: String = try c(), parentId: String? = try c()
        let resourceId: String = try c(), resourceType: String = try c(), resourceName: String = try c(), resourceSize: Int64 = try c()
        let name: String = try c(), description: String = try c(), statusName: String = try c()
        guard let status = BackupStatus(rawValue: statusName) else { throw CatalogError(.storage, "backup \(id): unknown status \(statusName)") }
        let imageType: String = try c(), providerId: String = try c(), incremental: Bool = try c(), autoTrigger: Bool = try c(), bootable: Bool = try c()
        let snapshotId: String? = try c(), failReason: String? = try c(), createdAt: Int64 = try c(), protectedAt: Int64? = try c(), updatedAt: Int64 = try c()
        let expiredAt: Int64? = try c(), resourceAz: String = try c(), tags: String = try c(), policyId: String? = try c()
        self.init(id: id, projectId: projectId, vaultId: vaultId, checkpointId: checkpointId, parentId: parentId, resourceId: resourceId, resourceType: resourceType,
                  resourceName: resourceName, resourceSize: resourceSize, name: name, description: description, status: status, imageType: imageType,
                  providerId: providerId, incremental: incremental, autoTrigger: autoTrigger, bootable: bootable, snapshotId: snapshotId, failReason: failReason,
                  createdAt: createdAt, protectedAt: protectedAt, updatedAt: updatedAt, expiredAt: expiredAt, resourceAz: resourceAz, tags: tags)
        self.policyId = policyId
    }
}

extension SQLBackupStore {
    /// The column list written once (both engines quote names with `"`):
    /// serializing 26 `SQLColumn`s for every statement was 11 % of a by-id read.
    private static let columnList = SQLRaw(BackupRecord.catalogColumns.map { "\"\($0)\"" }.joined(separator: ", "))

    /// `SELECT` of every backup column, in `BackupRecord.catalogColumns` order.
    func selectBackups() -> SQLSelectBuilder {
        sql.select().column(Self.columnList).from("backups")
    }
}
