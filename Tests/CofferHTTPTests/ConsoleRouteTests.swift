import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// The console's sessions, forms and isolation, in process (the browser test drives the
/// same pages through chromium: CofferIntegrationTests/ConsoleBrowserTests).
@Suite struct ConsoleRoutes {
    static let cookie = HTTPField.Name("Cookie")!

    /// A logged-in browser: its session cookie and the form token its pages carry.
    struct Browser {
        var session: String
        var formToken: String { IdentityService.formToken(for: session) }
        var headers: HTTPFields { [ConsoleRoutes.cookie: "coffer_session=\(session)"] }
    }

    /// As a browser encodes a form: everything but unreserved characters escaped (`+` too).
    static func form(_ fields: [(String, String)]) -> ByteBuffer {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "" }
        return ByteBuffer(string: fields.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&"))
    }

    static func login(_ client: any TestClientProtocol, user: String, password: String, project: String = "") async throws -> (HTTPResponse.Status, Browser?) {
        let loginCookie = try await client.execute(uri: "/console/login", method: .get) { r -> String in
            let set = r.headers[values: .setCookie].first { $0.hasPrefix("coffer_login=") } ?? ""
            return String(set.dropFirst("coffer_login=".count).prefix { $0 != ";" })
        }
        return try await client.execute(uri: "/console/login", method: .post,
                                        headers: [cookie: "coffer_login=\(loginCookie)", .contentType: "application/x-www-form-urlencoded"],
                                        body: form([("csrf", loginCookie), ("user", user), ("password", password), ("project", project)])) { r in
            let set = r.headers[values: .setCookie].first { $0.hasPrefix("coffer_session=") }
            guard r.status == .seeOther, let set else { return (r.status, nil) }
            #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/console"), "\(set)")
            return (r.status, Browser(session: String(set.dropFirst("coffer_session=".count).prefix { $0 != ";" })))
        }
    }

    static func post(_ client: any TestClientProtocol, _ browser: Browser, _ uri: String, _ fields: [(String, String)], csrf: String? = nil) async throws -> TestResponse {
        var headers = browser.headers
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await client.execute(uri: uri, method: .post, headers: headers, body: form([("csrf", csrf ?? browser.formToken)] + fields))
    }

    @Test func loginSessionsFormTokensAndLogout() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin, identity = server.services.identity
        let alice = try await identity.createProject(name: "console-alice"), bob = try await identity.createProject(name: "console-bob")
        let (_, readerPassword) = try await identity.createUser(project: alice.project_id, name: "alice-reader", role: .readonly)
        let (_, agentPassword) = try await identity.createUser(project: alice.project_id, name: "alice-agent", role: .agent)
        try await server.run { client in
            let adminToken = try await client.token(user: "admin", password: admin.password, project: "admin")
            let (_, resource) = try await registerFor(client, admin: admin, adminToken: adminToken, project: alice.project_id,
                                                      ["type": "OS::Sfs::Turbo", "name": "<script>alert(1)</script>share", "path": root.path + "/share"])
            let share = try #require(resource["id"] as? String)

            // No session: pages send you to log in, posts and the progress feed are refused.
            try await client.execute(uri: "/console/vaults", method: .get) { r in
                #expect(r.status == .seeOther && r.headers[.location] == "/console/login")
            }
            try await client.execute(uri: "/console/operations.json?ids=x", method: .get) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/console/vaults", method: .get, headers: [ConsoleRoutes.cookie: "coffer_session=cft-forged"]) { r in
                #expect(r.status == .seeOther, "a forged session is no session")
            }
            // The login form's own token: a post without the cookie that goes with it is refused.
            try await client.execute(uri: "/console/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ConsoleRoutes.form([("csrf", "abc"), ("user", alice.user_name), ("password", alice.password)])) { r in
                #expect(r.status == .forbidden && r.headers[values: .setCookie].allSatisfy { !$0.hasPrefix("coffer_session=") })
            }
            #expect(try await ConsoleRoutes.login(client, user: alice.user_name, password: "wrong").0 == .unauthorized)
            #expect(try await ConsoleRoutes.login(client, user: "alice-agent", password: agentPassword).0 == .forbidden, "agent credentials are not for people")
            let (status, session) = try await ConsoleRoutes.login(client, user: alice.user_name, password: alice.password)
            let a = try #require(session, "login: \(status)")

            // Every page: the policy forbids inline scripts and framing; names are escaped.
            try await client.execute(uri: "/console/vaults", method: .get, headers: a.headers) { r in
                let csp = r.headers[.contentSecurityPolicy] ?? ""
                #expect(r.status == .ok && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "\(csp)")
                let html = String(buffer: r.body)
                #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;share") && !html.contains("<script>alert"), "the stored name is text")
                #expect(html.contains("value=\"\(a.formToken)\""), "forms carry the session's token")
            }

            // Forms without the token, or with another session's, change nothing.
            let create: [(String, String)] = [("name", "console-vault"), ("object_type", "turbo"), ("size", "10"), ("resource", share)]
            #expect(try await ConsoleRoutes.post(client, a, "/console/vaults", create, csrf: "").status == .forbidden)
            let (_, other) = try await ConsoleRoutes.login(client, user: bob.user_name, password: bob.password)
            let b = try #require(other)
            #expect(try await ConsoleRoutes.post(client, a, "/console/vaults", create, csrf: b.formToken).status == .forbidden)
            #expect(try await server.services.vaults.list(project: alice.project_id, filter: .init(), offset: 0, limit: 10).total == 0, "nothing was made")
            let made = try await ConsoleRoutes.post(client, a, "/console/vaults", create)
            let location = try #require(made.headers[.location], "\(made.status) \(String(buffer: made.body))")
            #expect(made.status == .seeOther && location.hasPrefix("/console/vaults/"))
            let vault = String(location.dropFirst("/console/vaults/".count))

            // Another project's user: the vault does not exist for them, by page, form or progress feed.
            try await client.execute(uri: "/console/vaults/\(vault)", method: .get, headers: b.headers) { r in
                #expect(r.status == .notFound && !String(buffer: r.body).contains("console-vault"))
            }
            #expect(try await ConsoleRoutes.post(client, b, "/console/vaults/\(vault)/checkpoint", []).status == .notFound)
            #expect(try await ConsoleRoutes.post(client, a, "/console/vaults/\(vault)/checkpoint", []).status == .seeOther)
            let log = try #require(try await server.services.backups.operationLogs(project: alice.project_id, filter: .init(), offset: 0, limit: 5).items.first)
            try await client.execute(uri: "/console/operations.json?ids=\(log.id)", method: .get, headers: b.headers) { r in
                #expect(r.status == .ok && !String(buffer: r.body).contains(log.id), "another project's operation is not reported")
            }
            try await client.execute(uri: "/console/operations.json?ids=\(log.id)", method: .get, headers: a.headers) { r in
                #expect(String(buffer: r.body).contains(log.id))
            }
            try await client.execute(uri: "/console/admin", method: .get, headers: a.headers) { r in #expect(r.status == .forbidden) }

            // Every other console input, sent by the other project with this project's ids: 4xx, nothing changed.
            try await server.services.worker.drain()
            let backup = try #require(try await server.services.backups.listBackups(project: alice.project_id, filter: .init(), sort: [("created_at", false)],
                                                                                    offset: 0, limit: 5).items.first)
            #expect(backup.status == .available, "\(backup)")
            #expect(try await ConsoleRoutes.post(client, a, "/console/policies", [("name", "alice-policy"), ("frequency", "daily"), ("time", "01:00"),
                                                                               ("retention", "count"), ("max_backups", "3")]).status == .seeOther)
            let policy = try #require(try await server.services.policies.list(project: alice.project_id, filter: .init(), marker: nil, offset: 0, limit: 5).items.first)
            for path in ["/console/backups/\(backup.id)", "/console/policies/\(policy.record.id)"] {
                try await client.execute(uri: path, method: .get, headers: b.headers) { r in
                    #expect(r.status == .notFound && !String(buffer: r.body).contains(backup.name), "\(path): \(r.status)")
                }
            }
            let foreignPosts: [(String, [(String, String)])] = [
                ("/console/backups/\(backup.id)/restore", [("target", "other"), ("target_resource", share), ("subdirectory", "stolen")]),
                ("/console/backups/\(backup.id)/restore", []),
                ("/console/backups/\(backup.id)/delete", []),
                ("/console/policies/\(policy.record.id)/delete", []),
                ("/console/vaults/\(vault)/policy", [("policy_id", policy.record.id)]),
                ("/console/vaults/\(vault)/policy", []),
                ("/console/vaults/\(vault)/resources", [("resource", share)]),
                ("/console/vaults/\(vault)/resources/remove", [("resource", share)]),
                ("/console/vaults/\(vault)/delete", [("confirm", "console-vault")]),
                ("/console/rds/\(share)/backup", []),
                ("/console/vaults", [("name", "bobs"), ("object_type", "turbo"), ("size", "10"), ("resource", share)]),
            ]
            for (path, fields) in foreignPosts {
                let status = try await ConsoleRoutes.post(client, b, path, fields).status
                #expect((400..<500).contains(Int(status.code)), "\(path) by another project: \(status)")
            }
            #expect(try await server.services.backups.backup(project: alice.project_id, id: backup.id).0.status == .available, "the backup is untouched")
            #expect(try await server.services.policies.view(project: alice.project_id, id: policy.record.id).vaultIDs.isEmpty)
            #expect(try await server.services.vaults.view(project: alice.project_id, id: vault).resources.count == 1, "the vault keeps its resource")
            #expect(try await server.services.vaults.list(project: bob.project_id, filter: .init(), offset: 0, limit: 5).total == 0, "no vault of another's resource")

            // Readonly looks but does not change.
            let (_, readerSession) = try await ConsoleRoutes.login(client, user: "alice-reader", password: readerPassword)
            let reader = try #require(readerSession)
            try await client.execute(uri: "/console/vaults/\(vault)", method: .get, headers: reader.headers) { r in #expect(r.status == .ok) }
            #expect(try await ConsoleRoutes.post(client, reader, "/console/vaults/\(vault)/checkpoint", []).status == .forbidden)

            // Logout revokes the token: the API refuses it too.
            let out = try await ConsoleRoutes.post(client, a, "/console/logout", [])
            #expect(out.status == .seeOther && out.headers[values: .setCookie].contains { $0.hasPrefix("coffer_session=;") || $0.hasPrefix("coffer_session=") && $0.contains("Max-Age=0") })
            try await client.execute(uri: "/v3/\(alice.project_id)/vaults", method: .get, headers: [authToken: a.session]) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/console", method: .get, headers: a.headers) { r in #expect(r.status == .seeOther) }
        }
    }

    @Test func hostileFormsPathsAndQueriesEndIn4xx() async throws {
        let server = try await TestServer.start()
        let alice = try await server.services.identity.createProject(name: "console-hostile")
        try await server.run { client in
            let a = try #require(try await ConsoleRoutes.login(client, user: alice.user_name, password: alice.password).1)
            func raw(_ uri: String, _ body: String) async throws -> HTTPResponse.Status {
                var headers = a.headers
                headers[.contentType] = "application/x-www-form-urlencoded"
                return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { $0.status }
            }
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)&name=%ZZ") == .badRequest)
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)&name=a%00b") == .badRequest)
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)&name=%FF%FE") == .badRequest)
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)&" + String(repeating: "x=1&", count: 600)) == .badRequest)
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)&name=" + String(repeating: "a", count: 70_000)) == .contentTooLarge)
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)&name=ok&object_type=turbo&size=-1") == .badRequest)
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)&name=ok&object_type=nope") == .badRequest)
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)&name=ok&object_type=turbo&resource=..%2F..") == .badRequest)
            #expect(try await raw("/console/policies", "csrf=\(a.formToken)&name=p&frequency=weekly&time=25:00&retention=count&max_backups=3") == .badRequest)
            #expect(try await raw("/console/policies", "csrf=\(a.formToken)&name=p&frequency=weekly&day=XX&time=02:00&retention=count&max_backups=3") == .badRequest)
            #expect(try await raw("/console/policies", "csrf=\(a.formToken)&name=p&frequency=daily&interval=0&time=02:00&retention=count") == .badRequest)
            #expect(try await raw("/console/policies", "csrf=\(a.formToken)&name=p&frequency=daily&time=02:00&retention=count&max_backups=3&timezone=UTC%2B99:00") == .badRequest)
            #expect(try await raw("/console/backups/%00/restore", "csrf=\(a.formToken)") == .badRequest)
            #expect(try await raw("/console/vaults", "") == .forbidden, "an empty form has no token")
            #expect(try await raw("/console/vaults", "csrf=\(a.formToken)") == .badRequest, "an empty vault form names the field")
            #expect(try await raw("/console/vaults/:/checkpoint", "csrf=\(a.formToken)") == .badRequest)
            for path in ["/console/vaults/:", "/console/policies/:", "/console/vaults/%00", "/console/vaults/..%2F..", "/console/vaults/" + String(repeating: "a", count: 5000), "/console/backups/-1",
                         "/console/policies/%FF", "/console/operations?offset=-1", "/console/operations?vault_id=%00", "/console/vaults/x?status=nope",
                         "/console/operations.json?ids=%00,%FF," + String(repeating: "b,", count: 500)] {
                try await client.execute(uri: path, method: .get, headers: a.headers) { r in
                    #expect((400..<500).contains(Int(r.status.code)) || (path.hasPrefix("/console/operations.json") && r.status == .ok), "\(path): \(r.status)")
                    #expect(r.headers[.contentSecurityPolicy] != nil)
                }
            }
            let made = try await ConsoleRoutes.post(client, a, "/console/policies", [("name", "builder"), ("frequency", "weekly"), ("day", "TU"), ("day", "SA"),
                                                                                  ("time", "23:05"), ("retention", "rotation"), ("day_backups", "7"), ("week_backups", "4"),
                                                                                  ("timezone", "UTC+08:00")])
            #expect(made.status == .seeOther, "\(String(buffer: made.body))")
            let policy = try #require(try await server.services.policies.list(project: alice.project_id, filter: .init(), marker: nil, offset: 0, limit: 5).items.first)
            #expect(policy.patterns == ["FREQ=WEEKLY;BYDAY=TU,SA;BYHOUR=23;BYMINUTE=05"] && policy.definition.dayBackups == 7 && policy.definition.timezone == "UTC+08:00")
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
        }
    }
}
