import CofferCrypto
import CofferModel
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import CofferHTTP

/// Deleted backups' space comes back through the vault's prune, a job of its
/// own: one for many deletions, queued by the scheduler's pass, in two phases
/// around the grace period, and the vault's `used` follows.
@Suite struct VaultPrunes {
    @Test func deletionsAreReclaimedByOnePruneAfterTheGracePeriod() async throws {
        let root = ResourceRoot()
        let file = root.path + "/share/data.bin"
        try Data(randomBytes(3_000_000)).write(to: URL(fileURLWithPath: file))
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin, services = server.services
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let share = try await post(client, base + "/coffer/resources", token: token, ["resource": ["type": "OS::Sfs::Turbo", "name": "share", "path": root.path + "/share"]])
            let shareID = try #require((json(share.body)["resource"] as? [String: Any])?["id"] as? String)
            let made = try await post(client, base + "/vaults", token: token, vaultBody(name: "pruned", objectType: "turbo", resources: [["id": shareID, "type": "OS::Sfs::Turbo"]]))
            let vaultID = try #require((json(made.body)["vault"] as? [String: Any])?["id"] as? String)
            func used() async throws -> Int {
                try await client.execute(uri: base + "/vaults/\(vaultID)", method: .get, headers: [authToken: token]) { r in
                    ((json(r.body)["vault"] as? [String: Any])?["billing"] as? [String: Any])?["used"] as? Int ?? -1
                }
            }
            // Two backups of different 3 MB of random data, then both deleted.
            var backups: [String] = []
            for round in 0..<2 {
                if round == 1 { try Data(randomBytes(3_000_000)).write(to: URL(fileURLWithPath: file)) }
                let cp = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": vaultID]])
                #expect(cp.status == .ok)
                try await services.worker.drain()
                let list = try await client.execute(uri: base + "/backups?vault_id=\(vaultID)", method: .get, headers: [authToken: token]) { r in
                    json(r.body)["backups"] as? [[String: Any]] ?? []
                }
                backups = list.compactMap { $0["id"] as? String }
            }
            #expect(backups.count == 2)
            let full = try await used()
            #expect(full >= 5, "two backups of 3 MB each: \(full) MB")
            for id in backups {
                try await client.execute(uri: base + "/backups/\(id)", method: .delete, headers: [authToken: token]) { r in #expect(r.status == .noContent) }
            }
            try await services.worker.drain()
            #expect(try await used() == full, "deleting a backup removes its snapshot; its data waits for the prune")

            // Two passes queue one prune for both deletions (the worker runs what is queued: the count says how many).
            _ = try await services.scheduler.pass()
            _ = try await services.scheduler.pass()
            #expect(try await services.worker.drain() == 1, "one prune, queued once")
            #expect(try await used() == full, "the first phase only marks the unused packs (a backup in flight may still need them)")
            _ = try await services.scheduler.pass()
            #expect(try await services.worker.drain() == 0, "the second phase waits for the grace period")

            server.clock.advance(by: 3_601)
            _ = try await services.scheduler.pass()
            #expect(try await services.worker.drain() == 1, "then it runs")
            let after = try await used()
            #expect(after < 1, "after the grace period the space is back: \(after) MB of \(full)")
            _ = try await services.scheduler.pass()
            #expect(try await services.worker.drain() == 0, "nothing more to do")
        }
    }
}
