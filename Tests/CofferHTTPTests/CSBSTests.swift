import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

@Suite struct CSBSProtection {
    static let provider = "fc4d5750-22e7-4798-8a46-f48f62c4c1da"

    @Test func protectListRestoreDeleteLikeTheClients() async throws {
        let root = ResourceRoot()
        let original = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let h = FileHandle(forWritingAtPath: root.path + "/vm-data.img")!
        h.seek(toFileOffset: 4096); h.write(original); h.closeFile()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let v3 = "/v3/\(admin.project_id)", v1 = "/v1/\(admin.project_id)"
        let provider = CSBSProtection.provider
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            let srv = try await post(client, v3 + "/coffer/resources", token: token, ["resource": ["type": "OS::Nova::Server", "name": "vm1", "disks": [
                ["name": "root", "path": root.path + "/vm-root.img", "bootable": true], ["name": "data", "path": root.path + "/vm-data.img"]]]])
            let serverBody = json(srv.body)["resource"] as? [String: Any] ?? [:]
            let serverID = try #require(serverBody["id"] as? String)
            let protectPath = v1 + "/providers/\(provider)/resources/\(serverID)/action"

            // Capability check as Terraform does first.
            let (_, checked) = try await call(.post, v1 + "/providers/\(provider)/resources/action",
                                              ["check_protectable": [["resource_id": serverID, "resource_type": "OS::Nova::Server"], ["resource_id": "nope", "resource_type": "OS::Nova::Server"]]])
            let results = checked["protectable"] as? [[String: Any]] ?? []
            #expect(results.count == 2 && results[0]["result"] as? Bool == true)
            #expect(results[1]["result"] as? Bool == false && results[1]["error_code"] as? String == "CSBS.6000")

            // Validation per seed 001, each naming the field.
            let bad: [([String: Any], String)] = [
                (["backup_name": "bad name"], "protect.backup_name"), (["backup_name": String(repeating: "a", count: 256)], "protect.backup_name"),
                (["description": "<b>"], "protect.description"), (["tags": [["key": "a", "value": "1"], ["key": "a", "value": "2"]]], "protect.tags[1].key"),
                (["tags": (0..<11).map { ["key": "k\($0)", "value": "v"] }], "protect.tags"), (["tags": [["key": String(repeating: "k", count: 37), "value": "v"]]], "protect.tags[0].key"),
                (["tags": [["key": "k", "value": String(repeating: "v", count: 44)]]], "protect.tags[0].value"), (["incremental": "yes"], "protect.incremental"),
            ]
            for (body, field) in bad {
                let (status, e) = try await call(.post, protectPath, ["protect": body])
                #expect(status == .badRequest && e["error_code"] as? String == "CSBS.1000" && (e["error_msg"] as? String ?? "").contains(field), "\(body): \(e)")
            }
            let (badProvider, bp) = try await call(.post, v1 + "/providers/other/resources/\(serverID)/action", ["protect": [:] as [String: Any]])
            #expect(badProvider == .badRequest && bp["error_code"] as? String == "CSBS.9001")
            let (missing, m) = try await call(.post, v1 + "/providers/\(provider)/resources/nope/action", ["protect": [:] as [String: Any]])
            #expect(missing == .notFound && m["error_code"] as? String == "CSBS.6000")

            // Protect: the checkpoint as seed 001 shows it, the item listable at once as protecting.
            let (ok, protected) = try await call(.post, protectPath, ["protect": ["backup_name": "backup", "description": "backup des", "extra_info": [:] as [String: Any],
                                                                                 "tags": [["key": " env ", "value": "prod"]]]])
            #expect(ok == .ok, "\(protected)")
            let checkpoint = try #require(protected["checkpoint"] as? [String: Any])
            #expect(checkpoint["status"] as? String == "protecting" && checkpoint["resource_graph"] is NSNull && checkpoint["extra_info"] is NSNull)
            let plan = checkpoint["protection_plan"] as? [String: Any] ?? [:]
            #expect((plan["id"] as? String ?? "").hasPrefix("fake_") && plan["name"] as? String == "server protect plan for \(serverID)")
            #expect((plan["resources"] as? [[String: Any]])?.first?["type"] as? String == "OS::Nova::Server")
            let checkpointID = try #require(checkpoint["id"] as? String)
            let (_, listed) = try await call(.get, v1 + "/checkpoint_items?checkpoint_id=\(checkpointID)")
            let items = listed["checkpoint_items"] as? [[String: Any]] ?? []
            #expect(items.count == 1 && items.first?["status"] as? String == "protecting")
            let itemID = try #require(items.first?["id"] as? String)
            let (busy, b) = try await call(.post, protectPath, ["protect": [:] as [String: Any]])
            #expect(busy == .badRequest && b["error_code"] as? String == "CSBS.1002")

            #expect(try await services.worker.drain() == 1)
            let (_, shown) = try await call(.get, v1 + "/checkpoint_items/\(itemID)")
            let item = try #require(shown["checkpoint_item"] as? [String: Any])
            #expect(item["status"] as? String == "available" && item["checkpoint_id"] as? String == checkpointID && item["name"] as? String == "backup")
            #expect((item["tags"] as? [[String: Any]])?.first?["key"] as? String == "env")
            let extend = item["extend_info"] as? [String: Any] ?? [:]
            #expect(extend["progress"] as? Int == 100 && extend["fail_reason"] as? String == "" && (extend["fail_code"] as? [String: Any])?.isEmpty == true)
            let volumeBackups = extend["volume_backups"] as? [[String: Any]] ?? []
            #expect(volumeBackups.count == 2 && volumeBackups.allSatisfy { $0["status"] as? String == "available" && $0["size"] is Int })
            #expect(!((extend["taskid"] as? String) ?? "").isEmpty && extend["hypervisor_type"] as? String == "QEMU")

            // The same backup in CBR: a server backup with its disks, in the project's CSBS vault.
            let (_, cbr) = try await call(.get, v3 + "/backups/\(itemID)")
            let cbrBackup = cbr["backup"] as? [String: Any] ?? [:]
            #expect(cbrBackup["resource_type"] as? String == "OS::Nova::Server" && (cbrBackup["children"] as? [Any])?.count == 2)
            let (_, vaultList) = try await call(.get, v3 + "/vaults?name=csbs_server_backups")
            #expect((vaultList["vaults"] as? [[String: Any]])?.first?["auto_expand"] as? Bool == true)

            // Filters and count.
            for (query, count) in [("", 1), ("?status=available", 1), ("?status=deleted", 0), ("?resource_id=\(serverID)", 1), ("?name=back", 1),
                                   ("?resource_name=vm", 1), ("?resource_type=OS::Nova::Server&resource_type=OS::Ironic::BareMetalServer", 1), ("?policy_id=p", 0)] {
                let (_, c) = try await call(.get, v1 + "/checkpoint_items/count" + query)
                #expect(c["count"] as? Int == count, "count\(query)")
                let (_, l) = try await call(.get, v1 + "/checkpoint_items" + query)
                #expect((l["checkpoint_items"] as? [Any])?.count == count, "list\(query)")
            }
            let (badStatus, _) = try await call(.get, v1 + "/checkpoint_items?status=nice")
            #expect(badStatus == .badRequest)
            let (noItem, ni) = try await call(.get, v1 + "/checkpoint_items/nope")
            #expect(noItem == .notFound && ni["error_code"] as? String == "CSBS.3001")

            // Restore: wipe the data disk, restore onto the server's own disks.
            let wipe = FileHandle(forWritingAtPath: root.path + "/vm-data.img")!
            wipe.seek(toFileOffset: 4096); wipe.write(Data(count: original.count)); wipe.closeFile()
            let disks = serverBody["disks"] as? [[String: Any]] ?? []
            let (_, restorable) = try await call(.post, v1 + "/providers/\(provider)/resources/action", ["check_restorable": [
                ["checkpoint_item_id": itemID, "target": ["resource_id": serverID, "resource_type": "OS::Nova::Server",
                                                          "volumes": [["backup_id": volumeBackups[0]["id"] as? String ?? "", "volume_id": disks[0]["id"] as? String ?? ""]]]]]])
            #expect((restorable["restorable"] as? [[String: Any]])?.first?["result"] as? Bool == true, "\(restorable)")
            let (restoreStatus, restore) = try await call(.post, v1 + "/restores", ["restore": ["provider_id": provider, "checkpoint_id": checkpointID,
                                                                                               "parameters": ["checkpoint_item_id": itemID, "power_on": true]]])
            #expect(restoreStatus == .ok && (restore["restore"] as? [String: Any])?["status"] as? String == "in_progress", "\(restore)")
            try await services.worker.drain()
            let disk = try FileHandle(forReadingFrom: URL(fileURLWithPath: root.path + "/vm-data.img"))
            disk.seek(toFileOffset: 4096)
            let restored = disk.readData(ofLength: original.count) == original
            #expect(restored)

            // Quotas.
            let (_, quotas) = try await call(.get, v1 + "/quotas")
            let quota = (quotas["quotas"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []
            #expect(quota.first { $0["type"] as? String == "backups" }?["used"] as? Int == 1)

            // Delete as Terraform loops: 200 {} then 200 while deleting, GET 404 once gone, DELETE 404 after.
            let deletePath = v1 + "/providers/\(provider)/checkpoints/\(checkpointID)"
            let (d1, d1Body) = try await call(.delete, deletePath)
            #expect(d1 == .ok && d1Body.isEmpty)
            let (d2, _) = try await call(.delete, deletePath + "?checkpoint_items=\(itemID)")
            #expect(d2 == .ok)
            let (_, deleting) = try await call(.get, v1 + "/checkpoint_items/\(itemID)")
            #expect((deleting["checkpoint_item"] as? [String: Any])?["status"] as? String == "deleting")
            try await services.worker.drain()
            let (gone, _) = try await call(.get, v1 + "/checkpoint_items/\(itemID)")
            #expect(gone == .notFound)
            let (again, againBody) = try await call(.delete, deletePath)
            #expect(again == .notFound && againBody["error_code"] as? String == "CSBS.3001")
        }
    }

    @Test func otherProjectsSeeNothing() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let srv = try await post(client, "/v3/\(admin.project_id)/coffer/resources", token: token, ["resource": ["type": "OS::Nova::Server", "name": "vm1", "disks": [
                ["name": "root", "path": root.path + "/vm-root.img", "bootable": true]]]])
            let serverID = (json(srv.body)["resource"] as? [String: Any])?["id"] as? String ?? ""
            let p = try await server.services.identity.createProject(name: "other")
            let other = try await client.token(user: p.user_name, password: p.password, project: "other")
            // Another project's server does not exist for this one; paths naming the first project are refused.
            try await client.execute(uri: "/v1/\(p.project_id)/providers/\(CSBSProtection.provider)/resources/\(serverID)/action", method: .post,
                                     headers: [authToken: other, .contentType: "application/json"], body: bodyBuffer(["protect": [:] as [String: Any]])) { r in
                #expect(r.status == .notFound && json(r.body)["error_code"] as? String == "CSBS.6000")
            }
            for (method, path) in [(HTTPRequest.Method.get, "/v1/\(admin.project_id)/checkpoint_items"), (.get, "/v1/\(admin.project_id)/quotas"),
                                   (.post, "/v1/\(admin.project_id)/restores")] {
                try await client.execute(uri: path, method: method, headers: [authToken: other]) { r in #expect(r.status == .forbidden, "\(path)") }
            }
            try await client.execute(uri: "/v1/\(p.project_id)/checkpoint_items?all_tenants=1", method: .get, headers: [authToken: other]) { r in
                #expect(r.status == .forbidden)
            }
        }
    }
}
