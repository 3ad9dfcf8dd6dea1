import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A data host whose files only its agent can see: `coffer agent` runs in a
/// mount namespace of its own, over a private tmpfs; the server, in the
/// test's namespace, sees an empty directory where the agent sees data.
/// Backups go through the agent (write-only sessions, append-only uploads)
/// and are restored byte for byte from the vault.

/// The operator beside a served Coffer: the CLI's environment (once the server answers),
/// JSON answers of admin commands, and credentials of role agent for data hosts.
struct Operator {
    let served: ServedCoffer
    let env: [String: String]
    /// How the CLI runs (through nsenter when the server has a network of its own).
    let cli: ([String], [String: String]) throws -> Run

    init(_ served: ServedCoffer, cli: @escaping ([String], [String: String]) throws -> Run = { try coffer($0, env: $1) }) {
        self.served = served
        self.cli = cli
        env = environment(repo: served.temp.path + "/unused", extra: ["COFFER_ENDPOINT": served.endpoint, "COFFER_CREDENTIALS": served.credentialsPath])
        for _ in 0..<100 where (try? cli(["vault", "list"], env).status) != 0 { usleep(100_000) }
    }

    /// An admin command's JSON answer; it must succeed.
    func call(_ args: [String]) throws -> [String: Any] {
        let r = try cli(args + ["--json"], env)
        #expect(r.status == 0, "coffer \(args): \(r.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
    }

    /// A user of role agent with an access key written to `file`; the environment `coffer agent` runs with (state in `state`).
    func agentEnvironment(user: String, file: String, state: String) throws -> [String: String] {
        _ = try cli(["admin", "--data-dir", served.dataDirectory, "user", "create", user, "--project", "admin", "--role", "agent", "--json"], env)
        let key = try cli(["admin", "--data-dir", served.dataDirectory, "key", "create", "--project", "admin", "--user", user, "--json"], env)
        try Data(key.stdout.utf8).write(to: URL(fileURLWithPath: file))
        var agentEnv = environment(repo: served.temp.path + "/unused", extra: ["COFFER_ENDPOINT": served.endpoint, "COFFER_CREDENTIALS": file])
        agentEnv["COFFER_AGENT_STATE"] = state
        return agentEnv
    }
}

@Suite(.serialized) struct AgentBackups {
    /// Namespaces kept alive by a `sleep`; commands run in them through nsenter.
    final class Namespace {
        enum Kind: String { case mount = "mnt", net }
        let holder = Process()
        let kinds: [Kind]
        var pid: Int32 { holder.processIdentifier }
        /// nsenter's options entering this namespace.
        var enter: [String] { ["-t", "\(pid)"] + kinds.map { $0 == .mount ? "-m" : "-n" } }

        init(_ kinds: [Kind]) throws {
            self.kinds = kinds
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
            holder.arguments = kinds.map { $0 == .mount ? "--mount" : "--net" } + ["--propagation", "private", "sleep", "900"]
            try holder.run()
            for kind in kinds {
                let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(kind.rawValue)")
                for _ in 0..<100 where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(kind.rawValue)")) ?? own == own {
                    usleep(20_000)
                }
            }
        }
        deinit {
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
        }

        func run(_ script: String, env: [String: String] = ProcessInfo.processInfo.environment) throws -> Run {
            try CofferTestSupport.run("/usr/bin/nsenter", enter + ["/bin/sh", "-c", script], environment: env)
        }
    }

    /// The server's and the agent's network namespaces joined by a veth pair on a private
    /// test range (server .1, agent .2), when this machine lets the test make them; nil if not.
    static func linkedNetworks() -> (server: Namespace, agent: Namespace, serverAddress: String)? {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip"),
              let server = try? Namespace([.net]), let agent = try? Namespace([.mount, .net]) else { return nil }
        let net = "10.213.\(Int.random(in: 0...250))"
        guard let s = try? server.run("set -e; ip link set lo up; ip link add cofsrv type veth peer name cofagt netns \(agent.pid)"
                                      + "; ip addr add \(net).1/30 dev cofsrv; ip link set cofsrv up"), s.status == 0,
              let a = try? agent.run("set -e; ip link set lo up; ip addr add \(net).2/30 dev cofagt; ip link set cofagt up"), a.status == 0 else {
            return nil
        }
        return (server, agent, net + ".1")
    }

    func json(_ r: Run) -> Any? { try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) }

    @Test func aPrivateHostIsBackedUpByItsAgentAndRestoredByteForByte() throws {
        // Where the machine allows, the agent shares no network with the server either: they meet only over a veth pair.
        let networks = Self.linkedNetworks()
        let served = try networks.map { try ServedCoffer(launcher: ["/usr/bin/nsenter"] + $0.server.enter, host: $0.serverAddress) } ?? ServedCoffer()
        if networks == nil { print("AgentBackups: this machine cannot make network namespaces; the agent shares the server's network") }
        let host = Temp("agent-host")
        let root = host.path + "/private", state = host.path + "/state"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let ns = try networks?.agent ?? Namespace([.mount])
        /// The CLI as the operator runs it, beside the server.
        func coffer(_ args: [String], env: [String: String]) throws -> Run {
            guard let networks else { return try CofferTestSupport.coffer(args, env: env) }
            return try run("/usr/bin/nsenter", networks.server.enter + [cofferBinary()] + args, environment: env)
        }
        let made = try ns.run("""
            set -e
            mount -t tmpfs -o size=300m coffer-agent-host \(root)
            mkdir -p \(root)/data/sub \(root)/data/cache
            head -c 3000000 /dev/urandom > \(root)/data/a.bin
            cp \(root)/data/a.bin \(root)/data/sub/copy.bin
            printf 'hello from the data host\\n' > \(root)/data/sub/b.txt
            head -c 100000 /dev/urandom > \(root)/data/cache/skip.bin
            truncate -s 64M \(root)/disk.img
            printf DISKSTART | dd of=\(root)/disk.img conv=notrunc 2>/dev/null
            head -c 1500000 /dev/urandom | dd of=\(root)/disk.img bs=1M seek=40 conv=notrunc 2>/dev/null
            truncate -s 16M \(root)/sys.img \(root)/data.img
            head -c 800000 /dev/urandom | dd of=\(root)/sys.img conv=notrunc 2>/dev/null
            head -c 600000 /dev/urandom | dd of=\(root)/data.img bs=1M seek=8 conv=notrunc 2>/dev/null
            """)
        #expect(made.status == 0, "\(made.stderr)")
        // The server's view of the host directory: nothing.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty, "the agent's files are invisible outside its namespace")
        let manifest = try ns.run("cd \(root)/data && find . -type f ! -path './cache/*' | sort | xargs sha256sum")
        let diskSum = try ns.run("sha256sum < \(root)/disk.img")
        let serverDiskSums = try ns.run("sha256sum \(root)/sys.img \(root)/data.img")
        #expect(manifest.status == 0 && manifest.stdout.contains("b.txt") && !manifest.stdout.contains("skip.bin"))
        if networks != nil { #expect(!onLoopback(served.port, connect), "the server is not on the test's loopback") }

        let op = Operator(served, cli: coffer)
        let adminEnv = op.env
        func admin(_ args: [String]) throws -> Any? { try op.call(args) }
        let agentEnv = try op.agentEnvironment(user: "data-host", file: host.path + "/agent.json", state: state)
        func agent(_ args: String) throws -> Run { try ns.run("\(cofferBinary()) agent \(args)", env: agentEnv) }
        if networks != nil {
            // Nor on the agent's: its one way to the server is the veth pair.
            let loopback = try ns.run("COFFER_ENDPOINT=http://127.0.0.1:\(served.port) \(cofferBinary()) agent run --once --resource-root \(root)", env: agentEnv)
            #expect(loopback.status != 0, "\(loopback.stdout)")
        }

        // Register, and make the directory protectable (with a part left out).
        let registered = try agent("run --once --resource-root \(root) --json")
        #expect(registered.status == 0, "\(registered.stderr)")
        let added = try agent("add-path \(root)/data --exclude \(root)/data/cache --resource-root \(root) --json")
        #expect(added.status == 0, "\(added.stderr)")
        let status = json(try agent("status --json")) as? [String: Any]
        let agentInfo = try #require(status?["agent"] as? [String: Any])
        let agentID = try #require(agentInfo["agent_id"] as? String)
        let directoryID = try #require(((agentInfo["paths"] as? [[String: Any]])?.first)?["id"] as? String)
        // A disk image on the same host, registered by the operator for that agent.
        let volume = try admin(["resource", "add", "--type", "volume", "--name", "host-disk", "--path", root + "/disk.img", "--agent", agentID]) as? [String: Any]
        let volumeID = try #require((volume?["resource"] as? [String: Any])?["id"] as? String)
        let files = try admin(["vault", "create", "--name", "host-files", "--type", "turbo", "--resource", directoryID]) as? [String: Any]
        let disks = try admin(["vault", "create", "--name", "host-disks", "--type", "disk", "--resource", volumeID]) as? [String: Any]
        let filesVault = try #require((files?["vault"] as? [String: Any])?["id"] as? String)
        let disksVault = try #require((disks?["vault"] as? [String: Any])?["id"] as? String)
        // A two-disk server on the same host.
        let server = try admin(["resource", "add", "--type", "server", "--name", "host-server", "--disk", "sys=\(root)/sys.img:bootable",
                                "--disk", "data=\(root)/data.img", "--agent", agentID]) as? [String: Any]
        let serverID = try #require((server?["resource"] as? [String: Any])?["id"] as? String)
        let servers = try admin(["vault", "create", "--name", "host-servers", "--type", "server", "--resource", serverID]) as? [String: Any]
        let serversVault = try #require((servers?["vault"] as? [String: Any])?["id"] as? String)

        func backUp() throws -> [String: String] {
            for vault in [filesVault, disksVault, serversVault] { _ = try admin(["checkpoint", "create", "--vault", vault]) }
            // Until the agent comes, the log says whom the job waits for.
            let logs = try admin(["oplog", "list"]) as? [String: Any]
            let waiting = (logs?["operation_logs"] as? [[String: Any]] ?? []).filter { $0["status"] as? String == "waiting" }
            #expect(waiting.count == 3 && waiting.allSatisfy {
                (($0["extra_info"] as? [String: Any])?["common"] as? [String: Any])?["message"] as? String == "waiting for agent \(agentID)"
            }, "\(waiting)")
            let ran = try agent("run --once --resource-root \(root)")
            #expect(ran.status == 0, "\(ran.stderr)")
            var newest: [String: String] = [:]
            for vault in [filesVault, disksVault, serversVault] {
                let list = try admin(["backup", "list", "--vault", vault]) as? [String: Any]
                let backups = (list?["backups"] as? [[String: Any]] ?? []).sorted { ($0["created_at"] as? String ?? "") > ($1["created_at"] as? String ?? "") }
                #expect(backups.first?["status"] as? String == "available", "\(backups.first ?? [:]) \(ran.stderr)")
                newest[vault] = backups.first?["id"] as? String
            }
            return newest
        }
        let first = try backUp()

        // The vault holds it all: restored by the server into its own resources, byte for byte.
        let target = served.resourceRoot + "/share"
        let targetResource = try admin(["resource", "add", "--type", "turbo", "--name", "restore-target", "--path", target]) as? [String: Any]
        #expect(targetResource != nil)
        let restored = try coffer(["restore", first[filesVault]!, "--destination", target + "/copy", "--wait"], env: adminEnv)
        #expect(restored.status == 0, "\(restored.stderr)")
        let here = try run("/bin/sh", ["-c", "cd \(target)/copy && find . -type f | sort | xargs sha256sum"])
        #expect(here.stdout == manifest.stdout, "restored tree differs:\n\(here.stdout)\nvs\n\(manifest.stdout)")
        FileManager.default.createFile(atPath: served.resourceRoot + "/disk-copy.img", contents: nil)
        truncate(served.resourceRoot + "/disk-copy.img", 64 << 20)
        let copyVolume = try admin(["resource", "add", "--type", "volume", "--name", "disk-copy", "--path", served.resourceRoot + "/disk-copy.img"]) as? [String: Any]
        let copyID = try #require((copyVolume?["resource"] as? [String: Any])?["id"] as? String)
        let volumeRestore = try coffer(["restore", first[disksVault]!, "--volume", copyID, "--wait"], env: adminEnv)
        #expect(volumeRestore.status == 0, "\(volumeRestore.stderr)")
        #expect(try run("/bin/sh", ["-c", "sha256sum < \(served.resourceRoot)/disk-copy.img"]).stdout == diskSum.stdout)

        // Unchanged data backed up again: the agent skips unchanged files and the vault gains no pack.
        func packs() -> Int {
            let e = FileManager.default.enumerator(atPath: served.dataDirectory)
            var n = 0
            while let p = e?.nextObject() as? String { if p.contains("/data/") && p.split(separator: "/").last?.count == 64 { n += 1 } }
            return n
        }
        let packsBefore = packs()
        let second = try backUp()
        #expect(second[filesVault] != first[filesVault])
        #expect(packs() == packsBefore, "an unchanged re-backup stores no pack")
        // ...and reads no file again: the agent's kept trees and the vault's answer let it reuse every one.
        let kept = try FileManager.default.contentsOfDirectory(atPath: state + "/stash/\(directoryID)/snapshots")
        let summary = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state + "/stash/\(directoryID)/snapshots/" + kept[0]))) as? [String: Any])?["summary"] as? [String: Any]
        #expect(kept.count == 1 && summary?["filesUnchanged"] as? Int == summary?["files"] as? Int && summary?["bytesRead"] as? Int == 0, "\(summary ?? [:])")

        // Restores through the agent, onto its host: the directory in place, and the disk image, after both were damaged.
        let damaged = try ns.run("set -e; rm \(root)/data/a.bin; printf changed > \(root)/data/sub/b.txt; dd if=/dev/zero of=\(root)/disk.img bs=1M count=2 conv=notrunc 2>/dev/null"
                                 + "; for d in sys data; do dd if=/dev/urandom of=\(root)/$d.img bs=64k count=3 conv=notrunc 2>/dev/null; done")
        #expect(damaged.status == 0, "\(damaged.stderr)")
        #expect(try coffer(["restore", second[filesVault]!], env: adminEnv).status == 0)
        #expect(try coffer(["restore", second[disksVault]!, "--volume", volumeID], env: adminEnv).status == 0)
        // The two-disk server onto itself: each disk back onto the disk it was read from.
        let serverRestore = try coffer(["restore", second[serversVault]!, "--server", serverID], env: adminEnv)
        #expect(serverRestore.status == 0, "\(serverRestore.stderr)")
        let restoring = try agent("run --once --resource-root \(root)")
        #expect(restoring.status == 0, "\(restoring.stderr)")
        #expect(try ns.run("cd \(root)/data && find . -type f ! -path './cache/*' | sort | xargs sha256sum").stdout == manifest.stdout, "in place, byte for byte")
        #expect(try ns.run("sha256sum < \(root)/disk.img").stdout == diskSum.stdout, "the disk image, byte for byte")
        #expect(try ns.run("sha256sum \(root)/sys.img \(root)/data.img").stdout == serverDiskSums.stdout, "both disks of the server, byte for byte")
        let logs = try admin(["oplog", "list"]) as? [String: Any]
        let restores = (logs?["operation_logs"] as? [[String: Any]] ?? []).filter { $0["operation_type"] as? String == "restore" }
        #expect(restores.count == 5 && restores.allSatisfy { $0["status"] as? String == "success" }, "\(restores)")
        // Still nothing of the host is visible here.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }
}

/// A directory moves hosts: backed up by the agent of one host, restored by
/// the agent of another (each in its own mount namespace, neither seeing the
/// other's files, the server seeing neither's), byte for byte.
@Suite(.serialized) struct AgentMigration {
    @Test func aBackupOfOneAgentsHostIsRestoredOntoAnothers() throws {
        typealias Namespace = AgentBackups.Namespace
        let served = try ServedCoffer()
        let temp = Temp("agent-migration")
        let op = Operator(served)
        let adminEnv = op.env
        func admin(_ args: [String]) throws -> [String: Any] { try op.call(args) }
        /// A host: its namespace with a private tmpfs at `root`, and its agent's command line.
        struct Host {
            let ns: Namespace
            let root: String
            let env: [String: String]
            func agent(_ args: String) throws -> Run { try ns.run("\(cofferBinary()) agent \(args) --resource-root \(root)", env: env) }
            func directoryID(_ path: String) throws -> String? {
                let status = (try? JSONSerialization.jsonObject(with: Data(try ns.run("\(cofferBinary()) agent status --json", env: env).stdout.utf8))) as? [String: Any]
                return ((status?["agent"] as? [String: Any])?["paths"] as? [[String: Any]])?.first { $0["dir_path"] as? String == path }?["id"] as? String
            }
        }
        func host(_ name: String) throws -> Host {
            let root = temp.path + "/" + name
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let ns = try Namespace([.mount])
            let made = try ns.run("mount -t tmpfs -o size=64m coffer-\(name) \(root)")
            #expect(made.status == 0, "\(made.stderr)")
            let env = try op.agentEnvironment(user: name, file: temp.path + "/\(name).json", state: temp.path + "/\(name)-state")
            let h = Host(ns: ns, root: root, env: env)
            let registered = try h.agent("run --once")
            #expect(registered.status == 0, "\(registered.stderr)")
            return h
        }
        let old = try host("old-host"), new = try host("new-host")
        #expect(try old.ns.run("mkdir -p \(old.root)/data/sub && head -c 2000000 /dev/urandom > \(old.root)/data/a.bin && printf moving > \(old.root)/data/sub/b.txt"
                               + " && ln -s sub/b.txt \(old.root)/data/link && truncate -s 5M \(old.root)/data/sparse.bin").status == 0)
        #expect(try new.ns.run("mkdir -p \(new.root)/landing").status == 0)
        #expect(try old.agent("add-path \(old.root)/data").status == 0)
        #expect(try new.agent("add-path \(new.root)/landing").status == 0)
        let source = try #require(try old.directoryID(old.root + "/data"))
        let landing = try #require(try new.directoryID(new.root + "/landing"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: old.root).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: new.root).isEmpty)

        let vault = try #require((try admin(["vault", "create", "--name", "moving", "--type", "turbo", "--resource", source])["vault"] as? [String: Any])?["id"] as? String)
        _ = try admin(["checkpoint", "create", "--vault", vault])
        #expect(try old.agent("run --once").status == 0)
        let backup = try #require(((try admin(["backup", "list", "--vault", vault])["backups"] as? [[String: Any]])?.first)?["id"] as? String)

        // Onto the new host: that host's agent does it; the old host's agent has nothing to do.
        let restore = try coffer(["restore", backup, "--resource", landing, "--destination", new.root + "/landing/moved"], env: adminEnv)
        #expect(restore.status == 0, "\(restore.stderr)")
        let idle = try old.agent("run --once")
        let oldHostNow = try old.ns.run("ls \(old.root)").stdout
        #expect(idle.status == 0 && oldHostNow == "data\n", "\(oldHostNow)")
        let moved = try new.agent("run --once")
        #expect(moved.status == 0, "\(moved.stderr)")
        let manifest = "find . | sort | while read f; do stat -c '%n %F %s' \"$f\"; [ -f \"$f\" ] && [ ! -L \"$f\" ] && sha256sum < \"$f\"; done; du -k sparse.bin"
        let there = try old.ns.run("cd \(old.root)/data && \(manifest)"), here = try new.ns.run("cd \(new.root)/landing/moved && \(manifest)")
        #expect(there.status == 0 && there.stdout.contains("a.bin") && here.stdout == there.stdout, "moved tree differs:\n\(here.stdout)\nvs\n\(there.stdout)")
        #expect(try new.ns.run("readlink \(new.root)/landing/moved/link").stdout == "sub/b.txt\n")
        let logs = try admin(["oplog", "list"])["operation_logs"] as? [[String: Any]] ?? []
        #expect(logs.filter { $0["operation_type"] as? String == "restore" }.map { $0["status"] as? String } == ["success"], "\(logs)")
    }
}

/// A real `coffer agent` process killed with SIGKILL halfway through a backup:
/// the job's lease runs out, the job is handed out again (under a new session)
/// when the agent comes back, the backup ends available and byte for byte,
/// and the vault's repository checks clean with every byte read.
@Suite(.serialized) struct AgentKilledMidBackup {
    /// `--jobs 2`: two resources of one host are backed up side by side (their operations overlap) and both end available.
    @Test func anAgentRunsTwoJobsAtOnce() throws {
        let served = try ServedCoffer()
        let host = Temp("agent-lanes")
        let root = host.path + "/root", state = host.path + "/state"
        var random = SplitMix(state: 11)
        for dir in ["left", "right"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
            for i in 0..<4 { try random.bytes(8 << 20).write(to: URL(fileURLWithPath: root + "/\(dir)/f\(i).bin")) }
        }
        let op = Operator(served)
        let agentEnv = try op.agentEnvironment(user: "two-lanes", file: host.path + "/agent.json", state: state)
        #expect(try coffer(["agent", "run", "--once", "--resource-root", root], env: agentEnv).status == 0)
        #expect(try coffer(["agent", "run", "--once", "--jobs", "9", "--resource-root", root], env: agentEnv).status != 0, "at most 8 lanes")
        for dir in ["left", "right"] {
            #expect(try coffer(["agent", "add-path", root + "/" + dir, "--resource-root", root], env: agentEnv).status == 0)
        }
        let status = (try? JSONSerialization.jsonObject(with: Data(try coffer(["agent", "status", "--json"], env: agentEnv).stdout.utf8))) as? [String: Any]
        let ids = (((status?["agent"] as? [String: Any])?["paths"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
        try #require(ids.count == 2, "\(String(describing: status))")
        let vault = try #require((op.call(["vault", "create", "--name", "lanes", "--type", "turbo", "--resource", ids[0], "--resource", ids[1]])["vault"] as? [String: Any])?["id"] as? String)
        _ = try op.call(["checkpoint", "create", "--vault", vault])
        let ran = try coffer(["agent", "run", "--once", "--jobs", "2", "--resource-root", root], env: agentEnv)
        #expect(ran.status == 0, "\(ran.stderr)")
        let backups = try op.call(["backup", "list", "--vault", vault])["backups"] as? [[String: Any]] ?? []
        #expect(backups.count == 2 && backups.allSatisfy { $0["status"] as? String == "available" }, "\(backups)")
        let logs = (try op.call(["oplog", "list"])["operation_logs"] as? [[String: Any]] ?? []).filter { $0["operation_type"] as? String == "backup" }
        let spans = logs.compactMap { log -> (String, String)? in
            guard let start = log["started_at"] as? String, let end = log["ended_at"] as? String else { return nil }
            return (start, end)
        }
        try #require(spans.count == 2, "\(logs)")
        #expect(spans[0].0 < spans[1].1 && spans[1].0 < spans[0].1, "the two backups ran side by side: \(spans)")
    }

    @Test func theJobIsHandedOutAgainAndNothingIsLost() throws {
        let served = try ServedCoffer(arguments: ["--job-lease", "5"])
        let host = Temp("agent-killed")
        let root = host.path + "/root", state = host.path + "/state", source = host.path + "/root/data"
        try FileManager.default.createDirectory(atPath: source + "/sub", withIntermediateDirectories: true)
        var random = SplitMix(state: 7)
        for i in 0..<12 {
            // Incompressible, so the agent is still uploading when it is killed.
            var bytes = [UInt8](repeating: 0, count: 8 << 20)
            for j in stride(from: 0, to: bytes.count, by: 8) { withUnsafeBytes(of: random.next()) { bytes.replaceSubrange(j..<j + 8, with: $0) } }
            try Data(bytes).write(to: URL(fileURLWithPath: source + (i % 2 == 0 ? "/sub" : "") + "/f\(i).bin"))
        }
        let op = Operator(served)
        let adminEnv = op.env
        func admin(_ args: [String]) throws -> [String: Any] { try op.call(args) }
        let agentEnv = try op.agentEnvironment(user: "data-host", file: host.path + "/agent.json", state: state)
        #expect(try coffer(["agent", "run", "--once", "--resource-root", root], env: agentEnv).status == 0)
        let added = try coffer(["agent", "add-path", source, "--resource-root", root, "--json"], env: agentEnv)
        #expect(added.status == 0, "\(added.stderr)")
        let status = (try? JSONSerialization.jsonObject(with: Data(try coffer(["agent", "status", "--json"], env: agentEnv).stdout.utf8))) as? [String: Any]
        let directoryID = try #require((((status?["agent"] as? [String: Any])?["paths"] as? [[String: Any]])?.first)?["id"] as? String)
        let vault = try #require((admin(["vault", "create", "--name", "killed", "--type", "turbo", "--resource", directoryID])["vault"] as? [String: Any])?["id"] as? String)
        let repository = served.dataDirectory + "/vaults/" + vault
        func packs() -> Int {
            let e = FileManager.default.enumerator(atPath: repository + "/data")
            var n = 0
            while let p = e?.nextObject() as? String { if p.split(separator: "/").last?.count == 64 { n += 1 } }
            return n
        }

        // The agent runs as a service would; it is killed once the vault has its first pack.
        let (agent, _, _) = makeProcess(["agent", "run", "--interval", "5", "--resource-root", root], env: agentEnv)
        try agent.run()
        _ = try admin(["checkpoint", "create", "--vault", vault])
        for _ in 0..<600 where packs() == 0 { usleep(20_000) }
        #expect(packs() > 0, "the agent uploaded a pack")
        kill(agent.processIdentifier, SIGKILL)
        agent.waitUntilExit()
        func backups() throws -> [[String: Any]] { try admin(["backup", "list", "--vault", vault])["backups"] as? [[String: Any]] ?? [] }
        #expect(try backups().first?["status"] as? String == "protecting", "killed before it finished")

        // The lease runs out; the job waits for its agent again, and the agent, back, finishes it.
        var waitingAgain = false
        for _ in 0..<300 where !waitingAgain {
            let logs = try admin(["oplog", "list"])["operation_logs"] as? [[String: Any]] ?? []
            waitingAgain = logs.contains { $0["operation_type"] as? String == "backup" && $0["status"] as? String == "waiting" }
            if !waitingAgain { usleep(100_000) }
        }
        #expect(waitingAgain, "the expired job is queued for its agent again")
        let rerun = try coffer(["agent", "run", "--once", "--resource-root", root], env: agentEnv)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let finished = try backups()
        #expect(finished.count == 1 && finished.first?["status"] as? String == "available", "\(finished)")
        let backupID = try #require(finished.first?["id"] as? String)

        let target = served.resourceRoot + "/share"
        _ = try admin(["resource", "add", "--type", "turbo", "--name", "restore-target", "--path", target])
        let restored = try coffer(["restore", backupID, "--destination", target + "/copy", "--wait"], env: adminEnv)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(contents(of: target + "/copy") == contents(of: source), "restored byte for byte")
        let check = try coffer(["repo", "check", "--read-data", "--repo", "file://" + repository, "--master-key-file", served.dataDirectory + "/master.key", "--json"], env: adminEnv)
        let report = (try? JSONSerialization.jsonObject(with: Data(check.stdout.utf8))) as? [String: Any]
        #expect(check.status == 0 && report?["ok"] as? Bool == true && (report?["errors"] as? [Any])?.isEmpty == true, "\(check.stdout) \(check.stderr)")
    }
}
