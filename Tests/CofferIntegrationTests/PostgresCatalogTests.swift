@testable import CofferCatalog
import CofferCatalogTesting
import CofferModel
import CofferTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import Testing

/// The catalog contract (CofferCatalogTesting) against a real PostgreSQL 15
/// from scripts/start-postgres.sh: the same checks as on SQLite, each on an
/// emptied database (the `public` schema dropped and made again).
@Suite(.serialized) struct PostgresCatalogConformance {
    @Test func everyCheckOnPostgreSQL() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-pgcat-\(UUID().uuidString.prefix(8))").path
        let pg = try ThrowawayPostgres(directory: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(pg.url.hasPrefix("postgres"), "the script printed a URL: \(pg.url)")
        for (name, run) in CatalogConformance.checks {
            _ = try pg.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            let catalog = try await SQLCatalog.open(url: pg.url, logger: Logger(label: "test"))
            do {
                try await run(catalog)
            } catch {
                Issue.record("\(name): \(error)")
            }
            await catalog.close()
        }
        #expect(try pg.query("SELECT count(*) FROM schema_migrations") == String(SQLCatalog.migrationCount), "the checks ran on PostgreSQL")

        try await rowsAndBindsRoundTrip(url: pg.url)
        try await namedStatementsMeanWhatUnnamedOnesDid(url: pg.url, pg: pg)
        _ = try pg.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        let (a, b) = (try await SQLCatalog.open(url: pg.url, logger: Logger(label: "a")), try await SQLCatalog.open(url: pg.url, logger: Logger(label: "b")))
        do { try await CatalogConformance.countsFollowAnotherProcess(a, b) } catch { Issue.record("counts across processes: \(error)") }
        await a.close()
        await b.close()

        // A reachable server that refuses the login or lacks the database is
        // an error at once, naming what it said (the pool would retry for ever).
        let wrong = try #require(URLComponents(string: pg.url))
        for (change, words) in [({ (u: inout URLComponents) in u.password = "not-the-password" }, "password authentication failed"),
                                ({ (u: inout URLComponents) in u.path = "/nodatabase" }, "\"nodatabase\" does not exist")] {
            var url = wrong
            change(&url)
            do {
                _ = try await SQLCatalog.open(url: url.string!, logger: Logger(label: "test"))
                Issue.record("\(url.string!) opened")
            } catch let e as CatalogError {
                #expect(e.description.contains(words), "\(e.description)")
            }
        }
    }

    /// A statement that repeats is prepared under a name (PreparedStatements)
    /// and answers as it did unnamed, binds typed as before (an int8 bind
    /// against an int4 column); a table altered under it by someone else
    /// (another process's migration) is answered with the new shape, not an error.
    func namedStatementsMeanWhatUnnamedOnesDid(url: String, pg: ThrowawayPostgres) async throws {
        _ = try pg.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        let catalog = try await SQLCatalog.open(url: url, logger: Logger(label: "test"))
        defer { Task { await catalog.close() } }
        let statements = try #require((catalog.backend as? PostgresBackend)?.statements)
        _ = try pg.query("""
            CREATE TABLE named (id text PRIMARY KEY, n int4 NOT NULL, big int8, flag boolean NOT NULL);
            INSERT INTO named SELECT 'r' || i, i, i::int8 * 10000000000, i % 2 = 0 FROM generate_series(1, 50) i
            """)
        for round in 0..<(2 * statements.threshold) {
            let low = 10 + round
            let rows = try await catalog.sql.raw("SELECT id, n, big FROM named WHERE n >= \(bind: low) AND flag = \(bind: true) AND id <> \(bind: "r20") ORDER BY n")
                .all()
            let expected = (low...50).filter { $0 % 2 == 0 && $0 != 20 }
            #expect(try rows.map { try $0.decode(column: "n", as: Int.self) } == expected, "round \(round)")
            #expect(try rows.first?.decode(column: "big", as: Int64.self) == Int64(expected[0]) * 10_000_000_000)
            // A change outside a transaction, named like the reads.
            let changed = try await catalog.sql.raw("UPDATE named SET big = big WHERE id = \(bind: "r\(low)") RETURNING id").all()
            #expect(changed.count == 1)
        }
        #expect(statements.count == 2, "the read and the update have names")

        let byID = "SELECT * FROM named WHERE id = $1"
        for _ in 0..<statements.threshold { _ = try await catalog.sql.raw("SELECT * FROM named WHERE id = \(bind: "r1")").all() }
        let before = try #require(statements.statement(for: byID, types: [.text]))
        _ = try pg.query("ALTER TABLE named ADD COLUMN added text DEFAULT 'new'")
        let row = try #require(try await catalog.sql.raw("SELECT * FROM named WHERE id = \(bind: "r1")").first())
        #expect(try row.decode(column: "added", as: String.self) == "new")
        #expect(statements.statement(for: byID, types: [.text])?.name != before.name, "the old name was retired")

        // A session that lost its statements (`DISCARD ALL`, a pooler handing
        // over another server connection): answered unnamed, the name retired.
        // One connection, so the DEALLOCATE reaches the session that prepared.
        let single = try await PostgresBackend.open(url: url, logger: Logger(label: "one"), maximumConnections: 1)
        let one = SQLCatalog(backend: single)
        defer { Task { await one.close() } }
        for _ in 0..<single.statements.threshold { _ = try await one.sql.raw("SELECT n FROM named WHERE id = \(bind: "r2")").all() }
        let prepared = try #require(single.statements.statement(for: "SELECT n FROM named WHERE id = $1", types: [.text]))
        try await one.sql.raw("DEALLOCATE ALL").run()
        #expect(try await one.sql.raw("SELECT n FROM named WHERE id = \(bind: "r2")").first()?.decode(column: "n", as: Int.self) == 2)
        #expect(single.statements.statement(for: "SELECT n FROM named WHERE id = $1", types: [.text])?.name != prepared.name, "the lost name was retired")
    }

    /// Binds and cells of the types read straight from their bytes, and of
    /// those left to PostgresKit, come back as they went in.
    func rowsAndBindsRoundTrip(url: String) async throws {
        let catalog = try await SQLCatalog.open(url: url, logger: Logger(label: "test"))
        defer { Task { await catalog.close() } }
        let none: String? = nil
        let row = try #require(try await catalog.sql.raw("""
            SELECT \(bind: "naïve ☃ 'x'") AS s, \(bind: Int64.min) AS i8, \(bind: -7) AS i, 7::int4 AS i4, 3::int2 AS i2, \(bind: true) AS b, \(bind: false) AS f,
                   NULL::text AS n, 2.5::float8 AS d, 'available' AS status, '' AS empty
            """).first())
        #expect(row is CatalogRow, "the catalog's own row type answered")
        #expect(ConnectionSQLDatabase.bindings(["a", Int64(1), 2, true]) != nil && ConnectionSQLDatabase.bindings([2.5]) == nil && ConnectionSQLDatabase.bindings([none]) == nil)
        #expect(try row.decode(column: "s", as: String.self) == "naïve ☃ 'x'")
        #expect(try row.decode(column: "s", as: String?.self) == "naïve ☃ 'x'")
        #expect(try row.decode(column: "i8", as: Int64.self) == Int64.min)
        #expect(try row.decode(column: "i", as: Int.self) == -7)
        #expect(try row.decode(column: "i", as: Int64?.self) == -7)
        #expect(try row.decode(column: "i4", as: Int.self) == 7)
        #expect(try row.decode(column: "i4", as: Int64.self) == 7)
        #expect(try row.decode(column: "i2", as: Int?.self) == 3)
        #expect(try row.decode(column: "b", as: Bool.self) == true)
        #expect(try row.decode(column: "f", as: Bool?.self) == false)
        #expect(try row.decode(column: "n", as: String?.self) == nil)
        #expect(try row.decode(column: "n", as: Int64?.self) == nil)
        #expect(try row.decodeNil(column: "n") && !row.decodeNil(column: "s") && row.decodeNil(column: "absent"))
        #expect(try row.decode(column: "d", as: Double.self) == 2.5)
        #expect(try row.decode(column: "status", as: BackupStatus.self) == .available)
        #expect(try row.decode(column: "empty", as: String.self) == "")
        #expect(Set(row.allColumns) == ["s", "i8", "i", "i4", "i2", "b", "f", "n", "d", "status", "empty"])
        #expect(throws: (any Error).self) { try row.decode(column: "s", as: Int64.self) }
        #expect(throws: (any Error).self) { try row.decode(column: "n", as: String.self) }
        #expect(throws: (any Error).self) { try row.decode(column: "absent", as: String.self) }

        // Binds the fast path leaves to PostgresKit: the statement goes there whole.
        let other = try #require(try await catalog.sql.raw("SELECT \(bind: none)::text AS n, \(bind: 2.5) AS d, \(bind: "s") AS s").first())
        #expect(!(other is CatalogRow))
        #expect(try other.decode(column: "n", as: String?.self) == nil && other.decode(column: "d", as: Double.self) == 2.5 && other.decode(column: "s", as: String.self) == "s")
    }

    @Test func badURLsAndAnUnreachableServerAreClearErrors() async throws {
        for (url, words) in [("postgres://nobody@/db", "postgres://USER:PASSWORD@HOST:PORT/DATABASE"), ("postgres://u:p@127.0.0.1:5432/db?sslmode=maybe", "sslmode=maybe"),
                             ("postgres://u:p@127.0.0.1:1/db?sslmode=disable", "cannot reach the PostgreSQL catalog at 127.0.0.1:1/db")] {
            do {
                _ = try await SQLCatalog.open(url: url, logger: Logger(label: "test"))
                Issue.record("\(url) opened")
            } catch let e as CatalogError {
                #expect(e.description.contains(words), "\(url): \(e.description)")
            }
        }
    }
}

/// The service on a PostgreSQL catalog, through the API: a directory backed
/// up, changed, restored byte-for-byte, a policy bound and fired by the
/// scheduler, the backups deleted and their space pruned.
@Suite(.serialized) struct ServiceOnPostgreSQL {
    @Test func backupRestoreScheduleDeleteAndPrune() async throws {
        let root = ResourceRoot()
        let pg = try ThrowawayPostgres(directory: root.path + "/pg")
        let file = root.path + "/share/data.bin"
        try FileManager.default.createDirectory(atPath: root.path + "/share", withIntermediateDirectories: true)
        let original = Data((0..<400_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) })
        try original.write(to: URL(fileURLWithPath: file))
        let server = try await TestServer.start(resourceRoots: [root.path], catalogURL: pg.url)
        let admin = server.admin, services = server.services
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            var token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            let (_, r) = try await call(.post, base + "/coffer/resources", ["resource": ["type": "OS::Sfs::Turbo", "name": "share", "path": root.path + "/share"]])
            let share = try #require((r["resource"] as? [String: Any])?["id"] as? String)
            let (created, v) = try await call(.post, base + "/vaults", ["vault": ["name": "pg-vault", "billing": ["consistent_level": "crash_consistent",
                "object_type": "turbo", "protect_type": "backup", "size": 10], "resources": [["id": share, "type": "OS::Sfs::Turbo"]]]])
            #expect(created == .ok, "\(v)")
            let vault = try #require((v["vault"] as? [String: Any])?["id"] as? String)
            #expect(try await call(.post, base + "/checkpoints", ["checkpoint": ["vault_id": vault]]).0 == .ok)
            #expect(try await services.worker.drain() == 1)
            let (_, listed) = try await call(.get, base + "/backups?vault_id=\(vault)")
            let backup = try #require((listed["backups"] as? [[String: Any]])?.first)
            #expect(backup["status"] as? String == "available", "\(backup)")
            let backupID = try #require(backup["id"] as? String)

            try Data(repeating: 0, count: 10).write(to: URL(fileURLWithPath: file))
            #expect(try await call(.post, base + "/backups/\(backupID)/restore", ["restore": [:] as [String: Any]]).0 == .accepted)
            #expect(try await services.worker.drain() == 1)
            let restored = FileManager.default.contents(atPath: file) == original
            #expect(restored, "restored byte-for-byte from a PostgreSQL-catalogued backup")

            // A policy bound to the vault fires at its next occurrence, twelve hours from
            // the clock's hour of day (the clock starts at the real time), so the hour
            // advanced below for the prune never reaches another occurrence.
            let hour = (Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: server.clock.now()).hour! + 12) % 24
            let pattern = String(format: "FREQ=DAILY;INTERVAL=1;BYHOUR=%02d;BYMINUTE=00", hour)
            let (_, p) = try await call(.post, base + "/policies", ["policy": ["name": "pg-daily", "enabled": true, "operation_type": "backup",
                "operation_definition": ["max_backups": 1], "trigger": ["properties": ["pattern": [pattern]]]]])
            let policy = try #require((p["policy"] as? [String: Any])?["id"] as? String)
            #expect(try await call(.post, base + "/vaults/\(vault)/associatepolicy", ["policy_id": policy]).0 == .ok)
            _ = try await services.scheduler.pass()  // the baseline
            server.clock.advance(by: 86_400)
            token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let fired = try await services.scheduler.pass()
            #expect(fired.map(\.outcome) == ["started"], "\(fired)")
            #expect(try await services.worker.drain() >= 1)

            // Everything deleted; the prune frees the space.
            let (_, all) = try await call(.get, base + "/backups?vault_id=\(vault)")
            #expect((all["backups"] as? [[String: Any]] ?? []).count == 2, "the manual and the automatic backup")
            for b in (all["backups"] as? [[String: Any]] ?? []) {
                let deleted = try await call(.delete, base + "/backups/\(b["id"] as? String ?? "")")
                #expect(deleted.0 == .noContent, "\(deleted.1)")
            }
            _ = try await services.worker.drain()
            _ = try await services.scheduler.pass()
            #expect(try await services.worker.drain() == 1, "one prune")
            server.clock.advance(by: 3_601)
            token = try await client.token(user: "admin", password: admin.password, project: "admin")
            _ = try await services.scheduler.pass()
            #expect(try await services.worker.drain() == 1, "its second phase")
            let (_, after) = try await call(.get, base + "/vaults/\(vault)")
            #expect(((after["vault"] as? [String: Any])?["billing"] as? [String: Any])?["used"] as? Int == 0, "\(after)")
        }
    }
}

/// `coffer admin catalog copy`: an installation on SQLite moved to PostgreSQL
/// and served from there with the same data directory and master key.
@Suite(.serialized) struct CatalogCopyToPostgreSQL {
    @Test func aServedCatalogIsCopiedAndServedFromPostgreSQL() async throws {
        let first = try ServedCoffer()
        let pg = try ThrowawayPostgres(directory: first.temp.path + "/pg")
        func cli(_ server: ServedCoffer, _ args: [String]) throws -> Run {
            try coffer(args, env: environment(repo: server.temp.path + "/unused", extra: ["COFFER_ENDPOINT": server.endpoint, "COFFER_CREDENTIALS": server.credentialsPath]))
        }
        for _ in 0..<100 where (try? cli(first, ["vault", "list"]).status) != 0 { usleep(100_000) }
        let made = try cli(first, ["vault", "create", "--name", "copied", "--type", "turbo", "--size", "10"])
        #expect(made.status == 0, "\(made.stderr)")
        first.process.terminate()
        first.process.waitUntilExit()

        let copy = try coffer(["admin", "--data-dir", first.dataDirectory, "catalog", "copy", "--to", pg.url], env: [:])
        #expect(copy.status == 0 && copy.stdout.contains("vaults: 1") && !copy.stdout.contains("coffer-secret"), "\(copy.stdout) \(copy.stderr)")
        // A bulk-loaded table gets its statistics (and visibility map) at once, not when autovacuum comes by.
        var refreshed = ""
        for _ in 0..<20 {
            refreshed = try pg.query("SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('backups', 'vaults') AND last_vacuum IS NOT NULL AND last_analyze IS NOT NULL")
            if refreshed == "2" { break }
            usleep(100_000)
        }
        #expect(refreshed == "2", "VACUUM (ANALYZE) after the copy: \(refreshed)")
        let second = try ServedCoffer(arguments: ["--catalog", pg.url], dataDirectory: first.dataDirectory)
        for _ in 0..<100 where (try? cli(second, ["vault", "list"]).status) != 0 { usleep(100_000) }
        let listed = try cli(second, ["vault", "list", "--json"])
        #expect(listed.status == 0 && listed.stdout.contains("\"copied\""), "the admin's password and the vault came across: \(listed.stdout) \(listed.stderr)")
        let again = try coffer(["admin", "--data-dir", first.dataDirectory, "catalog", "copy", "--to", pg.url], env: [:])
        #expect(again.status != 0 && again.stderr.contains("already holds projects"), "\(again.stderr)")
    }
}
