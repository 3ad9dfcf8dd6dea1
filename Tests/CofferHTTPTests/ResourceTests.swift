import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

@Suite struct ResourceInventory {
    @Test func registerListShowUpdateRemoveAndProtectables() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let dir = try await post(client, base + "/coffer/resources", token: token, ["resource": ["type": "OS::Sfs::Turbo", "name": "share", "path": root.path + "/share"]])
            #expect(dir.status == .ok, "\(json(dir.body))")
            let dirID = try #require((json(dir.body)["resource"] as? [String: Any])?["id"] as? String)
            let vol = try await post(client, base + "/coffer/resources", token: token, ["resource": ["type": "OS::Cinder::Volume", "name": "disk", "path": root.path + "/disk.img"]])
            let volBody = try #require(json(vol.body)["resource"] as? [String: Any])
            #expect(volBody["size"] as? Int == 3 && volBody["size_bytes"] as? Int == 3 << 30)
            let srv = try await post(client, base + "/coffer/resources", token: token, ["resource": ["type": "OS::Nova::Server", "name": "vm1", "disks": [
                ["name": "root", "path": root.path + "/vm-root.img", "bootable": true], ["name": "data", "path": root.path + "/vm-data.img"]]]])
            #expect(srv.status == .ok, "\(json(srv.body))")
            let srvBody = try #require(json(srv.body)["resource"] as? [String: Any])
            let serverID = try #require(srvBody["id"] as? String)
            let disks = try #require(srvBody["disks"] as? [[String: Any]])
            #expect(disks.count == 2 && disks[0]["bootable"] as? Bool == true && disks[0]["id"] as? String != nil)
            // Listing (top-level resources), filters, paging.
            try await client.execute(uri: base + "/coffer/resources?limit=2", method: .get, headers: [authToken: token]) { r in
                let b = json(r.body)
                #expect(b["count"] as? Int == 3 && (b["resources"] as? [Any])?.count == 2)
            }
            try await client.execute(uri: base + "/coffer/resources?type=OS::Nova::Server", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["resources"] as? [[String: Any]])?.map { $0["name"] as? String } == ["vm1"])
            }
            try await client.execute(uri: base + "/coffer/resources/\(dirID)", method: .put, headers: [authToken: token], body: bodyBuffer(["resource": ["name": "share-renamed"]])) { r in
                #expect((json(r.body)["resource"] as? [String: Any])?["name"] as? String == "share-renamed")
            }
            try await client.execute(uri: base + "/coffer/resources/\(dirID)", method: .put, headers: [authToken: token], body: bodyBuffer(["resource": ["path": "/etc"]])) { r in
                #expect(r.status == .badRequest)
            }
            // CBR protectables.
            try await client.execute(uri: base + "/protectables/server/instances", method: .get, headers: [authToken: token]) { r in
                let instances = json(r.body)["instances"] as? [[String: Any]] ?? []
                #expect(instances.count == 1 && (instances[0]["children"] as? [Any])?.count == 2)
                #expect((instances[0]["protectable"] as? [String: Any])?["result"] as? Bool == true)
            }
            try await client.execute(uri: base + "/protectables/disk/instances", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["instances"] as? [Any])?.count == 3)
            }
            try await client.execute(uri: base + "/protectables/disk/instances?server_id=\(serverID)", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["instances"] as? [Any])?.count == 2)
            }
            try await client.execute(uri: base + "/protectables/turbo/instances/\(dirID)", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["instance"] as? [String: Any])?["name"] as? String == "share-renamed")
            }
            try await client.execute(uri: base + "/protectables/vm/instances", method: .get, headers: [authToken: token]) { r in #expect(r.status == .badRequest) }
            // Removing the server removes its disks.
            try await client.execute(uri: base + "/coffer/resources/\(disks[0]["id"] as! String)", method: .delete, headers: [authToken: token]) { r in #expect(r.status == .badRequest) }
            try await client.execute(uri: base + "/coffer/resources/\(serverID)", method: .delete, headers: [authToken: token]) { r in #expect(r.status == .noContent) }
            try await client.execute(uri: base + "/protectables/disk/instances", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["instances"] as? [Any])?.count == 1)
            }
            try await client.execute(uri: base + "/coffer/resources/\(serverID)", method: .get, headers: [authToken: token]) { r in
                #expect(r.status == .notFound && json(r.body)["error_code"] as? String == "BackupService.6302")
            }
        }
    }

    @Test func pathsAreConfinedAndValidated() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let base = "/v3/\(admin.project_id)/coffer/resources"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let cases: [([String: Any], String, String)] = [
                (["type": "OS::Cinder::Volume", "name": "x", "path": root.outside + "/secret.img"], "BackupService.9900", "resource root"),
                (["type": "OS::Cinder::Volume", "name": "x", "path": root.path + "/escape.img"], "BackupService.9900", "resource root"),
                (["type": "OS::Cinder::Volume", "name": "x", "path": root.path + "/../outside/secret.img"], "BackupService.9900", "resource root"),
                (["type": "OS::Cinder::Volume", "name": "x", "path": root.path + "/missing.img"], "BackupService.9900", "does not exist"),
                (["type": "OS::Cinder::Volume", "name": "x", "path": "relative.img"], "BackupService.9900", "absolute"),
                (["type": "OS::Cinder::Volume", "name": "x", "path": root.path + "/share"], "BackupService.6102", "not a disk image"),
                (["type": "OS::Sfs::Turbo", "name": "x", "path": root.path + "/disk.img"], "BackupService.6102", "not a directory"),
                (["type": "OS::Cinder::Volume", "name": "x"], "BackupService.9900", "resource.path is required"),
                (["type": "OS::Cinder::Volume", "name": "x", "path": root.path + "/disk.img", "disks": [["name": "d", "path": root.path + "/disk.img"]]], "BackupService.9900", "resource.disks"),
                (["type": "OS::Nova::Server", "name": "x", "disks": []], "BackupService.9900", "at least one disk"),
                (["type": "OS::Nova::Server", "name": "x", "disks": [["name": "d", "path": root.path + "/vm-root.img", "bootable": 1]]], "BackupService.9900", "bootable must be a boolean"),
                (["type": "OS::Nova::Server", "name": "x", "disks": [["name": "a", "path": root.path + "/vm-root.img"], ["name": "b", "path": root.path + "/vm-root.img"]]], "BackupService.6104", "listed twice"),
                (["type": "OS::Glance::Image", "name": "x"], "BackupService.9900", "resource.type must be one of"),
                (["name": "x"], "BackupService.9900", "resource.type is required"),
                (["type": "OS::Sfs::Turbo", "name": "", "path": root.path + "/share"], "BackupService.9900", "resource.name"),
                (["type": "OS::Sfs::Turbo", "name": 5, "path": root.path + "/share"], "BackupService.9900", "resource.name must be a string"),
            ]
            for (resource, code, message) in cases {
                let r = try await post(client, base, token: token, ["resource": resource])
                let b = json(r.body)
                #expect(r.status == .badRequest, "\(resource): \(b)")
                #expect(b["error_code"] as? String == code, "\(resource): \(b)")
                #expect((b["error_msg"] as? String ?? "").contains(message), "\(resource): \(b)")
            }
            let first = try await post(client, base, token: token, ["resource": ["type": "OS::Cinder::Volume", "name": "d", "path": root.path + "/disk.img"]])
            #expect(first.status == .ok)
            let again = try await post(client, base, token: token, ["resource": ["type": "OS::Cinder::Volume", "name": "d2", "path": root.path + "/./disk.img"]])
            #expect(json(again.body)["error_code"] as? String == "BackupService.6103")
        }
    }

    @Test func onlyAdminsRegisterAndProjectsAreIsolated() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let a = try await server.services.identity.createProject(name: "res-a")
        let b = try await server.services.identity.createProject(name: "res-b")
        try await server.run { client in
            let adminToken = try await client.token(user: "admin", password: admin.password, project: "admin")
            let aToken = try await client.token(user: a.user_name, password: a.password, project: "res-a")
            let bToken = try await client.token(user: b.user_name, password: b.password, project: "res-b")
            // A member cannot register paths.
            let denied = try await post(client, "/v3/\(a.project_id)/coffer/resources", token: aToken, ["resource": ["type": "OS::Sfs::Turbo", "name": "s", "path": root.path + "/share"]])
            #expect(denied.status == .forbidden)
            // The service admin registers one for project A.
            let made = try await post(client, "/v3/\(admin.project_id)/coffer/resources", token: adminToken,
                                      ["resource": ["type": "OS::Sfs::Turbo", "name": "s", "path": root.path + "/share", "project_id": a.project_id]])
            #expect(made.status == .ok, "\(json(made.body))")
            let id = try #require((json(made.body)["resource"] as? [String: Any])?["id"] as? String)
            try await client.execute(uri: "/v3/\(a.project_id)/coffer/resources/\(id)", method: .get, headers: [authToken: aToken]) { r in #expect(r.status == .ok) }
            // B sees nothing of A's, by its own path (404) or A's path (403).
            try await client.execute(uri: "/v3/\(b.project_id)/coffer/resources/\(id)", method: .get, headers: [authToken: bToken]) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/v3/\(b.project_id)/coffer/resources", method: .get, headers: [authToken: bToken]) { r in #expect(json(r.body)["count"] as? Int == 0) }
            try await client.execute(uri: "/v3/\(b.project_id)/protectables/turbo/instances", method: .get, headers: [authToken: bToken]) { r in
                #expect((json(r.body)["instances"] as? [Any])?.isEmpty == true)
            }
            for (method, path) in [(HTTPRequest.Method.get, "/v3/\(a.project_id)/coffer/resources/\(id)"), (.delete, "/v3/\(a.project_id)/coffer/resources/\(id)"),
                                   (.get, "/v3/\(a.project_id)/protectables/turbo/instances")] {
                try await client.execute(uri: path, method: method, headers: [authToken: bToken]) { r in #expect(r.status == .forbidden, "\(method) \(path)") }
            }
            try await client.execute(uri: "/v3/\(b.project_id)/coffer/resources/\(id)", method: .delete, headers: [authToken: bToken]) { r in #expect(r.status == .forbidden) }
            // A non-admin project cannot assign to others.
            let other = try await post(client, "/v3/\(a.project_id)/coffer/resources", token: aToken, ["resource": ["type": "OS::Sfs::Turbo", "name": "s", "path": root.path + "/share", "project_id": b.project_id]])
            #expect(other.status == .forbidden)
        }
    }
}
