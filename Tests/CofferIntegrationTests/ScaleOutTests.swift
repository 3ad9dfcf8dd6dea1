import CofferSystem
import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The API over HTTP with curl, as any client would use it.
struct CurlClient {
    let endpoint: String
    var token = ""

    func call(_ method: String, _ path: String, _ body: Any? = nil) throws -> (status: Int, json: [String: Any]) {
        var args = ["-s", "-X", method, "-H", "Content-Type: application/json", "-w", "\n%{http_code}", endpoint + path]
        if !token.isEmpty { args += ["-H", "X-Auth-Token: " + token] }
        if let body { args += ["-d", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)] }
        let r = try run("/usr/bin/curl", args)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let json = (try? JSONSerialization.jsonObject(with: Data(lines.dropLast().joined(separator: "\n").utf8))) as? [String: Any] ?? [:]
        return (status, json)
    }

    mutating func logIn(_ credentials: [String: Any]) throws {
        let body = ["auth": ["identity": ["methods": ["password"], "password": ["user": ["name": credentials["user_name"] ?? "", "domain": ["name": "Default"],
                                                                                          "password": credentials["password"] ?? ""]]],
                             "scope": ["project": ["id": credentials["project_id"] ?? ""]]]]
        let r = try run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "-X", "POST", "-H", "Content-Type: application/json",
                                          "-d", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self), endpoint + "/v3/auth/tokens"])
        token = r.stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-subject-token:") }.map { String($0.dropFirst("x-subject-token:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
    }
}

/// Design §5 end to end: PostgreSQL and OpenStack Swift (S3) from the
/// project's scripts, one `--role api` and two `--role worker` processes with
/// their own data directories, sharing the catalog, the store and the master
/// key. A directory, a volume and a two-disk server are backed up; the worker
/// running the volume's backup is killed with SIGKILL; the other takes the job
/// over when the lease runs out and finishes everything; every restore is
/// byte-for-byte; `coffer repo check --read-data` is clean on each S3
/// repository, no data directory holds a repository file, and a lost
/// catalog is rebuilt from the bucket with the master key.
@Suite(.serialized) struct ScaleOut {
    @Test func apiAndTwoWorkersOnPostgreSQLAndS3SurviveAKilledWorker() throws {
        let temp = Temp("scaleout")
        let pg = try ThrowawayPostgres(directory: temp.path + "/pg")
        let objstore = try ThrowawayObjectStore()
        let keyFile = temp.path + "/master.key"
        FileManager.default.createFile(atPath: keyFile, contents: Data((0..<32).map { _ in UInt8.random(in: 0...255) }), attributes: [.posixPermissions: 0o600])
        let store = "s3://coffer-scaleout/vaults"
        let common = ["--catalog", pg.url, "--store", store, "--master-key-file", keyFile, "--job-lease", "5"]
        let api = try ServedCoffer(arguments: common + ["--role", "api"], environment: objstore.environment)
        let root = api.resourceRoot

        // The data: a directory of files, a 384 MiB volume (long enough to be caught mid-backup), a server's two disks.
        var rng = SplitMix(state: 42)
        for i in 0..<20 { try rng.bytes(100_000 + i * 7_919).write(to: URL(fileURLWithPath: root + "/share/file\(i).bin")) }
        #expect(try run("/bin/bash", ["-c", "head -c 402653184 /dev/urandom > '\(root)/volume.img'"]).status == 0)
        try rng.bytes(3 << 20).write(to: URL(fileURLWithPath: root + "/vm-root.img"))
        try rng.bytes(5 << 20).write(to: URL(fileURLWithPath: root + "/vm-data.img"))
        let originals = ["share": contents(of: root + "/share"), "volume": ["": try Data(contentsOf: URL(fileURLWithPath: root + "/volume.img"))],
                         "server": ["root": try Data(contentsOf: URL(fileURLWithPath: root + "/vm-root.img")),
                                    "data": try Data(contentsOf: URL(fileURLWithPath: root + "/vm-data.img"))]]

        let workers = try (0..<2).map { _ in
            try ServedCoffer(arguments: common + ["--role", "worker", "--resource-root", root], environment: objstore.environment, waitForCredentials: false)
        }
        func workerID(_ server: ServedCoffer) -> String? {
            server.logData.text.split(separator: " ").first { $0.hasPrefix("worker=worker-") }.map { String($0.dropFirst("worker=".count)) }
        }
        var client = CurlClient(endpoint: api.endpoint)
        for _ in 0..<100 where (try? client.call("GET", "/health").status) != 200 { usleep(100_000) }
        let credentials = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: api.credentialsPath))) as? [String: Any])
        try client.logIn(credentials)
        let base = "/v3/\(credentials["project_id"] as? String ?? "")"

        func register(_ resource: [String: Any]) throws -> String {
            let (status, body) = try client.call("POST", base + "/coffer/resources", ["resource": resource])
            #expect(status == 200, "\(body)")
            return (body["resource"] as? [String: Any])?["id"] as? String ?? ""
        }
        func vault(_ name: String, _ objectType: String, _ resource: String, _ type: String) throws -> String {
            let (status, body) = try client.call("POST", base + "/vaults", ["vault": ["name": name, "billing": ["consistent_level": "crash_consistent", "object_type": objectType,
                                                                                                                   "protect_type": "backup", "size": 10],
                                                                                    "resources": [["id": resource, "type": type]]]])
            #expect(status == 200, "\(body)")
            return (body["vault"] as? [String: Any])?["id"] as? String ?? ""
        }
        let share = try register(["type": "OS::Sfs::Turbo", "name": "share", "path": root + "/share"])
        let volume = try register(["type": "OS::Cinder::Volume", "name": "volume", "path": root + "/volume.img"])
        let server = try register(["type": "OS::Nova::Server", "name": "vm", "disks": [["name": "root", "path": root + "/vm-root.img", "bootable": true],
                                                                                   ["name": "data", "path": root + "/vm-data.img"]]])
        let vaults = ["volume": try vault("volumes", "disk", volume, "OS::Cinder::Volume"), "share": try vault("files", "turbo", share, "OS::Sfs::Turbo"),
                      "server": try vault("servers", "server", server, "OS::Nova::Server")]
        // The volume first, so a worker is surely inside it when the kill comes.
        for name in ["volume", "share", "server"] {
            let (status, body) = try client.call("POST", base + "/checkpoints", ["checkpoint": ["vault_id": vaults[name]!]])
            #expect(status == 200, "\(body)")
        }
        func backups(_ vault: String) throws -> [[String: Any]] { try client.call("GET", base + "/backups?vault_id=\(vault)").json["backups"] as? [[String: Any]] ?? [] }
        let volumeBackup = try #require(try backups(vaults["volume"]!).first?["id"] as? String)

        // Kill the worker holding the volume's backup job once it is under way.
        var killed: ServedCoffer?
        for _ in 0..<600 where killed == nil {
            let owner = try pg.query("SELECT owner FROM jobs WHERE target_id = '\(volumeBackup)' AND status = 'running'")
            if !owner.isEmpty, let holder = workers.first(where: { workerID($0) == owner }) {
                usleep(500_000)
                kill(holder.process.processIdentifier, SIGKILL)
                holder.process.waitUntilExit()
                killed = holder
            } else {
                usleep(50_000)
            }
        }
        let victim = try #require(killed, "a worker ran the volume's backup")
        let survivor = try #require(workers.first { $0 !== victim })
        #expect(try backups(vaults["volume"]!).first?["status"] as? String == "protecting", "killed mid-backup")

        // The survivor takes the job over when the lease runs out and finishes every backup.
        var ids: [String: String] = [:]
        for _ in 0..<240 {
            let all = try vaults.mapValues { try backups($0).first }
            if all.values.allSatisfy({ $0?["status"] as? String == "available" }) {
                ids = all.mapValues { $0?["id"] as? String ?? "" }
                break
            }
            #expect(!all.values.contains { $0?["status"] as? String == "error" }, "\(all)")
            sleep(1)
        }
        #expect(ids.count == 3, "every backup available: \(survivor.logData.text.suffix(3000))")
        #expect(try pg.query("SELECT attempts FROM jobs WHERE target_id = '\(volumeBackup)'") == "2", "the volume's job ran twice")

        // Change everything, restore every backup in place, compare byte for byte.
        for i in 0..<20 { try Data("changed".utf8).write(to: URL(fileURLWithPath: root + "/share/file\(i).bin")) }
        try Data("extra".utf8).write(to: URL(fileURLWithPath: root + "/share/extra.bin"))
        for image in ["volume.img", "vm-root.img", "vm-data.img"] {
            let h = try #require(FileHandle(forWritingAtPath: root + "/" + image))
            h.seek(toFileOffset: 1_000)
            h.write(Data(repeating: 0x5A, count: 70_000))
            h.closeFile()
        }
        let children = try client.call("GET", base + "/backups/\(ids["server"] ?? "")").json["backup"].flatMap { ($0 as? [String: Any])?["children"] as? [[String: Any]] } ?? []
        #expect(children.count == 2)
        let mappings = children.map { ["backup_id": $0["id"] as? String ?? "", "volume_id": $0["resource_id"] as? String ?? ""] }
        let targets: [String: [String: Any]] = ["share": [:], "volume": ["volume_id": volume], "server": ["server_id": server, "mappings": mappings]]
        for (name, id) in ids {
            let (status, body) = try client.call("POST", base + "/backups/\(id)/restore", ["restore": targets[name]!])
            #expect(status == 202, "\(name): \(body)")
        }
        for _ in 0..<240 {
            let logs = try client.call("GET", base + "/operation-logs?operation_type=restore").json["operation_logs"] as? [[String: Any]] ?? []
            if logs.count == 3 && logs.allSatisfy({ ["success", "failed"].contains($0["status"] as? String ?? "") }) {
                #expect(logs.allSatisfy { $0["status"] as? String == "success" }, "\(logs)")
                break
            }
            sleep(1)
        }
        var restoredShare = contents(of: root + "/share")
        restoredShare.removeValue(forKey: "extra.bin")  // restore in place keeps files the backup did not have
        #expect(restoredShare == originals["share"], "the directory restored byte for byte")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/volume.img")) == originals["volume"]?[""], "the volume restored byte for byte")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/vm-root.img")) == originals["server"]?["root"], "the server's root disk")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/vm-data.img")) == originals["server"]?["data"], "the server's data disk")

        // Every repository is in the bucket and checks clean, data included; none is on local disk.
        let checkEnvironment = ProcessInfo.processInfo.environment.merging(objstore.environment) { $1 }
        for (name, vaultID) in vaults {
            let check = try coffer(["repo", "check", "--read-data", "--repo", "\(store)/\(vaultID)", "--master-key-file", keyFile], env: checkEnvironment)
            #expect(check.status == 0, "\(name): \(check.stdout) \(check.stderr)")
        }
        for process in [api] + workers {
            let files = FileManager.default.enumerator(atPath: process.dataDirectory)?.compactMap { $0 as? String } ?? []
            let repositoryFiles = files.filter { ($0.contains("/data/") || $0.hasPrefix("vaults")) && !$0.hasPrefix("cache/") }
            #expect(repositoryFiles.isEmpty, "no repository under \(process.dataDirectory): \(repositoryFiles.prefix(5))")
        }
        for process in [survivor, api] {
            kill(process.process.processIdentifier, SIGTERM)
            process.process.waitUntilExit()
        }

        // The catalog lost: a new one rebuilt from the bucket with the master key alone.
        let rebuilt = try coffer(["admin", "--data-dir", temp.path + "/rebuilt", "--store", store, "--master-key-file", keyFile, "catalog", "rebuild", "--json"],
                                 env: checkEnvironment)
        let report = (try? JSONSerialization.jsonObject(with: Data(rebuilt.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(rebuilt.status == 0 && report["vaults"] as? Int == 3 && (report["problems"] as? [Any])?.isEmpty == true, "\(rebuilt.stdout) \(rebuilt.stderr)")
        #expect((report["backups"] as? Int ?? 0) >= 3, "\(report)")
    }
}
