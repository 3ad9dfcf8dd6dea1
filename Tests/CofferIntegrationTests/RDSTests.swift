import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP
import CofferSystem
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL from scripts/start-postgres.sh, stopped when dropped.
final class ThrowawayPostgres {
    let directory: String
    let port: Int
    let url: String
    let dataDirectory: String
    let owner: String
    let bin: String

    static var packageRoot: String { CofferTestSupport.packageRoot() }

    static func shell(_ script: String, _ args: [String]) throws -> (Int32, String) {
        let r = try Subprocess.run("/bin/bash", [script] + args, mergeStandardError: false)
        return (r.status, r.output)
    }

    init(directory: String) throws {
        self.directory = directory
        port = CofferTestSupport.freePort()
        let (status, output) = try ThrowawayPostgres.shell(ThrowawayPostgres.packageRoot + "/scripts/start-postgres.sh", [directory, String(port)])
        guard status == 0 else { throw ScriptFailure(output: output) }
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        url = values["PG_URL"] ?? ""
        dataDirectory = values["PG_DATA"] ?? ""
        owner = values["PG_OWNER"] ?? ""
        bin = values["PG_BIN"] ?? ""
    }

    struct ScriptFailure: Error { let output: String }

    /// One psql statement over TCP with the password; its single value or rows, tab-separated.
    func query(_ sql: String, port: Int? = nil) throws -> String {
        try Subprocess.run(bin + "/psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port ?? self.port), "-U", "coffer", "-d", "app", "-c", sql],
                           environment: ["PGPASSWORD": "coffer-secret", "PATH": "/usr/bin:/bin"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { _ = try? ThrowawayPostgres.shell(ThrowawayPostgres.packageRoot + "/scripts/stop-postgres.sh", [directory]) }
}

@Suite(.serialized) struct RDSBackups {
    @Test func backupChangeRestoreInPlaceAndIntoANewDirectory() async throws {
        let root = ResourceRoot()
        let pg = try ThrowawayPostgres(directory: root.path + "/pg")
        _ = try pg.query("CREATE TABLE items (id int PRIMARY KEY, body text); INSERT INTO items SELECT g, md5(g::text) || repeat('x', 200) FROM generate_series(1, 50000) g")
        // Settle the heap before the first backup: a VACUUM (autovacuum's, whenever it comes) rewrites every page
        // of a freshly loaded table to mark it all-visible, and the dedup bound below must not depend on when.
        _ = try pg.query("VACUUM (FREEZE, ANALYZE) items")
        let checksum = try pg.query("SELECT md5(string_agg(body, ',' ORDER BY id)) FROM items")
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let v3 = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            // Register: RDS-form id, the connection never shown.
            let (registered, r) = try await call(.post, v3 + "/coffer/resources", ["resource": ["type": "rds", "name": "pg1", "engine": "PostgreSQL",
                                                                                                "connection": pg.url, "data_dir": pg.dataDirectory]])
            #expect(registered == .ok, "\(r)")
            let instance = r["resource"] as? [String: Any] ?? [:]
            let instanceID = try #require(instance["id"] as? String)
            #expect(instanceID.count == 36 && instanceID.hasSuffix("in03"))
            #expect(!"\(r)".contains("coffer-secret") && instance["connection"] == nil && instance["data_dir"] as? String == pg.dataDirectory)
            let (badURL, bu) = try await call(.post, v3 + "/coffer/resources", ["resource": ["type": "rds", "name": "x", "engine": "PostgreSQL", "connection": "mysql://a@b/c"]])
            #expect(badURL == .badRequest && (bu["error_msg"] as? String ?? "").contains("resource.connection"))

            // Seed 003: validation, then BUILDING.
            for (body, code) in [(["instance_id": instanceID, "name": "1abc"], "DBS.200001"), (["instance_id": instanceID, "name": "abc"], "DBS.200001"),
                                 (["instance_id": instanceID, "name": "good_name", "description": "no!"], "DBS.280127"),
                                 (["instance_id": "nope", "name": "good_name"], "DBS.200002"), (["name": "good_name"], "DBS.200001")] {
                let (_, e) = try await call(.post, v3 + "/backups", body)
                #expect(e["error_code"] as? String == code, "\(body): \(e)")
            }
            let (created, c) = try await call(.post, v3 + "/backups", ["instance_id": instanceID, "name": "first-backup", "description": "manual backup"])
            #expect(created == .ok, "\(c)")
            let first = c["backup"] as? [String: Any] ?? [:]
            let firstID = try #require(first["id"] as? String)
            #expect(firstID.hasSuffix("br03") && first["status"] as? String == "BUILDING" && first["type"] as? String == "manual")
            #expect((first["begin_time"] as? String ?? "").hasSuffix("Z"))
            let (dup, d) = try await call(.post, v3 + "/backups", ["instance_id": instanceID, "name": "first-backup"])
            #expect(dup == .conflict || d["error_code"] as? String == "DBS.200001" || d["error_code"] as? String == "DBS.201205", "\(d)")
            #expect(try await services.worker.drain() == 1)

            func list(_ query: String = "") async throws -> (Int, [[String: Any]]) {
                let (_, l) = try await call(.get, v3 + "/backups?instance_id=\(instanceID)" + query)
                return (l["total_count"] as? Int ?? -1, l["backups"] as? [[String: Any]] ?? [])
            }
            var (total, page) = try await list()
            #expect(total == 1 && page.first?["status"] as? String == "COMPLETED", "\(page)")
            #expect((page.first?["size"] as? Int ?? 0) > 1000 && (page.first?["datastore"] as? [String: Any])?["version"] as? String == "15")
            // Backed up twice: the second stores far less new data than the first.
            func vaultUsed() async throws -> Int64 {
                try #require(try await services.vaults.record(id: try await services.catalog.vaults.vault(ofResource: instanceID) ?? "")?.usedBytes)
            }
            let usedAfterFirst = try await vaultUsed()
            let (_, again) = try await call(.post, v3 + "/backups", ["instance_id": instanceID, "name": "again-backup"])
            let againID = try #require((again["backup"] as? [String: Any])?["id"] as? String)
            try await services.worker.drain()
            let addedBySecond = try await vaultUsed() - usedAfterFirst
            #expect(addedBySecond < usedAfterFirst / 4, "the second backup added \(addedBySecond) bytes after \(usedAfterFirst)")
            let (deletedAgain, _) = try await call(.delete, v3 + "/backups/\(againID)")
            #expect(deletedAgain == .ok)
            try await services.worker.drain()

            // Change the data, back up the changed state.
            _ = try pg.query("DELETE FROM items WHERE id % 10 = 0; UPDATE items SET body = 'changed' WHERE id < 100")
            #expect(try pg.query("SELECT count(*) FROM items") == "45000")
            let (_, c2) = try await call(.post, v3 + "/backups", ["instance_id": instanceID, "name": "second-backup"])
            let secondID = try #require((c2["backup"] as? [String: Any])?["id"] as? String)
            try await services.worker.drain()
            (total, page) = try await list()
            #expect(total == 2 && page.allSatisfy { $0["status"] as? String == "COMPLETED" })
            // Paging as otcextensions does: offset honoured, empty past the end.
            (total, page) = try await list("&limit=1&offset=1")
            #expect(total == 2 && page.count == 1)
            (total, page) = try await list("&offset=2")
            #expect(total == 2 && page.isEmpty)
            (_, page) = try await list("&backup_id=\(secondID)")
            #expect(page.count == 1 && page.first?["name"] as? String == "second-backup")
            (_, page) = try await list("&backup_type=auto")
            #expect(page.isEmpty)
            let (badWindow, _) = try await call(.get, v3 + "/backups?instance_id=\(instanceID)&begin_time=2020-01-01T00:00:00+0000")
            #expect(badWindow == .badRequest)
            (_, page) = try await list("&begin_time=2000-01-01T00:00:00+0000&end_time=2100-01-01T00:00:00+0000")
            #expect(page.count == 2)
            // CBR's listing does not show database backups.
            let (_, cbr) = try await call(.get, v3 + "/backups")
            #expect(!(cbr["backups"] as? [[String: Any]] ?? []).contains { ($0["id"] as? String ?? "").hasSuffix("br03") })

            // Restore the first backup in place: stop, swap, start, check.
            let (recovered, job) = try await call(.post, v3 + "/instances/recovery", ["source": ["instance_id": instanceID, "type": "backup", "backup_id": firstID],
                                                                                      "target": ["instance_id": instanceID]])
            #expect(recovered == .ok, "\(job)")
            let jobID = try #require(job["job_id"] as? String)
            try await services.worker.drain()
            let (_, jobBody) = try await call(.get, v3 + "/jobs?id=\(jobID)")
            #expect((jobBody["job"] as? [String: Any])?["status"] as? String == "Completed", "\(jobBody)")
            #expect(try pg.query("SELECT count(*) FROM items") == "50000")
            #expect(try pg.query("SELECT md5(string_agg(body, ',' ORDER BY id)) FROM items") == checksum)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path + "/pg").allSatisfy { !$0.contains("coffer-old") }, "the old data directory is removed")

            // Into a new directory inside a file system registered to the project, from which pg_ctl starts.
            try FileManager.default.createDirectory(atPath: root.path + "/restores", withIntermediateDirectories: true)
            let (restoresOK, restores) = try await call(.post, v3 + "/coffer/resources", ["resource": ["type": "OS::Sfs::Turbo", "name": "restores", "path": root.path + "/restores"]])
            #expect(restoresOK == .ok, "\(restores)")
            let copy = root.path + "/restores/pg-copy"
            let (intoNew, j2) = try await call(.post, v3 + "/instances/recovery", ["source": ["type": "backup", "backup_id": secondID], "target": ["data_dir": copy]])
            #expect(intoNew == .ok, "\(j2)")
            try await services.worker.drain()
            #expect(FileManager.default.fileExists(atPath: copy + "/PG_VERSION"))
            let port2 = CofferTestSupport.freePort()
            let (started, startOut) = try ThrowawayPostgres.shell(ThrowawayPostgres.packageRoot + "/scripts/pg-ctl-as-owner.sh", [copy, "start", "-o", "-p \(port2)"])
            #expect(started == 0, "\(startOut)")
            #expect(try pg.query("SELECT count(*) FROM items", port: port2) == "45000")
            _ = try ThrowawayPostgres.shell(ThrowawayPostgres.packageRoot + "/scripts/pg-ctl-as-owner.sh", [copy, "stop"])
            for elsewhere in [root.outside + "/x", root.path + "/pg-copy", root.path + "/restores"] {
                let outside = try await call(.post, v3 + "/instances/recovery", ["source": ["type": "backup", "backup_id": secondID], "target": ["data_dir": elsewhere]])
                #expect(outside.0 == .badRequest && outside.1["error_code"] as? String == "DBS.200001" && (outside.1["error_msg"] as? String ?? "").contains("target.data_dir"))
            }

            // Backup policy: stored and validated.
            let policyPath = v3 + "/instances/\(instanceID)/backups/policy"
            let (setOK, _) = try await call(.put, policyPath, ["backup_policy": ["keep_days": 7, "start_time": "19:00-20:00", "period": "1,3,5"]])
            #expect(setOK == .ok)
            let (_, policy) = try await call(.get, policyPath)
            #expect((policy["backup_policy"] as? [String: Any])?["period"] as? String == "1,3,5")
            for bad in [["keep_days": 733], ["keep_days": 7, "start_time": "19:00-21:00"], ["keep_days": 7, "start_time": "19:10-20:10"], ["keep_days": 7, "start_time": "19:00-20:00", "period": "8"]] {
                let (status, e) = try await call(.put, policyPath, ["backup_policy": bad])
                #expect(status == .badRequest && e["error_code"] as? String == "DBS.200001", "\(bad)")
            }

            // Delete: 200, DELETING, then gone.
            let (deleted, _) = try await call(.delete, v3 + "/backups/\(firstID)")
            #expect(deleted == .ok)
            (_, page) = try await list("&backup_id=\(firstID)")
            #expect(page.first?["status"] as? String == "DELETING")
            try await services.worker.drain()
            (total, _) = try await list()
            #expect(total == 1)
            let (gone, g) = try await call(.delete, v3 + "/backups/\(firstID)")
            #expect(gone == .notFound && g["error_code"] as? String == "DBS.201010")
        }
    }

    /// Failures end with a reason and lose nothing: a backup with a wrong
    /// password is FAILED; a restore whose restarted instance does not answer
    /// puts the previous data directory back and starts it again.
    @Test func failuresKeepTheInstanceWhole() async throws {
        let root = ResourceRoot()
        let pg = try ThrowawayPostgres(directory: root.path + "/pg")
        _ = try pg.query("CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let v3 = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            func register(_ name: String, _ url: String, dataDirectory: String? = nil) async throws -> String {
                var resource: [String: Any] = ["type": "rds", "name": name, "engine": "PostgreSQL", "connection": url]
                if let dataDirectory { resource["data_dir"] = dataDirectory }
                let (_, r) = try await call(.post, v3 + "/coffer/resources", ["resource": resource])
                return (r["resource"] as? [String: Any])?["id"] as? String ?? ""
            }
            // A role without REPLICATION is refused at registration, saying what to grant.
            let plainURL = pg.url.replacingOccurrences(of: "://coffer:", with: "://coffer_plain:")
            let (refused, why) = try await call(.post, v3 + "/coffer/resources", ["resource": ["type": "rds", "name": "plain", "engine": "PostgreSQL", "connection": plainURL]])
            #expect(refused == .badRequest && (why["error_msg"] as? String ?? "").contains("ALTER ROLE coffer_plain REPLICATION"), "\(why)")
            #expect(!"\(why)".contains("coffer-secret"))

            // Wrong password: FAILED with the reason, the password nowhere in it.
            let wrong = try await register("wrong", pg.url.replacingOccurrences(of: "coffer-secret", with: "not-the-password"))
            _ = try await call(.post, v3 + "/backups", ["instance_id": wrong, "name": "doomed"])
            try await services.worker.drain()
            let (_, failed) = try await call(.get, v3 + "/backups?instance_id=\(wrong)")
            let f = (failed["backups"] as? [[String: Any]])?.first ?? [:]
            #expect(f["status"] as? String == "FAILED", "\(f)")
            #expect((f["fail_reason"] as? String ?? "").contains("password authentication failed") && !"\(f)".contains("not-the-password"), "\(f)")

            // A connection naming a database that does not exist: backups work (replication
            // ignores it) but the restarted instance never answers it, so the restore rolls back.
            let broken = try await register("broken", pg.url.replacingOccurrences(of: "/app", with: "/nosuchdb"), dataDirectory: pg.dataDirectory)
            let (_, made) = try await call(.post, v3 + "/backups", ["instance_id": broken, "name": "base"])
            let backupID = (made["backup"] as? [String: Any])?["id"] as? String ?? ""
            try await services.worker.drain()
            _ = try pg.query("INSERT INTO t VALUES (2)")
            let (_, job) = try await call(.post, v3 + "/instances/recovery", ["source": ["type": "backup", "backup_id": backupID], "target": ["instance_id": broken]])
            try await services.worker.drain()
            let (_, jobBody) = try await call(.get, v3 + "/jobs?id=\(job["job_id"] as? String ?? "")")
            let j = jobBody["job"] as? [String: Any] ?? [:]
            #expect(j["status"] as? String == "Failed" && (j["fail_reason"] as? String ?? "").contains("previous data directory is back"), "\(j)")
            // The instance runs on its old data, including the row written after the backup.
            #expect(try pg.query("SELECT string_agg(v::text, ',' ORDER BY v) FROM t") == "1,2")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path + "/pg").allSatisfy { !$0.contains("coffer-old") })
        }
    }
}
