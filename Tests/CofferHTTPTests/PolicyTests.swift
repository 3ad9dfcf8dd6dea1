import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

func policyBody(name: String = "daily-2am", pattern: [String] = ["FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=02;BYMINUTE=00"],
                definition: [String: Any] = ["max_backups": 7, "timezone": "UTC+08:00", "full_backup_interval": -1], type: String = "backup") -> [String: Any] {
    ["policy": ["name": name, "enabled": true, "operation_type": type, "operation_definition": definition, "trigger": ["properties": ["pattern": pattern]]]]
}

/// CBR policies as the SDKs, Terraform and Ansible use them (client-expectations.md §2–3).
@Suite struct Policies {
    @Test func createReadUpdateBindDelete() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await CofferTestSupport.call(client, token: token, method, uri, body)
            }
            // Terraform's shape: echoed as sent, -1 for unset count and duration, never null.
            let weekly = "FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=06;BYMINUTE=00", everyThird = "FREQ=DAILY;INTERVAL=3;BYHOUR=22;BYMINUTE=30"
            let (created, c) = try await call(.post, base + "/policies", policyBody(pattern: [weekly, everyThird],
                                                                                   definition: ["timezone": "UTC+08:00", "full_backup_interval": -1, "day_backups": 3]))
            #expect(created == .ok, "\(c)")
            let policy = try #require(c["policy"] as? [String: Any])
            let id = try #require(policy["id"] as? String)
            let od = try #require(policy["operation_definition"] as? [String: Any])
            #expect(od["timezone"] as? String == "UTC+08:00" && od["full_backup_interval"] as? Int == -1 && od["day_backups"] as? Int == 3)
            #expect(od["max_backups"] as? Int == -1 && od["retention_duration_days"] as? Int == -1)
            let trigger = try #require(policy["trigger"] as? [String: Any])
            let properties = try #require(trigger["properties"] as? [String: Any])
            #expect(properties["pattern"] as? [String] == [weekly, everyThird])
            #expect((properties["start_time"] as? String)?.count == 19 && trigger["type"] as? String == "time" && trigger["name"] as? String == "default")
            #expect(policy["enabled"] as? Bool == true && policy["operation_type"] as? String == "backup" && (policy["associated_vaults"] as? [Any])?.isEmpty == true)

            // find_*: by id 200, a name in the id slot 404.
            #expect(try await call(.get, base + "/policies/\(id)").0 == .ok)
            let (byName, nameBody) = try await call(.get, base + "/policies/daily-2am")
            #expect(byName == .notFound && nameBody["error_code"] as? String == "BackupService.6000")

            // Partial update keeps what is not sent; a new definition without a timezone keeps the old one.
            let (renamed, r) = try await call(.put, base + "/policies/\(id)", ["policy": ["name": "renamed", "enabled": false]])
            let rp = try #require(r["policy"] as? [String: Any])
            #expect(renamed == .ok && rp["name"] as? String == "renamed" && rp["enabled"] as? Bool == false)
            #expect(((rp["trigger"] as? [String: Any])?["properties"] as? [String: Any])?["pattern"] as? [String] == [weekly, everyThird])
            let (_, redefined) = try await call(.put, base + "/policies/\(id)", ["policy": ["operation_definition": ["max_backups": 10]]])
            let rd = try #require((redefined["policy"] as? [String: Any])?["operation_definition"] as? [String: Any])
            #expect(rd["max_backups"] as? Int == 10 && rd["timezone"] as? String == "UTC+08:00" && rd["day_backups"] == nil)
            let (_, repatterned) = try await call(.put, base + "/policies/\(id)", ["policy": ["trigger": ["properties": ["pattern": [everyThird]]]]])
            #expect((((repatterned["policy"] as? [String: Any])?["trigger"] as? [String: Any])?["properties"] as? [String: Any])?["pattern"] as? [String] == [everyThird])

            // Binding: at create, associate, dissociate; one backup policy per vault.
            let volume = try await registerVolume(client, base: base, token: token, name: "v", path: root.path + "/disk.img")
            var vault = vaultBody(name: "bound", resources: [["id": volume, "type": "OS::Cinder::Volume"]])
            var inner = vault["vault"] as! [String: Any]
            inner["backup_policy_id"] = id
            vault["vault"] = inner
            let (vaultMade, v) = try await call(.post, base + "/vaults", vault)
            let vaultID = try #require((v["vault"] as? [String: Any])?["id"] as? String, "\(vaultMade) \(v)")
            #expect((v["vault"] as? [String: Any])?["policy_id"] as? String == id)
            let (_, shown) = try await call(.get, base + "/policies/\(id)")
            #expect(((shown["policy"] as? [String: Any])?["associated_vaults"] as? [[String: Any]])?.first?["vault_id"] as? String == vaultID)
            let (_, byVault) = try await call(.get, base + "/policies?vault_id=\(vaultID)")
            #expect(byVault["count"] as? Int == 1 && (byVault["policies"] as? [[String: Any]])?.first?["id"] as? String == id)
            let (_, other) = try await call(.post, base + "/policies", policyBody(name: "other"))
            let otherID = try #require((other["policy"] as? [String: Any])?["id"] as? String)
            let (second, secondBody) = try await call(.post, base + "/vaults/\(vaultID)/associatepolicy", ["policy_id": otherID])
            #expect(second == .badRequest && secondBody["error_code"] as? String == "BackupService.6127")
            let (wrong, wrongBody) = try await call(.post, base + "/vaults/\(vaultID)/dissociatepolicy", ["policy_id": otherID])
            #expect(wrong == .notFound && wrongBody["error_code"] as? String == "BackupService.6002")
            let (off, offBody) = try await call(.post, base + "/vaults/\(vaultID)/dissociatepolicy", ["policy_id": id])
            #expect(off == .ok && (offBody["dissociate_policy"] as? [String: Any])?["vault_id"] as? String == vaultID)
            #expect((try await call(.get, base + "/vaults/\(vaultID)").1["vault"] as? [String: Any])?["policy_id"] == nil)
            let (on, onBody) = try await call(.post, base + "/vaults/\(vaultID)/associatepolicy", ["policy_id": otherID])
            #expect(on == .ok && (onBody["associate_policy"] as? [String: Any])?["policy_id"] as? String == otherID)
            #expect(try await call(.post, base + "/vaults/nope/associatepolicy", ["policy_id": otherID]).1["error_code"] as? String == "BackupService.6105")
            #expect(try await call(.post, base + "/vaults/\(vaultID)/associatepolicy", ["policy_id": "nope"]).1["error_code"] as? String == "BackupService.6000")

            // Listing: filters and openstacksdk's marker paging (an empty page past the end).
            let (_, all) = try await call(.get, base + "/policies?operation_type=backup")
            let order = (all["policies"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(all["count"] as? Int == 2 && Set(order) == [id, otherID])
            let (_, page) = try await call(.get, base + "/policies?limit=1&marker=\(order[0])")
            #expect((page["policies"] as? [[String: Any]])?.map { $0["id"] as? String } == [order[1]])
            let (_, past) = try await call(.get, base + "/policies?limit=1&marker=\(order[1])")
            #expect((past["policies"] as? [Any])?.isEmpty == true)
            #expect(try await call(.get, base + "/policies?operation_type=copy").0 == .badRequest)

            // Delete: 204, then 404; the vault it was bound to has none.
            let (deleted, _) = try await call(.delete, base + "/policies/\(otherID)")
            #expect(deleted == .noContent)
            #expect(try await call(.get, base + "/policies/\(otherID)").0 == .notFound)
            #expect((try await call(.get, base + "/vaults/\(vaultID)").1["vault"] as? [String: Any])?["policy_id"] == nil)
            var unknown = vaultBody(name: "unbound")
            var unknownInner = unknown["vault"] as! [String: Any]
            unknownInner["backup_policy_id"] = otherID
            unknown["vault"] = unknownInner
            #expect(try await call(.post, base + "/vaults", unknown).1["error_code"] as? String == "BackupService.6000")
        }
    }

    @Test func badPoliciesAreRefusedNamingTheRule() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let cases: [([String: Any], String, String)] = [
                (policyBody(pattern: ["FREQ=DAILY;BYHOUR=01,02;BYMINUTE=00,30"]), "BackupService.9900", "at least one hour apart"),
                (policyBody(pattern: ["FREQ=DAILY;BYHOUR=01;BYMINUTE=00", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=01;BYMINUTE=40"]), "BackupService.9900", "at least one hour apart"),
                (policyBody(pattern: (0..<25).map { "FREQ=DAILY;BYHOUR=\($0 % 24);BYMINUTE=00" }), "BackupService.9900", "at most 24 rules"),
                (policyBody(pattern: ["FREQ=HOURLY;BYHOUR=01;BYMINUTE=00"]), "BackupService.9900", "FREQ must be DAILY or WEEKLY"),
                (policyBody(pattern: ["FREQ=DAILY;BYDAY=MO;BYHOUR=01;BYMINUTE=00"]), "BackupService.9900", "BYDAY is for FREQ=WEEKLY"),
                (policyBody(pattern: ["FREQ=WEEKLY;BYHOUR=01;BYMINUTE=00"]), "BackupService.9900", "needs BYDAY"),
                (policyBody(pattern: ["FREQ=DAILY;BYHOUR=24;BYMINUTE=00"]), "BackupService.9900", "BYHOUR 24 must be 0 to 23"),
                (policyBody(pattern: ["FREQ=DAILY;BYHOUR=01"]), "BackupService.9900", "BYMINUTE is required"),
                (policyBody(pattern: ["FREQ=DAILY;COUNT=3;BYHOUR=01;BYMINUTE=00"]), "BackupService.9900", "COUNT is not supported"),
                (policyBody(pattern: []), "BackupService.9900", "at least one rule"),
                (policyBody(definition: ["max_backups": 0]), "BackupService.9900", "max_backups must be -1 or 1 to 99999"),
                (policyBody(definition: ["max_backups": 3, "retention_duration_days": 30]), "BackupService.9900", "cannot be combined"),
                (policyBody(definition: ["week_backups": 2]), "BackupService.9900", "needs policy.operation_definition.timezone"),
                (policyBody(definition: ["timezone": "UTC+8"]), "BackupService.9900", "timezone must be"),
                (policyBody(definition: ["full_backup_interval": 101]), "BackupService.9900", "full_backup_interval must be -1 to 100"),
                (policyBody(definition: ["advanced_retention_rules": ["weekly_retention_rules": ["retention_duration_periods": 2]]]), "BackupService.9900",
                 "advanced_retention_rules is not supported"),
                (policyBody(type: "replication"), "BackupService.9900", "replication is not supported"),
                (policyBody(type: "copy"), "BackupService.6117", "operation_type must be backup or replication"),
                (policyBody(name: "has space"), "BackupService.9900", "policy.name"),
                (["policy": ["name": "x", "operation_type": "backup", "trigger": ["properties": ["pattern": ["FREQ=DAILY;BYHOUR=1;BYMINUTE=0"]]]]],
                 "BackupService.9900", "policy.operation_definition is required"),
            ]
            for (body, code, message) in cases {
                let (status, answer) = try await call(client, token: token, .post, base + "/policies", body)
                #expect(status == .badRequest && answer["error_code"] as? String == code, "\(body): \(status) \(answer)")
                #expect((answer["error_msg"] as? String ?? "").contains(message), "\(answer) should say \(message)")
            }
            let (_, list) = try await call(client, token: token, .get, base + "/policies")
            #expect(list["count"] as? Int == 0)
        }
    }

    @Test func simulationPlaysScheduleAndRetention() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            // Daily at 02:00 for 10 days, keep 3 and the latest of each of the last 5 days... with a count of 3 and days 5.
            let inline: [String: Any] = ["operation_definition": ["max_backups": 3, "day_backups": 5, "timezone": "UTC+00:00"],
                                         "trigger": ["properties": ["pattern": ["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"]]]]
            let (status, body) = try await call(client, token: token, .post, base + "/coffer/policies/simulate",
                                                ["simulate": ["policy": inline, "start": "2027-01-01T00:00:00Z", "days": 10]])
            #expect(status == .ok, "\(body)")
            let simulation = try #require(body["simulation"] as? [String: Any])
            let backups = try #require(simulation["backups"] as? [[String: Any]])
            #expect(simulation["created"] as? Int == 10 && backups.count == 10)
            // At the end (Jan 11 00:00): the newest 3 by count, and the latest of each of the last 5 days (Jan 7..10; the 11th has none yet).
            #expect(simulation["kept"] as? Int == 4, "\(backups.map { ($0["created_at"] ?? "", $0["kept_by"] ?? "") })")
            #expect(backups.last?["kept_by"] as? [String] == ["max_backups", "day_backups"])
            #expect(backups.first?["kept"] as? Bool == false && (backups.first?["deleted_at"] as? String)?.hasPrefix("2027-01-06") == true, "the 1st is a day keeper until it leaves the 5-day window")
            // A stored policy by id; a bad one is refused like at create.
            let (_, created) = try await call(client, token: token, .post, base + "/policies", policyBody())
            let id = try #require((created["policy"] as? [String: Any])?["id"] as? String)
            let (byID, stored) = try await call(client, token: token, .post, base + "/coffer/policies/simulate", ["simulate": ["policy_id": id, "days": 7]])
            #expect(byID == .ok && (stored["simulation"] as? [String: Any])?["created"] as? Int == 7)
            let (bad, refused) = try await call(client, token: token, .post, base + "/coffer/policies/simulate",
                                                ["simulate": ["policy": ["trigger": ["properties": ["pattern": ["FREQ=DAILY;BYHOUR=1,2;BYMINUTE=0,30"]]]]]])
            #expect(bad == .badRequest && (refused["error_msg"] as? String ?? "").contains("one hour apart"))
            #expect(try await call(client, token: token, .post, base + "/coffer/policies/simulate", ["simulate": ["days": 7]]).0 == .badRequest)
            #expect(try await call(client, token: token, .post, base + "/coffer/policies/simulate", ["simulate": ["policy_id": id, "days": 400]]).0 == .badRequest)
        }
    }
}
