import CofferCatalog
import CofferSystem
import Foundation
import Logging
import SQLKit
import Testing
@testable import CofferService

@Suite struct CatalogIsolation {
    /// Before: one shared SQLite connection, so a statement of request X could
    /// run inside request Y's open transaction and vanish with Y's rollback.
    /// Now concurrent failing transactions never undo anyone else's writes.
    @Test func failingTransactionsNeverUndoOtherWrites() async throws {
        let catalog = try await Catalog.open(url: "sqlite::memory:", logger: Logger(label: "test"))
        do {
            try await catalog.sql.raw("CREATE TABLE scratch (id TEXT PRIMARY KEY, kind TEXT NOT NULL)").run()
            struct Rollback: Error {}
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        // A transaction that writes, waits (others get to run), then fails.
                        _ = try? await catalog.transaction { db in
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
                        try await catalog.transaction { db in
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
            try await catalog.transaction { _ in try await catalog.sql.raw("INSERT INTO scratch (id, kind) VALUES ('nested', 'kept')").run() }
        } catch {
            await catalog.close()
            throw error
        }
        await catalog.close()
    }
}

@Suite struct AuthGuards {
    @Test func replayGuardRemembersChangesForTheWindow() {
        let guardTable = ReplayGuard(window: 60, capacity: 3)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        #expect(guardTable.firstUse(accessKey: "AK", signature: "s1", now: t0))
        #expect(!guardTable.firstUse(accessKey: "AK", signature: "s1", now: t0.addingTimeInterval(30)))
        #expect(guardTable.firstUse(accessKey: "AK2", signature: "s1", now: t0))
        #expect(guardTable.firstUse(accessKey: "AK", signature: "s2", now: t0))
        // Full of live signatures: fail closed rather than forget one.
        #expect(!guardTable.firstUse(accessKey: "AK", signature: "s3", now: t0.addingTimeInterval(1)))
        // After the window everything old is forgotten (the date check refuses such requests anyway).
        #expect(guardTable.firstUse(accessKey: "AK", signature: "s1", now: t0.addingTimeInterval(61)))
    }

    @Test func loginThrottleCountsPerKeyWithinItsWindow() {
        let throttle = LoginThrottle(limit: 3, window: 100)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        for i in 0..<3 {
            #expect(throttle.retryAfter(["user:a", "source:1"], now: t0) == nil)
            throttle.failed(["user:a", "source:1"], now: t0.addingTimeInterval(Double(i)))
        }
        #expect(throttle.retryAfter(["user:a"], now: t0.addingTimeInterval(10)) == 90)
        // A source (maybe a proxy for many users) has ten times the room.
        #expect(throttle.retryAfter(["user:b", "source:1"], now: t0.addingTimeInterval(10)) == nil)
        for _ in 0..<27 { throttle.failed(["source:1"], now: t0) }
        #expect(throttle.retryAfter(["user:b", "source:1"], now: t0.addingTimeInterval(10)) == 90)
        #expect(throttle.retryAfter(["user:b", "source:2"], now: t0.addingTimeInterval(10)) == nil)
        #expect(throttle.retryAfter(["user:a"], now: t0.addingTimeInterval(101)) == nil)
        throttle.failed(["user:c"], now: t0)
        throttle.succeeded("user:c")
        #expect(throttle.retryAfter(["user:c"], now: t0) == nil)
    }
}
