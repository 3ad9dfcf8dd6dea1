import CofferTestSupport
import Foundation
import Testing

@Suite struct RepoCommands {
    @Test func initBackupSnapshotsRestoreCheck() throws {
        let t = Temp("basic")
        let repo = t.path + "/repo", src = t.path + "/src", dst = t.path + "/dst"
        var rng = SplitMix(state: 1)
        try FileManager.default.createDirectory(atPath: src + "/sub", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: src + "/a.bin", contents: rng.bytes(1_500_000))
        FileManager.default.createFile(atPath: src + "/sub/b.txt", contents: Data("hello".utf8))
        let env = environment(repo: repo)
        #expect(try coffer(["repo", "init"], env: env).status == 0)
        let backup = try coffer(["repo", "backup", src, "--json"], env: env)
        #expect(backup.status == 0, "\(backup.stderr)")
        let last = try #require(backup.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        let id = try #require(summary["snapshot_id"] as? String)
        #expect(summary["files"] as? Int == 2)
        #expect((summary["bytes_read"] as? Int ?? 0) >= 1_500_005)
        #expect(summary["bytes_added"] != nil && summary["duration_seconds"] != nil)
        let list = try coffer(["repo", "snapshots", "--json"], env: env)
        let snaps = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(snaps.map { $0["id"] as? String } == [id])
        let restore = try coffer(["repo", "restore", String(id.prefix(8)), "--target", dst], env: env)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(contents(of: dst) == contents(of: src))
        let ls = try coffer(["repo", "ls", "latest"], env: env)
        #expect(ls.stdout.contains("sub/b.txt"))
        // One directory: only its entries, named relative or by the backed-up path.
        for name in ["sub", "/sub/", src + "/sub"] {
            let dir = try coffer(["repo", "ls", "latest", name], env: env)
            #expect(dir.status == 0 && dir.stdout.contains("sub/b.txt") && !dir.stdout.contains("a.bin"), "\(name): \(dir.stdout) \(dir.stderr)")
        }
        let root = try coffer(["repo", "ls", "latest", src, "--json"], env: env)
        #expect(root.stdout.split(separator: "\n").count == 2 && root.stdout.contains("\"a.bin\""), "\(root.stdout)")
        let notDirectory = try coffer(["repo", "ls", "latest", "a.bin"], env: env)
        #expect(notDirectory.status != 0 && notDirectory.stderr.contains("/a.bin: not a directory"), "\(notDirectory.stderr)")
        let absent = try coffer(["repo", "ls", "latest", "sub/nope"], env: env)
        #expect(absent.status != 0 && absent.stderr.contains("/sub/nope: no such file or directory"), "\(absent.stderr)")
        let check = try coffer(["repo", "check", "--read-data"], env: env)
        #expect(check.status == 0, "\(check.stdout)")
        let full = try coffer(["repo", "check", "--read-data-full", "--json"], env: env)
        #expect(full.status == 0 && full.stdout.contains("\"blobs_read\""), "\(full.stdout) \(full.stderr)")
        // A rotation of two runs reads every pack once between them; bad subsets and durations are refused.
        var read = 0, total = 0
        for _ in 0..<2 {
            let part = try coffer(["repo", "check", "--read-data-subset", "next/2", "--max-duration", "1h", "--json"], env: env)
            #expect(part.status == 0, "\(part.stdout)\(part.stderr)")
            let report = (try? JSONSerialization.jsonObject(with: Data(part.stdout.utf8))) as? [String: Any] ?? [:]
            read += report["packs_read"] as? Int ?? 0
            total = report["packs_total"] as? Int ?? 0
        }
        #expect(read == total && total > 0, "\(read) of \(total)")
        for bad in [["--read-data-subset", "3/2"], ["--read-data-subset", "next"], ["--max-duration", "soon", "--read-data"], ["--max-duration", "1h"]] {
            let refused = try coffer(["repo", "check"] + bad, env: env)
            #expect(refused.status != 0 && refused.stderr.contains("--"), "\(bad): \(refused.stderr)")
        }
        let single = t.path + "/single"
        #expect(try coffer(["repo", "restore", "latest:sub/b.txt", "--target", single], env: env).status == 0)
        #expect(FileManager.default.contents(atPath: single + "/b.txt") == Data("hello".utf8))
    }

    @Test func badInputGivesClearErrors() throws {
        let t = Temp("errors")
        let repo = t.path + "/repo"
        let missing = try coffer(["repo", "snapshots"], env: environment(repo: repo))
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no repository") && missing.stderr.contains("config"))
        #expect(try coffer(["repo", "init"], env: environment(repo: repo)).status == 0)
        let again = try coffer(["repo", "init"], env: environment(repo: repo))
        #expect(again.status != 0 && again.stderr.contains("already exists"))
        let wrong = try coffer(["repo", "snapshots"], env: environment(repo: repo, password: "nope"))
        #expect(wrong.status != 0 && wrong.stderr.contains("wrong key"))
        let nokey = try coffer(["repo", "snapshots"], env: environment(repo: repo, password: nil))
        #expect(nokey.status != 0 && nokey.stderr.contains("COFFER_PASSWORD"))
        let badSnap = try coffer(["repo", "restore", "xyz!", "--target", t.path + "/d"], env: environment(repo: repo))
        #expect(badSnap.status != 0 && badSnap.stderr.contains("not hex"))
        let badGrace = try coffer(["repo", "prune", "--grace", "soon"], env: environment(repo: repo))
        #expect(badGrace.status != 0 && badGrace.stderr.contains("--grace"))
        let noSource = try coffer(["repo", "backup", t.path + "/does-not-exist"], env: environment(repo: repo))
        #expect(noSource.status != 0 && noSource.stderr.contains("does-not-exist"))
        let scheme = try coffer(["repo", "snapshots", "--repo", "ftp://x"], env: environment(repo: repo))
        #expect(scheme.status != 0 && scheme.stderr.contains("unsupported scheme"))
        // A damaged config names the object.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: repo + "/config"))
        let damaged = try coffer(["repo", "snapshots"], env: environment(repo: repo))
        #expect(damaged.status != 0 && damaged.stderr.contains("'config'"))
    }

    @Test func keyFilesAndKeyRotation() throws {
        let t = Temp("keys")
        let repo = t.path + "/repo", keyFile = t.path + "/master.key", newKey = t.path + "/new.key"
        let env = environment(repo: repo, password: nil)
        #expect(try coffer(["repo", "init", "--key-file", keyFile], env: env).status == 0)
        let perms = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(perms == 0o600)
        let add = try coffer(["repo", "key", "add", "--key-file", keyFile, "--new-key-file", newKey], env: env)
        #expect(add.status == 0)
        let added = try #require(add.stdout.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines))
        let list = try coffer(["repo", "key", "list", "--key-file", newKey, "--json"], env: env)
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(keys.count == 2)
        // Remove the original key: only the new one opens the repository now.
        let original = try #require(keys.compactMap { $0["id"] as? String }.first { !$0.hasPrefix(added) })
        #expect(try coffer(["repo", "key", "remove", String(original.prefix(12)), "--key-file", newKey], env: env).status == 0)
        #expect(try coffer(["repo", "snapshots", "--key-file", newKey], env: env).status == 0)
        #expect(try coffer(["repo", "snapshots", "--key-file", keyFile], env: env).status != 0)
    }

    @Test func forgetAndPruneFreeSpace() throws {
        let t = Temp("prune")
        let repo = t.path + "/repo", src = t.path + "/src"
        var rng = SplitMix(state: 5)
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let env = environment(repo: repo)
        #expect(try coffer(["repo", "init", "--pack-size", "4"], env: env).status == 0)
        FileManager.default.createFile(atPath: src + "/one", contents: rng.bytes(6_000_000))
        #expect(try coffer(["repo", "backup", src], env: env).status == 0)
        try FileManager.default.removeItem(atPath: src + "/one")
        FileManager.default.createFile(atPath: src + "/two", contents: rng.bytes(3_000_000))
        #expect(try coffer(["repo", "backup", src], env: env).status == 0)
        let size = { () -> Int in
            (FileManager.default.enumerator(atPath: repo + "/data")?.allObjects as? [String] ?? []).reduce(0) {
                $0 + ((try? FileManager.default.attributesOfItem(atPath: repo + "/data/" + $1)[.size] as? Int) ?? 0)
            }
        }
        let before = size()
        #expect(try coffer(["repo", "forget", "--keep-last", "1"], env: env).stdout.contains("1 snapshots removed"))
        let dry = try coffer(["repo", "prune", "--grace", "0", "--dry-run", "--json"], env: env)
        #expect(dry.stdout.contains("\"bytes_freed\""))
        #expect(size() == before)
        let graced = try coffer(["repo", "prune"], env: env)
        #expect(graced.stdout.contains("schedule"), "\(graced.stdout)")
        #expect(size() == before)
        #expect(try coffer(["repo", "prune", "--grace", "0"], env: env).status == 0)
        #expect(size() < before / 2)
        #expect(try coffer(["repo", "check", "--read-data"], env: env).status == 0)
    }

    @Test func volumeBackupThroughCLI() throws {
        let t = Temp("vol")
        let repo = t.path + "/repo", image = t.path + "/disk.img", dst = t.path + "/out.img"
        var rng = SplitMix(state: 9)
        FileManager.default.createFile(atPath: image, contents: nil)
        let h = FileHandle(forWritingAtPath: image)!
        h.truncateFile(atOffset: 20 << 20)
        h.seek(toFileOffset: 8 << 20); h.write(rng.bytes(100_000)); h.closeFile()
        let env = environment(repo: repo)
        #expect(try coffer(["repo", "init"], env: env).status == 0)
        #expect(try coffer(["repo", "backup", "--volume", image], env: env).status == 0)
        #expect(try coffer(["repo", "restore", "latest", "--target", dst], env: env).status == 0)
        #expect(FileManager.default.contents(atPath: dst) == FileManager.default.contents(atPath: image))
    }
}
