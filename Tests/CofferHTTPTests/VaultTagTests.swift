import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// CBR vault tags as Terraform changes them (`tags/action`) and the SDK reads them.
@Suite struct VaultTags {
    @Test func createReplaceDeleteAndListTags() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            var body = vaultBody(name: "tagged", objectType: "turbo")
            var inner = body["vault"] as! [String: Any]
            inner["tags"] = [["key": "env", "value": "test"]]
            body["vault"] = inner
            let (_, v) = try await call(.post, base + "/vaults", body)
            let id = try #require((v["vault"] as? [String: Any])?["id"] as? String)
            func tags() async throws -> [String: String] {
                let list = try await call(.get, base + "/vault/\(id)/tags").1["tags"] as? [[String: Any]] ?? []
                return Dictionary(uniqueKeysWithValues: list.map { ($0["key"] as? String ?? "", $0["value"] as? String ?? "") })
            }
            #expect(try await tags() == ["env": "test"])
            let (batch, _) = try await call(.post, base + "/vault/\(id)/tags/action", ["action": "create", "tags": [["key": "env", "value": "prod"], ["key": "team", "value": "ops"]]])
            #expect(batch == .noContent)
            #expect(try await tags() == ["env": "prod", "team": "ops"])
            let vaultTags = (try await call(.get, base + "/vaults/\(id)").1["vault"] as? [String: Any])?["tags"] as? [[String: Any]]
            #expect(vaultTags?.count == 2, "the vault's tags reflect them")
            #expect(try await call(.post, base + "/vault/\(id)/tags", ["tag": ["key": "cost", "value": "42"]]).0 == .noContent)
            let (_, project) = try await call(.get, base + "/vault/tags")
            #expect((project["tags"] as? [[String: Any]])?.map { $0["key"] as? String } == ["cost", "env", "team"])
            #expect(try await call(.delete, base + "/vault/\(id)/tags/team").0 == .noContent)
            #expect(try await call(.delete, base + "/vault/\(id)/tags/team").0 == .notFound)
            #expect(try await call(.post, base + "/vault/\(id)/tags/action", ["action": "delete", "tags": [["key": "cost"], ["key": "absent"]]]).0 == .noContent)
            #expect(try await tags() == ["env": "prod"])
            let eleven = (0..<11).map { ["key": "k\($0)", "value": "v"] }
            let (tooMany, refused) = try await call(.post, base + "/vault/\(id)/tags/action", ["action": "create", "tags": eleven])
            #expect(tooMany == .badRequest && (refused["error_msg"] as? String ?? "").contains("at most 10"))
            #expect(try await call(.post, base + "/vault/\(id)/tags/action", ["action": "rename", "tags": eleven]).0 == .badRequest)
            #expect(try await call(.get, base + "/vault/nope/tags").0 == .notFound)
        }
    }
}
