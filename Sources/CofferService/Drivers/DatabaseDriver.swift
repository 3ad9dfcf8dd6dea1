import CofferCrypto
import CofferEngine
import CofferModel
import CofferRepository
import Foundation

/// One database engine's own tools: checking a connection, taking a
/// consistent copy of an instance, and putting a restored copy in place.
/// The engine-neutral parts (staging, archiving, confinement, the RDS API)
/// stay in the service; CofferPostgres implements this for PostgreSQL.
public protocol DatabaseEngine: Sendable {
    /// The engine's name as the RDS API spells it ("PostgreSQL").
    var name: String { get }
    /// Checks a connection URL: its form, and (when the instance answers)
    /// that its role may take copies. Errors are 400s naming `field`.
    func checkConnection(_ url: String, field: String) async throws
    /// Refuses (400 `BackupService.6102`, naming `shownAs`) a directory that is not a data directory of this engine.
    func checkDataDirectory(_ path: String, shownAs: String) throws
    /// A consistent copy of the instance in `directory` (made anew). Returns
    /// the engine version of the copy, when it says.
    func copy(_ connectionURL: String, into directory: String) async throws -> String?
    /// Puts a restored copy in place. In place: stop the instance, keep its
    /// directory aside, `lay` the copy down, start it and check it answers;
    /// on any failure put the old directory back and start it again. Into a
    /// new directory: `lay` it down and give it to the instance's owner.
    /// `lay(directory)` restores the snapshot into `directory`; `connectionURL` is given for in place only.
    func install(_ plan: DatabaseRestorePlan, connectionURL: String?, sourceDataDirectory: String?, now: Int64,
                 lay: @escaping @Sendable (String) async throws -> Void) async throws
}

/// A database instance: copied by its engine into a staging directory kept
/// per instance (so consecutive backups find their parent), then archived
/// as a tree; restored only through the RDS API (a `db_restore` job).
struct DatabaseDriver: ResourceDriver {
    let engines: [String: any DatabaseEngine]
    var type: ResourceType { .database }

    func engine(of instanceID: String, context: DriverContext) async throws -> any DatabaseEngine {
        let name = try await context.resources.databases.get(instanceID)?.engine ?? ""
        guard let engine = engines[name.lowercased()] else {
            throw ServiceError(.databaseFailure, "instance \(instanceID) uses engine \(name), which this server does not drive")
        }
        return engine
    }

    func planRestore(_ backup: BackupRecord, children: [BackupRecord], input: RestoreInput, project: String,
                     context: DriverContext) async throws -> [RestorePlan.Item] {
        throw ServiceError(.resourceTypeMismatch, "backup \(backup.id) is a database backup: restore it through the RDS API (POST /v3/{project_id}/instances/recovery)")
    }

    func backUp(_ resource: ResourceView, with archiver: Archiver, options: BackupOptions, context: DriverContext) async throws -> BackupResult {
        let id = resource.record.id
        let engine = try await engine(of: id, context: context)
        let directory = context.stagingDirectory + "/" + id
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let version = try await engine.copy(try await context.resources.databaseConnectionURL(id), into: directory)
        if let version { try await context.resources.databases.setVersion(id, version) }
        return try await archiver.backup(path: directory, options: options)
    }

    func restore(_ item: RestorePlan.Item, snapshot: Hash256, with restorer: Restorer, project: String,
                 progress: @escaping @Sendable (Int64) -> Void, context: DriverContext) async throws -> RestoreResult {
        throw ServiceError(.resourceTypeMismatch, "a database backup is restored through the RDS API")
    }

    /// Lays a database backup down as a data directory (the `db_restore` job).
    func restoreDatabase(_ plan: DatabaseRestorePlan, backup: BackupRecord, snapshot: Hash256, with restorer: Restorer, now: Int64,
                         context: DriverContext) async throws {
        // Checked again now that the job runs: the directory must still be inside what the project owns.
        let confinement = try await context.resources.stillOwned(project: backup.projectId, id: plan.beneathResourceID ?? plan.instanceID)
        guard let base = confinement.path, componentsBelow(base, plan.dataDirectory) != nil else {
            throw ServiceError(.databaseFailure, "\(plan.dataDirectory) is no longer inside resource \(confinement.id)")
        }
        var confined = RestoreOptions()
        // In place the data directory itself is moved aside and made anew: walk from its (operator-chosen) parent.
        confined.beneath = plan.inPlace ? (base as NSString).deletingLastPathComponent : base
        confined.specialFiles = confinement.restoreSpecialFiles
        let options = confined
        let engine = try await engine(of: plan.instanceID, context: context)
        let sourceDirectory = try? await context.resources.view(project: backup.projectId, id: backup.resourceId).record.path
        let connection = plan.inPlace ? try await context.resources.databaseConnectionURL(plan.instanceID) : nil
        try await engine.install(plan, connectionURL: connection,
                                 sourceDataDirectory: sourceDirectory.flatMap { $0 }, now: now) { directory in
            let result = try await restorer.restore(snapshot: snapshot, target: directory, options: options)
            guard result.errors.isEmpty else { throw ServiceError(.databaseFailure, "restore incomplete: " + result.errors.prefix(5).joined(separator: "; ")) }
        }
    }
}
