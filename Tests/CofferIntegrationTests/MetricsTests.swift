import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// /metrics after a backup, a failed backup and a restore through the API,
/// read by prometheus_client's own text-format parser (Tests/interop/parse_metrics.py).
@Suite struct PrometheusMetrics {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    static func parse(_ text: String) throws -> [Sample] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let parsed = try run(try interopPython(), [packageRoot() + "/Tests/interop/parse_metrics.py", file])
        guard parsed.status == 0, let list = try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [[String: Any]] else {
            throw SupportError("the Prometheus parser refused /metrics: \(parsed.stderr)\n\(text.prefix(2000))")
        }
        return list.map { Sample(name: $0["name"] as? String ?? "", labels: $0["labels"] as? [String: String] ?? [:], value: ($0["value"] as? NSNumber)?.doubleValue ?? .nan) }
    }

    @Test func aBackupAFailureAndARestoreShowInTheParsedSeries() async throws {
        let root = ResourceRoot()
        try Data(repeating: 7, count: 200_000).write(to: URL(fileURLWithPath: root.path + "/share/docs/data.bin"))
        try FileManager.default.createDirectory(atPath: root.path + "/doomed", withIntermediateDirectories: true)
        try Data("soon gone".utf8).write(to: URL(fileURLWithPath: root.path + "/doomed/file.txt"))
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil, token: String? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token ?? "", method, base + uri, body)
            }
            func resource(_ name: String, _ path: String) async throws -> String {
                let (_, r) = try await call(.post, "/coffer/resources", ["resource": ["type": "OS::Sfs::Turbo", "name": name, "path": path]], token: token)
                return try #require((r["resource"] as? [String: Any])?["id"] as? String)
            }
            func vault(_ name: String, _ resource: String) async throws -> String {
                let body: [String: Any] = ["vault": ["name": name, "billing": ["consistent_level": "crash_consistent", "object_type": "turbo", "protect_type": "backup", "size": 10],
                                                     "resources": [["id": resource, "type": "OS::Sfs::Turbo"]]]]
                let (status, v) = try await call(.post, "/vaults", body, token: token)
                #expect(status == .ok, "\(v)")
                return try #require((v["vault"] as? [String: Any])?["id"] as? String)
            }
            func checkpoint(_ vault: String) async throws -> String {
                let (_, cp) = try await call(.post, "/checkpoints", ["checkpoint": ["vault_id": vault]], token: token)
                let id = try #require((cp["checkpoint"] as? [String: Any])?["id"] as? String)
                try await services.worker.drain()
                return id
            }
            let share = try await resource("share", root.path + "/share"), doomed = try await resource("doomed", root.path + "/doomed")
            let good = try await vault("good", share), bad = try await vault("bad", doomed)

            // Before anything ran: the vaults' counters exist at 0.
            var text = try await metricsText(client, token: token)
            var samples = try Self.parse(text)
            func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
                samples.first { sample in sample.name == name && labels.allSatisfy { k, v in sample.labels[k] == v } }?.value
            }
            #expect(value("coffer_backup_success_total", ["vault_id": good]) == 0 && value("coffer_backup_failure_total", ["vault_id": bad]) == 0,
                    "counters are pre-initialised per vault")

            // A backup, a failed one (its directory is gone), a restore into a new directory.
            let goodCheckpoint = try await checkpoint(good)
            try FileManager.default.removeItem(atPath: root.path + "/doomed")
            let badCheckpoint = try await checkpoint(bad)
            let (_, listed) = try await call(.get, "/backups?vault_id=\(good)", token: token)
            let backup = try #require((listed["backups"] as? [[String: Any]])?.first)
            let backupID = try #require(backup["id"] as? String)
            #expect(backup["status"] as? String == "available")
            let (_, badListed) = try await call(.get, "/backups?vault_id=\(bad)", token: token)
            #expect((badListed["backups"] as? [[String: Any]])?.first?["status"] as? String == "error", "\(badListed)")
            let (restored, r) = try await call(.post, "/backups/\(backupID)/restore", ["restore": ["details": ["destination_path": root.path + "/share/copy"]]], token: token)
            #expect(restored == .accepted || restored == .ok, "\(r)")
            try await services.worker.drain()
            #expect(FileManager.default.fileExists(atPath: root.path + "/share/copy/docs/data.bin"))

            let stray = UUID().uuidString
            #expect(try await call(.get, "/no-such-thing/\(stray)", token: token).0 == .notFound)
            text = try await metricsText(client, token: token)
            samples = try Self.parse(text)
            #expect(!text.contains(stray), "an unmatched path does not become a label")
            let project = ["project": admin.project_id]
            #expect(value("coffer_backup_attempt_total", project.merging(["vault_id": good]) { $1 }) == 1)
            #expect(value("coffer_backup_success_total", ["vault_id": good]) == 1 && value("coffer_backup_failure_total", ["vault_id": good]) == 0)
            #expect(value("coffer_backup_attempt_total", ["vault_id": bad]) == 1 && value("coffer_backup_failure_total", ["vault_id": bad]) == 1)
            #expect(value("coffer_restore_attempt_total", ["vault_id": good]) == 1 && value("coffer_restore_success_total", ["vault_id": good]) == 1)
            #expect(value("coffer_restore_failure_total", ["vault_id": good]) == 0)
            #expect((value("coffer_backup_bytes_read_total", ["vault_id": good]) ?? 0) >= 200_000)
            #expect((value("coffer_backup_bytes_added_total", ["vault_id": good]) ?? 0) > 0)
            let now = server.clock.now().timeIntervalSince1970
            let lastSuccess = value("coffer_backup_last_success_timestamp_seconds", ["vault_id": good, "resource_id": share, "resource_type": "OS::Sfs::Turbo"]) ?? 0
            #expect(abs(lastSuccess - now) < 5, "last success \(lastSuccess), now \(now)")
            #expect(value("coffer_backup_last_status", ["vault_id": good, "resource_id": share]) == 1)
            #expect(value("coffer_backup_last_status", ["vault_id": bad, "resource_id": doomed]) == 0)
            #expect(value("coffer_backup_last_success_timestamp_seconds", ["vault_id": bad]) == 0, "never succeeded")
            #expect(value("coffer_vault_size_bytes", ["vault_id": good]) == Double(10 << 30))
            #expect((value("coffer_vault_used_bytes", ["vault_id": good]) ?? 0) > 0)
            #expect((value("coffer_vault_dedup_ratio", ["vault_id": good]) ?? 0) > 1, "200 kB of sevens are stored in far less")
            #expect(value("coffer_backup_duration_seconds_count", ["resource_type": "OS::Sfs::Turbo"]) == 1)
            #expect(value("coffer_jobs_queued") == 0 && value("coffer_jobs_running") == 0)
            #expect(value("coffer_scheduler_missed_total") == nil && value("coffer_retention_deleted_total", ["vault_id": good]) == 0)
            #expect(value("coffer_prune_freed_bytes_total", ["vault_id": bad]) != nil)
            // Requests by route template: the checkpoint route, never a raw path with ids.
            let routes = Set(samples.filter { $0.name == "coffer_http_requests_total" }.compactMap { $0.labels["route"] })
            #expect(routes.contains { $0.contains("checkpoints") } && routes.contains("NotFound"), "\(routes)")
            #expect((value("coffer_http_request_duration_seconds_count", ["method": "POST"]) ?? 0) > 0)
            // No backup, checkpoint or project id in a route, and no backup or checkpoint id anywhere.
            let ids = [backupID, goodCheckpoint, badCheckpoint]
            for s in samples {
                for (key, label) in s.labels {
                    #expect(!ids.contains(label), "\(s.name) carries an id label \(key)=\(label)")
                    if key == "route" { #expect(!label.contains(admin.project_id) && !label.contains(good), "\(label)") }
                }
            }

            // Only the service admin reads it on the API port.
            let (user, password) = try await services.identity.createUser(project: admin.project_id, name: "reader", role: .member)
            _ = user
            let member = try await client.token(user: "reader", password: password, project: "admin")
            try await client.execute(uri: "/metrics", method: .get, headers: [authToken: member]) { r in #expect(r.status == .forbidden) }
            try await client.execute(uri: "/metrics", method: .get) { r in #expect(r.status == .unauthorized) }
            // Nor another project's admin, with this project's ids or without.
            let other = try await services.identity.createProject(name: "tenant-b", role: .admin)
            let otherToken = try await client.token(user: other.user_name, password: other.password, project: "tenant-b")
            for uri in ["/metrics", "/metrics?project=\(admin.project_id)&vault_id=\(good)"] {
                try await client.execute(uri: uri, method: .get, headers: [authToken: otherToken]) { r in
                    #expect(r.status == .forbidden && !String(buffer: r.body).contains(good), "\(uri)")
                }
            }
            // Adversarial paths, queries and methods: 4xx, or the same answer (queries are ignored); the server still answers.
            for uri in ["/metrics/%00", "/metrics/%FF%FE", "/metrics:", "/metrics/" + String(repeating: "x", count: 5_000), "/metrics/-1"] {
                try await client.execute(uri: uri, method: .get, headers: [authToken: token]) { r in #expect((400..<500).contains(Int(r.status.code)), "\(uri): \(r.status)") }
            }
            for uri in ["/metrics/", "/metrics?%00=%FF", "/metrics?" + String(repeating: "a=1&", count: 2_000), "/metrics?x=:"] {
                try await client.execute(uri: uri, method: .get, headers: [authToken: token]) { r in #expect(r.status == .ok, "\(uri): \(r.status)") }
            }
            try await client.execute(uri: "/metrics", method: .post, headers: [authToken: token], body: ByteBuffer(string: String(repeating: "[", count: 10_000))) { r in
                #expect((400..<500).contains(Int(r.status.code)), "POST /metrics: \(r.status)")
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [authToken: String(repeating: "\u{0}", count: 3)]) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
        }
    }

    func metricsText(_ client: any TestClientProtocol, token: String) async throws -> String {
        try await client.execute(uri: "/metrics", method: .get, headers: [authToken: token]) { r in
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            return String(buffer: r.body)
        }
    }
}
