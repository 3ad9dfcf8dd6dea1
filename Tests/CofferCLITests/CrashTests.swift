import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 at random moments during backup and prune; after each kill the
/// repository must pass `check --read-data` and every snapshot it lists must
/// restore to exactly the source state it was taken from.
@Suite struct CrashSafety {
    @Test func killNineDuringBackupAndPrune() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["COFFER_CRASH_ITERATIONS"] ?? "") ?? 24
        let t = Temp("crash")
        let repo = t.path + "/repo", src = t.path + "/src"
        var rng = SplitMix(state: UInt64(ProcessInfo.processInfo.environment["COFFER_CRASH_SEED"] ?? "") ?? UInt64(time(nil)))
        let seedNote = "seed state \(rng.state)"
        try FileManager.default.createDirectory(atPath: src + "/small", withIntermediateDirectories: true)
        for i in 0..<6 { FileManager.default.createFile(atPath: src + "/big\(i).bin", contents: rng.bytes(1_500_000 + rng.below(2_000_000))) }
        for i in 0..<150 { FileManager.default.createFile(atPath: src + "/small/f\(i)", contents: rng.bytes(rng.below(40_000))) }
        let env = environment(repo: repo)
        #expect(try coffer(["repo", "init", "--pack-size", "4"], env: env).status == 0)

        var expected: [String: [String: Data]] = [:]  // snapshot id -> source state
        func snapshotIDs() throws -> [String] {
            let r = try coffer(["repo", "snapshots", "--json"], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            let list = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
            return list.compactMap { $0["id"] as? String }
        }
        // A first, uninterrupted backup tells how long one takes.
        let started = Date()
        let first = try coffer(["repo", "backup", src, "--json", "--no-parent"], env: env)
        #expect(first.status == 0)
        let duration = max(Date().timeIntervalSince(started), 0.2)
        expected[try snapshotIDs()[0]] = contents(of: src)

        var kills = 0
        for iteration in 0..<iterations {
            // Change the source a little.
            for _ in 0..<5 { FileManager.default.createFile(atPath: src + "/small/f\(rng.below(200))", contents: rng.bytes(rng.below(40_000))) }
            FileManager.default.createFile(atPath: src + "/big\(rng.below(8)).bin", contents: rng.bytes(500_000 + rng.below(2_500_000)))
            let state = contents(of: src)
            let before = Set(try snapshotIDs())
            let pruning = iteration % 4 == 3
            if pruning {
                // Forget the oldest snapshot, then prune (no grace) and kill it.
                let ids = try snapshotIDs()
                if ids.count > 2 {
                    #expect(try coffer(["repo", "forget", ids[0]], env: env).status == 0)
                    expected.removeValue(forKey: ids[0])
                }
            }
            let args = pruning ? ["repo", "prune", "--grace", "0", "--max-unused", "10"] : ["repo", "backup", src, "--no-parent"]
            let (p, _, _) = makeProcess(args, env: env)
            // Output goes nowhere: no pipe, so no dispatch source left on a descriptor that closes.
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(Double(rng.below(1000)) / 1000 * duration * 1.2 * 1_000_000))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            if !pruning {
                for id in Set(try snapshotIDs()).subtracting(before) { expected[id] = state }
            }
            let check = try coffer(["repo", "check", "--read-data"], env: env)
            #expect(check.status == 0, "iteration \(iteration) (\(pruning ? "prune" : "backup")), \(seedNote): \(check.stdout)\(check.stderr)")
            // Every snapshot restores to its source state: the newest always, others in turn.
            let ids = try snapshotIDs()
            #expect(Set(ids) == Set(expected.keys), "iteration \(iteration), \(seedNote)")
            for id in Set([ids.last!, ids[iteration % ids.count]]) {
                let dst = t.path + "/restore-\(iteration)-\(id.prefix(8))"
                let r = try coffer(["repo", "restore", id, "--target", dst], env: env)
                #expect(r.status == 0, "iteration \(iteration), \(seedNote): \(r.stderr)")
                #expect(contents(of: dst) == expected[id], "iteration \(iteration) snapshot \(id.prefix(8)) differs, \(seedNote)")
                try? FileManager.default.removeItem(atPath: dst)
            }
            if check.status != 0 { break }
        }
        #expect(kills >= iterations / 4, "too few runs were actually interrupted (\(kills)); \(seedNote)")
    }
}
