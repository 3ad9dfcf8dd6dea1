@testable import CofferCatalog
import CofferCatalogTesting
import CofferModel
import Foundation
import Logging
import SQLKit
import Testing

@Suite struct CatalogIsolation {
    /// Before: one shared SQLite connection, so a statement of request X could
    /// run inside request Y's open transaction and vanish with Y's rollback.
    /// Now concurrent failing transactions never undo anyone else's writes.
    /// The backup reader names every column of the table (a migration that
    /// adds one must add it there too, or backups would lose it on reading).
    @Test func theBackupReaderNamesEveryColumn() async throws {
        let catalog = try await SQLCatalog.open(url: "sqlite::memory:", logger: Logger(label: "test"))
        let columns = try await catalog.backend.columns(of: "backups").map(\.name)
        await catalog.close()
        #expect(Set(columns) == Set(BackupRecord.catalogColumns) && columns.count == BackupRecord.catalogColumns.count)
    }

    @Test func countsFollowWritesOfAnotherProcess() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-counts-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let a = try await SQLCatalog.open(url: "sqlite://" + path, logger: Logger(label: "a"))
        let b = try await SQLCatalog.open(url: "sqlite://" + path, logger: Logger(label: "b"))
        do { try await CatalogConformance.countsFollowAnotherProcess(a, b) } catch { Issue.record("\(error)") }
        await a.close()
        await b.close()
    }

    @Test func failingTransactionsNeverUndoOtherWrites() async throws {
        let catalog = try await SQLCatalog.open(url: "sqlite::memory:", logger: Logger(label: "test"))
        do {
            try await catalog.sql.raw("CREATE TABLE scratch (id TEXT PRIMARY KEY, kind TEXT NOT NULL)").run()
            struct Rollback: Error {}
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        // A transaction that writes, waits (others get to run), then fails.
                        _ = try? await catalog.withTransaction { db in
                            try await db.raw("INSERT INTO scratch (id, kind) VALUES (\(bind: "tx-\(i)"), 'doomed')").run()
                            await Task.yield()
                            try await Task.sleep(nanoseconds: 200_000)
                            throw Rollback()
                        }
                    }
                    group.addTask {
                        try await catalog.sql.raw("INSERT INTO scratch (id, kind) VALUES (\(bind: "plain-\(i)"), 'kept')").run()
                    }
                    group.addTask {
                        try await catalog.withTransaction { db in
                            try await db.raw("INSERT INTO scratch (id, kind) VALUES (\(bind: "ok-\(i)"), 'kept')").run()
                        }
                    }
                }
                try await group.waitForAll()
            }
            let kept = try await catalog.sql.raw("SELECT COUNT(*) AS n FROM scratch WHERE kind = 'kept'").first()?.decode(column: "n", as: Int.self)
            let doomed = try await catalog.sql.raw("SELECT COUNT(*) AS n FROM scratch WHERE kind = 'doomed'").first()?.decode(column: "n", as: Int.self)
            #expect(kept == 80 && doomed == 0, "kept \(String(describing: kept)) doomed \(String(describing: doomed))")
            // A statement through `sql` inside a transaction joins it instead of waiting for itself.
            try await catalog.withTransaction { _ in try await catalog.sql.raw("INSERT INTO scratch (id, kind) VALUES ('nested', 'kept')").run() }
        } catch {
            await catalog.close()
            throw error
        }
        await catalog.close()
    }
}
