import CofferTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several `coffer serve` processes on one catalog (here SQLite in one data
/// directory): an `--role api` process answers and queues, a `--role worker`
/// process (no listener) runs the jobs; `--region` names the token catalog's region.
@Suite(.serialized) struct ProcessRoles {
    @Test func anAPIProcessQueuesAndAWorkerProcessRunsTheJob() throws {
        let api = try ServedCoffer(arguments: ["--role", "api", "--region", "eu-test-1"])
        let env = environment(repo: api.temp.path + "/unused", extra: ["COFFER_ENDPOINT": api.endpoint, "COFFER_CREDENTIALS": api.credentialsPath])
        func cli(_ args: [String]) throws -> [String: Any] {
            let r = try coffer(args + ["--json"], env: env)
            #expect(r.status == 0, "coffer \(args): \(r.stderr)")
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        for _ in 0..<100 where (try? coffer(["vault", "list"], env: env).status) != 0 { usleep(100_000) }
        try Data("kept by a worker process\n".utf8).write(to: URL(fileURLWithPath: api.resourceRoot + "/share/a.txt"))
        let resource = try cli(["resource", "add", "--type", "turbo", "--name", "share", "--path", api.resourceRoot + "/share"])
        let resourceID = try #require((resource["resource"] as? [String: Any])?["id"] as? String)
        let vault = try cli(["vault", "create", "--name", "roles", "--type", "turbo", "--resource", resourceID])
        let vaultID = try #require((vault["vault"] as? [String: Any])?["id"] as? String)
        _ = try cli(["checkpoint", "create", "--vault", vaultID])
        func status() throws -> String? { (try cli(["backup", "list", "--vault", vaultID])["backups"] as? [[String: Any]])?.first?["status"] as? String }
        sleep(3)
        #expect(try status() == "protecting", "an api process runs no job")

        let worker = try ServedCoffer(arguments: ["--role", "worker", "--resource-root", api.resourceRoot, "--job-lease", "20"], dataDirectory: api.dataDirectory)
        var last: String?
        for _ in 0..<60 {
            last = try status()
            if last != "protecting" { break }
            sleep(1)
        }
        #expect(last == "available", "the worker process made the backup: \(worker.logData.text.suffix(2000))")
        #expect(worker.logData.text.contains("listen=-"), "a worker has no listener")
        #expect(worker.logData.text.contains("role=worker"))

        // The token catalog names the configured region.
        let creds = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: api.credentialsPath))) as? [String: Any])
        let body = #"{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"\#(creds["user_name"] as? String ?? "")","domain":{"name":"Default"},"password":"\#(creds["password"] as? String ?? "")"}}},"scope":{"project":{"id":"\#(creds["project_id"] as? String ?? "")"}}}}"#
        let token = try run("/usr/bin/curl", ["-sf", "-X", "POST", "-H", "Content-Type: application/json", "-d", body, api.endpoint + "/v3/auth/tokens"])
        #expect(token.status == 0 && token.stdout.contains("\"region\":\"eu-test-1\"") && !token.stdout.contains("coffer-local"), "\(token.stdout.prefix(600))")

        // A key revoked by another process (the admin CLI, straight in the catalog) stops working here within seconds:
        // the serving process caches a credential for 5 s at most.
        let made = try coffer(["admin", "--data-dir", api.dataDirectory, "key", "create", "--project", "admin", "--json"], env: [:])
        let key = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any], "\(made.stderr)")
        let keyFile = api.temp.path + "/second-key.json"
        try JSONSerialization.data(withJSONObject: ["project_id": creds["project_id"] ?? "", "access_key": key["access_key"] ?? "", "secret_key": key["secret_key"] ?? ""])
            .write(to: URL(fileURLWithPath: keyFile))
        let keyEnv = environment(repo: api.temp.path + "/unused", extra: ["COFFER_ENDPOINT": api.endpoint, "COFFER_CREDENTIALS": keyFile])
        #expect(try coffer(["vault", "list"], env: keyEnv).status == 0, "the new key works")
        let revoked = try coffer(["admin", "--data-dir", api.dataDirectory, "key", "delete", "--project", "admin", key["access_key"] as? String ?? ""], env: [:])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        var refusedAfter: Int?
        for second in 0..<15 {
            if try coffer(["vault", "list"], env: keyEnv).status != 0 { refusedAfter = second; break }
            sleep(1)
        }
        #expect(refusedAfter.map { $0 <= 6 } == true, "a key revoked elsewhere is refused within seconds: \(String(describing: refusedAfter))")

        for server in [worker, api] {
            kill(server.process.processIdentifier, SIGTERM)
            server.process.waitUntilExit()
        }
    }
}
