import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// `GET /v3/{project_id}/coffer/dashboard`: problems first, each with its reason; only the caller's project.
@Suite struct DashboardRoute {
    @Test func problemsComeFirstWithTheirReasons() async throws {
        let root = ResourceRoot()
        for dir in ["doomed", "late"] { try FileManager.default.createDirectory(atPath: root.path + "/" + dir, withIntermediateDirectories: true) }
        try Data("late".utf8).write(to: URL(fileURLWithPath: root.path + "/late/file.txt"))
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin, services = server.services, clock = server.clock
        let other = try await services.identity.createProject(name: "dash-other")
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            var token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, base + uri, body)
            }
            func vault(_ name: String, _ path: String) async throws -> String {
                let (_, r) = try await call(.post, "/coffer/resources", ["resource": ["type": "OS::Sfs::Turbo", "name": name, "path": path]])
                let resource = try #require((r["resource"] as? [String: Any])?["id"] as? String)
                let (_, v) = try await call(.post, "/vaults", ["vault": ["name": name, "billing": ["consistent_level": "crash_consistent", "object_type": "turbo",
                                                                                                  "protect_type": "backup", "size": 10],
                                                                         "resources": [["id": resource, "type": "OS::Sfs::Turbo"]]]])
                return try #require((v["vault"] as? [String: Any])?["id"] as? String, "\(r) \(v)")
            }
            let fine = try await vault("a-fine", root.path + "/share"), doomed = try await vault("b-doomed", root.path + "/doomed")
            let late = try await vault("c-late", root.path + "/late")
            for v in [fine, late] { _ = try await call(.post, "/checkpoints", ["checkpoint": ["vault_id": v]]) }
            try await services.worker.drain()
            try FileManager.default.removeItem(atPath: root.path + "/doomed")
            _ = try await call(.post, "/checkpoints", ["checkpoint": ["vault_id": doomed]])
            try await services.worker.drain()
            // A daily policy on c-late; two days on, its scheduled runs have produced nothing (no scheduler ran).
            let (_, p) = try await call(.post, "/policies", ["policy": ["name": "daily", "operation_type": "backup", "enabled": true,
                                                                       "operation_definition": ["max_backups": 3, "timezone": "UTC+00:00"],
                                                                       "trigger": ["properties": ["pattern": ["FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=01;BYMINUTE=00"]]]]])
            let policy = try #require((p["policy"] as? [String: Any])?["id"] as? String)
            #expect(try await call(.post, "/vaults/\(late)/associatepolicy", ["policy_id": policy]).0 == .ok)

            var (status, answer) = try await call(.get, "/coffer/dashboard")
            var rows = try #require(answer["vaults"] as? [[String: Any]])
            #expect(status == .ok && answer["count"] as? Int == 3 && answer["problems"] as? Int == 1, "\(answer)")
            #expect(rows.map { $0["name"] as? String ?? "" } == ["b-doomed", "a-fine", "c-late"], "problems first, then by name")
            let broken = rows[0]
            #expect(broken["last_backup_failed"] as? Bool == true && broken["failures_last_24h"] as? Int == 1 && broken["last_success_at"] == nil
                && (broken["problems"] as? [String])?.first == "its last backup failed", "\(broken)")
            #expect(rows[1]["last_success_at"] is String && rows[1]["next_run_at"] == nil && (rows[1]["used_bytes"] as? Int ?? 0) > 0
                && (rows[1]["problems"] as? [String])?.isEmpty == true, "\(rows[1])")
            #expect(rows[2]["policy_name"] as? String == "daily" && (rows[2]["next_run_at"] as? String ?? "").contains("T01:00:00"), "\(rows[2])")

            clock.advance(by: 2 * 86_400)
            token = try await client.token(user: "admin", password: admin.password, project: "admin")  // the first one expired
            (status, answer) = try await call(.get, "/coffer/dashboard")
            rows = try #require(answer["vaults"] as? [[String: Any]])
            #expect(rows.map { $0["name"] as? String ?? "" } == ["b-doomed", "c-late", "a-fine"], "\(rows)")
            #expect(((rows[1]["problems"] as? [String])?.first ?? "").hasPrefix("no successful backup since the scheduled one of"), "\(rows[1])")
            #expect(rows[0]["failures_last_24h"] as? Int == 0, "the failure is more than a day old now")

            // Another project sees none of it.
            let otherToken = try await client.token(user: other.user_name, password: other.password, project: "dash-other")
            let (_, theirs) = try await CofferTestSupport.call(client, token: otherToken, .get, "/v3/\(other.project_id)/coffer/dashboard")
            #expect(theirs["count"] as? Int == 0)
            #expect(try await CofferTestSupport.call(client, token: otherToken, .get, base + "/coffer/dashboard").0 == .forbidden)
        }
    }
}
