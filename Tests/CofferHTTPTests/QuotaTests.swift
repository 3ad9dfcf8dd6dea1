import CofferCatalog
import CofferModel
import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import CofferHTTP

@Suite struct ProjectQuotas {
    /// Operator-set quotas: vault count (6133), GB allocated (6101), queued or running jobs (6125).
    @Test func quotasRefuseWithDocumentedCodes() async throws {
        let root = ResourceRoot()
        let fm = FileManager.default
        for dir in ["q1", "q2"] { try fm.createDirectory(atPath: root.path + "/" + dir, withIntermediateDirectories: true) }
        let server = try await TestServer.start(resourceRoots: [root.path])
        let tenant = try await server.services.identity.createProject(name: "tenant-q", role: .admin)
        try await server.services.catalog.quotas.set(project: tenant.project_id, ProjectQuota(maxVaults: 2, maxCapacityGB: 150, maxQueuedJobs: 1))
        try await server.run { client in
            let adminToken = try await client.token(user: "admin", password: server.admin.password, project: "admin")
            let token = try await client.token(user: tenant.user_name, password: tenant.password, project: "tenant-q")
            let base = "/v3/\(tenant.project_id)"
            var shareIDs: [String] = []
            for dir in ["q1", "q2"] {
                let (_, r) = try await call(client, token: adminToken, .post, "/v3/\(server.admin.project_id)/coffer/resources",
                                            ["resource": ["type": "OS::Sfs::Turbo", "name": dir, "path": root.path + "/" + dir, "project_id": tenant.project_id]])
                shareIDs.append((r["resource"] as? [String: Any])?["id"] as? String ?? "")
            }
            let (tooBig, big) = try await call(client, token: token, .post, base + "/vaults", vaultBody(name: "big", objectType: "turbo", size: 200))
            #expect(tooBig == .badRequest && big["error_code"] as? String == "BackupService.6101", "\(big)")
            var vaultIDs: [String] = []
            for (i, id) in shareIDs.enumerated() {
                let (status, v) = try await call(client, token: token, .post, base + "/vaults", vaultBody(name: "v\(i)", objectType: "turbo", size: 50, resources: [["id": id, "type": "OS::Sfs::Turbo"]]))
                #expect(status == .ok, "\(v)")
                vaultIDs.append((v["vault"] as? [String: Any])?["id"] as? String ?? "")
            }
            let (third, t) = try await call(client, token: token, .post, base + "/vaults", vaultBody(name: "v3", objectType: "turbo", size: 10))
            #expect(third == .badRequest && t["error_code"] as? String == "BackupService.6133", "\(t)")
            // Growing a vault past the capacity quota is refused too.
            let (grow, g) = try await call(client, token: token, .put, base + "/vaults/\(vaultIDs[0])", ["vault": ["billing": ["size": 120]]])
            #expect(grow == .badRequest && g["error_code"] as? String == "BackupService.6101", "\(g)")
            // One job at a time for this project.
            let (first, _) = try await call(client, token: token, .post, base + "/checkpoints", ["checkpoint": ["vault_id": vaultIDs[0]]])
            #expect(first == .ok)
            let (second, s) = try await call(client, token: token, .post, base + "/checkpoints", ["checkpoint": ["vault_id": vaultIDs[1]]])
            #expect(second == .badRequest && s["error_code"] as? String == "BackupService.6125", "\(s)")
            try await server.services.worker.drain()
            let (after, _) = try await call(client, token: token, .post, base + "/checkpoints", ["checkpoint": ["vault_id": vaultIDs[1]]])
            #expect(after == .ok)
            try await server.services.worker.drain()
        }
    }

    /// One tenant's many queued jobs do not starve another's: the worker takes turns by project.
    @Test func theWorkerTakesTurnsByProject() async throws {
        let server = try await TestServer.start()
        let a = try await server.services.identity.createProject(name: "busy")
        let b = try await server.services.identity.createProject(name: "quiet")
        let catalog = server.services.catalog
        func enqueue(_ project: String, _ i: Int, at: Int64) async throws {
            let log = OperationLogRecord(id: "log-\(project)-\(i)", projectId: project, operationType: "restore", status: .waiting, vaultId: "v", vaultName: "v",
                                      providerId: "p", resourceId: "r", resourceName: "r", resourceType: "OS::Sfs::Turbo", checkpointId: nil, backupId: nil,
                                      progress: 0, errorCode: nil, errorMsg: nil, createdAt: at, startedAt: nil, endedAt: nil, updatedAt: at)
            let job = JobRecord(id: "job-\(project)-\(i)", projectId: project, kind: .restore, targetId: "none", operationLogId: log.id, status: .queued,
                             owner: nil, leaseUntil: nil, attempts: 0, lastError: nil, createdAt: at, updatedAt: at)
            try await catalog.operationLogs.insert(log)
            try await catalog.jobs.insert(job)
        }
        for i in 0..<20 { try await enqueue(a.project_id, i, at: 1000 + Int64(i)) }
        try await enqueue(b.project_id, 0, at: 5000)
        var order: [String] = []
        for step in 0..<4 {
            let job = try await catalog.jobs.claim(owner: "w", now: 10_000 + Int64(step), leaseUntil: 20_000)
            order.append(job?.projectId == b.project_id ? "quiet" : "busy")
        }
        // Busy's oldest first (nobody has had a turn), then quiet's, although 19 of busy's are older.
        #expect(order == ["busy", "quiet", "busy", "busy"], "\(order)")
        await server.stop()
    }
}
