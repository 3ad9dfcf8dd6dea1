import CofferAPI
import CofferTestSupport
import Foundation
import Testing
@testable import CofferCLI

@Suite struct ProgressDisplay {
    @Test func rateAndTimeLeftCountFromTheFirstMovement() {
        var e = ProgressEstimate()
        e.observe(percent: 0, at: 0)
        e.observe(percent: 0, at: 30)  // queued: no rate yet
        #expect(e.rate == nil && e.remaining == nil)
        #expect(progressLine("1 of 1 backups running", e, width: 10) == "[..........]   0%  1 of 1 backups running")
        e.observe(percent: 10, at: 40)
        e.observe(percent: 30, at: 60)
        #expect(e.rate == 1 && e.remaining == 70, "30 % over the 30 s since it last stood at 0 %: 1 %/s, 70 s left")
        #expect(progressLine("x", e, width: 10) == "[###.......]  30%  60.0%/min  ETA 1:10  x")
        #expect(progressLine("x", e, totalBytes: 100 << 20, width: 10) == "[###.......]  30%  1.0 MiB/s  ETA 1:10  x")
        e.observe(percent: 5, at: 70)  // a retried job starts over
        #expect(e.rate == nil)
        e.observe(percent: 250, at: 80)
        #expect(e.latest?.percent == 100 && e.remaining == 0)
    }

    @Test func theStatusTableShowsProblemsFirstWithTheirReasons() throws {
        let json = """
        {"vaults": [
          {"id": "v2", "name": "broken", "object_type": "turbo", "size_gb": 10, "used_bytes": 9663676416, "used_percent": 90.0, "policy_id": "p",
           "policy_name": "nightly", "next_run_at": "2026-12-04T02:00:00.000000", "last_success_at": "2026-12-02T02:00:05.000000",
           "last_backup_failed": true, "failures_last_24h": 2, "running": [], "problems": ["its last backup failed", "90 % of its capacity is used"]},
          {"id": "v1", "name": "fine", "object_type": "turbo", "size_gb": 1, "used_bytes": 0, "used_percent": 0, "last_backup_failed": false,
           "failures_last_24h": 0, "running": [{"operation_log_id": "l", "operation_type": "backup", "resource_name": "share", "progress": 42}], "problems": []}
        ], "count": 2, "problems": 1}
        """
        let answer = try JSONDecoder().decode(Dashboard.Response.self, from: Data(json.utf8))
        let lines = StatusCommand.table(answer)
        #expect(lines.count == 6, "\(lines.joined(separator: "\n"))")
        #expect(lines[1].hasPrefix(" ! broken") && lines[1].contains("2026-12-02 02:00") && lines[1].contains("2026-12-04 02:00")
            && lines[1].contains("[#########.] 90.0% of 10 GB"), "\(lines[1])")
        #expect(lines[2] == "     its last backup failed; 90 % of its capacity is used")
        #expect(lines[3].hasPrefix("   fine") && lines[3].contains("no policy") && lines[3].contains("[..........] 0.0% of 1 GB"), "\(lines[3])")
        #expect(lines[4] == "     running: backup of share, 42%")
        #expect(lines[5] == "2 vaults, 1 with problems")
    }
}

/// `coffer status` against a served Coffer: a vault whose backup failed comes first, and the exit status says so.
@Suite struct StatusCommandAgainstAServer {
    @Test func aFailedVaultIsListedFirstAndTheExitStatusIsTwo() throws {
        let served = try ServedCoffer()
        let env = environment(repo: served.temp.path + "/unused", extra: ["COFFER_ENDPOINT": served.endpoint, "COFFER_CREDENTIALS": served.credentialsPath])
        func cli(_ args: [String]) throws -> [String: Any] {
            let r = try coffer(args + ["--json"], env: env)
            #expect(r.status == 0, "coffer \(args): \(r.stderr)")
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        for _ in 0..<100 where (try? coffer(["vault", "list"], env: env).status) != 0 { usleep(100_000) }
        let empty = try coffer(["status"], env: env)
        #expect(empty.status == 0 && empty.stdout.contains("0 vaults, 0 with problems"), "\(empty.stdout) \(empty.stderr)")
        try FileManager.default.createDirectory(atPath: served.resourceRoot + "/doomed", withIntermediateDirectories: true)
        var ids: [String: String] = [:]
        for name in ["share", "doomed"] {
            let resource = try cli(["resource", "add", "--type", "turbo", "--name", name, "--path", served.resourceRoot + "/" + name])
            let resourceID = (resource["resource"] as? [String: Any])?["id"] as? String ?? ""
            let vault = try cli(["vault", "create", "--name", "vault-" + name, "--type", "turbo", "--resource", resourceID])
            ids[name] = try #require((vault["vault"] as? [String: Any])?["id"] as? String)
        }
        try FileManager.default.removeItem(atPath: served.resourceRoot + "/doomed")
        #expect(try coffer(["checkpoint", "create", "--vault", ids["share"]!, "--wait"], env: env).status == 0)
        let failed = try coffer(["checkpoint", "create", "--vault", ids["doomed"]!, "--wait"], env: env)
        #expect(failed.status == 1, "\(failed.stdout) \(failed.stderr)")
        let status = try coffer(["status"], env: env)
        let lines = status.stdout.split(separator: "\n").map(String.init)
        #expect(status.status == 2 && lines.count >= 4 && lines[1].hasPrefix(" ! vault-doomed") && lines[2].contains("its last backup failed")
            && lines[2].contains("1 failed operation in the last 24 h") && lines[3].hasPrefix("   vault-share") && status.stdout.contains("2 vaults, 1 with problems"),
            "\(status.stdout)\n\(status.stderr)")
        let json = try coffer(["status", "--json"], env: env)
        let answer = (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any] ?? [:]
        let vaults = answer["vaults"] as? [[String: Any]] ?? []
        #expect(json.status == 2 && answer["problems"] as? Int == 1 && vaults.first?["id"] as? String == ids["doomed"]
            && vaults.last?["last_success_at"] is String && vaults.last?["failures_last_24h"] as? Int == 0, "\(json.stdout)")
    }
}
