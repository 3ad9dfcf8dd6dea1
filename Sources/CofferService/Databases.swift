import CofferModel
import CofferSystem
import Foundation

/// RDS v3 database backups (shared/api/csbs-v1-and-rds-v3.md §5) over the
/// engine: a manual backup is a Coffer backup of the instance (a base backup
/// stored as a tree) in the vault it is bound to, or the project's `rds`
/// vault made on first use. Errors carry `DBS.xxxxxx` codes.
public final class DatabaseService: @unchecked Sendable {
    public static let vaultName = "rds_backups"
    let backups: BackupService
    let vaults: VaultService
    let resources: ResourceService

    public init(backups: BackupService, vaults: VaultService, resources: ResourceService) {
        self.backups = backups
        self.vaults = vaults
        self.resources = resources
    }

    public static func invalid(_ message: String) -> ServiceError { ServiceError(.invalidRequest, message) }
    static func noInstance(_ id: String) -> ServiceError { ServiceError(.instanceNotFound, "instance \(id) does not exist") }
    static func noBackup(_ id: String) -> ServiceError { ServiceError(.backupNotFound, "backup \(id) does not exist") }

    public func instance(project: String, id: String) async throws -> ResourceView {
        guard let view = try? await resources.view(project: project, id: id), view.type == .database else { throw DatabaseService.noInstance(id) }
        return view
    }

    /// Seed 003: 4 to 64 characters, a letter first, then letters, digits, `_` and `-`.
    public static func validateBackupName(_ name: String) throws { try Validate.rdsBackupName(name, error: invalid) }

    public static func validateDescription(_ text: String) throws {
        guard text.count <= 256, !text.contains(where: { ">!<\"&'=".contains($0) }) else {
            throw ServiceError(.descriptionInvalid, "description must be at most 256 characters without > ! < \" & ' =")
        }
    }


    /// A manual full backup; answers at once with the backup `BUILDING`.
    /// `automatic`: made by the instance's backup policy (RDS type `auto`).
    public func createBackup(caller: Principal, instanceID: String, name: String, description: String, automatic: Bool = false) async throws -> BackupRecord {
        try DatabaseService.validateBackupName(name)
        try DatabaseService.validateDescription(description)
        let instance = try await instance(project: caller.projectID, id: instanceID)
        guard try await !backups.store.nameTaken(resource: instanceID, name: name) else {
            throw DatabaseService.invalid("name \(name) is already used by a backup of instance \(instanceID)")
        }
        guard try await !backups.store.hasActiveBackup(resource: instanceID) else {
            throw ServiceError(.instanceBusy, "instance \(instanceID) is being backed up")
        }
        var input = CheckpointInput(vaultID: try await vaults.vaultBinding(instance, caller: caller, name: DatabaseService.vaultName, objectType: "rds",
                                                                           description: "RDS database backups"))
        input.resources = [instanceID]
        input.name = name
        input.description = description
        input.incremental = true  // the parent snapshot only speeds up reading; every backup restores whole
        input.idSuffix = "br03"
        input.autoTrigger = automatic
        let (checkpoint, _, _) = try await backups.createCheckpoint(caller: caller, input, nameIsValidated: true)
        guard let row = try await backups.store.backups(checkpoint: checkpoint.id).first(where: { $0.parentId == nil }) else {
            throw ServiceError(.databaseFailure, "backup of \(instanceID) was not recorded")
        }
        return row
    }

    public func backup(project: String, id: String) async throws -> BackupRecord {
        guard let b = try await backups.store.backup(project: project, id: id), b.resourceType == ResourceType.database.rawValue else { throw DatabaseService.noBackup(id) }
        return b
    }

    public func delete(caller: Principal, id: String) async throws {
        let b = try await backup(project: caller.projectID, id: id)
        guard b.status.after(.deleteQueued) != nil else {
            throw ServiceError(.backupNotDeletable, "backup \(id) is \(b.status.rawValue); only completed or failed backups can be deleted")
        }
        _ = try await backups.delete(caller: caller, id: id)
    }

    public struct Policy: Codable, Sendable, Equatable {
        public var keep_days: Int
        public var start_time: String?
        public var period: String?
        public init(keep_days: Int, start_time: String?, period: String?) {
            self.keep_days = keep_days
            self.start_time = start_time
            self.period = period
        }
    }

    public func policy(project: String, instanceID: String) async throws -> Policy {
        _ = try await instance(project: project, id: instanceID)
        guard let record = try await resources.databases.get(instanceID),
              let policy = try? JSONDecoder().decode(Policy.self, from: Data(record.policy.utf8)) else { throw DatabaseService.noInstance(instanceID) }
        return policy
    }

    /// keep_days 0 (disabled) to 732; start_time `hh:mm-HH:MM` with HH = hh + 1 and minutes 00/15/30/45 (both equal); period `1..7` list.
    public static func validate(_ p: Policy) throws {
        guard (0...732).contains(p.keep_days) else { throw invalid("backup_policy.keep_days must be 0 to 732") }
        if let window = p.start_time {
            let parts = window.split(separator: "-").map { $0.split(separator: ":").compactMap { Int($0) } }
            guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), (0...23).contains(parts[0][0]), parts[1][0] == (parts[0][0] + 1) % 24,
                  [0, 15, 30, 45].contains(parts[0][1]), parts[0][1] == parts[1][1], window.count == 11 else {
                throw invalid("backup_policy.start_time must be hh:mm-HH:MM (UTC) with HH one hour after hh and minutes 00, 15, 30 or 45")
            }
        } else if p.keep_days > 0 {
            throw invalid("backup_policy.start_time is required when keep_days is not 0")
        }
        if let period = p.period {
            let days = period.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            guard !days.isEmpty, days.allSatisfy({ $0.map { (1...7).contains($0) } ?? false }), Set(days).count == days.count else {
                throw invalid("backup_policy.period must list distinct days 1 (Monday) to 7, comma-separated")
            }
        }
    }

    /// keep_days 0 turns automated backups off and deletes the existing ones unless `reserveBackups` (RDS semantics).
    public func setPolicy(caller: Principal, instanceID: String, _ p: Policy, reserveBackups: Bool = false) async throws {
        try DatabaseService.validate(p)
        _ = try await instance(project: caller.projectID, id: instanceID)
        var stored = p
        if stored.period == nil { stored.period = "1,2,3,4,5,6,7" }
        try await resources.databases.setPolicy(instanceID, String(decoding: try JSONEncoder().encode(stored), as: UTF8.self))
        if p.keep_days == 0, !reserveBackups {
            _ = try await expire(project: caller.projectID, instanceID: instanceID, olderThan: Int64.max)
        }
    }

    /// Deletes the instance's automatic backups made before `olderThan` (completed or failed), through the normal delete path. Returns their ids.
    public func expire(project: String, instanceID: String, olderThan: Int64) async throws -> [String] {
        var filter = BackupFilter()
        filter.resourceID = instanceID
        filter.autoTrigger = true
        filter.statuses = [.available, .error]
        let old = try await backups.store.listBackups(project: project, filter: filter, sort: [("created_at", true)], offset: 0, limit: Int.max).items
            .filter { $0.createdAt < olderThan }
        return try await backups.expire(old.map(\.id), project: project)
    }

    /// The instance's automated-backup schedule: in the window's first minute, on the policy's weekdays (nil: off).
    public static func schedule(_ p: Policy) -> Schedule? {
        guard p.keep_days > 0, let window = p.start_time, window.count == 11,
              let hour = Int(window.prefix(2)), let minute = Int(window.dropFirst(3).prefix(2)) else { return nil }
        let names = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
        let days = (p.period ?? "1,2,3,4,5,6,7").split(separator: ",").compactMap { Int($0) }.filter { (1...7).contains($0) }.map { names[$0 - 1] }
        guard !days.isEmpty else { return nil }
        return try? Schedule(patterns: [String(format: "FREQ=WEEKLY;BYDAY=%@;BYHOUR=%02d;BYMINUTE=%02d", days.joined(separator: ","), hour, minute)], anchor: 0)
    }

    /// Queues a restore of `backupID` onto the instance's data directory (it
    /// must have one), or into `newDataDirectory` (empty or absent, under a
    /// resource root). Returns the job id (the operation log's).
    public func recover(caller: Principal, backupID: String, targetInstanceID: String?, newDataDirectory: String?) async throws -> String {
        let b = try await backup(project: caller.projectID, id: backupID)
        guard b.status == .available, let snapshot = b.snapshotId else {
            throw ServiceError(.backupNotRestorable, "backup \(backupID) is \(b.status.rawValue); only completed backups can be restored")
        }
        var plan: DatabaseRestorePlan
        var targetResource: String
        if let newDataDirectory {
            // A new directory inside one of the caller's own registered file systems, never the file system itself.
            let (owner, relative) = try await resources.ownedTarget(newDataDirectory, project: caller.projectID, types: [.fileSystem], field: "target.data_dir")
            guard !relative.isEmpty, let base = owner.path else {
                throw DatabaseService.invalid("target.data_dir must be a new directory inside a registered file system, not the file system itself")
            }
            let path = base + "/" + relative.joined(separator: "/")
            if FileManager.default.fileExists(atPath: path) {
                guard ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["x"]).isEmpty else {
                    throw DatabaseService.invalid("target.data_dir \(newDataDirectory) must be absent or an empty directory")
                }
            }
            plan = DatabaseRestorePlan(instanceID: b.resourceId, snapshotID: snapshot, dataDirectory: path, inPlace: false, beneathResourceID: owner.id)
            targetResource = path
        } else {
            let target = try await instance(project: caller.projectID, id: targetInstanceID ?? b.resourceId)
            guard let dataDirectory = target.record.path else {
                throw DatabaseService.invalid("target.instance_id \(target.record.id) has no data_dir registered: Coffer cannot restore it in place")
            }
            plan = DatabaseRestorePlan(instanceID: target.record.id, snapshotID: snapshot, dataDirectory: dataDirectory, inPlace: true)
            targetResource = target.record.id
        }
        if try await backups.logs.restoreActive(resources: [targetResource]) {
            throw ServiceError(.restoreRunning, "a restore onto \(targetResource) is already running")
        }
        let vaultName = (try await vaults.record(id: b.vaultId))?.name ?? ""
        let log = backups.logRow(b, type: "restore", vaultName: vaultName, resourceID: targetResource, resourceName: b.resourceName)
        let now = backups.clock.now().epochMilliseconds
        let job = JobRecord(id: BackupService.newID(), projectId: b.projectId, kind: .databaseRestore, targetId: b.id, operationLogId: log.id, status: .queued,
                         owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now,
                         payload: String(decoding: try JSONEncoder().encode(plan), as: UTF8.self), vaultId: b.vaultId)
        try await backups.enqueue(job, log: log) {}
        return log.id
    }

    /// An RDS job is an operation log of this project (backup or restore).
    public func job(project: String, id: String) async throws -> OperationLogRecord {
        guard let log = try await backups.logs.get(project: project, id: id) else {
            throw ServiceError(.jobNotFound, "job \(id) does not exist")
        }
        return log
    }
}
