import CofferModel
import CofferSystem
import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit

/// How statements reach the database: the one place SQLite and PostgreSQL
/// differ. Every query of the catalog is the same SQLKit code on both.
protocol SQLBackend: Sendable {
    /// Statements outside a transaction. A statement of a task that is inside
    /// one of this backend's transactions joins it.
    var sql: any SQLDatabase { get }
    /// Runs `body` as one transaction that no other writer interleaves with
    /// (the catalog's check-then-write steps rely on it). Nested calls join.
    func withTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T
    /// A consistent copy of the whole database in a new file.
    func backup(to path: String) async throws
    /// The tables of the catalog (migrations' bookkeeping included), and a table's columns with their declared SQL types, lower case.
    func tables() async throws -> [String]
    func columns(of table: String) async throws -> [(name: String, type: String)]
    /// Fresh planner statistics after a bulk load, so the indexes are used
    /// at once (on PostgreSQL also the visibility map, without which a COUNT
    /// over an index still reads every row from the table).
    func analyze() async throws
    /// Makes the open transaction `db` wait at its commit until it is on
    /// disk, whatever the server's default: after a bulk load, which the
    /// next step (`analyze`) and the operator rely on.
    func commitDurably(_ db: any SQLDatabase) async throws
    func close() async
}

/// One SQLite connection (WAL): statements outside a transaction wait at a
/// gate while a transaction is open on the shared connection, where that
/// transaction's rollback would otherwise undo them.
final class SQLiteBackend: SQLBackend, @unchecked Sendable {
    let sql: any SQLDatabase
    /// The connection itself: only for the body of a transaction, which holds the gate.
    private let direct: any SQLDatabase
    private let connection: SQLiteConnection
    private let group: MultiThreadedEventLoopGroup
    private let gate = AsyncBudget(capacity: 1)

    private init(sql: any SQLDatabase, connection: SQLiteConnection, group: MultiThreadedEventLoopGroup) {
        self.direct = sql
        self.sql = SerializedSQLDatabase(inner: sql, gate: gate)
        self.connection = connection
        self.group = group
    }

    static func open(url: String, logger: Logger) async throws -> SQLiteBackend {
        let storage: SQLiteConnection.Storage
        if url == "sqlite::memory:" {
            storage = .memory
        } else {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw CatalogError(.unsupportedURL, "catalog URL \(url) has no path") }
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            storage = .file(path: path)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: storage, threadPool: .singleton, logger: logger, on: group.next()).get()
        } catch {
            try? await group.shutdownGracefully()
            throw CatalogError(.storage, "cannot open catalog \(url): \(error)")
        }
        let sql = connection.sql()
        // WAL lets readers proceed during a write; the busy timeout covers other processes.
        try await sql.raw("PRAGMA journal_mode=WAL").run()
        try await sql.raw("PRAGMA busy_timeout=5000").run()
        try await sql.raw("PRAGMA foreign_keys=ON").run()
        // Reads from a mapped file and a 64 MiB page cache instead of a read()
        // per page: listings touch thousands of pages of a large catalog.
        try await sql.raw("PRAGMA mmap_size=1073741824").run()
        try await sql.raw("PRAGMA cache_size=-65536").run()
        return SQLiteBackend(sql: sql, connection: connection, group: group)
    }

    func close() async {
        try? await connection.close().get()
        try? await group.shutdownGracefully()
    }

    func withTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if CatalogSession.inTransaction { return try await body(direct) }  // nested: already inside one
        await gate.acquire(1)
        defer { gate.release(1) }
        return try await CatalogSession.$inTransaction.withValue(true) {
            try await direct.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(direct)
                try await direct.raw("COMMIT").run()
                return result
            } catch {
                try? await direct.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    func tables() async throws -> [String] {
        try await sql.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all()
            .map { try $0.decode(column: "name", as: String.self) }
    }

    func columns(of table: String) async throws -> [(name: String, type: String)] {
        try await sql.raw("SELECT name, type FROM pragma_table_info(\(bind: table)) ORDER BY cid").all()
            .map { (try $0.decode(column: "name", as: String.self), try $0.decode(column: "type", as: String.self).lowercased()) }
    }

    func analyze() async throws {
        try await sql.raw("ANALYZE").run()
    }

    func commitDurably(_ db: any SQLDatabase) async throws {}  // SQLite's default (synchronous=FULL) syncs every commit

    func backup(to path: String) async throws {
        do {
            try await sql.raw("VACUUM INTO \(bind: path)").run()
        } catch {
            throw CatalogError(.storage, "cannot write the catalog backup \(path): \(error)")
        }
    }
}

/// Marks the task that holds the catalog's gate inside a transaction: a
/// statement it runs through `Catalog.sql` by mistake joins its own
/// transaction instead of waiting for itself forever.
enum CatalogSession {
    @TaskLocal static var inTransaction = false
}

/// An `SQLDatabase` whose statements each wait for the gate (held by open transactions).
struct SerializedSQLDatabase: SQLDatabase {
    let inner: any SQLDatabase
    let gate: AsyncBudget

    var logger: Logger { inner.logger }
    var eventLoop: any EventLoop { inner.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { inner.version }
    var dialect: any SQLDialect { inner.dialect }
    var queryLogLevel: Logger.Level? { inner.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        if CatalogSession.inTransaction { return try await inner.execute(sql: query, onRow) }
        await gate.acquire(1)
        defer { gate.release(1) }
        try await inner.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        let promise = inner.eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }
}
