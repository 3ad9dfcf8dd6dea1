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
    private let runner: Task<Void, Never>
    /// The key of the advisory lock every catalog transaction takes ("coffer" in ASCII).
    static let writeLock: Int64 = 0x636f_6666_6572

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.runner = Task { await client.run() }
        self.sql = PooledSQLDatabase(client: client, logger: logger)
    }

    /// `postgres://user:password@host:port/database[?sslmode=disable|prefer|require]`.
    static func open(url: String, logger: Logger) async throws -> PostgresBackend {
        let configuration = try configuration(url: url)
        let backend = PostgresBackend(client: PostgresClient(configuration: configuration, backgroundLogger: logger), logger: logger)
        do {
            // The pool retries a refused connection for ever: the first query gets a deadline.
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask { _ = try await backend.sql.raw("SELECT 1 AS one").first(); return true }
                group.addTask { try await Task.sleep(for: .seconds(15)); return false }
                let answered = try await group.next() ?? false
                group.cancelAll()
                guard answered else { throw CatalogError(.storage, "no answer within 15 s") }
            }
        } catch {
            await backend.close()
            throw CatalogError(.storage, "cannot reach the PostgreSQL catalog at \(configuration.host ?? "?"):\(configuration.port ?? 0)/\(configuration.database ?? ""): \(String(reflecting: error))")
        }
        return backend
    }

    static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty else {
            throw CatalogError(.unsupportedURL, "catalog URL must look like postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let database = String(parts.path.drop(while: { $0 == "/" }))
        let mode = parts.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw CatalogError(.unsupportedURL, "catalog URL: sslmode=\(mode) is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
        var configuration = PostgresClient.Configuration(host: host, port: parts.port ?? 5432, username: user, password: parts.password?.removingPercentEncoding,
                                                         database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = 16
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    func close() async {
        runner.cancel()
        _ = await runner.value
    }

    func withTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        if let open = PostgresSession.connection { return try await body(open.sql()) }  // nested: already inside one
        return try await client.withConnection { connection in
            try await PostgresSession.$connection.withValue(connection) {
                let db = connection.sql()
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
    var eventLoop: any EventLoop { PostgresClient.defaultEventLoopGroup.any() }
    var version: (any SQLDatabaseReportedVersion)? { nil }
    var dialect: any SQLDialect { PostgresDialect() }
    var queryLogLevel: Logger.Level? { .debug }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        if let open = PostgresSession.connection { return try await open.sql().execute(sql: query, onRow) }
        try await client.withConnection { connection in try await connection.sql().execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }
}
