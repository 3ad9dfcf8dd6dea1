import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// Webhooks end to end: the server (manual clock) POSTs through its real HTTP
/// client to a receiver in Python that checks every signature with its own
/// HMAC (Tests/interop/webhook_receiver.py) and answers 500 to each delivery's
/// first attempt; backups, a restore and a missed schedule reach it.
@Suite(.serialized) struct WebhookDelivery {
    /// The receiver on a free loopback port; stopped with the returned process.
    static func receiver(secret: String) throws -> (process: Process, port: Int, log: String) {
        let port = freePort(), log = FileManager.default.temporaryDirectory.appendingPathComponent("webhooks-\(UUID().uuidString).jsonl").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try interopPython())
        p.arguments = [packageRoot() + "/Tests/interop/webhook_receiver.py", "\(port)", secret, log]
        let out = Pipe()
        p.standardOutput = out
        // Not the test's stderr: swift-test waits for every holder of it to exit.
        p.standardError = FileHandle.nullDevice
        try p.run()
        let line = out.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).contains("listening") else {
            kill(p.processIdentifier, SIGKILL)
            throw SupportError("the receiver did not start")
        }
        return (p, port, log)
    }

    static func received(_ log: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func signedEventsReachAReceiverThatFailsFirstIncludingAMissedSchedule() async throws {
        let secret = "receiver-secret-" + UUID().uuidString.prefix(8)
        let (receiver, port, log) = try WebhookDelivery.receiver(secret: secret)
        defer {
            // SIGKILL: the test process ignores SIGTERM, and its children inherit that.
            kill(receiver.processIdentifier, SIGKILL)
            receiver.waitUntilExit()
            try? FileManager.default.removeItem(atPath: log)
        }
        let root = ResourceRoot()
        try Data(repeating: 3, count: 50_000).write(to: URL(fileURLWithPath: root.path + "/share/docs/data.bin"))
        let server = try await TestServer.start(resourceRoots: [root.path]) { $0.webhookAllow = [WebhookTargetPolicy.Network("127.0.0.1/32")!] }
        let admin = server.admin, services = server.services, clock = server.clock
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, base + uri, body)
            }
            // Loopback is refused until the operator allows it; here 127.0.0.1/32 is.
            let (created, hook) = try await call(.post, "/coffer/webhooks", ["webhook": ["url": "http://127.0.0.1:\(port)/hooks/coffer?src=test", "secret": secret,
                                                                                      "events": ["backup.succeeded", "restore.succeeded", "schedule.missed"]]])
            #expect(created == .created, "\(hook)")
            let hookID = try #require((hook["webhook"] as? [String: Any])?["id"] as? String)
            #expect((hook["webhook"] as? [String: Any])?["secret"] == nil, "a chosen secret is not echoed")
            let (refused, why) = try await call(.post, "/coffer/webhooks", ["webhook": ["url": "http://127.0.0.2:\(port)/"]])
            #expect(refused == .badRequest && ((why["error_msg"] as? String) ?? "").contains("127.0.0.2"), "\(why)")

            // A backup and a restore through the API and the worker.
            let (_, r) = try await call(.post, "/coffer/resources", ["resource": ["type": "OS::Sfs::Turbo", "name": "share", "path": root.path + "/share"]])
            let share = try #require((r["resource"] as? [String: Any])?["id"] as? String)
            let (_, v) = try await call(.post, "/vaults", ["vault": ["name": "hooked", "billing": ["consistent_level": "crash_consistent", "object_type": "turbo",
                                                                                                   "protect_type": "backup", "size": 10],
                                                                     "resources": [["id": share, "type": "OS::Sfs::Turbo"]]]])
            let vault = try #require((v["vault"] as? [String: Any])?["id"] as? String)
            _ = try await call(.post, "/checkpoints", ["checkpoint": ["vault_id": vault]])
            try await services.worker.drain()
            let (_, listed) = try await call(.get, "/backups?vault_id=\(vault)")
            let backup = try #require((listed["backups"] as? [[String: Any]])?.first?["id"] as? String)
            _ = try await call(.post, "/backups/\(backup)/restore", ["restore": ["details": ["destination_path": root.path + "/share/copy"]]])
            try await services.worker.drain()

            // First attempts get 500; ten seconds on, the retries get 200.
            #expect(try await services.dispatcher.drain() == 1, "one at a time per webhook")
            #expect(try await services.dispatcher.drain() == 1)
            clock.advance(by: 15)
            #expect(try await services.dispatcher.drain() == 1)
            #expect(try await services.dispatcher.drain() == 1)
            var got = WebhookDelivery.received(log)
            #expect(got.count == 4 && got.allSatisfy { $0["signature_valid"] as? Bool == true && $0["path"] as? String == "/hooks/coffer?src=test" }, "\(got)")
            #expect(got.map { $0["answered"] as? Int ?? 0 } == [500, 500, 200, 200])
            let events = got.map { $0["event"] as? String ?? "" }
            #expect(Set(events.prefix(2)) == ["backup.succeeded", "restore.succeeded"] && Set(events.suffix(2)) == Set(events.prefix(2)), "\(events)")
            let first = try #require(got.first { $0["event"] as? String == "backup.succeeded" })
            let data = try #require((first["body"] as? [String: Any])?["data"] as? [String: Any])
            #expect(data["backup_id"] as? String == backup && data["vault_id"] as? String == vault && data["resource_id"] as? String == share)
            let (_, deliveries) = try await call(.get, "/coffer/webhooks/\(hookID)/deliveries")
            let items = try #require(deliveries["deliveries"] as? [[String: Any]])
            #expect(deliveries["count"] as? Int == 2 && items.allSatisfy { $0["status"] as? String == "delivered" && $0["attempts"] as? Int == 2 }, "\(deliveries)")
            let attempts = try #require(items.first?["attempt_log"] as? [[String: Any]])
            #expect(attempts.map { $0["status_code"] as? Int ?? 0 } == [500, 200] && (attempts[0]["error"] as? String ?? "").contains("500"))
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [authToken: token]) { String(buffer: $0.body) }
            #expect(metrics.contains(#"coffer_webhook_attempts_total{outcome="retried"} 2"#) && metrics.contains(#"coffer_webhook_attempts_total{outcome="delivered"} 2"#),
                    "\(metrics.split(separator: "\n").filter { $0.contains("webhook") })")

            // A daily policy whose backup never finishes: the day after, the receiver hears of it.
            let (_, p) = try await call(.post, "/policies", ["policy": ["name": "nightly", "operation_type": "backup", "enabled": true,
                                                                       "operation_definition": ["max_backups": 7, "timezone": "UTC+00:00"],
                                                                       "trigger": ["properties": ["pattern": ["FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=03;BYMINUTE=00"]]]]])
            let policy = try #require((p["policy"] as? [String: Any])?["id"] as? String, "\(p)")
            let (bound, b) = try await call(.post, "/vaults/\(vault)/associatepolicy", ["policy_id": policy])
            #expect(bound == .ok, "\(b)")
            try await services.scheduler.pass()
            var fired: [String] = []
            for _ in 0..<26 where fired.isEmpty {
                clock.advance(by: 3_600)
                fired = try await services.scheduler.pass().map(\.outcome)
            }
            #expect(fired == ["started"], "the occurrence fired and its backup is left protecting (the worker is not run)")
            clock.advance(by: 86_400 + 60)
            try await services.scheduler.pass()
            try await services.dispatcher.drain()
            clock.advance(by: 15)
            try await services.dispatcher.drain()
            got = WebhookDelivery.received(log).filter { $0["event"] as? String == "schedule.missed" }
            #expect(got.map { $0["answered"] as? Int ?? 0 } == [500, 200] && got.allSatisfy { $0["signature_valid"] as? Bool == true }, "\(got)")
            let missed = try #require((got.last?["body"] as? [String: Any])?["data"] as? [String: Any])
            #expect(missed["policy_id"] as? String == policy && missed["vault_id"] as? String == vault && missed["policy_name"] as? String == "nightly")
            #expect(((missed["occurrences"] as? [[String: Any]])?.first?["checkpoint_status"] as? String) == "protecting", "\(missed)")
        }
    }
}
