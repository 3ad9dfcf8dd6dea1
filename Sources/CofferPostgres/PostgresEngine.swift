import CofferService
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// CofferPostgres: the PostgreSQL database engine. It drives PostgreSQL's own
// programs (pg_basebackup, pg_ctl, psql) as child processes; the service
// layer sees it only as a `DatabaseEngine`, registered by the composition root.

public struct PostgresEngine: DatabaseEngine {
    public init() {}

    public var name: String { "PostgreSQL" }

    public func checkConnection(_ url: String, field: String) async throws {
        let parsed = try PostgresConnection(url: url, field: field)
        // Refused now rather than as a failed backup later. An instance that cannot be asked (down) is
        // accepted: its backups fail with the reason until it answers.
        if await PostgresTools.mayReplicate(parsed) == false {
            throw ServiceError.validation("\(field): role \(parsed.user) may not take base backups; grant it with ALTER ROLE \(parsed.user) REPLICATION (or use a superuser)")
        }
    }

    /// What a client may be told of a failed PostgreSQL program: the cause in
    /// a few words, never its output (which names server paths and settings).
    static func cause(of output: String) -> String {
        let causes: [(String, String)] = [
            ("password authentication failed", "password authentication failed for the connection's role"),
            ("no pg_hba.conf entry", "the instance does not accept replication connections from this host (pg_hba.conf)"),
            ("must be superuser or replication role", "the connection's role may not take base backups"),
            ("permission denied", "the connection's role may not take base backups"),
            ("Connection refused", "the instance does not answer"),
            ("could not connect", "the instance does not answer"),
            ("timeout expired", "the instance does not answer"),
            ("No space left on device", "the server has no room to stage the copy"),
        ]
        return causes.first { output.contains($0.0) }?.1 ?? "the server log has the cause"
    }

    public func checkDataDirectory(_ path: String, shownAs: String) throws {
        guard FileManager.default.fileExists(atPath: path + "/PG_VERSION") else {
            throw ServiceError(.resourceTypeMismatch, "\(shownAs) is not a PostgreSQL data directory (no PG_VERSION)")
        }
    }

    public func copy(_ connectionURL: String, into directory: String) async throws -> String? {
        let connection = try PostgresConnection(url: connectionURL, field: "connection")
        do {
            try await PostgresTools.baseBackup(connection, into: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw ServiceError(.databaseFailure, "base backup of \(connection) failed: " + PostgresEngine.cause(of: "\(error)"), detail: "\(error)")
        }
        return PostgresTools.version(of: directory)
    }

    public func install(_ plan: DatabaseRestorePlan, connectionURL: String?, sourceDataDirectory: String?, now: Int64,
                        lay: @escaping @Sendable (String) async throws -> Void) async throws {
        let target = plan.dataDirectory
        guard plan.inPlace, let connectionURL else {
            // The new directory belongs to whoever runs the source instance (its data directory's owner), else to the parent's owner.
            let parent = (target as NSString).deletingLastPathComponent
            guard let owner = sourceDataDirectory.flatMap(PostgresTools.owner(of:)) ?? PostgresTools.owner(of: parent) else {
                throw ServiceError(.databaseFailure, "\(parent) is gone")
            }
            do {
                try await lay(target)
                try PostgresTools.prepare(target, uid: owner.uid, gid: owner.gid)
            } catch {
                try? FileManager.default.removeItem(atPath: target)
                throw error
            }
            return
        }
        let connection = try PostgresConnection(url: connectionURL, field: "connection")
        guard let owner = PostgresTools.owner(of: target) else { throw ServiceError(.databaseFailure, "data directory \(target) is gone") }
        let aside = target + ".coffer-old-" + String(now)
        let log = NSTemporaryDirectory() + "coffer-pg-\(plan.instanceID).log"
        try await PostgresTools.stop(target, owner: owner.name)
        guard rename(target, aside) == 0 else {
            let reason = String(cString: strerror(errno))
            try? await PostgresTools.start(target, owner: owner.name, log: log)
            throw ServiceError(.databaseFailure, "cannot move \(target) aside: \(reason)")
        }
        do {
            try await lay(target)
            try PostgresTools.prepare(target, uid: owner.uid, gid: owner.gid)
            try await PostgresTools.start(target, owner: owner.name, log: log)
            guard await PostgresTools.accepts(connection) else { throw ServiceError(.databaseFailure, "the restored instance does not accept connections") }
        } catch {
            try? await PostgresTools.stop(target, owner: owner.name)
            try? FileManager.default.removeItem(atPath: target)
            if rename(aside, target) == 0 { try? await PostgresTools.start(target, owner: owner.name, log: log) }
            throw ServiceError(.databaseFailure, "restore of \(plan.instanceID) failed, the previous data directory is back",
                               detail: ServiceError.logText(error))
        }
        try? FileManager.default.removeItem(atPath: aside)
    }
}
