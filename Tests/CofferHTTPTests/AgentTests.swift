import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// CBR agents as an agent drives them (register, heartbeat by registering
/// again, uninstall report) and as a user does (list, paths, check, unregister).
@Suite struct Agents {
    func registration(_ id: String, ip: String = "192.0.2.10", name: String = "db-host") -> [String: Any] {
        ["agent": ["agent_id": id, "host_name": name, "host_ip": ip, "host_os": "Debian 12", "host_nickname": "db", "agent_version": "coffer 1", "agent_type": "coffer"]]
    }

    @Test func registerHeartbeatPathsCheckUninstallAndUnregister() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            var token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            let (registered, first) = try await call(.post, base + "/agents", registration("host-1"))
            #expect(registered == .ok, "\(first)")
            let agent = try #require(first["agent"] as? [String: Any])
            #expect(agent["agent_id"] as? String == "host-1" && agent["status"] as? String == "online" && agent["host_ip"] as? String == "192.0.2.10")
            #expect(agent["paths"] as? [Any] != nil && agent["last_active_time"] as? String != nil)

            // Three minutes without a heartbeat: offline; registering again is the heartbeat, created_at stays.
            server.clock.advance(by: 181)
            token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let (_, silent) = try await call(.get, base + "/agents/host-1")
            #expect((silent["agent"] as? [String: Any])?["status"] as? String == "offline")
            #expect(try await call(.get, base + "/agents?status=offline").1["count"] as? Int == 1)
            #expect(try await call(.get, base + "/agents?status=online").1["count"] as? Int == 0)
            let (_, beat) = try await call(.post, base + "/agents", registration("host-1", ip: "2001:db8::7"))
            let refreshed = try #require(beat["agent"] as? [String: Any])
            #expect(refreshed["status"] as? String == "online" && refreshed["host_ip"] as? String == "2001:db8::7")
            #expect(refreshed["created_at"] as? String == agent["created_at"] as? String)
            #expect(refreshed["last_active_time"] as? String != agent["last_active_time"] as? String)

            // Paths: added once, excludes below them, removed by name.
            #expect(try await call(.post, base + "/agents", registration("host-2", name: "web")).0 == .ok)
            let (added, addBody) = try await call(.post, base + "/agents/host-1/add-path",
                                                  ["add_path": ["/srv/data", "/etc"], "exclude_path": [["path_name": "/srv/data", "exclude_path_name": ["/srv/data/tmp"]]]])
            #expect(added == .ok && addBody["added"] as? [String] == ["/srv/data", "/etc"] && addBody["existed"] as? [String] == [], "\(addBody)")
            let (_, again) = try await call(.post, base + "/agents/host-1/add-path", ["add_path": ["/etc", "/home"]])
            #expect(again["added"] as? [String] == ["/home"] && again["existed"] as? [String] == ["/etc"])
            let paths = try await call(.get, base + "/agents/host-1").1["agent"].flatMap { ($0 as? [String: Any])?["paths"] as? [[String: Any]] } ?? []
            #expect(Set(paths.compactMap { $0["dir_path"] as? String }) == ["/srv/data", "/etc", "/home"])
            #expect(paths.first { $0["dir_path"] as? String == "/srv/data" }?["exclude_paths"] as? String == "/srv/data/tmp")
            let (_, removed) = try await call(.post, base + "/agents/host-1/remove-path", ["remove_path": ["/home", "/nope"]])
            #expect(removed["removed"] as? [String] == ["/home"] && removed["not_existed"] as? [String] == ["/nope"])

            // Listing: by repeated agent_id, paged.
            let (_, both) = try await call(.get, base + "/agents?agent_id=host-1&agent_id=host-2")
            #expect(both["count"] as? Int == 2 && (both["agents"] as? [[String: Any]])?.count == 2)
            let (_, page) = try await call(.get, base + "/agents?limit=1&offset=1")
            #expect(page["count"] as? Int == 2 && page["limit"] as? Int == 1 && page["offset"] as? Int == 1)
            #expect((page["agents"] as? [[String: Any]])?.first?["agent_id"] as? String == "host-2")

            // The check: installed for a resource whose id an agent registered with.
            let (_, check) = try await call(.post, base + "/agent/check", ["agent_status": [["resource_id": "host-1", "resource_type": "OS::Nova::Server"],
                                                                                          ["resource_id": "elsewhere", "resource_type": "OS::Nova::Server"]]])
            let answers = check["agent_status"] as? [[String: Any]] ?? []
            #expect(answers.map { $0["installed"] as? Bool } == [true, false] && answers.first?["version"] as? String == "coffer 1", "\(check)")

            // Uninstalled, reported by the agent; unregistered by the user.
            let (_, gone) = try await call(.put, base + "/agents/host-2", ["agent": ["status": "uninstalled"]])
            #expect((gone["agent"] as? [String: Any])?["status"] as? String == "uninstalled")
            #expect(try await call(.get, base + "/agents?status=uninstalled").1["count"] as? Int == 1)
            #expect(try await call(.delete, base + "/agents/host-1").0 == .ok)
            let (missing, missingBody) = try await call(.get, base + "/agents/host-1")
            #expect(missing == .notFound && "\(missingBody)".contains("agent host-1 does not exist"))
            #expect(try await call(.post, base + "/agents/host-1/add-path", ["add_path": ["/srv"]]).0 == .notFound)
        }
    }

    @Test func badInputIsRefusedByField() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            func refused(_ method: HTTPRequest.Method, _ uri: String, _ body: Any?, naming field: String) async throws {
                let (status, answer) = try await call(method, uri, body)
                #expect(status == .badRequest && "\(answer)".contains(field), "\(method) \(uri) \(String(describing: body).prefix(200)): \(status) \(answer)")
            }
            for id in ["", "../x", "a/b", "..", String(repeating: "a", count: 65), "host 1", "hôte", "x\u{0}"] {
                try await refused(.post, base + "/agents", registration(id), naming: "agent_id")
            }
            var badIP = registration("h")
            for ip in ["999.1.1.1", "", "localhost", "1.2.3.4/24", String(repeating: "1", count: 100)] {
                var inner = badIP["agent"] as! [String: Any]
                inner["host_ip"] = ip
                badIP["agent"] = inner
                try await refused(.post, base + "/agents", badIP, naming: "host_ip")
            }
            try await refused(.post, base + "/agents", registration("h", name: "a\nb"), naming: "host_name")
            try await refused(.post, base + "/agents", registration("h", name: String(repeating: "n", count: 256)), naming: "host_name")
            try await refused(.post, base + "/agents", ["agent": ["agent_id": "h", "host_name": "n", "host_ip": "10.0.0.1"]], naming: "host_os")

            #expect(try await call(.post, base + "/agents", registration("h")).0 == .ok)
            for path in ["relative", "/a/../b", "/a/./b", "/a//b", "/a/", "/x\u{1}", "/" + String(repeating: "p", count: 1024)] {
                try await refused(.post, base + "/agents/h/add-path", ["add_path": [path]], naming: "add_path[0]")
            }
            try await refused(.post, base + "/agents/h/add-path", ["add_path": [] as [String]], naming: "add_path")
            try await refused(.post, base + "/agents/h/add-path", ["add_path": (0..<65).map { "/p\($0)" }], naming: "add_path")
            try await refused(.post, base + "/agents/h/add-path", ["add_path": ["/srv"], "exclude_path": [["path_name": "/other", "exclude_path_name": ["/other/x"]]]],
                              naming: "exclude_path")
            try await refused(.post, base + "/agents/h/add-path", ["add_path": ["/srv"], "exclude_path": [["path_name": "/srv", "exclude_path_name": ["/etc"]]]],
                              naming: "must lie below /srv")
            try await refused(.post, base + "/agents/h/remove-path", ["remove_path": ["../etc"]], naming: "remove_path[0]")
            try await refused(.put, base + "/agents/h", ["agent": ["status": "online"]], naming: "agent.status")
            try await refused(.get, base + "/agents?status=sleeping", nil, naming: "status")
            try await refused(.get, base + "/agents?limit=0", nil, naming: "limit")
            try await refused(.get, base + "/agents?status=online&status=offline", nil, naming: "status")
            try await refused(.get, base + "/agents?" + (0..<101).map { "agent_id=a\($0)" }.joined(separator: "&"), nil, naming: "agent_id")
            try await refused(.post, base + "/agent/check", ["agent_status": [] as [Any]], naming: "agent_status")
            try await refused(.post, base + "/agent/check", ["agent_status": [["resource_id": "../x", "resource_type": "t"]]], naming: "resource_id")
            // The agent is untouched by all of it.
            let (_, shown) = try await call(.get, base + "/agents/h")
            #expect((shown["agent"] as? [String: Any])?["paths"] as? [Any] != nil && ((shown["agent"] as? [String: Any])?["paths"] as? [Any])?.isEmpty == true)
        }
    }

    /// A credential of role agent (what `coffer agent` runs with on a data
    /// host) registers and looks after its own agents and reaches nothing else.
    @Test func anAgentCredentialLooksAfterItsOwnAgentsOnly() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let identity = server.services.identity
        let (_, agentPassword) = try await identity.createUser(project: admin.project_id, name: "host-agent", role: .agent)
        let (_, otherPassword) = try await identity.createUser(project: admin.project_id, name: "other-agent", role: .agent)
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let adminToken = try await client.token(user: "admin", password: admin.password, project: "admin")
            let agentToken = try await client.token(user: "host-agent", password: agentPassword, project: "admin")
            let otherToken = try await client.token(user: "other-agent", password: otherPassword, project: "admin")
            func call(_ token: String, _ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            // Its own agent: register, heartbeat, show, list, paths, the uninstall report.
            #expect(try await call(agentToken, .post, base + "/agents", registration("a1")).0 == .ok)
            #expect(try await call(agentToken, .post, base + "/agents", registration("a1")).0 == .ok)
            #expect(try await call(agentToken, .post, base + "/agents/a1/add-path", ["add_path": ["/srv"]]).0 == .ok)
            #expect(try await call(agentToken, .post, base + "/agents/a1/remove-path", ["remove_path": ["/srv"]]).0 == .ok)
            #expect(try await call(agentToken, .get, base + "/agents/a1").0 == .ok)
            #expect(try await call(agentToken, .get, base + "/agents").1["count"] as? Int == 1)
            #expect(try await call(adminToken, .post, base + "/agents", registration("by-a-person")).0 == .ok)

            // Nothing else of the project: vaults, backups, resources, logs, policies, checks, identity, unregistering.
            let refused: [(HTTPRequest.Method, String, Any?)] = [
                (.get, base + "/vaults", nil), (.post, base + "/vaults", vaultBody(name: "x", objectType: "turbo")), (.get, base + "/backups", nil),
                (.get, base + "/coffer/resources", nil), (.get, base + "/operation-logs", nil), (.get, base + "/policies", nil),
                (.post, base + "/checkpoints", ["checkpoint": ["vault_id": "v"]]), (.post, base + "/agent/check", ["agent_status": [["resource_id": "a1", "resource_type": "t"]]]),
                (.delete, base + "/agents/a1", nil), (.get, base + "/agents/a1/add-path", nil), (.get, base + "/agents/", nil), (.get, "/v3/users", nil),
                (.get, "/v3/projects", nil), (.get, "/v1/\(admin.project_id)/checkpoint_items", nil),
            ]
            for (method, path, body) in refused {
                let (status, answer) = try await call(agentToken, method, path, body)
                #expect(status == .forbidden && "\(answer)".contains("role agent"), "\(method) \(path): \(status) \(answer)")
            }
            // Another agent credential of the same project: the first one's agent is not its own.
            #expect(try await call(otherToken, .get, base + "/agents/a1").0 == .notFound)
            #expect(try await call(otherToken, .get, base + "/agents").1["count"] as? Int == 0)
            #expect(try await call(otherToken, .post, base + "/agents/a1/add-path", ["add_path": ["/etc"]]).0 == .notFound)
            #expect(try await call(otherToken, .put, base + "/agents/a1", ["agent": ["status": "uninstalled"]]).0 == .notFound)
            let (taken, takenBody) = try await call(otherToken, .post, base + "/agents", registration("a1", ip: "203.0.113.9"))
            #expect(taken == .forbidden && "\(takenBody)".contains("another credential"), "\(takenBody)")
            #expect(try await call(otherToken, .post, base + "/agents", registration("by-a-person")).0 == .forbidden)
            // Its jobs: its own agent's queue answers; another's agent is not found.
            #expect(try await call(agentToken, .post, base + "/agents/a1/jobs/claim", ["wait_seconds": 0]).0 == .ok)
            #expect(try await call(otherToken, .post, base + "/agents/a1/jobs/claim", ["wait_seconds": 0]).0 == .notFound)
            #expect(try await call(agentToken, .post, base + "/agents/a1/jobs/claim", ["wait_seconds": 61]).0 == .badRequest)

            // The first agent is as it left it; a person sees both and unregisters.
            let (_, shown) = try await call(adminToken, .get, base + "/agents/a1")
            #expect((shown["agent"] as? [String: Any])?["host_ip"] as? String == "192.0.2.10")
            #expect(try await call(adminToken, .get, base + "/agents").1["count"] as? Int == 2)
            #expect(try await call(agentToken, .put, base + "/agents/a1", ["agent": ["status": "uninstalled"]]).0 == .ok)
            #expect(try await call(adminToken, .delete, base + "/agents/a1").0 == .ok)
        }
    }

    @Test func theAgentRoleReachesOnlyAgentRoutes() {
        let p = "/v3/" + String(repeating: "a", count: 32)
        let allowed: [(HTTPRequest.Method, String)] = [(.post, p + "/agents"), (.get, p + "/agents"), (.get, p + "/agents/x"), (.put, p + "/agents/x"),
                                                      (.post, p + "/agents/x/add-path"), (.post, p + "/agents/x/remove-path"),
                                                      (.post, p + "/agents/x/jobs/claim"), (.post, p + "/agents/x/jobs/j/held"), (.post, p + "/agents/x/jobs/j/progress"),
                                                      (.post, p + "/agents/x/jobs/j/complete"), (.post, p + "/agents/x/jobs/j/fail"),
                                                      (.put, p + "/agents/x/jobs/j/objects/data/abc"), (.post, p + "/agents/x/jobs/j/blobs"),
                                                      (.get, p + "/agents/x/jobs/j/snapshots/abc")]
        for (method, path) in allowed { #expect(AuthMiddleware.agentMayCall(method, path), "\(method) \(path)") }
        let refused: [(HTTPRequest.Method, String)] = [(.delete, p + "/agents/x"), (.post, p + "/agents/x"), (.get, p + "/agents/x/add-path"),
                                                      (.post, p + "/agents/x/add-path/more"), (.get, p + "/agents/"), (.post, p + "/agents//add-path"),
                                                      (.get, p + "/agentsx"), (.get, p + "/vaults"), (.post, p + "/agent/check"), (.get, "/v3/agents"),
                                                      (.get, "/v1/" + String(repeating: "a", count: 32) + "/agents"), (.get, "/v3/xyz/agents"), (.get, ""),
                                                      (.get, p + "/agents/x/jobs/claim"), (.post, p + "/agents/x/jobs"), (.get, p + "/agents/x/jobs/j/objects/data/abc"),
                                                      (.delete, p + "/agents/x/jobs/j/objects/data/abc"), (.post, p + "/agents/x/jobs/j/restore"),
                                                      (.put, p + "/agents/x/jobs/j/objects/data"), (.post, p + "/agents/x/jobs//held")]
        for (method, path) in refused { #expect(!AuthMiddleware.agentMayCall(method, path), "\(method) \(path)") }
    }
}

/// Every agent input from another project and with adversarial values: a 4xx,
/// the owner's agent untouched, the server still answering.
@Suite struct AgentInputsUnderAttack {
    @Test func anotherProjectAndAdversarialValuesEndIn4xx() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let tenant = try await server.services.identity.createProject(name: "other", role: .admin)
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let otherToken = try await client.token(user: tenant.user_name, password: tenant.password, project: "other")
            let base = "/v3/\(admin.project_id)", other = "/v3/\(tenant.project_id)"
            let register: [String: Any] = ["agent": ["agent_id": "h", "host_name": "owner-host", "host_ip": "10.0.0.1", "host_os": "Linux"]]
            #expect(try await call(client, token: token, .post, base + "/agents", register).0 == .ok)
            #expect(try await call(client, token: token, .post, base + "/agents/h/add-path", ["add_path": ["/srv"]]).0 == .ok)

            // Another project: this project's paths are refused; its own namespace is its own.
            for (method, path, body) in [(HTTPRequest.Method.post, "/agents", register as Any?), (.get, "/agents", nil), (.post, "/agent/check", ["agent_status": [["resource_id": "h", "resource_type": "t"]]])] {
                #expect(try await call(client, token: otherToken, method, base + path, body).0 == .forbidden, "\(method) \(path)")
            }
            let theirs: [String: Any] = ["agent": ["agent_id": "h", "host_name": "their-host", "host_ip": "10.9.9.9", "host_os": "Linux"]]
            #expect(try await call(client, token: otherToken, .post, other + "/agents", theirs).0 == .ok)
            #expect(try await call(client, token: otherToken, .post, other + "/agents/h/remove-path", ["remove_path": ["/srv"]]).1["not_existed"] as? [String] == ["/srv"])

            let huge = String(repeating: "9", count: 5_000)
            func expect4xx(_ method: HTTPRequest.Method, _ uri: String, _ body: ByteBuffer?, _ what: String) async throws {
                try await client.execute(uri: uri, method: method, headers: [authToken: token, .contentType: "application/json"], body: body) { r in
                    #expect((400..<500).contains(Int(r.status.code)), "\(what): \(r.status) \(String(buffer: r.body))")
                }
            }
            func agent(_ field: String, _ value: Any) -> [String: Any] {
                var a: [String: Any] = ["agent_id": "x", "host_name": "n", "host_ip": "10.0.0.2", "host_os": "Linux"]
                a[field] = value
                return ["agent": a]
            }
            let values: [Any] = ["", ":", huge, "\u{0}", -1, 1e30, true, [1], ["a": 1], NSNull()]
            for value in values {
                let w = "\(value)".prefix(20)
                try await expect4xx(.post, base + "/agents", bodyBuffer(agent("agent_id", value)), "agent_id \(w)")
                try await expect4xx(.post, base + "/agents", bodyBuffer(agent("host_ip", value)), "host_ip \(w)")
                if !(value is String) || "\(value)" == huge { try await expect4xx(.post, base + "/agents", bodyBuffer(agent("host_name", value)), "host_name \(w)") }
                try await expect4xx(.put, base + "/agents/h", bodyBuffer(["agent": ["status": value]]), "status \(w)")
                try await expect4xx(.post, base + "/agents/h/add-path", bodyBuffer(["add_path": [value]]), "add_path \(w)")
                try await expect4xx(.post, base + "/agents/h/add-path", bodyBuffer(["add_path": ["/srv"], "exclude_path": [["path_name": value, "exclude_path_name": ["/srv/x"]]]]), "exclude path_name \(w)")
                try await expect4xx(.post, base + "/agents/h/add-path", bodyBuffer(["add_path": ["/srv"], "exclude_path": [["path_name": "/srv", "exclude_path_name": [value]]]]), "exclude name \(w)")
                try await expect4xx(.post, base + "/agents/h/remove-path", bodyBuffer(["remove_path": [value]]), "remove_path \(w)")
                try await expect4xx(.post, base + "/agent/check", bodyBuffer(["agent_status": [["resource_id": value, "resource_type": "t"]]]), "resource_id \(w)")
            }
            for query in ["status=%00", "status=" + huge, "agent_id=", "agent_id=%00", "agent_id=%3A", "agent_id=" + huge, "limit=-1", "offset=-5",
                          "limit=99999999999999999999", "status=online&status=online"] {
                try await expect4xx(.get, base + "/agents?" + query, nil, "list \(query.prefix(30))")
            }
            for id in ["%00", "%3A", huge, "%FF%FE"] {
                try await expect4xx(.get, base + "/agents/\(id)", nil, "show \(id.prefix(10))")
                try await expect4xx(.put, base + "/agents/\(id)", bodyBuffer(["agent": ["status": "uninstalled"]]), "update \(id.prefix(10))")
                try await expect4xx(.delete, base + "/agents/\(id)", nil, "delete \(id.prefix(10))")
                try await expect4xx(.post, base + "/agents/\(id)/add-path", bodyBuffer(["add_path": ["/srv"]]), "add-path \(id.prefix(10))")
                try await expect4xx(.post, base + "/agents/\(id)/remove-path", bodyBuffer(["remove_path": ["/srv"]]), "remove-path \(id.prefix(10))")
            }
            let deep = String(repeating: "{\"agent\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
            for raw in [ByteBuffer(string: deep), ByteBuffer(bytes: [0xff, 0xfe, 0x7b, 0x7d]), ByteBuffer(string: "[]"), ByteBuffer(string: "")] {
                for (method, path) in [(HTTPRequest.Method.post, "/agents"), (.put, "/agents/h"), (.post, "/agents/h/add-path"), (.post, "/agents/h/remove-path"), (.post, "/agent/check")] {
                    try await expect4xx(method, base + path, raw, "\(path) body \(raw.readableBytes) bytes")
                }
            }
            // The job routes, with a real running job of the owner's agent.
            let (_, shownPath) = try await call(client, token: token, .get, base + "/agents/h")
            let rid = (((shownPath["agent"] as? [String: Any])?["paths"] as? [[String: Any]])?.first)?["id"] as? String ?? ""
            let (_, vault) = try await call(client, token: token, .post, base + "/vaults", vaultBody(name: "agent-vault", objectType: "turbo", resources: [["id": rid, "type": "OS::Sfs::Turbo"]]))
            _ = try await call(client, token: token, .post, base + "/checkpoints", ["checkpoint": ["vault_id": (vault["vault"] as? [String: Any])?["id"] as? String ?? ""]])
            let (_, claimed) = try await call(client, token: token, .post, base + "/agents/h/jobs/claim", ["wait_seconds": 0])
            let job = try #require((claimed["job"] as? [String: Any])?["job_id"] as? String)
            let hex = String(repeating: "a", count: 64)
            let jobRoutes: [(HTTPRequest.Method, String, Any?)] = [
                (.post, "/agents/h/jobs/claim", ["wait_seconds": 0]), (.post, "/agents/h/jobs/\(job)/held", ["ids": [hex]]),
                (.post, "/agents/h/jobs/\(job)/progress", ["percent": 1]), (.post, "/agents/h/jobs/\(job)/complete", ["snapshots": ["b": hex]]),
                (.post, "/agents/h/jobs/\(job)/fail", ["message": "x"]), (.post, "/agents/h/jobs/\(job)/blobs", ["ids": [hex]]),
                (.get, "/agents/h/jobs/\(job)/snapshots/\(hex)", nil), (.put, "/agents/h/jobs/\(job)/objects/data/\(hex)", ["x": 1]),
            ]
            for (method, path, body) in jobRoutes {
                #expect(try await call(client, token: otherToken, method, base + path, body).0 == .forbidden, "another project on \(method) \(path)")
                if path.hasSuffix("/claim") { continue }
                #expect(try await call(client, token: otherToken, method, other + path, body).0 == .notFound, "this project's job id in another project: \(method) \(path)")
            }
            for value in values {
                let w = "\(value)".prefix(20)
                // wait_seconds is optional: null is "not given" (no wait), a valid request.
                if !(value is NSNull) { try await expect4xx(.post, base + "/agents/h/jobs/claim", bodyBuffer(["wait_seconds": value]), "wait_seconds \(w)") }
                try await expect4xx(.post, base + "/agents/h/jobs/\(job)/held", bodyBuffer(["ids": [value]]), "held ids \(w)")
                try await expect4xx(.post, base + "/agents/h/jobs/\(job)/blobs", bodyBuffer(["ids": [value]]), "blobs ids \(w)")
                if !(value is Int) { try await expect4xx(.post, base + "/agents/h/jobs/\(job)/progress", bodyBuffer(["percent": value]), "percent \(w)") }
                try await expect4xx(.post, base + "/agents/h/jobs/\(job)/complete", bodyBuffer(["snapshots": ["b": value]]), "snapshots \(w)")
                if !(value is String) { try await expect4xx(.post, base + "/agents/h/jobs/\(job)/fail", bodyBuffer(["message": value]), "message \(w)") }
            }
            for id in ["%00", "%3A", huge, "%FF%FE"] {
                try await expect4xx(.post, base + "/agents/h/jobs/\(id)/held", bodyBuffer(["ids": [hex]]), "job id \(id.prefix(10))")
                try await expect4xx(.post, base + "/agents/h/jobs/\(id)/progress", bodyBuffer(["percent": 1]), "job id \(id.prefix(10))")
                try await expect4xx(.get, base + "/agents/h/jobs/\(job)/snapshots/\(id)", nil, "snapshot id \(id.prefix(10))")
                for (kind, name) in [(id, hex), ("data", id), ("index", id), ("snapshots", id)] {
                    try await client.execute(uri: base + "/agents/h/jobs/\(job)/objects/\(kind)/\(name)", method: .put,
                                             headers: [authToken: token, .contentType: "application/octet-stream"], body: ByteBuffer(string: "junk")) { r in
                        #expect((400..<500).contains(Int(r.status.code)), "object \(kind.prefix(10))/\(name.prefix(10)): \(r.status)")
                    }
                }
            }
            for raw in [ByteBuffer(string: deep), ByteBuffer(bytes: [0xff, 0xfe, 0x7b, 0x7d]), ByteBuffer(string: "[]")] {
                for route in ["held", "progress", "complete", "fail", "blobs"] {
                    try await expect4xx(.post, base + "/agents/h/jobs/\(job)/\(route)", raw, "\(route) body \(raw.readableBytes) bytes")
                }
                try await expect4xx(.post, base + "/agents/h/jobs/claim", raw, "claim body \(raw.readableBytes) bytes")
            }
            // The job is still running for its agent after all that.
            #expect(try await call(client, token: token, .post, base + "/agents/h/jobs/\(job)/progress", ["percent": 5]).0 == .noContent)

            // The owner's agent is as it was: its host, its path, online.
            let (_, shown) = try await call(client, token: token, .get, base + "/agents/h")
            let a = shown["agent"] as? [String: Any]
            #expect(a?["host_name"] as? String == "owner-host" && a?["status"] as? String == "online", "\(shown)")
            #expect((a?["paths"] as? [[String: Any]])?.compactMap { $0["dir_path"] as? String } == ["/srv"])
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
        }
    }
}
