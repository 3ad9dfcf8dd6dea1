import CofferAPI
import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// The webhook routes: secrets shown once, every bad field named, roles and
/// projects kept apart, the per-project limit.
@Suite struct WebhookRoutesTests {
    @Test func theAPIsEventTypesAreTheServices() {
        #expect(Webhooks.eventTypes == EventType.allCases.map(\.rawValue))
    }

    @Test func registerShowRotatePingListDelete() async throws {
        let server = try await TestServer.start()
        let identity = server.services.identity
        let a = try await identity.createProject(name: "hooks-a", role: .admin)
        let b = try await identity.createProject(name: "hooks-b", role: .admin)
        let (_, memberPassword) = try await identity.createUser(project: a.project_id, name: "hooks-a-viewer", role: .member)
        try await server.run { client in
            let aToken = try await client.token(user: a.user_name, password: a.password, project: "hooks-a")
            let bToken = try await client.token(user: b.user_name, password: b.password, project: "hooks-b")
            let memberToken = try await client.token(user: "hooks-a-viewer", password: memberPassword, project: "hooks-a")
            let vA = "/v3/\(a.project_id)/coffer/webhooks", vB = "/v3/\(b.project_id)/coffer/webhooks"
            func call(_ token: String, _ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }

            let (created, made) = try await call(aToken, .post, vA, ["webhook": ["url": "https://hooks.example.com/coffer", "events": ["backup.failed"], "description": "ops"]])
            #expect(created == .created, "\(made)")
            let hook = try #require(made["webhook"] as? [String: Any])
            let id = try #require(hook["id"] as? String)
            #expect((hook["secret"] as? String ?? "").hasPrefix("whsec_") && hook["enabled"] as? Bool == true && hook["events"] as? [String] == ["backup.failed"])
            let (_, shown) = try await call(aToken, .get, vA + "/\(id)")
            #expect((shown["webhook"] as? [String: Any])?["secret"] == nil && (shown["webhook"] as? [String: Any])?["url"] as? String == "https://hooks.example.com/coffer")
            let (_, listed) = try await call(memberToken, .get, vA)
            #expect(listed["count"] as? Int == 1 && !"\(listed)".contains("whsec_"), "a member lists webhooks, never secrets")
            let (rotated, r) = try await call(aToken, .put, vA + "/\(id)", ["webhook": ["rotate_secret": true, "enabled": false, "events": [] as [String]]])
            let after = try #require(r["webhook"] as? [String: Any])
            #expect(rotated == .ok && (after["secret"] as? String ?? "").hasPrefix("whsec_") && after["secret"] as? String != hook["secret"] as? String
                && after["enabled"] as? Bool == false && after["events"] as? [String] == [], "\(r)")

            // Every bad field is named, with CBR's code.
            let bad: [(Any, String)] = [
                (["webhook": ["events": ["backup.failed"]]], "url"), (["webhook": ["url": "http://127.0.0.1:9464/metrics"]], "127.0.0.1"),
                (["webhook": ["url": "http://169.254.169.254/latest"]], "169.254.169.254"), (["webhook": ["url": "https://u:p@hooks.example.com/"]], "credentials"),
                (["webhook": ["url": "gopher://hooks.example.com/"]], "http:// or https://"), (["webhook": ["url": "https://hooks.example.com/", "secret": "short"]], "secret"),
                (["webhook": ["url": "https://hooks.example.com/", "events": ["backup.exploded"]]], "webhook.events[0]"),
                (["webhook": ["url": "https://hooks.example.com/", "events": ["ping", "ping"]]], "twice"),
                (["webhook": ["url": "https://hooks.example.com/", "description": "<script>"]], "description"), (["webhook": ["url": 5]], "url"),
                (["webhook": "https://hooks.example.com/"], "webhook"), ([:] as [String: Any], "webhook"),
            ]
            for (body, words) in bad {
                let (status, e) = try await call(aToken, .post, vA, body)
                #expect(status == .badRequest && e["error_code"] as? String == "BackupService.9900" && (e["error_msg"] as? String ?? "").contains(words), "\(body): \(e)")
            }
            let (both, bothBody) = try await call(aToken, .put, vA + "/\(id)", ["webhook": ["rotate_secret": true, "secret": "0123456789abcdefgh"]])
            #expect(both == .badRequest && (bothBody["error_msg"] as? String ?? "").contains("rotate_secret"))

            // Roles and projects.
            #expect(try await call(memberToken, .post, vA, ["webhook": ["url": "https://hooks.example.com/"]]).0 == .forbidden)
            #expect(try await call(memberToken, .delete, vA + "/\(id)").0 == .forbidden)
            #expect(try await call(memberToken, .post, vA + "/\(id)/ping").0 == .forbidden)
            for (method, path, body) in [(HTTPRequest.Method.get, "/\(id)", nil), (.put, "/\(id)", ["webhook": ["enabled": true]]), (.delete, "/\(id)", nil),
                                         (.post, "/\(id)/ping", nil), (.get, "/\(id)/deliveries", nil)] as [(HTTPRequest.Method, String, Any?)] {
                let (onA, _) = try await call(bToken, method, vA + path, body)
                #expect(onA == .forbidden, "\(method) A's \(path) as B: \(onA)")
                let (onB, e) = try await call(bToken, method, vB + path, body)
                #expect(onB == .notFound && e["error_code"] as? String == "Coffer.0003" && !"\(e)".contains(a.project_id), "\(method) \(path) in B: \(onB) \(e)")
            }
            #expect(try await call(bToken, .get, vB).1["count"] as? Int == 0)

            // A ping is queued (the dispatcher is not running here) and listed with its payload.
            let (pinged, p) = try await call(aToken, .post, vA + "/\(id)/ping")
            let delivery = try #require(p["delivery"] as? [String: Any])
            #expect(pinged == .accepted && delivery["event_type"] as? String == "ping" && delivery["status"] as? String == "pending", "\(p)")
            let (_, deliveries) = try await call(memberToken, .get, vA + "/\(id)/deliveries?status=pending&limit=5")
            let first = try #require((deliveries["deliveries"] as? [[String: Any]])?.first)
            #expect(deliveries["count"] as? Int == 1 && first["id"] as? String == delivery["id"] as? String && (first["payload"] as? String ?? "").contains("\"type\":\"ping\""))
            for query in ["status=lost", "limit=0", "limit=201", "offset=-1", "status=pending&status=failed"] {
                let (status, e) = try await call(aToken, .get, vA + "/\(id)/deliveries?\(query)")
                #expect(status == .badRequest, "\(query): \(e)")
            }

            // Twenty per project.
            for n in 2...WebhookService.webhookLimit {
                #expect(try await call(aToken, .post, vA, ["webhook": ["url": "https://hooks.example.com/\(n)"]]).0 == .created)
            }
            let (full, fullBody) = try await call(aToken, .post, vA, ["webhook": ["url": "https://hooks.example.com/21"]])
            #expect(full == .badRequest && fullBody["error_code"] as? String == "Coffer.0004", "\(fullBody)")

            // Adversarial ids, queries and bodies: 4xx, and the server still answers.
            let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
            for path in ["/%00", "/%FF%FE", "/:", "/-1", "/" + String(repeating: "w", count: 5_000), "/\(id)%00"] {
                for (method, suffix) in [(HTTPRequest.Method.get, ""), (.put, ""), (.delete, ""), (.post, "/ping"), (.get, "/deliveries")] {
                    let status = try await client.execute(uri: vA + path + suffix, method: method, headers: [authToken: aToken, .contentType: "application/json"],
                                                          body: method == .put ? ByteBuffer(string: #"{"webhook": {"enabled": true}}"#) : nil) { $0.status }
                    #expect((400..<500).contains(status.code), "\(method) \(path.prefix(20))\(suffix): \(status)")
                }
            }
            for query in ["limit=%00", "limit=:", "offset=99999999999999999999", "status=%FF", "status=" + String(repeating: "x", count: 5_000)] {
                #expect(try await call(aToken, .get, vA + "/\(id)/deliveries?\(query)").0 == .badRequest, "\(query)")
            }
            for body in [deep, #"{"webhook": {"url": "https://hooks.example.com/\u0000"}}"#, #"{"webhook": {"url": "https://hooks.example.com/", "secret": "0123456789abcdef\u0000x"}}"#,
                         #"{"webhook": {"url": "https://hooks.example.com/", "events": "#  + deep + "}}", "{\"webhook\": \"\u{FF}\"}", ""] {
                let status = try await client.execute(uri: vA, method: .post, headers: [authToken: aToken, .contentType: "application/json"],
                                                      body: ByteBuffer(bytes: Array(body.utf8) + (body.isEmpty ? [0xFF, 0xFE] : []))) { $0.status }
                #expect(status == .badRequest, "\(body.prefix(40)): \(status)")
            }
            let (dashboardStatus, _) = try await call(aToken, .get, "/v3/\(a.project_id)/coffer/dashboard?limit=%00&x=:")
            #expect(dashboardStatus == .ok, "the dashboard takes no query; stray ones are ignored")
            #expect(try await client.execute(uri: "/health", method: .get) { $0.status } == .ok)

            #expect(try await call(aToken, .delete, vA + "/\(id)").0 == .noContent)
            #expect(try await call(aToken, .get, vA + "/\(id)").0 == .notFound)
            #expect(try await call(aToken, .get, vA + "/\(id)/deliveries").0 == .notFound)
        }
    }
}
