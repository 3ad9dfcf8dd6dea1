import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// Strings meant to break parsers: empty, separators alone, huge numbers,
/// NUL and control bytes, broken percent-encoding, long runs, odd Unicode.
let adversarialStrings: [String] = [
    "", ":", "::", ",", ",,", ":,", ",:", "created_at:", ":asc", "created_at::asc", "created_at:asc:desc", "name,name", "id:ASC",
    "-1", "0", "-0", "+1", "1e9", "0x10", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999999999",
    "\u{0}", "a\u{0}b", "\u{1}\u{7f}", "%", "%%", "%zz", "%0", "%00", "%ff%fe", "&", "&&=", "=", "==", "?", "#", "\\", "'", "\"", "' OR 1=1 --",
    String(repeating: "a", count: 10_000), String(repeating: ",", count: 5_000), String(repeating: ":", count: 5_000),
    "9999-99-99T99:99:99Z", "0000-00-00", "99999999-01-01T00:00:00Z", "2026-13-45T25:61:61Z", "-2026-01-01", "2026-01-01T00:00:00+9999",
    "\u{202E}", "😀", "\u{FFFF}", "\u{D7FF}", "true\u{0}", "TRUE", "nan", "inf", "-inf",
]

/// A deterministic generator, so a failure reproduces (the seed is in the message).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomString(_ rng: inout SplitMix64) -> String {
    let alphabet: [String] = Array(":,=&%?#+-._~/\\ 0123456789azAZ\u{0}\u{7f}é😀").map(String.init)
        + ["created_at", "asc", "desc", "name", "id", "%2C", "%3A", "%00", "2026-01-01T00:00:00Z"]
    let length = Int(rng.next() % 40)
    var out = ""
    for _ in 0..<length { out += alphabet[Int(rng.next() % UInt64(alphabet.count))] }
    if rng.next() % 10 == 0, let pick = adversarialStrings.randomElement(using: &rng) { out += pick }
    return out
}

@Suite struct QueryParsersNeverTrap {
    /// Every query parser gets every adversarial string and 20 000 random ones:
    /// each returns a value or a validation error, none traps.
    @Test func everyParserAnswersEveryString() throws {
        var rng = SplitMix64(state: 0xC0FFEE)
        let inputs = adversarialStrings + (0..<20_000).map { _ in randomString(&rng) }
        for text in inputs {
            _ = try? Query.parseSort(text)
            _ = try? Query.parseTime(text, field: "start_time")
            _ = try? Query.parseRDSTime(text, field: "begin_time")
            for raw in [text, "sort=" + text, "limit=" + text + "&offset=" + text, text + "=" + text, "status=" + text + "&status=" + text] {
                guard let q = try? Query(rawQuery: raw) else { continue }
                _ = try? q.int("limit", range: 1...1000, default: 10)
                _ = try? q.int("offset", range: 0...Int(Int32.max), default: 0)
                _ = try? q.bool("incremental")
                _ = try? q.oneOf("image_type", ["backup"])
                _ = try? Query.parseSort(q["sort"])
                _ = try? ResourceRoutes.paging(q)
            }
            _ = try? JSONBody.object(Data(text.utf8))
        }
        // The one from the report: it used to trap the whole server.
        #expect(throws: APIError.self) { try Query.parseSort(":") }
        #expect(throws: APIError.self) { try Query.parseSort(",,") }
        #expect(throws: APIError.self) { try Query(rawQuery: "limit=1&limit=2") }
        #expect(throws: APIError.self) { try Query(rawQuery: "sort=%zz") }
        #expect(try Query.parseSort("name:asc,created_at").map(\.0) == ["name", "created_at"])
        #expect(try Query.parseTime("2026-01-31T12:00:00Z", field: "t") == 1_769_860_800_000)
        #expect(throws: APIError.self) { try Query.parseTime("99999999-01-01T00:00:00Z", field: "t") }
    }

    /// Deep, wide and malformed JSON bodies are refused with a 400, never a crash.
    @Test func jsonBodiesOfAnyShapeAreRefusedCleanly() throws {
        for depth in [10, 100, 1_000, 100_000] {
            let deep = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            _ = try? JSONBody.object(Data(deep.utf8))
            let objects = String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
            _ = try? JSONBody.object(Data(objects.utf8))
        }
        for bad in ["", "null", "1", "[]", "\"x\"", "{", "{\"a\":}", "\u{0}", "{\"a\":1e999999}", "{\"a\":\"\\ud800\"}"] {
            #expect(throws: APIError.self) { try JSONBody.object(Data(bad.utf8)) }
        }
        #expect(throws: APIError.self) { try JSONBody.object(Data([0xff, 0xfe, 0x7b, 0x7d])) }
    }

    /// Through the real server: every listing with adversarial sort, marker,
    /// limit, offset and time values answers below 500, and /health still answers.
    @Test func adversarialQueriesNeverStopTheServer() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let p = admin.project_id
            let routes = ["/v3/\(p)/backups", "/v3/\(p)/operation-logs", "/v3/\(p)/vaults", "/v3/\(p)/coffer/resources",
                          "/v1/\(p)/checkpoint_items", "/v3/\(p)/protectables/server/instances", "/v3/\(p)/backups?instance_id=x"]
            let keys = ["sort", "marker", "limit", "offset", "start_time", "end_time", "begin_time", "status", "name", "incremental", "vault_id"]
            var rng = SplitMix64(state: 42)
            let values = adversarialStrings.filter { $0.utf8.count < 2_000 } + (0..<30).map { _ in randomString(&rng) }
            for route in routes {
                for key in keys {
                    for value in values {
                        let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                        let separator = route.contains("?") ? "&" : "?"
                        try await client.execute(uri: route + separator + key + "=" + encoded, method: .get, headers: [authToken: token]) { r in
                            #expect(r.status.code < 500, "\(route) \(key)=\(value.debugDescription): \(r.status)")
                        }
                    }
                }
                // Raw, undecodable queries too.
                for raw in ["sort=:", "%zz", "limit=1&limit=2", "a=%00", "=&=&"] {
                    try await client.execute(uri: route + (route.contains("?") ? "&" : "?") + raw, method: .get, headers: [authToken: token]) { r in
                        #expect(r.status.code < 500, "\(route) \(raw): \(r.status)")
                    }
                }
            }
            try await client.execute(uri: "/v3/\(p)/backups?sort=:", method: .get, headers: [authToken: token]) { r in
                #expect(r.status == .badRequest && (json(r.body)["error_msg"] as? String ?? "").contains("sort"))
            }
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
        }
    }
}

@Suite struct NewInputsUnderAttack {
    /// The inputs this change added (the verify route and its body, token revocation's header,
    /// resource registration's `restore_special_files` and `project_id`) fed adversarial values:
    /// every answer a 4xx, and the server still answers /health.
    @Test func adversarialValuesEndIn4xx() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let base = "/v3/\(admin.project_id)"
            let (_, vault) = try await call(client, token: token, .post, base + "/vaults", vaultBody(name: "v", objectType: "turbo"))
            let vaultID = (vault["vault"] as? [String: Any])?["id"] as? String ?? ""
            let huge = String(repeating: "9", count: 5_000)
            func expect4xx(_ method: HTTPRequest.Method, _ uri: String, body: ByteBuffer?, headers: HTTPFields = [:], _ what: String) async throws {
                var fields = headers
                fields[authToken] = token
                fields[.contentType] = "application/json"
                try await client.execute(uri: uri, method: method, headers: fields, body: body) { r in
                    #expect((400..<500).contains(Int(r.status.code)), "\(what): \(r.status)")
                }
            }
            let verify = base + "/coffer/vaults/\(vaultID)/verify"
            for subset in ["", ":", "::", "-1/3", "1/-3", "0/0", "\u{0}", huge + "/3", "next/99999999999999999999999", "1/3/3", "next/", "😀/3"] {
                try await expect4xx(.post, verify, body: bodyBuffer(["verify": ["subset": subset]]), "subset \(subset.prefix(20).debugDescription)")
            }
            for seconds: Any in [-1, 0, 1e30, "60", true, [1], ["a": 1]] {
                try await expect4xx(.post, verify, body: bodyBuffer(["verify": ["max_duration_seconds": seconds]]), "max_duration_seconds \(seconds)")
            }
            let deep = String(repeating: "{\"verify\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
            for raw in [ByteBuffer(string: deep), ByteBuffer(bytes: [0xff, 0xfe, 0x7b, 0x7d]), ByteBuffer(string: "[]"), ByteBuffer(string: "{\"verify\": \"x\"}")] {
                try await expect4xx(.post, verify, body: raw, "verify body \(raw.readableBytes) bytes")
            }
            for id in [":", huge, "%00", "..", "%2F", "-1"] {
                try await expect4xx(.post, base + "/coffer/vaults/\(id)/verify", body: nil, "vault id \(id.prefix(20))")
            }
            let subject = HTTPField.Name("X-Subject-Token")!
            for value in ["", ":", String(repeating: "x", count: 8_000), "cft-" + huge] {
                try await expect4xx(.delete, "/v3/auth/tokens", body: nil, headers: [subject: value], "X-Subject-Token \(value.prefix(10).debugDescription)")
            }
            try await expect4xx(.delete, "/v3/auth/tokens", body: nil, "no X-Subject-Token")
            for special: Any in ["yes", 1, [true]] {
                try await expect4xx(.post, base + "/coffer/resources", body: bodyBuffer(["resource": ["type": "OS::Sfs::Turbo", "name": "x", "path": "/tmp", "restore_special_files": special]]),
                                    "restore_special_files \(special)")
            }
            for project in ["", ":", huge, "\u{0}", "../admin"] {
                try await expect4xx(.post, base + "/coffer/resources", body: bodyBuffer(["resource": ["type": "OS::Sfs::Turbo", "name": "x", "path": "/tmp", "project_id": project]]),
                                    "project_id \(project.prefix(10).debugDescription)")
            }
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
        }
    }
}

@Suite struct TypedRDSBodiesUnderAttack {
    /// The RDS bodies now decoded from the API's types (RequestDecoder): another
    /// project's instance id is a 404 as if it did not exist, and adversarial
    /// values (wrong types, empty, ':', huge, negative, NUL, invalid UTF-8, deep
    /// JSON) end in a 4xx naming the field, with /health answering afterwards.
    @Test func adversarialBodiesEndIn4xx() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let tenant = try await server.services.identity.createProject(name: "other", role: .admin)
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let otherToken = try await client.token(user: tenant.user_name, password: tenant.password, project: "other")
            // An instance of the admin project (nothing listens on port 1: registered, its backups would fail).
            let (registered, r) = try await call(client, token: token, .post, "/v3/\(admin.project_id)/coffer/resources",
                                                 ["resource": ["type": "rds", "name": "pg", "engine": "PostgreSQL", "connection": "postgresql://u:p@127.0.0.1:1/db"]])
            #expect(registered == .ok, "\(r)")
            let instance = (r["resource"] as? [String: Any])?["id"] as? String ?? ""
            let other = "/v3/\(tenant.project_id)"
            for (method, uri, body) in [(HTTPRequest.Method.post, other + "/backups", ["instance_id": instance, "name": "steal"] as [String: Any]),
                                        (.put, other + "/instances/\(instance)/backups/policy", ["backup_policy": ["keep_days": 0]]),
                                        (.post, other + "/instances/recovery", ["source": ["backup_id": "x", "instance_id": instance], "target": ["instance_id": instance]])] {
                let (status, answer) = try await call(client, token: otherToken, method, uri, body)
                #expect(status == .notFound, "\(uri): \(status) \(answer)")
            }
            let base = "/v3/\(admin.project_id)"
            let huge = String(repeating: "9", count: 5_000)
            func expect4xx(_ method: HTTPRequest.Method, _ uri: String, _ body: ByteBuffer, _ what: String) async throws {
                try await client.execute(uri: uri, method: method, headers: [authToken: token, .contentType: "application/json"], body: body) { r in
                    #expect((400..<500).contains(Int(r.status.code)), "\(what): \(r.status) \(String(buffer: r.body))")
                }
            }
            let values: [Any] = ["", ":", huge, "\u{0}", -1, 1e30, true, [1], ["a": 1], NSNull()]
            for v in values {
                try await expect4xx(.post, base + "/backups", bodyBuffer(["instance_id": v, "name": "valid-name"]), "instance_id \(v)")
                try await expect4xx(.post, base + "/backups", bodyBuffer(["instance_id": instance, "name": v]), "name \(v)")
                try await expect4xx(.put, base + "/instances/\(instance)/backups/policy", bodyBuffer(["backup_policy": ["keep_days": v]]), "keep_days \(v)")
                try await expect4xx(.post, base + "/instances/recovery", bodyBuffer(["source": ["backup_id": v], "target": ["instance_id": instance]]), "backup_id \(v)")
                try await expect4xx(.post, base + "/instances/recovery", bodyBuffer(["source": v, "target": ["instance_id": instance]]), "source \(v)")
            }
            let deep = String(repeating: "{\"source\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
            for raw in [ByteBuffer(string: deep), ByteBuffer(bytes: [0xff, 0xfe, 0x7b, 0x7d]), ByteBuffer(string: "[]"), ByteBuffer(string: "")] {
                try await expect4xx(.post, base + "/instances/recovery", raw, "recovery body \(raw.readableBytes) bytes")
                try await expect4xx(.post, base + "/backups", raw, "backup body \(raw.readableBytes) bytes")
            }
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
        }
    }
}

@Suite struct PolicyInputsUnderAttack {
    /// The policy, simulator and vault-tag inputs: another project's policy id
    /// is a 404 (simulate too), and adversarial values in every body field,
    /// query parameter and path id end in a 4xx with /health answering.
    @Test func adversarialValuesEndIn4xx() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let tenant = try await server.services.identity.createProject(name: "other", role: .admin)
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let otherToken = try await client.token(user: tenant.user_name, password: tenant.password, project: "other")
            let base = "/v3/\(admin.project_id)", other = "/v3/\(tenant.project_id)"
            let (_, p) = try await call(client, token: token, .post, base + "/policies", policyBody())
            let policy = (p["policy"] as? [String: Any])?["id"] as? String ?? ""
            let (_, v) = try await call(client, token: token, .post, base + "/vaults", vaultBody(name: "v", objectType: "turbo"))
            let vault = (v["vault"] as? [String: Any])?["id"] as? String ?? ""
            #expect(!policy.isEmpty && !vault.isEmpty)
            let (stolen, answer) = try await call(client, token: otherToken, .post, other + "/coffer/policies/simulate", ["simulate": ["policy_id": policy]])
            #expect(stolen == .notFound, "\(answer)")

            let huge = String(repeating: "9", count: 5_000)
            func expect4xx(_ method: HTTPRequest.Method, _ uri: String, _ body: ByteBuffer?, _ what: String) async throws {
                try await client.execute(uri: uri, method: method, headers: [authToken: token, .contentType: "application/json"], body: body) { r in
                    #expect((400..<500).contains(Int(r.status.code)), "\(what): \(r.status) \(String(buffer: r.body))")
                }
            }
            let values: [Any] = ["", ":", huge, "\u{0}", -1, 1e30, true, [1], ["a": 1], NSNull()]
            for value in values {
                let w = "\(value)".prefix(20)
                // null in an optional field is the field left out (RequestDecoder): those may succeed.
                let optional = value is NSNull
                try await expect4xx(.post, base + "/policies", bodyBuffer(policyBody(name: "p", pattern: [":"], definition: ["max_backups": value])), "max_backups \(w)")
                try await expect4xx(.post, base + "/policies", bodyBuffer(["policy": ["name": value, "operation_type": "backup", "operation_definition": [:] as [String: Any],
                                                                                    "trigger": ["properties": ["pattern": [value]]]]]), "name/pattern \(w)")
                if !optional { try await expect4xx(.post, base + "/policies", bodyBuffer(policyBody(definition: ["timezone": value])), "timezone \(w)") }
                try await expect4xx(.put, base + "/policies/\(policy)", bodyBuffer(["policy": ["trigger": ["properties": ["pattern": value]]]]), "update pattern \(w)")
                if !optional { try await expect4xx(.put, base + "/policies/\(policy)", bodyBuffer(["policy": ["operation_definition": ["day_backups": value]]]), "update day_backups \(w)") }
                try await expect4xx(.post, base + "/vaults/\(vault)/associatepolicy", bodyBuffer(["policy_id": value]), "associate \(w)")
                try await expect4xx(.post, base + "/vaults/\(vault)/dissociatepolicy", bodyBuffer(["policy_id": value]), "dissociate \(w)")
                if !optional { try await expect4xx(.post, base + "/coffer/policies/simulate", bodyBuffer(["simulate": ["policy_id": policy, "days": value]]), "simulate days \(w)") }
                if !optional { try await expect4xx(.post, base + "/coffer/policies/simulate", bodyBuffer(["simulate": ["policy_id": policy, "start": value, "end": value]]), "simulate span \(w)") }
                try await expect4xx(.post, base + "/vault/\(vault)/tags/action", bodyBuffer(["action": value, "tags": [["key": value, "value": value]]]), "tags action \(w)")
                try await expect4xx(.post, base + "/vault/\(vault)/tags", bodyBuffer(["tag": ["key": value, "value": huge]]), "tag \(w)")
            }
            for query in ["operation_type=%00", "operation_type=" + huge, "marker=%3A", "marker=" + huge, "limit=-1", "offset=-5", "limit=99999999999999999999"] {
                try await expect4xx(.get, base + "/policies?" + query, nil, "list \(query.prefix(30))")
            }
            for id in ["%00", "%3A", huge, "%FF%FE"] {
                try await expect4xx(.get, base + "/policies/\(id)", nil, "policy id \(id.prefix(10))")
                try await expect4xx(.delete, base + "/vault/\(vault)/tags/\(id)", nil, "tag key \(id.prefix(10))")
                try await expect4xx(.get, base + "/vault/\(id)/tags", nil, "vault id \(id.prefix(10))")
            }
            let deep = String(repeating: "{\"policy\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
            for raw in [ByteBuffer(string: deep), ByteBuffer(bytes: [0xff, 0xfe, 0x7b, 0x7d]), ByteBuffer(string: "[]"), ByteBuffer(string: "")] {
                try await expect4xx(.post, base + "/policies", raw, "policy body \(raw.readableBytes) bytes")
                try await expect4xx(.post, base + "/coffer/policies/simulate", raw, "simulate body \(raw.readableBytes) bytes")
                try await expect4xx(.post, base + "/vault/\(vault)/tags/action", raw, "tags body \(raw.readableBytes) bytes")
            }
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
        }
    }
}
