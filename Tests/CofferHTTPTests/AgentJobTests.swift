import CofferBlobStore
import CofferCrypto
import CofferEngine
import CofferRepository
import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// An agent's jobs over the wire, driven the way a hostile or broken agent
/// could: only its own agent claims a job; uploads are checked (names, session,
/// content); a finished or taken-back job takes nothing more; a wrong result
/// fails the job with the reason; an agent that never comes fails the job
/// after the wait; a lost lease hands the job out again under a new session.
@Suite struct AgentJobsUnderAttack {
    struct Agent {
        let client: any TestClientProtocol
        let token: String
        let base: String

        func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
            try await CofferTestSupport.call(client, token: token, method, base + uri, body)
        }

        func put(_ uri: String, _ data: Data) async throws -> HTTPResponse.Status {
            try await client.execute(uri: base + uri, method: .put, headers: [.authToken: token, .contentType: "application/octet-stream"],
                                     body: ByteBuffer(bytes: data)).status
        }

        func claim() async throws -> [String: Any]? {
            let (status, body) = try await call(.post, "/agents/host-1/jobs/claim", ["wait_seconds": 0])
            #expect(status == .ok, "\(body)")
            return body["job"] as? [String: Any]
        }

        /// Backs `source` up as the job's writer would, into memory; returns the objects and the snapshot id.
        func write(_ job: [String: Any], source: String) async throws -> (objects: [(String, Data)], snapshot: String) {
            let grant = try #require(WriterGrant(fields: job["repository"] as? [String: String] ?? [:]))
            let part = try #require((job["parts"] as? [[String: Any]])?.first)
            let memory = MemoryBlobStore()
            let writer = try Repository.writer(store: memory, grant: grant, presence: nil)
            var options = BackupOptions()
            options.parent = .none
            options.tags = part["tags"] as? [String] ?? []
            let result = try await Archiver(repository: writer).backup(path: source, options: options)
            var objects: [(String, Data)] = []
            for prefix in ["data/", "index/", "snapshots/"] {
                for info in try await memory.list(prefix: prefix) { objects.append((info.key, try await memory.get(info.key))) }
            }
            return (objects, result.snapshotID.hex)
        }

        func upload(_ job: String, _ objects: [(String, Data)]) async throws {
            for (key, data) in objects {
                let parts = key.split(separator: "/")
                #expect(try await put("/agents/host-1/jobs/\(job)/objects/\(parts.first!)/\(parts.last!)", data) == .created, "\(key)")
            }
        }
    }

    @Test func onlyItsAgentRunsTheJobAndEveryObjectIsChecked() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-agent-src-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: source + "/sub", withIntermediateDirectories: true)
        try Data("agent data".utf8).write(to: URL(fileURLWithPath: source + "/sub/a.txt"))
        try Data(repeating: 7, count: 300_000).write(to: URL(fileURLWithPath: source + "/b.bin"))
        defer { try? FileManager.default.removeItem(atPath: source) }
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let agent = Agent(client: client, token: token, base: base)
            #expect(try await agent.call(.post, "/agents", ["agent": ["agent_id": "host-1", "host_name": "db", "host_ip": "192.0.2.9", "host_os": "Linux"]]).0 == .ok)
            #expect(try await agent.call(.post, "/agents/host-1/add-path", ["add_path": [source]]).0 == .ok)
            let (_, shown) = try await agent.call(.get, "/agents/host-1")
            let resourceID = try #require((((shown["agent"] as? [String: Any])?["paths"] as? [[String: Any]])?.first)?["id"] as? String)
            let (_, resource) = try await agent.call(.get, "/coffer/resources/\(resourceID)")
            #expect((resource["resource"] as? [String: Any])?["agent_id"] as? String == "host-1", "an agent path is a resource on that agent: \(resource)")
            let (_, vault) = try await agent.call(.post, "/vaults", vaultBody(name: "hosts", objectType: "turbo", resources: [["id": resourceID, "type": "OS::Sfs::Turbo"]]))
            let vaultID = try #require((vault["vault"] as? [String: Any])?["id"] as? String)
            func checkpoint() async throws -> String {
                let (_, cp) = try await agent.call(.post, "/checkpoints", ["checkpoint": ["vault_id": vaultID]])
                let id = (cp["checkpoint"] as? [String: Any])?["id"] as? String ?? ""
                let (_, list) = try await agent.call(.get, "/backups?checkpoint_id=\(id)")
                return ((list["backups"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
            }
            func backup(_ id: String) async throws -> [String: Any] { try await agent.call(.get, "/backups/\(id)").1["backup"] as? [String: Any] ?? [:] }
            func logOf(_ backupID: String) async throws -> [String: Any] {
                let (_, logs) = try await agent.call(.get, "/operation-logs?operation_type=backup")
                return (logs["operation_logs"] as? [[String: Any]] ?? []).first { ($0["extra_info"] as? [String: Any]).flatMap { ($0["backup"] as? [String: Any])?["backup_id"] as? String } == backupID } ?? [:]
            }

            // Queued for the agent: the server's workers never take it; the log says whom it waits for.
            let first = try await checkpoint()
            #expect(try await server.services.worker.drain() == 0)
            #expect(try await backup(first)["status"] as? String == "protecting")
            let waiting = try await logOf(first)
            #expect(waiting["status"] as? String == "waiting")
            #expect(((waiting["extra_info"] as? [String: Any])?["common"] as? [String: Any])?["message"] as? String == "waiting for agent host-1", "\(waiting)")
            // Another agent of the project, and an unknown one, get nothing.
            #expect(try await agent.call(.post, "/agents", ["agent": ["agent_id": "host-2", "host_name": "web", "host_ip": "192.0.2.8", "host_os": "Linux"]]).0 == .ok)
            #expect(try await agent.call(.post, "/agents/host-2/jobs/claim", ["wait_seconds": 0]).1["job"] == nil)
            #expect(try await agent.call(.post, "/agents/nobody/jobs/claim", [:]).0 == .notFound)

            let job = try #require(try await agent.claim())
            let jobID = try #require(job["job_id"] as? String)
            #expect(job["kind"] as? String == "backup" && job["backup_id"] as? String == first)
            #expect(((job["parts"] as? [[String: Any]])?.first)?["path"] as? String == source)
            let grant = try #require(WriterGrant(fields: job["repository"] as? [String: String] ?? [:]))
            #expect(try await logOf(first)["status"] as? String == "running")
            let (objects, snapshot) = try await agent.write(job, source: source)
            let pack = try #require(objects.first { $0.0.hasPrefix("data/") })

            // Refused: a name that is not the content's hash, an unknown kind, a pack sealed with a key not the session's, bad ids.
            #expect(try await agent.put("/agents/host-1/jobs/\(jobID)/objects/data/" + String(repeating: "0", count: 64), pack.1) == .badRequest)
            #expect(try await agent.put("/agents/host-1/jobs/\(jobID)/objects/keys/" + Hash256.sha256(pack.1).hex, pack.1) == .badRequest)
            var forged = grant
            forged.sessionKey = Array(repeating: 1, count: 32)
            let forger = try Repository.writer(store: MemoryBlobStore(), grant: forged, presence: nil)
            let forgedStore = forger.store
            _ = try await Archiver(repository: forger).backup(path: source, options: { var o = BackupOptions(); o.parent = .none; return o }())
            let forgedPack = try #require(try await forgedStore.list(prefix: "data/").first)
            let forgedData = try await forgedStore.get(forgedPack.key)
            #expect(try await agent.put("/agents/host-1/jobs/\(jobID)/objects/data/" + Hash256.sha256(forgedData).hex, forgedData) == .badRequest)
            #expect(try await agent.call(.post, "/agents/host-1/jobs/\(jobID)/held", ["ids": ["nothex"]]).0 == .badRequest)
            #expect(try await agent.call(.post, "/agents/host-1/jobs/\(jobID)/held", ["ids": Array(repeating: String(repeating: "a", count: 64), count: 10_001)]).0 == .badRequest)
            // Signed with AK/SK, as `coffer agent` sends them: the payload hash it signs is the
            // object's name, checked against the body by the auth middleware, so the object
            // is not hashed again; a name that is not the body's hash is still refused.
            let objectURI = "\(base)/agents/host-1/jobs/\(jobID)/objects/data/"
            let packName = String(pack.0.split(separator: "/").last!)
            func signedPut(_ name: String, _ body: Data, claiming: String, ak: String = admin.access_key, sk: String = admin.secret_key) async throws -> HTTPResponse.Status {
                try await client.signedBytes(objectURI + name, method: .put, ak: ak, sk: sk, body: body, sha256: claiming, date: server.clock.now()).status
            }
            #expect(try await signedPut(String(repeating: "0", count: 64), pack.1, claiming: Hash256.sha256(pack.1).hex) == .badRequest)
            #expect(try await signedPut(packName, forgedData, claiming: packName) == .unauthorized, "the signed hash is not the body's")
            // Signed payload hashes that are not a SHA-256 at all: refused before anything reads them.
            for claim in ["", ":", "\u{0}", String(repeating: "a", count: 100_000), "-1", packName + packName, "ÿ\u{FFFD}"] {
                #expect(try await signedPut(packName, pack.1, claiming: claim) == .unauthorized, "claim of \(claim.utf8.count) bytes")
            }
            // Another project's key, signing an honest upload into this project's job: refused by project.
            let other = try await server.services.identity.createProject(name: "other-tenant", role: .admin)
            #expect(try await signedPut(packName, pack.1, claiming: packName, ak: other.access_key, sk: other.secret_key) == .forbidden)
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
            #expect(try await signedPut(packName, pack.1, claiming: packName) == .created)
            // Another agent cannot report on it.
            #expect(try await agent.call(.post, "/agents/host-2/jobs/\(jobID)/progress", ["percent": 5]).0 == .notFound)

            try await agent.upload(jobID, objects.filter { $0.0 != pack.0 })
            #expect(try await agent.call(.post, "/agents/host-1/jobs/\(jobID)/progress", ["percent": 50]).0 == .noContent)
            let (held, heldBody) = try await agent.call(.post, "/agents/host-1/jobs/\(jobID)/held", ["ids": [snapshot, String(repeating: "b", count: 64)]])
            #expect(held == .ok && heldBody["held"] as? [String] == [], "a snapshot id is not a blob; an unknown id is not held")
            let (done, doneBody) = try await agent.call(.post, "/agents/host-1/jobs/\(jobID)/complete", ["snapshots": [first: snapshot]])
            #expect(done == .noContent, "\(doneBody)")
            #expect(try await backup(first)["status"] as? String == "available")
            #expect(try await logOf(first)["status"] as? String == "success")
            // Finished: nothing more is taken for it.
            #expect(try await agent.put("/agents/host-1/jobs/\(jobID)/objects/\(pack.0.split(separator: "/").first!)/\(pack.0.split(separator: "/").last!)", pack.1) == .conflict)
            let after = try await agent.call(.post, "/agents/host-1/jobs/\(jobID)/progress", ["percent": 60])
            #expect(after.0 == .conflict, "\(after)")

            // A restore in place goes to the agent, which reads only this restore's snapshot and blobs, as plaintext from the server.
            #expect(try await agent.call(.post, "/backups/\(first)/restore", ["restore": ["resource_id": resourceID]]).0 == .accepted)
            #expect(try await server.services.worker.drain() == 0)
            let restoreJob = try #require(try await agent.claim())
            let restoreID = restoreJob["job_id"] as? String ?? ""
            #expect(restoreJob["kind"] as? String == "restore" && (restoreJob["repository"] as? [String: String])?["session_key"] == nil)
            #expect(((restoreJob["items"] as? [[String: Any]])?.first)?["target_path"] as? String == source)
            #expect(try await agent.call(.get, "/agents/host-1/jobs/\(restoreID)/snapshots/\(snapshot)").0 == .ok)
            #expect(try await agent.call(.get, "/agents/host-1/jobs/\(restoreID)/snapshots/" + String(repeating: "c", count: 64)).0 == .notFound)
            #expect(try await agent.call(.post, "/agents/host-1/jobs/\(restoreID)/blobs", ["ids": [String(repeating: "d", count: 64)]]).0 == .badRequest)
            #expect(try await agent.call(.post, "/agents/host-1/jobs/\(jobID)/blobs", ["ids": [snapshot]]).0 == .conflict, "a finished backup job reads nothing")
            let reported = try await agent.call(.post, "/agents/host-1/jobs/\(restoreID)/complete", ["errors": ["/x: no space left"]])
            #expect(reported.0 == .noContent, "\(reported)")
            let (_, restoreLogs) = try await agent.call(.get, "/operation-logs?operation_type=restore")
            #expect("\(restoreLogs)".contains("restore incomplete: /x: no space left"), "\(restoreLogs)")
            #expect(try await backup(first)["status"] as? String == "available")

            // Migrating a host: restored onto a directory of another agent (restore.resource_id), that agent's job.
            #expect(try await agent.call(.post, "/agents/host-2/add-path", ["add_path": ["/srv/new-host"]]).0 == .ok)
            let (_, host2) = try await agent.call(.get, "/agents/host-2")
            let host2Resource = try #require((((host2["agent"] as? [String: Any])?["paths"] as? [[String: Any]])?.first)?["id"] as? String)
            let (migrate, migrateBody) = try await agent.call(.post, "/backups/\(first)/restore",
                                                              ["restore": ["resource_id": host2Resource, "details": ["destination_path": "/srv/new-host/copy"]]])
            #expect(migrate == .accepted, "\(migrateBody)")
            #expect(try await agent.claim() == nil, "not the first agent's job")
            let (_, moved) = try await agent.call(.post, "/agents/host-2/jobs/claim", ["wait_seconds": 0])
            let movedJob = try #require(moved["job"] as? [String: Any])
            #expect(((movedJob["items"] as? [[String: Any]])?.first)?["target_path"] as? String == "/srv/new-host/copy")
            #expect(((movedJob["items"] as? [[String: Any]])?.first)?["resource_path"] as? String == "/srv/new-host")
            #expect(try await agent.call(.post, "/agents/host-2/jobs/\(movedJob["job_id"] as? String ?? "")/complete", ["errors": [String]()]).0 == .noContent)

            // A result that is not the job's own (the first job's snapshot, another session): the job fails with the reason.
            let second = try await checkpoint()
            let secondJob = try #require(try await agent.claim())
            let (wrong, _) = try await agent.call(.post, "/agents/host-1/jobs/\(secondJob["job_id"] as? String ?? "")/complete", ["snapshots": [second: snapshot]])
            #expect(wrong == .badRequest)
            #expect(try await backup(second)["status"] as? String == "error")
            let secondLog = try await logOf(second)
            #expect("\(secondLog)".contains("is not this job"), "\(secondLog)")

            // A lost lease: the job goes back to the queue and is handed out again under a new session.
            let third = try await checkpoint()
            let thirdJob = try #require(try await agent.claim())
            server.clock.advance(by: 120)
            #expect(try await server.services.worker.drain() == 0)
            let again = try #require(try await agent.claim())
            #expect(again["job_id"] as? String == thirdJob["job_id"] as? String)
            #expect((again["repository"] as? [String: String])?["session"] != (thirdJob["repository"] as? [String: String])?["session"])
            let (staleObjects, _) = try await agent.write(thirdJob, source: source)
            let stalePack = try #require(staleObjects.first { $0.0.hasPrefix("data/") && !objects.map(\.0).contains($0.0) } ?? staleObjects.first { $0.0.hasPrefix("index/") })
            let staleParts = stalePack.0.split(separator: "/")
            #expect(try await agent.put("/agents/host-1/jobs/\(thirdJob["job_id"] as? String ?? "")/objects/\(staleParts.first!)/\(staleParts.last!)", stalePack.1) == .badRequest,
                    "the old session's objects are not the new session's")
            let (objects3, snapshot3) = try await agent.write(again, source: source)
            try await agent.upload(again["job_id"] as? String ?? "", objects3)
            #expect(try await agent.call(.post, "/agents/host-1/jobs/\(again["job_id"] as? String ?? "")/complete", ["snapshots": [third: snapshot3]]).0 == .noContent)
            #expect(try await backup(third)["status"] as? String == "available")

            // A revoked agent credential claims nothing more.
            let (hostUser, hostPassword) = try await server.services.identity.createUser(project: admin.project_id, name: "host-3-agent", role: .agent)
            let hostToken = try await client.token(user: "host-3-agent", password: hostPassword, project: "admin")
            let host3 = Agent(client: client, token: hostToken, base: base)
            #expect(try await host3.call(.post, "/agents", ["agent": ["agent_id": "host-3", "host_name": "h3", "host_ip": "192.0.2.3", "host_os": "Linux"]]).0 == .ok)
            #expect(try await host3.call(.post, "/agents/host-3/jobs/claim", ["wait_seconds": 0]).0 == .ok)
            try await server.services.identity.deleteUser(project: admin.project_id, id: hostUser.id)
            #expect(try await host3.call(.post, "/agents/host-3/jobs/claim", ["wait_seconds": 0]).0 == .unauthorized)

            // An agent that never comes: after the wait the job fails, saying why.
            let fourth = try await checkpoint()
            server.clock.advance(by: 3_601)
            let fresh = try await client.token(user: "admin", password: admin.password, project: "admin")
            #expect(try await server.services.worker.drain() == 0)
            let failed = try await CofferTestSupport.call(client, token: fresh, .get, base + "/backups/\(fourth)").1["backup"] as? [String: Any]
            #expect(failed?["status"] as? String == "error", "\(failed ?? [:])")
            let (_, logs) = try await CofferTestSupport.call(client, token: fresh, .get, base + "/operation-logs?operation_type=backup&status=failed")
            #expect("\(logs)".contains("agent host-1 did not take the job within 3600 s"), "\(logs)")

            // An agent that vanishes mid-job: its job's open repository is not kept for ever (nor read twice meanwhile).
            let work = server.api.agentWork
            #expect(work.cachedRepositories == 0, "finished jobs' repositories are dropped")
            let agentNow = Agent(client: client, token: fresh, base: base)
            _ = try await checkpoint()
            let vanished = try #require(try await agentNow.claim())
            #expect(try await agentNow.call(.post, "/agents/host-1/jobs/\(vanished["job_id"] as? String ?? "")/held", ["ids": [snapshot]]).0 == .ok)
            #expect(work.cachedRepositories == 1)
            server.clock.advance(by: 600)
            let later = try await client.token(user: "admin", password: admin.password, project: "admin")
            let agentLater = Agent(client: client, token: later, base: base)
            #expect(try await server.services.worker.drain() == 0)
            // Another agent's restore job opens its repository: the vanished job's entry, idle for 10 minutes, goes.
            let (migrated, migratedBody) = try await agentLater.call(.post, "/backups/\(first)/restore",
                                                                     ["restore": ["resource_id": host2Resource, "details": ["destination_path": "/srv/new-host/again"]]])
            #expect(migrated == .accepted, "\(migratedBody)")
            let (_, restoreClaim) = try await agentLater.call(.post, "/agents/host-2/jobs/claim", ["wait_seconds": 0])
            let nextID = try #require((restoreClaim["job"] as? [String: Any])?["job_id"] as? String, "\(restoreClaim)")
            #expect(try await agentLater.call(.get, "/agents/host-2/jobs/\(nextID)/snapshots/\(snapshot)").0 == .ok)
            #expect(work.cachedRepositories == 1, "the vanished agent's entry went once idle")
        }
    }
}

extension TestClientProtocol {
    /// A PUT of bytes signed with AK/SK, its payload hash sent as the signed `x-sdk-content-sha256`.
    func signedBytes(_ uri: String, method: HTTPRequest.Method, ak: String, sk: String, body: Data, sha256: String, date: Date) async throws -> TestResponse {
        var headers = ["content-type": "application/octet-stream", "x-sdk-date": AKSKSignature.formatSdkDate(date), "host": "localhost", "x-sdk-content-sha256": sha256]
        let frozen = headers
        let signable = SignableRequest(method: method.rawValue, rawPath: uri, rawQuery: "", body: Data()) { frozen[$0] }
        headers["authorization"] = AKSKSignature.sign(signable, accessKey: ak, secret: sk, signedHeaders: ["content-type", "host", "x-sdk-content-sha256", "x-sdk-date"])
        var fields = HTTPFields()
        for (k, v) in headers where k != "host" { fields[HTTPField.Name(k)!] = v }
        return try await execute(uri: uri, method: method, headers: fields, body: ByteBuffer(bytes: body))
    }
}
