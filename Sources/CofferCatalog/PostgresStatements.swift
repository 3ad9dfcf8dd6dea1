import Logging
import NIOCore
import PostgresKit
import SQLKit

/// An `SQLDatabase` over one PostgreSQL connection that binds and reads the
/// catalog's own column types (text, integers, booleans) directly.
/// PostgresKit's translation asks the runtime, for every bind and every cell,
/// whether the Swift type conforms to `PostgresDecodable`/`PostgresEncodable`,
/// and builds a coding path for each: a third of the CPU of a listing of 100
/// backups. Anything else (an optional bound as nil, a JSON value) goes
/// through PostgresKit as before, so results are the same either way.
/// Outside transactions the statement is also prepared once per connection
/// under a name (`PreparedStatements`), so PostgreSQL neither parses nor
/// plans it again.
struct ConnectionSQLDatabase: SQLDatabase {
    let connection: PostgresConnection
    let logger: Logger
    var eventLoop: any EventLoop { connection.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { nil }
    var dialect: any SQLDialect { PostgresDialect() }
    var queryLogLevel: Logger.Level? { .debug }

    /// Named statements for this connection; nil inside a transaction (see `PreparedStatements`).
    let statements: PreparedStatements?

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        let (text, binds) = serialize(query)
        guard let (bindings, types) = Self.bindings(binds) else { return try await connection.sql().execute(sql: query, onRow) }
        logger.debug("Executing query", metadata: ["sql": .string(text)])
        if let statements, let statement = statements.statement(for: text, types: types) {
            var delivered = false
            do {
                let rows = try await CatalogStatement.$current.withValue(statement) {
                    try await connection.execute(CatalogStatement(bindings: bindings), logger: logger)
                }
                for try await row in rows {
                    delivered = true
                    onRow(CatalogRow(row))
                }
                return
            } catch let error as PSQLError where !delivered && PreparedStatements.mustRetire(sqlState: error.serverInfo?[.sqlState]) {
                // The statement did not run: retire its name and run the text once more, unnamed.
                statements.retire(statement)
            }
        }
        let rows = try await connection.query(PostgresQuery(unsafeSQL: text, binds: bindings), logger: logger)
        for try await row in rows { onRow(CatalogRow(row)) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }

    /// The binds encoded as PostgresKit would encode them, or nil when one is
    /// of a type this fast path leaves to PostgresKit.
    static func bindings(_ binds: [any Encodable & Sendable]) -> (PostgresBindings, [PostgresDataType])? {
        var bindings = PostgresBindings(capacity: binds.count)
        var types: [PostgresDataType] = []
        types.reserveCapacity(binds.count)
        for bind in binds {
            switch bind {
            case let v as String: bindings.append(v, context: .default); types.append(.text)
            case let v as Int64: bindings.append(v, context: .default); types.append(.int8)
            case let v as Int: bindings.append(v, context: .default); types.append(.int8)
            case let v as Bool: bindings.append(v, context: .default); types.append(.bool)
            default: return nil
            }
        }
        return (bindings, types)
    }
}

/// A result row whose text, integer and boolean cells (and optionals of them)
/// decode straight from their bytes; other types through PostgresKit.
struct CatalogRow: SQLRow {
    let row: PostgresRow
    let cells: PostgresRandomAccessRow

    init(_ row: PostgresRow) {
        self.row = row
        self.cells = row.makeRandomAccess()
    }

    var allColumns: [String] { cells.map(\.columnName) }
    func contains(column: String) -> Bool { cells.contains(column) }
    func decodeNil(column: String) throws -> Bool { !cells.contains(column) || cells[column].bytes == nil }

    func decode<T: Decodable>(column: String, as type: T.Type) throws -> T {
        guard cells.contains(column) else { return try row.sql().decode(column: column, as: T.self) }  // its error names the column
        return try decode(cells[column], column: column, as: T.self)
    }

    /// The cell at `index` when it is `column` (no hashing of the name), else by name.
    func decode<T: Decodable>(at index: Int, column: String, as type: T.Type) throws -> T {
        if index < cells.count {
            let cell = cells[index]
            if cell.columnName == column { return try decode(cell, column: column, as: T.self) }
        }
        return try decode(column: column, as: T.self)
    }

    private func decode<T: Decodable>(_ cell: PostgresCell, column: String, as type: T.Type) throws -> T {
        if let v = try Self.decode(cell, String.self, as: T.self) { return v }
        if let v = try Self.decode(cell, Int64.self, as: T.self) { return v }
        if let v = try Self.decode(cell, Int.self, as: T.self) { return v }
        if let v = try Self.decode(cell, Bool.self, as: T.self) { return v }
        if let v = try Self.decode(cell, String?.self, as: T.self) { return v }
        if let v = try Self.decode(cell, Int64?.self, as: T.self) { return v }
        if let v = try Self.decode(cell, Int?.self, as: T.self) { return v }
        if let v = try Self.decode(cell, Bool?.self, as: T.self) { return v }
        return try row.sql().decode(column: column, as: T.self)
    }

    /// `cell` decoded as `V` when `T` is `V` (a comparison of two type
    /// pointers), else nil.
    @inline(__always)
    private static func decode<V: PostgresDecodable, T>(_ cell: PostgresCell, _: V.Type, as _: T.Type) throws -> T? {
        guard T.self == V.self else { return nil }
        return unsafeBitCast(try cell.decode(V.self, context: .default), to: T.self)
    }
}
