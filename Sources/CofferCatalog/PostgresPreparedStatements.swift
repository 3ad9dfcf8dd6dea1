import Foundation
import PostgresKit

/// Names for the catalog's statements that repeat, so each connection
/// prepares them once and PostgreSQL reuses the parse and the plan: an unnamed
/// statement is parsed, analysed and planned on every execution, which was
/// 40 % of PostgreSQL's CPU (a fifth of the machine's) in a read of one
/// backup by id. The binds' types are part of a statement's identity and are
/// given to PostgreSQL when it prepares, as for an unnamed statement, so a
/// named statement means exactly what the unnamed one did.
///
/// Only statements outside transactions are named: a statement prepared
/// inside a transaction that has failed would fail its preparation, and
/// PostgresNIO keeps a failed preparation for the connection's lifetime.
/// A text gets a name when it has run `threshold` times, and at most
/// `capacity` names are given: each is a plan in every pooled connection of
/// PostgreSQL, and texts that vary (a list of ids of any length) must not
/// fill the server's memory.
final class PreparedStatements: @unchecked Sendable {
    struct Statement: Sendable {
        let name: String
        let sql: String
        let types: [PostgresDataType]
    }

    private struct Key: Hashable {
        let sql: String
        let types: [PostgresDataType]
    }

    /// Errors of a named statement that did not run and will not run under
    /// that name again: "cached plan must not change result type" (0A000: a
    /// table under it was altered, say by another process's migration) and
    /// "prepared statement does not exist" (26000: the session lost it to a
    /// `DISCARD ALL` or a pooler that hands out server connections).
    static func mustRetire(sqlState: String?) -> Bool { sqlState == "0A000" || sqlState == "26000" }

    let threshold: Int
    let capacity: Int
    /// Random per process: through a pooler that does not track prepared
    /// statements, a name may reach a server session another process
    /// prepared; there it must be unknown (26000), never another statement.
    let prefix = "coffer_" + String(UInt64.random(in: .min ... .max), radix: 16) + "_"
    private let lock = NSLock()
    private var named: [Key: Statement] = [:]
    private var uses: [Key: Int] = [:]
    private var issued = 0

    init(threshold: Int = 3, capacity: Int = 256) {
        self.threshold = threshold
        self.capacity = capacity
    }

    /// The statement's name, or nil while it should still run unnamed.
    func statement(for sql: String, types: [PostgresDataType]) -> Statement? {
        let key = Key(sql: sql, types: types)
        return lock.withLock {
            if let statement = named[key] { return statement }
            guard issued < capacity, Self.isPlannable(sql) else { return nil }
            let seen = (uses[key] ?? 0) + 1
            guard seen >= threshold else {
                if uses.count >= 4 * capacity { uses = [:] }  // a bound on texts seen once
                uses[key] = seen
                return nil
            }
            uses[key] = nil
            issued += 1
            let statement = Statement(name: prefix + String(issued), sql: sql, types: types)
            named[key] = statement
            return statement
        }
    }

    /// Queries and data changes; utility statements (VACUUM, SET, LISTEN,
    /// transaction control) are neither planned nor all allowed in a named statement.
    static func isPlannable(_ sql: String) -> Bool {
        let verb = sql.utf8.prefix(while: { $0 != 32 && $0 != 10 && $0 != 9 && $0 != 40 }).count
        switch sql.prefix(verb).uppercased() {
        case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH": return true
        default: return false
        }
    }

    /// The name is never used again; the text gets a new one when it repeats.
    func retire(_ statement: Statement) {
        let key = Key(sql: statement.sql, types: statement.types)
        lock.withLock {
            if named[key]?.name == statement.name { named[key] = nil }
        }
    }

    var count: Int { lock.withLock { named.count } }
}

/// PostgresNIO prepares a statement on each connection by the name and text
/// its type declares. The catalog's texts are known only at run time, so
/// they are read from a task-local value, which `ConnectionSQLDatabase` sets
/// around each execution (PostgresNIO reads them before its first
/// suspension, and again for an error's description within the same call).
struct CatalogStatement: PostgresPreparedStatement {
    @TaskLocal static var current = PreparedStatements.Statement(name: "", sql: "", types: [])

    static var name: String { current.name }
    static var sql: String { current.sql }
    static var bindingDataTypes: [PostgresDataType] { current.types }

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
