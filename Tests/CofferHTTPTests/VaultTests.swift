import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

func registerVolume(_ client: any TestClientProtocol, base: String, token: String, name: String, path: String) async throws -> String {
    let r = try await post(client, base + "/coffer/resources", token: token, ["resource": ["type": "OS::Cinder::Volume", "name": name, "path": path]])
    return (json(r.body)["resource"] as? [String: Any])?["id"] as? String ?? ""
}

/// A registered volume bound to a new disk vault: (volume id, vault id).
func volumeInVault(_ client: any TestClientProtocol, base: String, token: String, name: String, path: String, size: Int = 100) async throws -> (String, String) {
    let volume = try await registerVolume(client, base: base, token: token, name: name, path: path)
    let vault = try await post(client, base + "/vaults", token: token, vaultBody(size: size, resources: [["id": volume, "type": "OS::Cinder::Volume"]]))
    return (volume, (json(vault.body)["vault"] as? [String: Any])?["id"] as? String ?? "")
}

func vaultBody(name: String = "vault-1", objectType: String = "disk", size: Any = 100, resources: [[String: Any]] = []) -> [String: Any] {
    ["vault": ["name": name, "billing": ["consistent_level": "crash_consistent", "object_type": objectType, "protect_type": "backup", "size": size],
               "resources": resources]]
}

@Suite struct Vaults {
    @Test func lifecycle() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        let dataDir = server.configuration.dataDirectory
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let volA = try await registerVolume(client, base: base, token: token, name: "a", path: root.path + "/disk.img")
            let volB = try await registerVolume(client, base: base, token: token, name: "b", path: root.path + "/vm-root.img")
            let created = try await post(client, base + "/vaults", token: token, vaultBody(resources: [["id": volA, "type": "OS::Cinder::Volume"]]))
            #expect(created.status == .ok, "\(json(created.body))")
            let vault = try #require(json(created.body)["vault"] as? [String: Any])
            let id = try #require(vault["id"] as? String)
            let billing = try #require(vault["billing"] as? [String: Any])
            #expect(billing["spec_code"] as? String == "vault.backup.volume.normal" && billing["size"] as? Int == 100 && billing["used"] as? Int == 0)
            #expect(billing["status"] as? String == "available" && billing["charging_mode"] as? String == "post_paid")
            #expect(vault["provider_id"] as? String == "d1603440-187d-4516-af25-121250c7cc97")
            #expect((vault["resources"] as? [[String: Any]])?.first?["id"] as? String == volA)
            #expect((vault["created_at"] as? String)?.count == 26)
            #expect(FileManager.default.fileExists(atPath: dataDir + "/vaults/\(id)/config"))
            // Literal /vaults/summary wins over /vaults/{vault_id}.
            try await client.execute(uri: base + "/vaults/summary", method: .get, headers: [authToken: token]) { r in
                #expect(r.status == .ok && json(r.body)["size"] as? Int == 100 && json(r.body)["used_size"] as? Int == 0)
            }
            try await client.execute(uri: base + "/vaults?limit=10&object_type=disk&id=\(id)", method: .get, headers: [authToken: token]) { r in
                #expect(json(r.body)["count"] as? Int == 1 && json(r.body)["limit"] as? Int == 10)
            }
            try await client.execute(uri: base + "/vaults?resource_ids=\(volA)", method: .get, headers: [authToken: token]) { r in
                #expect(json(r.body)["count"] as? Int == 1)
            }
            try await client.execute(uri: base + "/vaults?object_type=server", method: .get, headers: [authToken: token]) { r in
                #expect(json(r.body)["count"] as? Int == 0)
            }
            try await client.execute(uri: base + "/vaults/\(id)", method: .put, headers: [authToken: token],
                                     body: bodyBuffer(["vault": ["name": "renamed", "billing": ["size": 200], "threshold": 90, "locked": true]])) { r in
                let v = json(r.body)["vault"] as? [String: Any] ?? [:]
                #expect(v["name"] as? String == "renamed" && (v["billing"] as? [String: Any])?["size"] as? Int == 200 && v["locked"] as? Bool == true)
            }
            try await client.execute(uri: base + "/vaults/\(id)", method: .put, headers: [authToken: token], body: bodyBuffer(["vault": ["locked": false]])) { r in
                #expect(json(r.body)["error_code"] as? String == "BackupService.6110")
            }
            let added = try await post(client, base + "/vaults/\(id)/addresources", token: token, ["resources": [["id": volB, "type": "OS::Cinder::Volume"]]])
            #expect(json(added.body)["add_resource_ids"] as? [String] == [volB])
            let removed = try await post(client, base + "/vaults/\(id)/removeresources", token: token, ["resource_ids": [volA]])
            #expect(json(removed.body)["remove_resource_ids"] as? [String] == [volA])
            let notThere = try await post(client, base + "/vaults/\(id)/removeresources", token: token, ["resource_ids": [volA]])
            #expect(json(notThere.body)["error_code"] as? String == "BackupService.6135")
            try await client.execute(uri: base + "/vaults/\(id)", method: .delete, headers: [authToken: token]) { r in #expect(r.status == .noContent) }
            #expect(!FileManager.default.fileExists(atPath: dataDir + "/vaults/\(id)"))
            try await client.execute(uri: base + "/vaults/\(id)", method: .get, headers: [authToken: token]) { r in
                #expect(r.status == .notFound && json(r.body)["error_code"] as? String == "BackupService.6105")
            }
            // The resource is free again.
            let again = try await post(client, base + "/vaults", token: token, vaultBody(name: "second", resources: [["id": volB, "type": "OS::Cinder::Volume"]]))
            #expect(again.status == .ok)
        }
    }

    @Test func validationUsesDocumentedCodes() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let vol = try await registerVolume(client, base: base, token: token, name: "a", path: root.path + "/disk.img")
            let dir = try await post(client, base + "/coffer/resources", token: token, ["resource": ["type": "OS::Sfs::Turbo", "name": "s", "path": root.path + "/share"]])
            let dirID = (json(dir.body)["resource"] as? [String: Any])?["id"] as? String ?? ""
            let taken = try await post(client, base + "/vaults", token: token, vaultBody(name: "taken", resources: [["id": vol, "type": "OS::Cinder::Volume"]]))
            #expect(taken.status == .ok)
            let cases: [([String: Any], HTTPResponse.Status, String, String)] = [
                (vaultBody(name: "bad name!"), .badRequest, "BackupService.9900", "vault.name"),
                (vaultBody(size: 5), .badRequest, "BackupService.6101", "vault.billing.size"),
                (vaultBody(size: "100"), .badRequest, "BackupService.9900", "vault.billing.size must be an integer"),
                (vaultBody(objectType: "rds"), .badRequest, "BackupService.9900", "not supported"),
                (vaultBody(objectType: "tape"), .badRequest, "BackupService.9900", "vault.billing.object_type must be one of"),
                (["vault": ["name": "v", "billing": ["consistent_level": "crash_consistent", "object_type": "disk", "protect_type": "backup", "size": 100]]], .badRequest, "BackupService.9900", "vault.resources is required"),
                (vaultBody(resources: [["id": vol, "type": "OS::Cinder::Volume"]]), .badRequest, "BackupService.6103", "already in a vault"),
                (vaultBody(resources: [["id": dirID, "type": "OS::Sfs::Turbo"]]), .badRequest, "BackupService.6102", "does not match"),
                (vaultBody(resources: [["id": "nope", "type": "OS::Cinder::Volume"]]), .notFound, "BackupService.6302", "does not exist"),
                (vaultBody(objectType: "turbo", resources: [["id": dirID, "type": "OS::Sfs::Turbo"], ["id": dirID, "type": "OS::Sfs::Turbo"]]), .badRequest, "BackupService.6104", "twice"),
                (["vault": ["name": "v", "billing": ["consistent_level": "crash_consistent", "object_type": "disk", "protect_type": "backup", "size": 100], "resources": [],
                            "tags": [["key": "a", "value": "1"], ["key": "a", "value": "2"]]]], .badRequest, "BackupService.9900", "repeated"),
                (["vault": ["name": "v", "billing": ["consistent_level": "crash_consistent", "object_type": "disk", "protect_type": "backup", "size": 100], "resources": [],
                            "backup_policy_id": "p-1"]], .notFound, "BackupService.6000", "policy"),
                (["vault": ["name": "v", "billing": ["consistent_level": "crash_consistent", "object_type": "disk", "protect_type": "backup", "size": 100], "resources": [],
                            "threshold": 0]], .badRequest, "BackupService.9900", "vault.threshold"),
                (["vault": ["name": "v", "billing": ["consistent_level": "sometimes", "object_type": "disk", "protect_type": "backup", "size": 100], "resources": []]], .badRequest, "BackupService.9900", "consistent_level"),
            ]
            for (body, status, code, message) in cases {
                let r = try await post(client, base + "/vaults", token: token, body)
                let b = json(r.body)
                #expect(r.status == status, "\(body): \(b)")
                #expect(b["error_code"] as? String == code, "\(body): \(b)")
                #expect((b["error_msg"] as? String ?? "").contains(message), "\(body): \(b)")
            }
            try await client.execute(uri: base + "/vaults?limit=0", method: .get, headers: [authToken: token]) { r in #expect(r.status == .badRequest) }
            try await client.execute(uri: base + "/vaults/unknown-id", method: .delete, headers: [authToken: token]) { r in
                #expect(r.status == .notFound && json(r.body)["error_code"] as? String == "BackupService.6105")
            }
        }
    }

    @Test func projectsNeverSeeEachOthersVaults() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let a = try await server.services.identity.createProject(name: "vault-a")
        let b = try await server.services.identity.createProject(name: "vault-b")
        try await server.run { client in
            let adminToken = try await client.token(user: "admin", password: admin.password, project: "admin")
            let aToken = try await client.token(user: a.user_name, password: a.password, project: "vault-a")
            let bToken = try await client.token(user: b.user_name, password: b.password, project: "vault-b")
            let reg = try await post(client, "/v3/\(admin.project_id)/coffer/resources", token: adminToken,
                                     ["resource": ["type": "OS::Cinder::Volume", "name": "v", "path": root.path + "/disk.img", "project_id": a.project_id]])
            let vol = (json(reg.body)["resource"] as? [String: Any])?["id"] as? String ?? ""
            let made = try await post(client, "/v3/\(a.project_id)/vaults", token: aToken, vaultBody(resources: [["id": vol, "type": "OS::Cinder::Volume"]]))
            #expect(made.status == .ok, "\(json(made.body))")
            let id = (json(made.body)["vault"] as? [String: Any])?["id"] as? String ?? ""
            // B: its own path gives 404 / empty lists; A's path is refused.
            try await client.execute(uri: "/v3/\(b.project_id)/vaults/\(id)", method: .get, headers: [authToken: bToken]) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/v3/\(b.project_id)/vaults", method: .get, headers: [authToken: bToken]) { r in #expect(json(r.body)["count"] as? Int == 0) }
            try await client.execute(uri: "/v3/\(b.project_id)/vaults/summary", method: .get, headers: [authToken: bToken]) { r in #expect(json(r.body)["size"] as? Int == 0) }
            for (method, path) in [(HTTPRequest.Method.put, "/v3/\(b.project_id)/vaults/\(id)"), (.delete, "/v3/\(b.project_id)/vaults/\(id)"),
                                   (.post, "/v3/\(b.project_id)/vaults/\(id)/addresources"), (.post, "/v3/\(b.project_id)/vaults/\(id)/removeresources")] {
                try await client.execute(uri: path, method: method, headers: [authToken: bToken], body: bodyBuffer(["vault": ["name": "x"], "resources": [["id": vol, "type": "OS::Cinder::Volume"]], "resource_ids": [vol]])) { r in
                    #expect(r.status == .notFound, "\(method) \(path): \(r.status)")
                }
            }
            let steal = try await post(client, "/v3/\(b.project_id)/vaults", token: bToken, vaultBody(resources: [["id": vol, "type": "OS::Cinder::Volume"]]))
            #expect(steal.status == .notFound && json(steal.body)["error_code"] as? String == "BackupService.6302")
            try await client.execute(uri: "/v3/\(a.project_id)/vaults/\(id)", method: .get, headers: [authToken: bToken]) { r in #expect(r.status == .forbidden) }
            try await client.execute(uri: "/v3/\(a.project_id)/vaults/\(id)", method: .get, headers: [authToken: aToken]) { r in #expect(r.status == .ok) }
        }
    }
}
