import CofferSystem
import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `coffer serve` on a loopback port, driven by the official Python clients
/// (huaweicloudsdkcore's signer, keystoneauth1), then stopped with SIGTERM.
@Suite struct ServerInterop {
    @Test func officialClientsAgainstRunningServer() throws {
        let python = try interopPython()
        let served = try ServedCoffer()
        let (server, port, resourceRoot, creds, logData) = (served.process, served.port, served.resourceRoot, served.credentialsPath, served.logData)
        let t = served.temp
        let perms = try FileManager.default.attributesOfItem(atPath: creds)[.posixPermissions] as? Int
        #expect(perms == 0o600)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: creds))) as? [String: Any])
        #expect(Set(object.keys) == ["project_id", "project_name", "user_name", "password", "access_key", "secret_key"])
        let interop = try run(python, [packageRoot() + "/Tests/interop/identity_interop.py", "http://127.0.0.1:\(port)", creds])
        #expect(interop.status == 0, "\(interop.stdout)\n\(interop.stderr)")
        #expect(interop.stdout.contains("interop ok"))
        let cbr = try run(python, [packageRoot() + "/Tests/interop/cbr_interop.py", "http://127.0.0.1:\(port)", creds, resourceRoot + "/share"])
        #expect(cbr.status == 0, "\(cbr.stdout)\n\(cbr.stderr)")
        #expect(cbr.stdout.contains("cbr interop ok"))
        // Policies through huaweicloudsdkcbr and otcextensions, and Terraform's call sequence.
        let policies = try run(python, [packageRoot() + "/Tests/interop/policy_interop.py", "http://127.0.0.1:\(port)", creds])
        #expect(policies.status == 0, "\(policies.stdout)\n\(policies.stderr)")
        #expect(policies.stdout.contains("policy interop ok"))
        // CBR agents through huaweicloudsdkcbr.
        let agents = try run(python, [packageRoot() + "/Tests/interop/agent_interop.py", "http://127.0.0.1:\(port)", creds])
        #expect(agents.status == 0, "\(agents.stdout)\n\(agents.stderr)")
        #expect(agents.stdout.contains("agent interop ok"))
        // CSBS through openstacksdk + otcextensions (Keystone token, catalog discovery).
        try FileManager.default.createDirectory(atPath: resourceRoot + "/csbs", withIntermediateDirectories: true)
        let csbs = try run(python, [packageRoot() + "/Tests/interop/csbs_interop.py", "http://127.0.0.1:\(port)", creds, resourceRoot + "/csbs"])
        #expect(csbs.status == 0, "\(csbs.stdout)\n\(csbs.stderr)")
        #expect(csbs.stdout.contains("csbs interop ok"))
        // RDS through huaweicloudsdkrds against a real PostgreSQL (the project's own script).
        let pgDirectory = t.path + "/pg"
        let pg = try Subprocess.run("/bin/bash", [packageRoot() + "/scripts/start-postgres.sh", pgDirectory, String(freePort())], mergeStandardError: false)
        defer { _ = try? Subprocess.run("/bin/bash", [packageRoot() + "/scripts/stop-postgres.sh", pgDirectory]) }
        #expect(pg.status == 0, "\(pg.output)")
        let pgURL = pg.output.split(separator: "\n").first { $0.hasPrefix("PG_URL=") }.map { String($0.dropFirst(7)).trimmingCharacters(in: CharacterSet(charactersIn: "'")) } ?? ""
        let rds = try run(python, [packageRoot() + "/Tests/interop/rds_interop.py", "http://127.0.0.1:\(port)", creds, pgURL])
        #expect(rds.status == 0, "\(rds.stdout)\n\(rds.stderr)")
        #expect(rds.stdout.contains("rds interop ok"))
        // The CLI client verbs against the same server.
        try FileManager.default.createDirectory(atPath: resourceRoot + "/cli", withIntermediateDirectories: true)
        try Data("from the cli\n".utf8).write(to: URL(fileURLWithPath: resourceRoot + "/cli/note.txt"))
        let clientEnv = environment(repo: t.path + "/unused", extra: ["COFFER_ENDPOINT": "http://127.0.0.1:\(port)", "COFFER_CREDENTIALS": creds])
        func cli(_ args: [String]) throws -> [String: Any] {
            let r = try coffer(args + ["--json"], env: clientEnv)
            #expect(r.status == 0, "coffer \(args): \(r.stderr)")
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        let resource = try cli(["resource", "add", "--type", "turbo", "--name", "cli-share", "--path", resourceRoot + "/cli"])
        let resourceID = (resource["resource"] as? [String: Any])?["id"] as? String ?? ""
        let vault = try cli(["vault", "create", "--name", "cli-vault", "--type", "turbo", "--size", "10", "--resource", resourceID])
        let vaultID = (vault["vault"] as? [String: Any])?["id"] as? String ?? ""
        let updated = try cli(["vault", "update", vaultID, "--size", "20", "--auto-expand", "true", "--name", "cli-vault-2"])["vault"] as? [String: Any] ?? [:]
        #expect((updated["billing"] as? [String: Any])?["size"] as? Int == 20 && updated["auto_expand"] as? Bool == true && updated["name"] as? String == "cli-vault-2")
        #expect(try cli(["vault", "remove-resources", vaultID, "--resource", resourceID])["remove_resource_ids"] as? [String] == [resourceID])
        #expect(try cli(["vault", "add-resources", vaultID, "--resource", resourceID])["add_resource_ids"] as? [String] == [resourceID])
        let nothing = try coffer(["vault", "update", vaultID], env: clientEnv)
        #expect(nothing.status != 0 && nothing.stderr.contains("nothing to change"))
        let done = try cli(["checkpoint", "create", "--vault", vaultID, "--wait"])
        let made = done["backups"] as? [[String: Any]] ?? []
        #expect(made.count == 1 && made.first?["status"] as? String == "available")
        let backupID = made.first?["id"] as? String ?? ""
        // Restores land only inside the project's own resources: a new directory in the share.
        let restored = try coffer(["restore", backupID, "--destination", resourceRoot + "/cli/restored", "--wait"], env: clientEnv)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(FileManager.default.contents(atPath: resourceRoot + "/cli/restored/note.txt") == Data("from the cli\n".utf8))
        let elsewhere = try coffer(["restore", backupID, "--destination", resourceRoot + "/cli-restored", "--wait"], env: clientEnv)
        #expect(elsewhere.status != 0 && elsewhere.stderr.contains("restore.details.destination_path"), "\(elsewhere.stderr)")
        let refused = try coffer(["resource", "add", "--type", "turbo", "--name", "x", "--path", "/etc"], env: clientEnv)
        #expect(refused.status != 0 && refused.stderr.contains("resource root"))
        // The CLI's rds verbs: a backup, then a restore into a new data directory.
        let registered = try coffer(["resource", "add", "--type", "rds", "--name", "cli-pg", "--json"], env: clientEnv.merging(["COFFER_DB_CONNECTION": pgURL]) { $1 })
        #expect(registered.status == 0 && !registered.stdout.contains("coffer-secret"), "\(registered.stderr)")
        let instanceID = ((try? JSONSerialization.jsonObject(with: Data(registered.stdout.utf8))) as? [String: Any]).flatMap { $0["resource"] as? [String: Any] }?["id"] as? String ?? ""
        #expect(instanceID.hasSuffix("in03"))
        let rdsBackup = try cli(["rds", "backup", instanceID, "--name", "cli-backup", "--wait"])["backup"] as? [String: Any] ?? [:]
        #expect(rdsBackup["status"] as? String == "COMPLETED", "\(rdsBackup)")
        try FileManager.default.createDirectory(atPath: resourceRoot + "/pg-restores", withIntermediateDirectories: true)
        _ = try cli(["resource", "add", "--type", "turbo", "--name", "pg-restores", "--path", resourceRoot + "/pg-restores"])
        let restoredDir = resourceRoot + "/pg-restores/pg-from-cli"
        let restoredJob = try cli(["rds", "restore", rdsBackup["id"] as? String ?? "", "--data-dir", restoredDir, "--wait"])["job"] as? [String: Any] ?? [:]
        #expect(restoredJob["status"] as? String == "Completed", "\(restoredJob)")
        #expect(FileManager.default.fileExists(atPath: restoredDir + "/PG_VERSION"))
        // Graceful shutdown on SIGTERM.
        kill(server.processIdentifier, SIGTERM)
        for _ in 0..<100 where server.isRunning { usleep(100_000) }
        #expect(!server.isRunning, "server did not stop on SIGTERM")
        if !server.isRunning { #expect(server.terminationStatus == 0) }
        _ = served.logEnded.wait(timeout: .now() + 10)
        // Secrets never reach the log; request ids do.
        let text = logData.text
        for key in ["password", "secret_key"] {
            if let secret = object[key] as? String {
                // Not even at bootstrap: the credentials are only in the 0600 file, and stdout says where.
                #expect(!text.contains(secret), "\(key) appeared in the server's output")
            }
        }
    }
}

/// schemathesis against the running server's own /openapi.json: no 5xx, no
/// undocumented status, every response body matching the document.
@Suite struct APIFuzz {
    @Test func liveServerConformsToItsOpenAPIDocument() throws {
        let python = try interopPython()
        let served = try ServedCoffer()
        let fuzz = try run(python, [packageRoot() + "/Tests/interop/api_fuzz.py", served.endpoint, served.credentialsPath, served.resourceRoot])
        #expect(fuzz.status == 0, "\(fuzz.stdout)\n\(fuzz.stderr)")
        #expect(fuzz.stdout.contains("api fuzz ok"))
        #expect(!served.logData.text.contains("Fatal error"))
    }

    @Test func committedDocumentIsTheServedOne() throws {
        let printed = try coffer(["openapi"], env: ProcessInfo.processInfo.environment)
        let committed = try String(contentsOfFile: packageRoot() + "/docs/openapi.json", encoding: .utf8)
        #expect(printed.status == 0)
        let same = printed.stdout == committed
        #expect(same, "docs/openapi.json is stale: run `coffer openapi > docs/openapi.json`")
    }

    /// The document is valid OpenAPI 3 (openapi-spec-validator), not only what schemathesis tolerates.
    @Test func documentValidates() throws {
        let python = try interopPython()
        let checked = try run(python, ["-c", "import sys; from openapi_spec_validator import validate; from openapi_spec_validator.readers import read_from_filename; "
                                             + "validate(read_from_filename(sys.argv[1])[0]); print('valid')", packageRoot() + "/docs/openapi.json"])
        #expect(checked.status == 0 && checked.stdout.contains("valid"), "\(checked.stdout)\n\(checked.stderr)")
    }
}
