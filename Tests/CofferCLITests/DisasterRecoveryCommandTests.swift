import CofferSystem
import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The operator's disaster-recovery commands on a real data directory: the
/// master key opens a vault offline, the catalog is copied while serving, and
/// a lost catalog is rebuilt from the repositories.
@Suite struct DisasterRecoveryCommands {
    @Test func masterKeyCatalogBackupAndRebuild() throws {
        let served = try ServedCoffer()
        let data = served.temp.path + "/data"
        try Data("disaster\n".utf8).write(to: URL(fileURLWithPath: served.resourceRoot + "/share/note.txt"))
        let env = environment(repo: served.temp.path + "/unused", extra: ["COFFER_ENDPOINT": served.endpoint, "COFFER_CREDENTIALS": served.credentialsPath])
        func cli(_ args: [String]) throws -> [String: Any] {
            let r = try coffer(args + ["--json"], env: env)
            #expect(r.status == 0, "coffer \(args): \(r.stderr)")
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        // The server answers once it listens.
        for _ in 0..<100 where (try? coffer(["vault", "list"], env: env).status) != 0 { usleep(100_000) }
        let resource = try cli(["resource", "add", "--type", "turbo", "--name", "share", "--path", served.resourceRoot + "/share"])
        let resourceID = (resource["resource"] as? [String: Any])?["id"] as? String ?? ""
        let vault = try cli(["vault", "create", "--name", "dr", "--type", "turbo", "--resource", resourceID])
        let vaultID = (vault["vault"] as? [String: Any])?["id"] as? String ?? ""
        let made = try cli(["checkpoint", "create", "--vault", vaultID, "--wait"])["backups"] as? [[String: Any]] ?? []
        #expect(made.first?["status"] as? String == "available")
        let backupID = made.first?["id"] as? String ?? ""

        // A consistent copy while serving; never over an existing file.
        let copy = try coffer(["admin", "--data-dir", data, "catalog", "backup", served.temp.path + "/catalog-copy.sqlite"], env: env)
        #expect(copy.status == 0 && FileManager.default.fileExists(atPath: served.temp.path + "/catalog-copy.sqlite"), "\(copy.stderr)")
        let again = try coffer(["admin", "--data-dir", data, "catalog", "backup", served.temp.path + "/catalog-copy.sqlite"], env: env)
        #expect(again.status != 0 && again.stderr.contains("exists"))

        kill(served.process.processIdentifier, SIGTERM)
        served.process.waitUntilExit()

        // The master key alone lists the vault's snapshots, offline.
        let snapshots = try coffer(["repo", "snapshots", "--repo", "file://\(data)/vaults/\(vaultID)", "--master-key-file", data + "/master.key", "--json"], env: env)
        #expect(snapshots.status == 0, "\(snapshots.stderr)")
        let listed = (try? JSONSerialization.jsonObject(with: Data(snapshots.stdout.utf8))) as? [[String: Any]] ?? []
        #expect(listed.count == 1, "\(snapshots.stdout)")

        // The catalog is lost; rebuild it from the repositories.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: data + "/catalog.sqlite" + suffix) }
        let rebuilt = try coffer(["admin", "--data-dir", data, "catalog", "rebuild", "--json"], env: env)
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
        let report = (try? JSONSerialization.jsonObject(with: Data(rebuilt.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(report["vaults"] as? Int == 1 && report["backups"] as? Int == 1 && (report["problems"] as? [Any])?.isEmpty == true, "\(rebuilt.stdout)")
        #expect(!rebuilt.stdout.contains("password\":"), "credentials go to the file, not stdout")
        let perms = try FileManager.default.attributesOfItem(atPath: data + "/recovered-credentials.json")[.posixPermissions] as? Int
        #expect(perms == 0o600)
        // A second rebuild is refused: the catalog is no longer empty.
        let twice = try coffer(["admin", "--data-dir", data, "catalog", "rebuild"], env: env)
        #expect(twice.status != 0 && twice.stderr.contains("not empty"), "\(twice.stderr)")
        // The rebuilt catalog holds the backup under its id (read offline through the admin's catalog access).
        let catalogCopy = try coffer(["admin", "--data-dir", data, "catalog", "backup", served.temp.path + "/rebuilt.sqlite"], env: env)
        #expect(catalogCopy.status == 0)
        let sqlite = try Subprocess.run("/usr/bin/env", ["python3", "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select id, status from backups').fetchall())",
                                                          served.temp.path + "/rebuilt.sqlite"])
        #expect(sqlite.output.contains(backupID) && sqlite.output.contains("available"), "\(sqlite.output)")
    }
}
