@testable import CofferCatalog
import PostgresKit
import Testing

/// Which statements get a name, and when (the rest is exercised on a real
/// PostgreSQL in CofferIntegrationTests).
@Suite struct PreparedStatementsTests {
    @Test func aTextIsNamedWhenItRepeatsAndKeepsItsName() {
        let statements = PreparedStatements(threshold: 3, capacity: 10)
        let sql = "SELECT * FROM backups WHERE id = $1"
        #expect(statements.statement(for: sql, types: [.text]) == nil)
        #expect(statements.statement(for: sql, types: [.text]) == nil)
        let named = try! #require(statements.statement(for: sql, types: [.text]))
        #expect(named.sql == sql && named.types == [.text])
        #expect(statements.statement(for: sql, types: [.text])?.name == named.name)
        // The same text with other bind types is another statement.
        #expect(statements.statement(for: sql, types: [.int8]) == nil)
        #expect(statements.count == 1)
        // Another process (another registry) names the same text differently: through a
        // pooler a name may reach a session the other prepared, and must be unknown there.
        let other = PreparedStatements(threshold: 1, capacity: 10)
        #expect(other.statement(for: sql, types: [.text])?.name != named.name)
    }

    @Test func namesAreBoundedAndRetiredNamesAreNotReused() {
        let statements = PreparedStatements(threshold: 1, capacity: 3)
        let names = (0..<5).map { statements.statement(for: "SELECT \($0)", types: [])?.name }
        #expect(names.compactMap { $0 }.count == 3, "at most capacity names: \(names)")
        #expect(Set(names.compactMap { $0 }).count == 3)
        let first = try! #require(statements.statement(for: "SELECT 0", types: []))
        statements.retire(first)
        #expect(statements.statement(for: "SELECT 0", types: []) == nil, "capacity counts every name given, retired or not")
        let fresh = PreparedStatements(threshold: 1, capacity: 3)
        let a = try! #require(fresh.statement(for: "SELECT 1", types: []))
        fresh.retire(a)
        let b = try! #require(fresh.statement(for: "SELECT 1", types: []))
        #expect(a.name != b.name)
        fresh.retire(a)  // an old name retired late leaves the new one alone
        #expect(fresh.statement(for: "SELECT 1", types: [])?.name == b.name)
    }

    @Test func onlyQueriesAndDataChangesAreNamed() {
        let statements = PreparedStatements(threshold: 1, capacity: 100)
        for sql in ["SELECT 1", "select id from t", "INSERT INTO t VALUES ($1)", "UPDATE t SET a = 1", "DELETE FROM t", "WITH x AS (SELECT 1) SELECT * FROM x",
                    "SELECT\n1"] {
            #expect(statements.statement(for: sql, types: []) != nil, "\(sql)")
        }
        for sql in ["VACUUM (ANALYZE)", "BEGIN", "COMMIT", "ROLLBACK", "SET LOCAL synchronous_commit = on", "LISTEN x", "SELECTED", "", "(SELECT 1)"] {
            #expect(statements.statement(for: sql, types: []) == nil, "\(sql)")
        }
    }
}
