import CofferCLI
import CofferCatalog
import CofferTestSupport
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import CofferHTTP

@Suite struct ServerBasics {
    @Test func healthRequestIDsAndErrorBodies() async throws {
        let server = try await TestServer.start()
        let adminPassword = server.admin.password
        try await server.run { client in
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[HTTPField.Name("X-Request-Id")!]?.count == 32)
            }
            // Unauthenticated: gateway-style 401 with request_id in the body.
            try await client.execute(uri: "/v3/projects", method: .get) { r in
                #expect(r.status == .unauthorized)
                let b = json(r.body)
                #expect(b["error_code"] as? String == "APIGW.0301")
                #expect(b["request_id"] as? String == r.headers[HTTPField.Name("X-Request-Id")!])
            }
            let token = try await client.token(user: "admin", password: adminPassword, project: "admin")
            try await client.execute(uri: "/v3/nothing/here", method: .get, headers: [authToken: token]) { r in
                #expect(r.status == .notFound)
                #expect(json(r.body)["error_code"] as? String == "BackupService.9900")
                #expect(r.headers[HTTPField.Name("X-Request-Id")!] != nil)
            }
            try await client.execute(uri: "/v3/projects", method: .put, headers: [authToken: token]) { r in
                #expect(r.status == .methodNotAllowed)
                #expect(json(r.body)["error_msg"] != nil)
            }
            try await client.execute(uri: "/v3", method: .get) { r in
                #expect((json(r.body)["version"] as? [String: Any])?["id"] as? String == "v3.14")
            }
        }
    }

    @Test func badBodiesAre400Or413NamingTheField() async throws {
        let server = try await TestServer.start()
        let adminPassword = server.admin.password
        try await server.run { client in
            let token = try await client.token(user: "admin", password: adminPassword, project: "admin")
            let cases: [(String, String)] = [
                ("{not json", "not valid JSON"), ("[1,2]", "JSON object"), ("{}", "project is required"),
                ("{\"project\": 5}", "project must be an object"), ("{\"project\": {\"name\": 7}}", "project.name must be a string"),
                ("{\"project\": {\"name\": \"bad/name\"}}", "project name"),
            ]
            for (body, expected) in cases {
                try await client.execute(uri: "/v3/projects", method: .post, headers: [authToken: token, .contentType: "application/json"], body: ByteBuffer(string: body)) { r in
                    #expect(r.status == .badRequest, "\(body)")
                    #expect((json(r.body)["error_msg"] as? String ?? "").contains(expected), "\(body): \(json(r.body))")
                }
            }
            try await client.execute(uri: "/v3/projects", method: .post, headers: [authToken: token], body: ByteBuffer(repeating: 0x20, count: 2 << 20)) { r in
                #expect(r.status == .contentTooLarge)
            }
            try await client.execute(uri: "/v3/auth/tokens", method: .post, body: ByteBuffer(string: "{\"auth\": {\"identity\": {\"methods\": \"password\"}}}")) { r in
                #expect(r.status == .badRequest)
                #expect((json(r.body)["error_msg"] as? String ?? "").contains("auth.identity.methods"))
            }
        }
    }
}

@Suite struct Tokens {
    @Test func passwordTokenWithCatalogValidationAndExpiry() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let clock = server.clock
        try await server.run { client in
            let response = try await client.execute(uri: "/v3/auth/tokens", method: .post, body: bodyBuffer(
                ["auth": ["identity": ["methods": ["password"], "password": ["user": ["name": "admin", "password": admin.password, "domain": ["name": "Default"]]]],
                          "scope": ["project": ["id": admin.project_id]]]]))
            #expect(response.status == .created)
            let token = try #require(response.headers[HTTPField.Name("X-Subject-Token")!])
            let body = try #require(json(response.body)["token"] as? [String: Any])
            #expect(body["expires_at"] as? String != nil && body["issued_at"] as? String != nil)
            #expect((body["project"] as? [String: Any])?["id"] as? String == admin.project_id)
            #expect((body["user"] as? [String: Any])?["name"] as? String == "admin")
            let catalog = try #require(body["catalog"] as? [[String: Any]])
            let urls = Dictionary(uniqueKeysWithValues: catalog.map { ($0["type"] as! String, ((($0["endpoints"] as! [[String: Any]])[0])["url"] as! String)) })
            #expect(urls["data-protect"]?.hasSuffix("/v1/\(admin.project_id)") == true)
            #expect(urls["rdsv3"]?.hasSuffix("/v3/\(admin.project_id)") == true)
            #expect(urls["identity"]?.hasSuffix("/v3") == true)
            try await client.execute(uri: "/v3/auth/tokens", method: .get, headers: [authToken: token, HTTPField.Name("X-Subject-Token")!: token]) { r in
                #expect(r.status == .ok)
            }
            // Re-scope with the token method.
            let rescoped = try await client.execute(uri: "/v3/auth/tokens", method: .post, body: bodyBuffer(
                ["auth": ["identity": ["methods": ["token"], "token": ["id": token]], "scope": ["project": ["name": "admin"]]]]))
            #expect(rescoped.status == .created)
            try await client.execute(uri: "/v3/projects", method: .get, headers: [authToken: token]) { r in #expect(r.status == .ok) }
            clock.advance(by: 86401)
            try await client.execute(uri: "/v3/projects", method: .get, headers: [authToken: token]) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/v3/auth/tokens", method: .post, body: bodyBuffer(
                ["auth": ["identity": ["methods": ["password"], "password": ["user": ["name": "admin", "password": "wrong"]]]]])) { r in
                #expect(r.status == .unauthorized)
            }
        }
    }

    @Test func akskSignedRequestsAndTampering() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let clock = server.clock
        try await server.run { client in
            let now = clock.now()
            let ok = try await client.signed("/v3/projects", method: .get, ak: admin.access_key, sk: admin.secret_key, date: now)
            #expect(ok.status == .ok, "\(json(ok.body))")
            let wrongSecret = try await client.signed("/v3/projects", method: .get, ak: admin.access_key, sk: "x" + admin.secret_key, date: now)
            #expect(wrongSecret.status == .unauthorized)
            #expect((json(wrongSecret.body)["error_msg"] as? String ?? "").hasPrefix("Incorrect IAM authentication information"))
            let stale = try await client.signed("/v3/projects", method: .get, ak: admin.access_key, sk: admin.secret_key, date: now.addingTimeInterval(-20 * 60))
            #expect(stale.status == .unauthorized)
            let unknown = try await client.signed("/v3/projects", method: .get, ak: "NOSUCHKEY", sk: admin.secret_key, date: now)
            #expect(unknown.status == .unauthorized)
            let created = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key, body: "{\"project\": {\"name\": \"signed\"}}", date: now)
            #expect(created.status == .created, "\(json(created.body))")
            let tamperedBody = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key,
                                                       body: "{\"project\": {\"name\": \"p1\"}}", date: now, sendBody: "{\"project\": {\"name\": \"p2\"}}")
            #expect(tamperedBody.status == .unauthorized)
            let tamperedQuery = try await client.signed("/v3/projects?limit=1", method: .get, ak: admin.access_key, sk: admin.secret_key, date: now, sendURI: "/v3/projects?limit=2")
            #expect(tamperedQuery.status == .unauthorized)
            let tamperedPath = try await client.signed("/v3/users", method: .get, ak: admin.access_key, sk: admin.secret_key, date: now, sendURI: "/v3/credentials")
            #expect(tamperedPath.status == .unauthorized)
            let query = try await client.signed("/v3/projects?name=a%20b%2Fc&limit=5", method: .get, ak: admin.access_key, sk: admin.secret_key, date: now)
            #expect(query.status == .ok)
        }
    }
}

/// Every route, called by project B on project A's objects, by readonly on
/// mutations, and across project paths: never A's data, never a mutation.
@Suite struct Isolation {
    @Test func matrix() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let identity = server.services.identity
        let a = try await identity.createProject(name: "tenant-a")
        let b = try await identity.createProject(name: "tenant-b")
        let (aUser, _) = try await identity.createUser(project: a.project_id, name: "a-second", role: .member)
        let aKey = try await identity.accessKeys(project: a.project_id).first!.accessKey
        let (roUser, roPassword) = try await identity.createUser(project: b.project_id, name: "b-readonly", role: .readonly)
        _ = roUser
        try await server.run { client in
            let bToken = try await client.token(user: b.user_name, password: b.password, project: "tenant-b")
            let roToken = try await client.token(user: "b-readonly", password: roPassword, project: "tenant-b")
            let adminToken = try await client.token(user: "admin", password: admin.password, project: "admin")
            // Listing shows only B's own objects.
            try await client.execute(uri: "/v3/projects", method: .get, headers: [authToken: bToken]) { r in
                let ids = (json(r.body)["projects"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(ids == [b.project_id])
            }
            try await client.execute(uri: "/v3/users", method: .get, headers: [authToken: bToken]) { r in
                let names = (json(r.body)["users"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(!names.contains(a.user_name) && !names.contains("a-second"))
            }
            try await client.execute(uri: "/v3/credentials", method: .get, headers: [authToken: bToken]) { r in
                let keys = (json(r.body)["credentials"] as? [[String: Any]] ?? []).compactMap { $0["access"] as? String }
                #expect(!keys.contains(aKey))
                #expect(!String(buffer: r.body).contains(b.secret_key))
            }
            // B touching A's objects: 404 or 403, and A's objects survive.
            let attempts: [(HTTPRequest.Method, String, HTTPResponse.Status)] = [
                (.delete, "/v3/credentials/\(aKey)", .notFound),
                (.delete, "/v3/users/\(aUser.id)", .forbidden),          // member role cannot manage users at all
                (.delete, "/v3/projects/\(a.project_id)", .forbidden),   // only the service admin manages projects
                (.post, "/v3/projects", .forbidden),
                (.get, "/v3/\(a.project_id)/vaults", .forbidden),       // another project's path
                (.get, "/v1/\(a.project_id)/providers", .forbidden),
            ]
            for (method, path, status) in attempts {
                try await client.execute(uri: path, method: method, headers: [authToken: bToken, .contentType: "application/json"],
                                         body: method == .post ? bodyBuffer(["project": ["name": "x"]]) : nil) { r in
                    #expect(r.status == status, "\(method) \(path): \(r.status)")
                    #expect(!String(buffer: r.body).contains(a.project_id) || path.contains(a.project_id))
                }
            }
            // Readonly cannot mutate anything.
            for (method, path) in [(HTTPRequest.Method.post, "/v3/credentials"), (.delete, "/v3/credentials/\(b.access_key)"), (.post, "/v3/users")] {
                try await client.execute(uri: path, method: method, headers: [authToken: roToken], body: bodyBuffer(["credential": [:]])) { r in
                    #expect(r.status == .forbidden, "readonly \(method) \(path)")
                }
            }
            try await client.execute(uri: "/v3/projects", method: .get, headers: [authToken: roToken]) { r in #expect(r.status == .ok) }
            // The service admin does manage projects; deleting A kills its tokens and keys.
            let aToken = try await client.token(user: a.user_name, password: a.password, project: "tenant-a")
            try await client.execute(uri: "/v3/projects/\(a.project_id)", method: .delete, headers: [authToken: adminToken]) { r in #expect(r.status == .noContent) }
            try await client.execute(uri: "/v3/projects", method: .get, headers: [authToken: aToken]) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/v3/projects/\(a.project_id)", method: .delete, headers: [authToken: adminToken]) { r in #expect(r.status == .notFound) }
            #expect(try await identity.accessKeys(project: b.project_id).count == 1)
        }
    }
}

@Suite struct Secrecy {
    @Test func logsNeverContainSecrets() async throws {
        let logs = LogCapture()
        let server = try await TestServer.start(logs: logs)
        let admin = server.admin
        let clock = server.clock
        let tokenBox = LockedStrings()
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            tokenBox.add(token)
            _ = try await client.signed("/v3/projects", method: .get, ak: admin.access_key, sk: admin.secret_key, date: clock.now())
            _ = try await client.signed("/v3/projects", method: .get, ak: admin.access_key, sk: "bad", date: clock.now())
            try await client.execute(uri: "/v3/credentials", method: .post, headers: [authToken: token], body: bodyBuffer(["credential": [:]])) { r in
                let secret = ((json(r.body)["credential"] as? [String: Any])?["secret"] as? String) ?? ""
                tokenBox.add(secret)
            }
            try await client.execute(uri: "/v3/nothing", method: .get, headers: [authToken: token]) { _ in }
        }
        let text = logs.all
        for secret in [admin.password, admin.secret_key] + tokenBox.all where !secret.isEmpty {
            #expect(!text.contains(secret))
        }
    }
}

final class LockedStrings: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}
