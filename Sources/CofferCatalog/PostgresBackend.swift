import CofferModel
import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresKit
import SQLKit

/// A PostgreSQL catalog through PostgresNIO's connection pool. Statements
/// outside a transaction each lease a connection; a transaction holds one
/// connection for its body (the task's statements are routed to it), and
/// takes a transaction-scoped advisory lock first, so write transactions of
/// every process run one at a time, as on SQLite: the catalog's
/// check-then-write steps (quotas counted inside the insert, a job claimed
/// only while no prune of its vault runs) stay correct across processes.
final class PostgresBackend: SQLBackend, @unchecked Sendable {
    let client: PostgresClient
    let sql: any SQLDatabase
    let statements = PreparedStatements()
    private let runner: Task<Void, Never>
    /// The key of the advisory lock every catalog transaction takes ("coffer" in ASCII).
    static let writeLock: Int64 = 0x636f_6666_6572

    private let logger: Logger

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.runner = Task { await client.run() }
        self.sql = PooledSQLDatabase(client: client, logger: logger, statements: statements)
    }

    /// `postgres://user:password@host:port/database[?sslmode=disable|prefer|require]`.
    static func open(url: String, logger: Logger, maximumConnections: Int = 16) async throws -> PostgresBackend {
        let target = try Target(url: url)
        // The pool retries a refused or rejected connection for ever and its
        // queries wait for it: one connection of our own first turns a wrong
        // host, port, password or database into its own error at once.
        do {
            let probe = try await PostgresConnection.connect(configuration: target.connection(), id: 0, logger: logger)
            try? await probe.close()
        } catch {
            throw CatalogError(.storage, "cannot reach the PostgreSQL catalog at \(target.name): \(String(reflecting: error))")
        }
        let backend = PostgresBackend(client: PostgresClient(configuration: target.pool(maximumConnections: maximumConnections), backgroundLogger: logger),
                                      logger: logger)
        do {
            // The server answered a moment ago: the deadline only catches one
            // that went away in between, so it is generous for a loaded machine.
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask { _ = try await backend.sql.raw("SELECT 1 AS one").first(); return true }
                group.addTask { try await Task.sleep(for: .seconds(120)); return false }
                let answered = try await group.next() ?? false
                group.cancelAll()
                guard answered else { throw CatalogError(.storage, "no answer within 120 s") }
            }
        } catch {
            await backend.close()
            throw CatalogError(.storage, "cannot reach the PostgreSQL catalog at \(target.name): \(String(reflecting: error))")
        }
        return backend
    }

    /// A catalog URL taken apart, checked before anything connects.
    struct Target {
        enum TLSMode { case disable, prefer, require }
        let host: String, port: Int, user: String, password: String?, database: String?
        let tls: TLSMode

        init(url: String) throws {
            guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty else {
                throw CatalogError(.unsupportedURL, "catalog URL must look like postgres://USER:PASSWORD@HOST:PORT/DATABASE")
            }
            let database = String(parts.path.drop(while: { $0 == "/" }))
            let mode = parts.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
            switch mode {
            case "disable": tls = .disable
            case "prefer", "allow": tls = .prefer
            case "require", "verify-ca", "verify-full": tls = .require
            default: throw CatalogError(.unsupportedURL, "catalog URL: sslmode=\(mode) is not one of disable, allow, prefer, require, verify-ca, verify-full")
            }
            (self.host, self.port, self.user) = (host, parts.port ?? 5432, user)
            (self.password, self.database) = (parts.password?.removingPercentEncoding, database.isEmpty ? nil : database)
        }

        var name: String { "\(host):\(port)/\(database ?? "")" }

        func pool(maximumConnections: Int) -> PostgresClient.Configuration {
            let tls: PostgresClient.Configuration.TLS
            switch self.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(.makeClientConfiguration())
            case .require: tls = .require(.makeClientConfiguration())
            }
            var configuration = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
            configuration.options.maximumConnections = maximumConnections
            configuration.options.connectTimeout = .seconds(10)
            return configuration
        }

        func connection() throws -> PostgresConnection.Configuration {
            let tls: PostgresConnection.Configuration.TLS
            switch self.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
            configuration.options.connectTimeout = .seconds(10)
            return configuration
        }
    }

    func close() async {
        runner.cancel()
        _ = await runner.value
    }

    func withTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let open = PostgresSession.connection { return try await body(ConnectionSQLDatabase(connection: open, logger: logger, statements: nil)) }  // nested: already inside one
        return try await client.withConnection { connection in
            try await PostgresSession.$connection.withValue(connection) {
                let db = ConnectionSQLDatabase(connection: connection, logger: logger, statements: nil)
                try await db.raw("BEGIN").run()
                do {
                    try await db.raw("SELECT pg_advisory_xact_lock(\(bind: PostgresBackend.writeLock))").run()
                    let result = try await body(db)
                    try await db.raw("COMMIT").run()
                    return result
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
            }
        }
    }

    func tables() async throws -> [String] {
        try await sql.raw("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name").all()
            .map { try $0.decode(column: "table_name", as: String.self) }
    }

    func columns(of table: String) async throws -> [(name: String, type: String)] {
        try await sql.raw("""
            SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(bind: table) \
            ORDER BY ordinal_position
            """).all()
            .map { (try $0.decode(column: "column_name", as: String.self), try $0.decode(column: "data_type", as: String.self).lowercased()) }
    }

    func analyze() async throws {
        try await sql.raw("VACUUM (ANALYZE)").run()  // outside any transaction: VACUUM cannot run in one
        // Straight after a bulk load the first VACUUM left 15-95 % of a million
        // backups' pages unmarked in the visibility map even after a durable
        // commit (PostgreSQL 15; why is not known), and every COUNT read those
        // pages from the table; a second pass marks them in a fraction of a second.
        for _ in 0..<3 {
            let behind = try await sql.raw("""
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relpages > 0 AND c.relallvisible < c.relpages * 0.98
                """).all().map { try $0.decode(column: "relname", as: String.self) }
            guard !behind.isEmpty else { return }
            logger.info("VACUUM again: pages of \(behind.joined(separator: ", ")) not yet all-visible")
            try await sql.raw("VACUUM \(unsafeRaw: behind.map { "\"" + $0 + "\"" }.joined(separator: ", "))").run()
        }
    }

    /// With `synchronous_commit = off` (a common setting) the commit returns
    /// before its WAL is flushed, and until then VACUUM may not set the new
    /// rows' hint bits, so it leaves their pages unmarked in the visibility map.
    func commitDurably(_ db: any SQLDatabase) async throws {
        try await db.raw("SET LOCAL synchronous_commit = on").run()
    }

    func backup(to path: String) async throws {
        throw CatalogError(.storage, "a PostgreSQL catalog is copied with pg_dump (or kept by PostgreSQL's own replication), not by coffer")
    }
}

/// The connection of the transaction this task is in, if any.
enum PostgresSession {
    @TaskLocal static var connection: PostgresConnection?
}

/// An `SQLDatabase` over the pool: each statement leases a connection, or
/// joins the task's open transaction.
struct PooledSQLDatabase: SQLDatabase {
    let client: PostgresClient
    let logger: Logger
    let statements: PreparedStatements
    var eventLoop: any EventLoop { PostgresClient.defaultEventLoopGroup.any() }
    var version: (any SQLDatabaseReportedVersion)? { nil }
    var dialect: any SQLDialect { PostgresDialect() }
    var queryLogLevel: Logger.Level? { .debug }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        if let open = PostgresSession.connection { return try await ConnectionSQLDatabase(connection: open, logger: logger, statements: nil).execute(sql: query, onRow) }
        try await client.withConnection { connection in
            try await ConnectionSQLDatabase(connection: connection, logger: logger, statements: statements).execute(sql: query, onRow)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }
}
