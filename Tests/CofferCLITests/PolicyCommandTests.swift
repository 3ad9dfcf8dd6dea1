import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `coffer policy …` against a running server: the client side of CBR policies.
@Suite struct PolicyCommands {
    @Test func createListUpdateBindUnbindDelete() throws {
        let served = try ServedCoffer()
        let env = environment(repo: served.temp.path + "/unused", extra: ["COFFER_ENDPOINT": served.endpoint, "COFFER_CREDENTIALS": served.credentialsPath])
        func cli(_ args: [String]) throws -> [String: Any] {
            let r = try coffer(args + ["--json"], env: env)
            #expect(r.status == 0, "coffer \(args): \(r.stderr)")
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        for _ in 0..<100 where (try? coffer(["vault", "list"], env: env).status) != 0 { usleep(100_000) }
        let pattern = "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=03;BYMINUTE=30"
        let created = try cli(["policy", "create", "--name", "nightly", "--pattern", pattern, "--max-backups", "14", "--timezone", "UTC+01:00",
                               "--full-backup-interval", "-1"])
        let policy = try #require(created["policy"] as? [String: Any])
        let id = try #require(policy["id"] as? String)
        let definition = policy["operation_definition"] as? [String: Any]
        #expect(definition?["max_backups"] as? Int == 14 && definition?["timezone"] as? String == "UTC+01:00" && definition?["full_backup_interval"] as? Int == -1)
        #expect(((policy["trigger"] as? [String: Any])?["properties"] as? [String: Any])?["pattern"] as? [String] == [pattern])

        let refused = try coffer(["policy", "create", "--name", "tight", "--pattern", "FREQ=DAILY;BYHOUR=01,02;BYMINUTE=00,30"], env: env)
        #expect(refused.status != 0 && refused.stderr.contains("BackupService.9900") && refused.stderr.contains("at least one hour apart"), "\(refused.stderr)")

        let resource = try cli(["resource", "add", "--type", "turbo", "--name", "share", "--path", served.resourceRoot + "/share"])
        let resourceID = (resource["resource"] as? [String: Any])?["id"] as? String ?? ""
        let vault = try cli(["vault", "create", "--name", "scheduled", "--type", "turbo", "--resource", resourceID])
        let vaultID = try #require((vault["vault"] as? [String: Any])?["id"] as? String)
        #expect((try cli(["policy", "bind", id, "--vault", vaultID])["associate_policy"] as? [String: Any])?["vault_id"] as? String == vaultID)
        let listed = try cli(["policy", "list", "--vault", vaultID])
        #expect((listed["policies"] as? [[String: Any]])?.first?["id"] as? String == id && listed["count"] as? Int == 1)

        let updated = try cli(["policy", "update", id, "--name", "weekly", "--enabled", "false"])
        #expect((updated["policy"] as? [String: Any])?["name"] as? String == "weekly" && (updated["policy"] as? [String: Any])?["enabled"] as? Bool == false)
        let shown = try cli(["policy", "show", id])
        #expect(((shown["policy"] as? [String: Any])?["operation_definition"] as? [String: Any])?["max_backups"] as? Int == 14, "an update keeps what it does not name")

        let simulated = try cli(["policy", "simulate", id, "--days", "14"])
        #expect((simulated["simulation"] as? [String: Any])?["created"] as? Int == 4, "two a week: \(simulated)")
        let tried = try coffer(["policy", "simulate", "--pattern", "FREQ=DAILY;BYHOUR=01;BYMINUTE=00", "--max-backups", "2", "--days", "5"], env: env)
        #expect(tried.status == 0 && tried.stdout.contains("5 backups from") && tried.stdout.contains("2 kept"), "\(tried.stdout)\(tried.stderr)")
        _ = try cli(["policy", "unbind", id, "--vault", vaultID])
        #expect((try cli(["policy", "list", "--vault", vaultID])["policies"] as? [Any])?.isEmpty == true)
        let deleted = try coffer(["policy", "delete", id], env: env)
        #expect(deleted.status == 0 && deleted.stdout.contains("deleted policy"))
        let gone = try coffer(["policy", "show", id], env: env)
        #expect(gone.status != 0 && gone.stderr.contains("BackupService.6000"))
    }
}
