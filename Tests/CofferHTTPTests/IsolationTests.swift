import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// The isolation matrix over every CBR, CSBS and RDS route: project B, with
/// A's ids, gets 403 on A's paths and 404 on its own, and A's objects are
/// all still there afterwards.
@Suite struct IsolationOfEveryRoute {
    @Test func anotherProjectNeverReachesTheseObjects() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let identity = services.identity
        let a = try await identity.createProject(name: "tenant-a")
        let b = try await identity.createProject(name: "tenant-b")
        try await server.run { client in
            let adminToken = try await client.token(user: "admin", password: admin.password, project: "admin")
            let aToken = try await client.token(user: a.user_name, password: a.password, project: "tenant-a")
            let bToken = try await client.token(user: b.user_name, password: b.password, project: "tenant-b")
            let vA = "/v3/\(a.project_id)", v1A = "/v1/\(a.project_id)"
            func register(_ resource: [String: Any]) async throws -> [String: Any] {
                let (status, body) = try await registerFor(client, admin: admin, adminToken: adminToken, project: a.project_id, resource)
                #expect(status == .ok, "\(body)")
                return body
            }
            // A's objects: a directory in a vault with a backup, a protected server, a database instance with a (failed) backup.
            let share = try await register(["type": "OS::Sfs::Turbo", "name": "share", "path": root.path + "/share"])
            let shareID = share["id"] as? String ?? ""
            let vm = try await register(["type": "OS::Nova::Server", "name": "vm", "disks": [["name": "d", "path": root.path + "/vm-root.img"]]])
            let vmID = vm["id"] as? String ?? ""
            let db = try await register(["type": "rds", "name": "pg", "engine": "PostgreSQL", "connection": "postgresql://u:p@127.0.0.1:1/db"])
            let dbID = db["id"] as? String ?? ""
            let (_, vault) = try await call(client, token: aToken, .post, vA + "/vaults", vaultBody(name: "a-files", objectType: "turbo", resources: [["id": shareID, "type": "OS::Sfs::Turbo"]]))
            let vaultID = (vault["vault"] as? [String: Any])?["id"] as? String ?? ""
            let (_, cp) = try await call(client, token: aToken, .post, vA + "/checkpoints", ["checkpoint": ["vault_id": vaultID]])
            let checkpointID = (cp["checkpoint"] as? [String: Any])?["id"] as? String ?? ""
            let provider = CSBSProtection.provider
            let (_, protected) = try await call(client, token: aToken, .post, v1A + "/providers/\(provider)/resources/\(vmID)/action", ["protect": [:] as [String: Any]])
            let csbsCheckpoint = (protected["checkpoint"] as? [String: Any])?["id"] as? String ?? ""
            let (_, rdsBackup) = try await call(client, token: aToken, .post, vA + "/backups", ["instance_id": dbID, "name": "a-backup"])
            let rdsBackupID = (rdsBackup["backup"] as? [String: Any])?["id"] as? String ?? ""
            try await services.worker.drain()
            let (_, backups) = try await call(client, token: aToken, .get, vA + "/backups?checkpoint_id=\(checkpointID)")
            let backupID = (backups["backups"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            let (_, items) = try await call(client, token: aToken, .get, v1A + "/checkpoint_items")
            let itemID = (items["checkpoint_items"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            let (_, logs) = try await call(client, token: aToken, .get, vA + "/operation-logs")
            let logID = (logs["operation_logs"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            let (_, policy) = try await call(client, token: aToken, .post, vA + "/policies", policyBody(name: "a-policy"))
            let policyID = (policy["policy"] as? [String: Any])?["id"] as? String ?? ""
            let (bound, _) = try await call(client, token: aToken, .post, vA + "/vaults/\(vaultID)/associatepolicy", ["policy_id": policyID])
            #expect(bound == .ok)
            #expect(![shareID, vmID, dbID, vaultID, checkpointID, csbsCheckpoint, rdsBackupID, backupID, itemID, logID, policyID].contains(""))
            let agentID = "agent-of-a"
            let (agentMade, _) = try await call(client, token: aToken, .post, vA + "/agents",
                                                ["agent": ["agent_id": agentID, "host_name": "a-host", "host_ip": "10.0.0.1", "host_os": "Linux"]])
            #expect(agentMade == .ok)
            #expect(try await call(client, token: aToken, .post, vA + "/agents/\(agentID)/add-path", ["add_path": ["/srv/a"]]).0 == .ok)

            // Every route, with A's ids: under A's project path 403, under B's own 404 (400 where a body names A's ids, 403 where B's role may not act at all).
            let routes: [(HTTPRequest.Method, String, Any?)] = [
                (.get, "/coffer/resources/\(shareID)", nil), (.put, "/coffer/resources/\(shareID)", ["resource": ["name": "x"]]),
                (.delete, "/coffer/resources/\(shareID)", nil), (.get, "/protectables/turbo/instances/\(shareID)", nil),
                (.get, "/vaults/\(vaultID)", nil), (.put, "/vaults/\(vaultID)", ["vault": ["name": "x"]]), (.delete, "/vaults/\(vaultID)", nil),
                (.post, "/vaults/\(vaultID)/addresources", ["resources": [["id": shareID, "type": "OS::Sfs::Turbo"]]]),
                (.post, "/vaults/\(vaultID)/removeresources", ["resource_ids": [shareID]]),
                (.post, "/coffer/vaults/\(vaultID)/verify", ["verify": ["subset": "next/1"]]),
                (.post, "/checkpoints", ["checkpoint": ["vault_id": vaultID]]), (.get, "/checkpoints/\(checkpointID)", nil),
                (.get, "/backups/\(backupID)", nil), (.put, "/backups/\(backupID)", ["backup": ["name": "x"]]), (.delete, "/backups/\(backupID)", nil),
                (.post, "/backups/\(backupID)/restore", ["restore": [:] as [String: Any]]), (.get, "/operation-logs/\(logID)", nil),
                (.get, "/backups?instance_id=\(dbID)", nil), (.post, "/backups", ["instance_id": dbID, "name": "b-backup"]), (.delete, "/backups/\(rdsBackupID)", nil),
                (.get, "/instances/\(dbID)/backups/policy", nil), (.put, "/instances/\(dbID)/backups/policy", ["backup_policy": ["keep_days": 1, "start_time": "01:00-02:00"]]),
                (.post, "/instances/recovery", ["source": ["type": "backup", "backup_id": rdsBackupID], "target": ["instance_id": dbID]]),
                (.get, "/jobs?id=\(logID)", nil),
                (.get, "/policies/\(policyID)", nil), (.put, "/policies/\(policyID)", ["policy": ["name": "x"]]), (.delete, "/policies/\(policyID)", nil),
                (.get, "/vault/\(vaultID)/tags", nil), (.post, "/vault/\(vaultID)/tags", ["tag": ["key": "k", "value": "v"]]),
                (.post, "/vault/\(vaultID)/tags/action", ["action": "delete", "tags": [["key": "k"]]]), (.delete, "/vault/\(vaultID)/tags/k", nil),
                (.post, "/vaults/\(vaultID)/associatepolicy", ["policy_id": policyID]), (.post, "/vaults/\(vaultID)/dissociatepolicy", ["policy_id": policyID]),
                (.get, "/agents/\(agentID)", nil), (.put, "/agents/\(agentID)", ["agent": ["status": "uninstalled"]]), (.delete, "/agents/\(agentID)", nil),
                (.post, "/agents/\(agentID)/add-path", ["add_path": ["/srv/b"]]), (.post, "/agents/\(agentID)/remove-path", ["remove_path": ["/srv/a"]]),
                (.post, "/vaults", ["vault": ["name": "b-vault", "backup_policy_id": policyID, "resources": [] as [Any],
                                              "billing": ["consistent_level": "crash_consistent", "object_type": "turbo", "protect_type": "backup", "size": 10]]]),
            ]
            let csbsRoutes: [(HTTPRequest.Method, String, Any?)] = [
                (.post, "/providers/\(provider)/resources/\(vmID)/action", ["protect": [:] as [String: Any]]),
                (.get, "/checkpoint_items/\(itemID)", nil), (.delete, "/providers/\(provider)/checkpoints/\(csbsCheckpoint)", nil),
                (.post, "/restores", ["restore": ["checkpoint_id": csbsCheckpoint, "parameters": ["checkpoint_item_id": itemID]]]),
            ]
            for (prefixA, prefixB, list) in [(vA, "/v3/\(b.project_id)", routes), (v1A, "/v1/\(b.project_id)", csbsRoutes)] {
                for (method, path, body) in list {
                    let (onA, aBody) = try await call(client, token: bToken, method, prefixA + path, body)
                    #expect(onA == .forbidden, "\(method) A's \(path): \(onA) \(aBody)")
                    let (onB, bBody) = try await call(client, token: bToken, method, prefixB + path, body)
                    #expect(onB == .notFound || onB == .badRequest || onB == .forbidden, "\(method) \(path) with A's ids in B: \(onB) \(bBody)")
                    #expect(!"\(bBody)".contains(a.project_id), "\(path) leaks A's project id")
                }
            }
            // B's listings show none of A's objects.
            for path in ["/v3/\(b.project_id)/coffer/resources", "/v3/\(b.project_id)/vaults", "/v3/\(b.project_id)/backups", "/v3/\(b.project_id)/operation-logs",
                         "/v1/\(b.project_id)/checkpoint_items", "/v3/\(b.project_id)/protectables/turbo/instances",
                         "/v3/\(b.project_id)/policies", "/v3/\(b.project_id)/policies?vault_id=\(vaultID)",
                         "/v3/\(b.project_id)/agents", "/v3/\(b.project_id)/agents?agent_id=\(agentID)"] {
                let (status, body) = try await call(client, token: bToken, .get, path)
                #expect(status == .ok && !"\(body)".contains(a.project_id) && !"\(body)".contains(shareID) && !"\(body)".contains("a-host"), "\(path): \(body)")
            }
            // B's check does not see A's agent.
            let (_, bCheck) = try await call(client, token: bToken, .post, "/v3/\(b.project_id)/agent/check",
                                             ["agent_status": [["resource_id": agentID, "resource_type": "OS::Nova::Server"]]])
            #expect((bCheck["agent_status"] as? [[String: Any]])?.first?["installed"] as? Bool == false, "\(bCheck)")
            // A's objects are all still there.
            for path in [vA + "/coffer/resources/\(shareID)", vA + "/vaults/\(vaultID)", vA + "/backups/\(backupID)", vA + "/checkpoints/\(checkpointID)",
                         v1A + "/checkpoint_items/\(itemID)", vA + "/instances/\(dbID)/backups/policy", vA + "/operation-logs/\(logID)", vA + "/policies/\(policyID)",
                         vA + "/agents/\(agentID)"] {
                let (status, _) = try await call(client, token: aToken, .get, path)
                #expect(status == .ok, "A lost \(path)")
            }
            let (_, aVault) = try await call(client, token: aToken, .get, vA + "/vaults/\(vaultID)")
            #expect((aVault["vault"] as? [String: Any])?["policy_id"] as? String == policyID, "B unbound A's policy")
            let (_, aAgent) = try await call(client, token: aToken, .get, vA + "/agents/\(agentID)")
            let aPaths = ((aAgent["agent"] as? [String: Any])?["paths"] as? [[String: Any]])?.compactMap { $0["dir_path"] as? String }
            #expect(aPaths == ["/srv/a"] && (aAgent["agent"] as? [String: Any])?["status"] as? String == "online", "B changed A's agent: \(aAgent)")
            let (_, rdsList) = try await call(client, token: aToken, .get, vA + "/backups?instance_id=\(dbID)")
            #expect(rdsList["total_count"] as? Int == 1)
        }
    }
}

