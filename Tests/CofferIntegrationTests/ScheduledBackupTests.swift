import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A policy bound to a vault on a running `coffer serve` makes a backup with
/// no client call, and it restores byte for byte. Waits for the wall clock's
/// next minute (about a minute).
@Suite struct ScheduledBackups {
    @Test func aBoundPolicyBacksUpByItselfAndTheBackupRestores() throws {
        let served = try ServedCoffer(arguments: ["--scheduler-interval", "1"])
        let env = environment(repo: served.temp.path + "/unused", extra: ["COFFER_ENDPOINT": served.endpoint, "COFFER_CREDENTIALS": served.credentialsPath])
        func cli(_ args: [String]) throws -> [String: Any] {
            let r = try coffer(args + ["--json"], env: env)
            #expect(r.status == 0, "coffer \(args): \(r.stderr)")
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        for _ in 0..<100 where (try? coffer(["vault", "list"], env: env).status) != 0 { usleep(100_000) }
        var rng = SplitMix(state: 42)
        let original = rng.bytes(3 << 20)
        let file = served.resourceRoot + "/share/data.bin"
        try original.write(to: URL(fileURLWithPath: file))
        let resource = try cli(["resource", "add", "--type", "turbo", "--name", "share", "--path", served.resourceRoot + "/share"])
        let resourceID = (resource["resource"] as? [String: Any])?["id"] as? String ?? ""
        let vault = try cli(["vault", "create", "--name", "scheduled", "--type", "turbo", "--resource", resourceID])
        let vaultID = try #require((vault["vault"] as? [String: Any])?["id"] as? String)
        // The next whole minute (UTC), at least 15 seconds ahead so the scheduler sees the binding first.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let at = calendar.dateComponents([.hour, .minute], from: Date().addingTimeInterval(75))
        let pattern = String(format: "FREQ=DAILY;BYHOUR=%02d;BYMINUTE=%02d", at.hour!, at.minute!)
        let policy = try cli(["policy", "create", "--name", "soon", "--pattern", pattern])
        let policyID = try #require((policy["policy"] as? [String: Any])?["id"] as? String)
        _ = try cli(["policy", "bind", policyID, "--vault", vaultID])

        var made: [String: Any]?
        for _ in 0..<180 {
            let list = try cli(["backup", "list", "--vault", vaultID])["backups"] as? [[String: Any]] ?? []
            if let b = list.first, b["status"] as? String == "available" || b["status"] as? String == "error" { made = b; break }
            sleep(1)
        }
        let backup = try #require(made, "no automatic backup within three minutes")
        #expect(backup["status"] as? String == "available", "\(backup)")
        #expect((backup["extend_info"] as? [String: Any])?["auto_trigger"] as? Bool == true && backup["scheduled_operation_id"] as? String == policyID)
        #expect((backup["name"] as? String ?? "").hasPrefix("autobk_"))

        try Data("changed".utf8).write(to: URL(fileURLWithPath: file))
        let restore = try coffer(["restore", backup["id"] as? String ?? "", "--wait"], env: env)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: file) == original, "the automatic backup restores byte for byte")
        kill(served.process.processIdentifier, SIGTERM)
        served.process.waitUntilExit()
    }
}
