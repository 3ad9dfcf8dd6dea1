import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// RDS automated backups: the instance's backup policy schedules `auto`
/// backups in its window, keep_days expires them, keep_days 0 turns them off.
/// The scheduler passes by hand under the manual clock; no PostgreSQL is reached
/// (the backups stay BUILDING: the worker does not run).
@Suite struct RDSAutomatedBackups {
    @Test func policyWindowMakesAutoBackupsThatKeepDaysExpires() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        let scheduler = server.services.scheduler
        try await server.run { client in
            var token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            let (_, r) = try await call(.post, base + "/coffer/resources", ["resource": ["type": "rds", "name": "pg", "engine": "PostgreSQL",
                                                                                    "connection": "postgresql://u:p@127.0.0.1:1/db"]])
            let instance = try #require((r["resource"] as? [String: Any])?["id"] as? String)
            // A window starting at the next whole hour (UTC), every day.
            let now = server.clock.now().timeIntervalSince1970
            let nextHour = (floor(now / 3600) + 1) * 3600
            let hour = Int(nextHour / 3600) % 24
            let window = String(format: "%02d:00-%02d:00", hour, (hour + 1) % 24)
            #expect(try await call(.put, base + "/instances/\(instance)/backups/policy", ["backup_policy": ["keep_days": 1, "start_time": window]]).0 == .ok)
            _ = try await scheduler.pass()  // the baseline
            server.clock.advance(by: nextHour - now + 30)
            let fired = try await scheduler.pass()
            #expect(fired.map(\.outcome) == ["started"], "\(fired)")
            let (_, list) = try await call(.get, base + "/backups?instance_id=\(instance)")
            let backups = list["backups"] as? [[String: Any]] ?? []
            #expect(backups.count == 1 && backups.first?["type"] as? String == "auto" && (backups.first?["name"] as? String ?? "").hasPrefix("auto-"), "\(list)")
            #expect(try await call(.get, base + "/backups?instance_id=\(instance)&backup_type=manual").1["total_count"] as? Int == 0)
            #expect(try await call(.get, base + "/backups?instance_id=\(instance)&backup_type=auto").1["total_count"] as? Int == 1)
            // The worker fails it (nothing listens on port 1): FAILED backups expire with keep_days too.
            try await server.services.worker.drain()
            server.clock.advance(by: 2 * 86_400)
            token = try await client.token(user: "admin", password: admin.password, project: "admin")
            _ = try await scheduler.pass()
            try await server.services.worker.drain()
            let (_, after) = try await call(.get, base + "/backups?instance_id=\(instance)&backup_type=auto")
            let first = try #require(backups.first?["id"] as? String)
            #expect(!((after["backups"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == first }, "older than keep_days: deleted")
            // keep_days 0: off, and the automated backups go unless reserve_backups.
            #expect(try await call(.put, base + "/instances/\(instance)/backups/policy", ["backup_policy": ["keep_days": 0], "reserve_backups": false]).0 == .ok)
            try await server.services.worker.drain()
            #expect(try await call(.get, base + "/backups?instance_id=\(instance)&backup_type=auto").1["total_count"] as? Int == 0)
            server.clock.advance(by: 86_400)
            #expect(try await scheduler.pass().filter { $0.policyID.hasPrefix("rds:") }.isEmpty, "off: nothing fires")
        }
    }
}
