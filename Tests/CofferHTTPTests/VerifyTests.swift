import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import CofferHTTP

@Suite struct VaultVerification {
    /// POST .../coffer/vaults/{id}/verify runs as a job: whole data reads as success with what was read;
    /// a flipped bit fails it naming the file; bad input and other projects' vaults are refused.
    @Test func verifyJobReportsWholeAndDamagedData() async throws {
        let root = ResourceRoot()
        try Data(randomBytesForTest(200_000)).write(to: URL(fileURLWithPath: root.path + "/share/docs/data.bin"))
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let other = try await server.services.identity.createProject(name: "other")
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let base = "/v3/\(admin.project_id)"
            let (_, share) = try await call(client, token: token, .post, base + "/coffer/resources", ["resource": ["type": "OS::Sfs::Turbo", "name": "share", "path": root.path + "/share"]])
            let shareID = (share["resource"] as? [String: Any])?["id"] as? String ?? ""
            let (_, vault) = try await call(client, token: token, .post, base + "/vaults", vaultBody(name: "v", objectType: "turbo", resources: [["id": shareID, "type": "OS::Sfs::Turbo"]]))
            let vaultID = (vault["vault"] as? [String: Any])?["id"] as? String ?? ""
            _ = try await call(client, token: token, .post, base + "/checkpoints", ["checkpoint": ["vault_id": vaultID]])
            try await server.services.worker.drain()

            let verify = base + "/coffer/vaults/\(vaultID)/verify"
            let (accepted, body) = try await call(client, token: token, .post, verify, ["verify": ["subset": "next/1"]])
            #expect(accepted == .accepted, "\(body)")
            let logID = body["operation_log_id"] as? String ?? ""
            try await server.services.worker.drain()
            let (_, shown) = try await call(client, token: token, .get, base + "/operation-logs/\(logID)")
            let log = shown["operation_log"] as? [String: Any] ?? [:]
            #expect(log["status"] as? String == "success" && log["operation_type"] as? String == "verify", "\(log)")
            let notes = ((log["extra_info"] as? [String: Any])?["verify"] as? [String: Any])?["notes"] as? [String] ?? []
            #expect(notes.first?.contains("packs read") == true, "\(notes)")

            // Flip a bit in every pack of the vault: the next verification fails and names the file.
            let packs = FileManager.default.enumerator(atPath: server.dir + "/vaults/\(vaultID)/data")?.compactMap { $0 as? String }.filter { $0.count > 60 } ?? []
            #expect(!packs.isEmpty)
            for pack in packs {
                let path = server.dir + "/vaults/\(vaultID)/data/" + pack
                var data = try Data(contentsOf: URL(fileURLWithPath: path))
                data[data.startIndex + 40] ^= 0x01
                try data.write(to: URL(fileURLWithPath: path))
            }
            let (_, again) = try await call(client, token: token, .post, verify)
            try await server.services.worker.drain()
            let (_, failed) = try await call(client, token: token, .get, base + "/operation-logs/\(again["operation_log_id"] as? String ?? "")")
            let failedLog = failed["operation_log"] as? [String: Any] ?? [:]
            let info = failedLog["error_info"] as? [String: Any] ?? [:]
            #expect(failedLog["status"] as? String == "failed" && info["code"] as? String == "Coffer.0001", "\(failedLog)")
            #expect((info["message"] as? String ?? "").contains("damaged"), "\(info)")

            // Bad input and someone else's vault.
            let (badSubset, bad) = try await call(client, token: token, .post, verify, ["verify": ["subset": "0/3"]])
            #expect(badSubset == .badRequest && (bad["error_msg"] as? String ?? "").contains("verify.subset"))
            let (badDuration, _) = try await call(client, token: token, .post, verify, ["verify": ["max_duration_seconds": 0]])
            #expect(badDuration == .badRequest)
            let otherToken = try await client.token(user: other.user_name, password: other.password, project: "other")
            let (foreign, _) = try await call(client, token: otherToken, .post, "/v3/\(other.project_id)/coffer/vaults/\(vaultID)/verify")
            #expect(foreign == .notFound)
        }
    }
}

func randomBytesForTest(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255) } }
