import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `coffer agent …` on a "data host" against a running server: registration
/// with a kept id, heartbeats, paths only under the host's resource roots,
/// status, uninstall.
@Suite struct AgentCommands {
    @Test func registerHeartbeatPathsStatusUninstall() throws {
        let served = try ServedCoffer()
        let host = Temp("agent-host")
        let root = host.path + "/data-root", state = host.path + "/state"
        try FileManager.default.createDirectory(atPath: root + "/db/tmp", withIntermediateDirectories: true)
        let adminEnv = environment(repo: served.temp.path + "/unused", extra: ["COFFER_ENDPOINT": served.endpoint, "COFFER_CREDENTIALS": served.credentialsPath])
        for _ in 0..<100 where (try? coffer(["vault", "list"], env: adminEnv).status) != 0 { usleep(100_000) }
        // The agent runs with a credential of role agent, made by the operator.
        let user = try coffer(["admin", "--data-dir", served.dataDirectory, "user", "create", "host-1", "--project", "admin", "--role", "agent", "--json"], env: adminEnv)
        #expect(user.status == 0, "\(user.stderr)")
        let key = try coffer(["admin", "--data-dir", served.dataDirectory, "key", "create", "--project", "admin", "--user", "host-1", "--json"], env: adminEnv)
        #expect(key.status == 0 && key.stdout.contains("project_id"), "\(key.stderr)")
        try Data(key.stdout.utf8).write(to: URL(fileURLWithPath: host.path + "/agent-credentials.json"))
        let env = environment(repo: served.temp.path + "/unused", extra: ["COFFER_ENDPOINT": served.endpoint, "COFFER_CREDENTIALS": host.path + "/agent-credentials.json"])
        let vaults = try coffer(["vault", "list"], env: env)
        #expect(vaults.status != 0 && vaults.stderr.contains("role agent"), "the agent's credential lists no vaults: \(vaults.stderr)")
        func run(_ args: [String]) throws -> Run { try coffer(["agent"] + args + ["--state-dir", state], env: env) }
        func json(_ args: [String]) throws -> [String: Any] {
            let r = try run(args + ["--json"])
            #expect(r.status == 0, "coffer agent \(args): \(r.stderr)")
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }

        let noRoot = try run(["run", "--once"])
        #expect(noRoot.status != 0 && noRoot.stderr.contains("--resource-root"), "\(noRoot.stderr)")
        let early = try run(["status"])
        #expect(early.status != 0 && early.stderr.contains("no agent yet"), "\(early.stderr)")

        let first = try json(["run", "--once", "--resource-root", root, "--name", "db"])
        let agent = try #require(first["agent"] as? [String: Any])
        let id = try #require(agent["agent_id"] as? String)
        #expect(agent["status"] as? String == "online" && agent["host_nickname"] as? String == "db" && agent["agent_type"] as? String == "coffer")
        let kept = (try? JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: state + "/agent.json") ?? Data())) as? [String: Any]
        #expect(kept?["agent_id"] as? String == id)
        var st = stat()
        #expect(stat(state + "/agent.json", &st) == 0 && st.st_mode & 0o077 == 0, "the state file is the owner's alone")
        #expect((try json(["run", "--once", "--resource-root", root])["agent"] as? [String: Any])?["agent_id"] as? String == id, "the same id again")

        // Paths: only under the host's roots, checked before anything is sent.
        let added = try json(["add-path", root + "/db", "--exclude", root + "/db/tmp", "--resource-root", root])
        #expect(added["added"] as? [String] == [root + "/db"], "\(added)")
        let outside = try run(["add-path", "/etc", "--resource-root", root])
        #expect(outside.status != 0 && outside.stderr.contains("outside every --resource-root"), "\(outside.stderr)")
        try FileManager.default.createDirectory(atPath: host.path + "/other", withIntermediateDirectories: true)
        _ = try json(["add-path", host.path + "/other", "--resource-root", host.path])  // a root this run allows, the next status does not
        let status = try run(["status", "--resource-root", root])
        #expect(status.status == 0 && status.stdout.contains(root + "/db  excluding " + root + "/db/tmp") && status.stdout.contains("online"), "\(status.stdout)")
        #expect(status.stdout.contains(host.path + "/other  (outside every --resource-root: not protected)"), "\(status.stdout)")
        #expect((try json(["remove-path", host.path + "/other"]))["removed"] as? [String] == [host.path + "/other"])
        // Paths overlap no other path of the same host (each byte has one owner).
        let nested = try run(["add-path", root + "/db/tmp", "--resource-root", root])
        #expect(nested.status != 0 && nested.stderr.contains("overlaps"), "\(nested.stderr)")

        // Heartbeats while it runs.
        let before = (try json(["status"])["agent"] as? [String: Any])?["last_active_time"] as? String
        let (daemon, _, _) = makeProcess(["agent", "run", "--resource-root", root, "--interval", "5", "--state-dir", state], env: env)
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }
        var seen = [before]
        for _ in 0..<200 where seen.count < 3 {
            usleep(100_000)
            let now = (try json(["status"])["agent"] as? [String: Any])?["last_active_time"] as? String
            if now != seen.last { seen.append(now) }
        }
        #expect(seen.count == 3, "registered at start, then a heartbeat: \(seen)")
        daemon.terminate()
        daemon.waitUntilExit()

        let gone = try json(["uninstall"])
        #expect((gone["agent"] as? [String: Any])?["status"] as? String == "uninstalled")
        #expect(!FileManager.default.fileExists(atPath: state + "/agent.json"))
        let listed = try coffer(["agent", "status", "--state-dir", state], env: env)
        #expect(listed.status != 0 && listed.stderr.contains("no agent yet"))
    }
}
