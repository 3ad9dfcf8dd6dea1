import CofferCrypto
import CofferEngine
import CofferRepository
@testable import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP

/// Registers the root's share and its two-disk server, each in a vault of its own.
func shareAndServerInVaults(_ client: any TestClientProtocol, base: String, token: String, root: ResourceRoot) async throws
    -> (shareID: String, serverID: String, diskIDs: [String], fileVault: String, serverVault: String) {
    let share = try await post(client, base + "/coffer/resources", token: token, ["resource": ["type": "OS::Sfs::Turbo", "name": "share", "path": root.path + "/share"]])
    let shareID = (json(share.body)["resource"] as? [String: Any])?["id"] as? String ?? ""
    let srv = try await post(client, base + "/coffer/resources", token: token, ["resource": ["type": "OS::Nova::Server", "name": "vm1", "disks": [
        ["name": "root", "path": root.path + "/vm-root.img", "bootable": true], ["name": "data", "path": root.path + "/vm-data.img"]]]])
    let srvBody = json(srv.body)["resource"] as? [String: Any] ?? [:]
    let serverID = srvBody["id"] as? String ?? ""
    let diskIDs = (srvBody["disks"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    let fileVault = try await post(client, base + "/vaults", token: token, vaultBody(name: "files", objectType: "turbo", resources: [["id": shareID, "type": "OS::Sfs::Turbo"]]))
    let serverVault = try await post(client, base + "/vaults", token: token, vaultBody(name: "servers", objectType: "server", resources: [["id": serverID, "type": "OS::Nova::Server"]]))
    return (shareID, serverID, diskIDs, (json(fileVault.body)["vault"] as? [String: Any])?["id"] as? String ?? "",
            (json(serverVault.body)["vault"] as? [String: Any])?["id"] as? String ?? "")
}

@Suite struct CheckpointsAndBackups {
    @Test func backupThroughTheAPIProtectsRealData() async throws {
        let root = ResourceRoot()
        // Real content: files in the share, data in the disk images.
        try Data("hello from the share\n".utf8).write(to: URL(fileURLWithPath: root.path + "/share/docs/readme.txt"))
        let h = FileHandle(forWritingAtPath: root.path + "/vm-data.img")!
        h.seek(toFileOffset: 4096); h.write(Data(repeating: 0xAB, count: 300_000)); h.closeFile()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let setup = try await shareAndServerInVaults(client, base: base, token: token, root: root)
            let (serverID, turboVaultID, serverVaultID) = (setup.serverID, setup.fileVault, setup.serverVault)
            // Protectables name the vault a resource is bound to.
            try await client.execute(uri: base + "/protectables/turbo/instances/\(setup.shareID)", method: .get, headers: [authToken: token]) { r in
                let result = (json(r.body)["instance"] as? [String: Any])?["protectable"] as? [String: Any]
                #expect((result?["vault"] as? [String: Any])?["id"] as? String == turboVaultID)
            }

            // Checkpoint: returns at once, backups listable as protecting.
            let cp = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": turboVaultID, "parameters": ["name": "first", "description": "d"]]])
            #expect(cp.status == .ok, "\(json(cp.body))")
            let checkpoint = try #require(json(cp.body)["checkpoint"] as? [String: Any])
            #expect(checkpoint["status"] as? String == "protecting")
            let cpID = try #require(checkpoint["id"] as? String)
            try await client.execute(uri: base + "/backups?checkpoint_id=\(cpID)", method: .get, headers: [authToken: token]) { r in
                let list = json(r.body)["backups"] as? [[String: Any]] ?? []
                #expect(list.count == 1 && list.first?["status"] as? String == "protecting")
            }
            // The vault cannot go while its backup runs.
            try await client.execute(uri: base + "/vaults/\(turboVaultID)", method: .delete, headers: [authToken: token]) { r in
                #expect(json(r.body)["error_code"] as? String == "BackupService.6203")
            }
            // The second checkpoint of a resource already in progress is refused.
            let busy = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": turboVaultID]])
            #expect(busy.status == .badRequest && json(busy.body)["error_code"] as? String == "BackupService.0001")

            let serverCP = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": serverVaultID]])
            #expect(serverCP.status == .ok)
            #expect(try await services.worker.drain() == 2)

            // Now available, with snapshot ids, sizes, op logs.
            try await client.execute(uri: base + "/checkpoints/\(cpID)", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["checkpoint"] as? [String: Any])?["status"] as? String == "available")
            }
            var fileBackup: [String: Any] = [:]
            try await client.execute(uri: base + "/backups?vault_id=\(turboVaultID)", method: .get, headers: [authToken: token]) { r in
                let list = json(r.body)["backups"] as? [[String: Any]] ?? []
                #expect(list.count == 1 && list[0]["status"] as? String == "available")
                fileBackup = list.first ?? [:]
            }
            #expect(fileBackup["name"] as? String == "first" && fileBackup["provider_id"] as? String == "3f3c3220-245c-4805-b811-758870015881")
            let snapshotHex = try #require((fileBackup["extend_info"] as? [String: Any])?["snapshot_id"] as? String)
            var serverBackup: [String: Any] = [:]
            try await client.execute(uri: base + "/backups?resource_type=OS::Nova::Server", method: .get, headers: [authToken: token]) { r in
                serverBackup = (json(r.body)["backups"] as? [[String: Any]])?.first ?? [:]
            }
            let children = try #require(serverBackup["children"] as? [[String: Any]])
            #expect(children.count == 2 && children.allSatisfy { $0["status"] as? String == "available" && $0["resource_type"] as? String == "OS::Cinder::Volume" })
            #expect(children.allSatisfy { $0["parent_id"] as? String == serverBackup["id"] as? String })
            #expect((serverBackup["extend_info"] as? [String: Any])?["contain_system_disk"] as? Bool == true)
            try await client.execute(uri: base + "/operation-logs?operation_type=backup&status=success", method: .get, headers: [authToken: token]) { r in
                #expect(json(r.body)["count"] as? Int == 2)
            }
            try await client.execute(uri: base + "/vaults/\(turboVaultID)", method: .get, headers: [authToken: token]) { r in
                let used = ((json(r.body)["vault"] as? [String: Any])?["billing"] as? [String: Any])?["used"] as? Int ?? 0
                #expect(used >= 1)
            }
            // The data really is in the vault's repository.
            let vault = try #require(try await services.vaults.record(id: turboVaultID))
            let repository = try await services.vaults.openRepository(vault)
            let restoreDir = root.path + "/../restored"
            let result = try await Restorer(repository: repository).restore(snapshot: try #require(Hash256(hex: snapshotHex)), target: restoreDir)
            #expect(result.errors.isEmpty)
            #expect(FileManager.default.contents(atPath: restoreDir + "/docs/readme.txt") == Data("hello from the share\n".utf8))

            // A second checkpoint is incremental.
            _ = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": turboVaultID]])
            try await services.worker.drain()
            try await client.execute(uri: base + "/backups?vault_id=\(turboVaultID)&sort=created_at:asc&incremental=true", method: .get, headers: [authToken: token]) { r in
                #expect(json(r.body)["count"] as? Int == 1)
            }
            // Paging and validation.
            try await client.execute(uri: base + "/backups?limit=1&offset=0", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["backups"] as? [Any])?.count == 1 && (json(r.body)["count"] as? Int ?? 0) >= 3)
            }
            // Every documented filter narrows the listing; kinds Coffer never holds match nothing.
            let expectations: [(String, Int)] = [
                ("resource_name=shar", 2), ("resource_name=vm", 1), ("resource_name=zzz", 0),
                ("resource_az=", 3), ("resource_az=az9", 0), ("used_percent=1", 0), ("used_percent=100", 0),
                ("dec=false", 3), ("dec=true", 0), ("own_type=private", 3), ("own_type=all_granted", 3), ("own_type=shared", 0),
                ("member_status=accepted", 0), ("show_replication=True", 3), ("enterprise_project_id=0", 3), ("enterprise_project_id=other", 0),
                ("incremental=False", 2), ("status=available,error", 3), ("status=error", 0), ("status=available&status=error", 3),
            ]
            for (query, count) in expectations {
                try await client.execute(uri: base + "/backups?\(query)", method: .get, headers: [authToken: token]) { r in
                    #expect(r.status == .ok && json(r.body)["count"] as? Int == count, "\(query): \(json(r.body))")
                }
            }
            // Marker paging walks the whole listing without repeats.
            var seen: [String] = [], marker = ""
            for _ in 0..<5 {
                var page: [[String: Any]] = []
                try await client.execute(uri: base + "/backups?limit=1&sort=created_at:asc" + (marker.isEmpty ? "" : "&marker=\(marker)"), method: .get, headers: [authToken: token]) { r in
                    page = json(r.body)["backups"] as? [[String: Any]] ?? []
                }
                guard let id = page.first?["id"] as? String else { break }
                seen.append(id); marker = id
            }
            #expect(seen.count == 3 && Set(seen).count == 3)
            let logExpectations: [(String, Int)] = [
                ("vault_name=files", 2), ("vault_name=serv", 1), ("resource_name=vm1", 1), ("provider_id=3f3c3220-245c-4805-b811-758870015881", 2),
                ("start_time=2000-01-01T00:00:00Z", 3), ("end_time=2000-01-01T00:00:00Z", 0), ("provider_id=x", 0),
            ]
            for (query, count) in logExpectations {
                try await client.execute(uri: base + "/operation-logs?\(query)", method: .get, headers: [authToken: token]) { r in
                    #expect(r.status == .ok && json(r.body)["count"] as? Int == count, "\(query): \(json(r.body))")
                }
            }
            for bad in ["limit=0", "sort=size:up", "status=nice", "start_time=yesterday", "marker=nope", "used_percent=0", "dec=maybe", "own_type=mine", "member_status=x"] {
                try await client.execute(uri: base + "/backups?\(bad)", method: .get, headers: [authToken: token]) { r in #expect(r.status == .badRequest, "\(bad)") }
            }
            try await client.execute(uri: base + "/backups/nope", method: .get, headers: [authToken: token]) { r in
                #expect(r.status == .notFound && json(r.body)["error_code"] as? String == "BackupService.6200")
            }
            try await client.execute(uri: base + "/checkpoints/nope", method: .get, headers: [authToken: token]) { r in
                #expect(json(r.body)["error_code"] as? String == "BackupService.6217")
            }
            try await client.execute(uri: base + "/operation-logs/nope", method: .get, headers: [authToken: token]) { r in
                #expect(json(r.body)["error_code"] as? String == "BackupService.6500")
            }
            let unbound = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": turboVaultID, "parameters": ["resources": [serverID]]]])
            #expect(json(unbound.body)["error_code"] as? String == "BackupService.6135")
            let noVault = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": "missing"]])
            #expect(noVault.status == .notFound && json(noVault.body)["error_code"] as? String == "BackupService.6105")
            // Deleting the vault takes its backups along.
            try await client.execute(uri: base + "/vaults/\(turboVaultID)", method: .delete, headers: [authToken: token]) { r in #expect(r.status == .noContent) }
            try await client.execute(uri: base + "/backups?vault_id=\(turboVaultID)", method: .get, headers: [authToken: token]) { r in #expect(json(r.body)["count"] as? Int == 0) }
            // The deletion is recorded with what went: both count pairs clients read.
            try await client.execute(uri: base + "/operation-logs?operation_type=vault_delete&vault_id=\(turboVaultID)", method: .get, headers: [authToken: token]) { r in
                let log = (json(r.body)["operation_logs"] as? [[String: Any]])?.first
                let counts = (log?["extra_info"] as? [String: Any])?["vault_delete"] as? [String: Any]
                #expect(log?["status"] as? String == "success" && counts?["total_count"] as? Int == 2 && counts?["fail_count"] as? Int == 0, "\(json(r.body))")
                #expect(counts?["total_delete_count"] as? Int == 2 && counts?["fail_delete_count"] as? Int == 0)
            }
        }
    }

    @Test func failedBackupEndsInErrorWithReason() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let (_, vaultID) = try await volumeInVault(client, base: base, token: token, name: "gone", path: root.path + "/disk.img")
            _ = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": vaultID]])
            try FileManager.default.removeItem(atPath: root.path + "/disk.img")  // the source vanishes
            try await services.worker.drain()
            try await client.execute(uri: base + "/backups?vault_id=\(vaultID)", method: .get, headers: [authToken: token]) { r in
                let b = (json(r.body)["backups"] as? [[String: Any]])?.first ?? [:]
                #expect(b["status"] as? String == "error")
                #expect((b["fail_reason"] as? String ?? "").contains("disk.img"))
            }
            try await client.execute(uri: base + "/operation-logs?status=failed", method: .get, headers: [authToken: token]) { r in
                let log = (json(r.body)["operation_logs"] as? [[String: Any]])?.first ?? [:]
                #expect(((log["error_info"] as? [String: Any])?["message"] as? String ?? "").contains("disk.img"))
            }
        }
    }

    @Test func backupThatOutgrowsTheVaultEndsIn6114() async throws {
        let root = ResourceRoot()
        var random = SystemRandomNumberGenerator()
        let h = FileHandle(forWritingAtPath: root.path + "/disk.img")!
        h.seek(toFileOffset: 1 << 30); h.write(Data((0..<(4 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) })); h.closeFile()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let (_, vaultID) = try await volumeInVault(client, base: base, token: token, name: "big", path: root.path + "/disk.img", size: 10)
            // 1 MiB left: the checkpoint starts, the 4 MiB of new data cannot fit.
            try await services.catalog.vaults.setUsage(vault: vaultID, bytes: (10 << 30) - (1 << 20), at: nil)
            let cp = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": vaultID]])
            #expect(cp.status == .ok)
            try await services.worker.drain()
            try await client.execute(uri: base + "/backups?vault_id=\(vaultID)", method: .get, headers: [authToken: token]) { r in
                let b = (json(r.body)["backups"] as? [[String: Any]])?.first ?? [:]
                #expect(b["status"] as? String == "error")
                #expect((b["fail_reason"] as? String ?? "").contains("is full"), "\(b)")
            }
            try await client.execute(uri: base + "/operation-logs?vault_id=\(vaultID)", method: .get, headers: [authToken: token]) { r in
                let log = (json(r.body)["operation_logs"] as? [[String: Any]])?.first ?? [:]
                #expect(log["status"] as? String == "failed")
                #expect((log["error_info"] as? [String: Any])?["code"] as? String == "BackupService.6114")
                let progress = ((log["extra_info"] as? [String: Any])?["common"] as? [String: Any])?["progress"] as? Int ?? -1
                #expect((0..<100).contains(progress))
            }
            // What the stopped backup stored is unreferenced: it planned a prune of the vault.
            _ = try await services.scheduler.pass()
            #expect(try await services.worker.drain() == 1, "one prune queued by the next pass")
            // A full vault with auto_expand takes the backup and grows past its usage.
            try await services.catalog.vaults.setUsage(vault: vaultID, bytes: 10 << 30, at: nil)
            let refused = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": vaultID]])
            #expect(json(refused.body)["error_code"] as? String == "BackupService.6114")
            try await client.execute(uri: base + "/vaults/\(vaultID)", method: .put, headers: [authToken: token, .contentType: "application/json"],
                                     body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: ["vault": ["auto_expand": true]]))) { r in #expect(r.status == .ok) }
            try await services.catalog.vaults.setUsage(vault: vaultID, bytes: (10 << 30) + 1, at: nil)
            try await services.vaults.expandToUsage(vault: vaultID)
            #expect(try await services.vaults.record(id: vaultID)?.sizeGB == 11)
            try await services.catalog.vaults.setUsage(vault: vaultID, bytes: 11 << 30, at: nil)
            // Room again: the same checkpoint succeeds and its log ends at 100.
            _ = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": vaultID]])
            try await services.worker.drain()
            try await client.execute(uri: base + "/operation-logs?vault_id=\(vaultID)&status=success", method: .get, headers: [authToken: token]) { r in
                let log = (json(r.body)["operation_logs"] as? [[String: Any]])?.first ?? [:]
                #expect(((log["extra_info"] as? [String: Any])?["common"] as? [String: Any])?["progress"] as? Int == 100)
            }
        }
    }

    @Test func progressMeterCountsPartsAndStaysBelowHundred() {
        let meter = ProgressMeter(expected: 1000)
        #expect(meter.percent == 0)
        meter.update(current: 250, expected: nil)
        #expect(meter.percent == 25)
        meter.finishPart(500)
        meter.update(current: 250, expected: nil)
        #expect(meter.percent == 75)
        meter.update(current: 5000, expected: nil)
        #expect(meter.percent == 99)
        // A directory's total known only from its previous snapshot raises the expectation.
        let unknown = ProgressMeter(expected: 0)
        #expect(unknown.percent == 0)
        unknown.update(current: 10, expected: 40)
        #expect(unknown.percent == 25)
    }

    @Test func expiredLeaseIsRequeuedThenFailed() async throws {
        let root = ResourceRoot()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let clock = server.clock
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let (_, vaultID) = try await volumeInVault(client, base: base, token: token, name: "v", path: root.path + "/vm-root.img")
            _ = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": vaultID]])
            // A worker claims the job and dies (three times over).
            let jobs = services.catalog.jobs
            for _ in 0..<3 {
                let job = try await jobs.claim(owner: "dead-worker", now: clock.now().epochMilliseconds, leaseUntil: clock.now().addingTimeInterval(60).epochMilliseconds)
                #expect(job != nil)
                clock.advance(by: 120)
                try await services.worker.recoverExpired()
            }
            try await client.execute(uri: base + "/backups?vault_id=\(vaultID)", method: .get, headers: [authToken: token]) { r in
                let b = (json(r.body)["backups"] as? [[String: Any]])?.first ?? [:]
                #expect(b["status"] as? String == "error")
                #expect((b["fail_reason"] as? String ?? "").contains("interrupted"))
            }
        }
    }
}

@Suite struct RestoreUpdateDelete {
    /// A 3 GiB sparse disk image with data in three places: backed up twice
    /// through the API (the second incremental), changed (data overwritten,
    /// a hole filled), restored onto its volume: the bytes are those of the
    /// chosen backup and the holes stay holes.
    @Test func sparseDiskImageRoundTripThroughTheAPI() async throws {
        let root = ResourceRoot()
        let image = root.path + "/disk.img"
        func write(_ data: Data, at offset: UInt64) {
            let h = FileHandle(forWritingAtPath: image)!
            h.seek(toFileOffset: offset); h.write(data); h.closeFile()
        }
        func read(_ length: Int, at offset: UInt64) -> Data {
            let h = FileHandle(forReadingAtPath: image)!
            defer { h.closeFile() }
            h.seek(toFileOffset: offset)
            return h.readData(ofLength: length)
        }
        let regions: [(UInt64, Data)] = [(0, Data(repeating: 0xEB, count: 4096)),
                                         (512 << 20, Data((0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 9)) })),
                                         ((3 << 30) - 65536, Data(repeating: 0x5A, count: 65536))]
        for (offset, data) in regions { write(data, at: offset) }
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let (volume, vaultID) = try await volumeInVault(client, base: base, token: token, name: "sparse", path: image)
            func backupNow(_ name: String) async throws -> [String: Any] {
                let cp = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": vaultID, "parameters": ["name": name]]])
                let cpID = (json(cp.body)["checkpoint"] as? [String: Any])?["id"] as? String ?? ""
                try await services.worker.drain()
                return try await client.execute(uri: base + "/backups?checkpoint_id=\(cpID)", method: .get, headers: [authToken: token]) { r in
                    (json(r.body)["backups"] as? [[String: Any]])?.first ?? [:]
                }
            }
            let first = try await backupNow("sparse_1")
            #expect(first["status"] as? String == "available" && first["resource_size"] as? Int == 3, "\(first)")
            // Change: overwrite the middle region, fill a hole.
            write(Data(repeating: 0x11, count: 1 << 20), at: 512 << 20)
            write(Data(repeating: 0x22, count: 8192), at: 2 << 30)
            let second = try await backupNow("sparse_2")
            #expect(second["incremental"] as? Bool == true)
            // Damage everything, then restore the first backup onto the volume.
            write(Data(repeating: 0xFF, count: 4096), at: 0)
            write(Data(repeating: 0xFF, count: 4096), at: 1 << 30)
            let restore = try await post(client, base + "/backups/\(first["id"] as? String ?? "")/restore", token: token, ["restore": ["volume_id": volume]])
            #expect(restore.status == .accepted, "\(json(restore.body))")
            try await services.worker.drain()
            for (offset, data) in regions {
                let same = read(data.count, at: offset) == data
                #expect(same, "region at \(offset)")
            }
            let zeros = read(8192, at: 2 << 30) == Data(count: 8192) && read(4096, at: 1 << 30) == Data(count: 4096)
            #expect(zeros, "holes of the first backup are zero again")
            var st = stat()
            stat(image, &st)
            #expect(st.st_size == 3 << 30)
            #expect(Int64(st.st_blocks) * 512 < 64 << 20, "restored image stays sparse (\(st.st_blocks) blocks)")
            // And the second backup brings the changes back.
            let again = try await post(client, base + "/backups/\(second["id"] as? String ?? "")/restore", token: token, ["restore": ["volume_id": volume]])
            #expect(again.status == .accepted)
            try await services.worker.drain()
            let changed = read(1 << 20, at: 512 << 20) == Data(repeating: 0x11, count: 1 << 20) && read(8192, at: 2 << 30) == Data(repeating: 0x22, count: 8192)
            #expect(changed)
        }
    }

    @Test func restoreFilesAndServerDisksThenDelete() async throws {
        let root = ResourceRoot()
        try Data("version 1\n".utf8).write(to: URL(fileURLWithPath: root.path + "/share/docs/readme.txt"))
        let original = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let h = FileHandle(forWritingAtPath: root.path + "/vm-data.img")!
        h.seek(toFileOffset: 8192); h.write(original); h.closeFile()
        let server = try await TestServer.start(resourceRoots: [root.path])
        let admin = server.admin
        let services = server.services
        let base = "/v3/\(admin.project_id)"
        try await server.run { client in
            let token = try await client.token(user: "admin", password: admin.password, project: "admin")
            let setup = try await shareAndServerInVaults(client, base: base, token: token, root: root)
            let (serverID, diskIDs, fileVault, serverVault) = (setup.serverID, setup.diskIDs, setup.fileVault, setup.serverVault)
            let fileCheckpoint = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": fileVault]])
            let fileCheckpointID = try #require((json(fileCheckpoint.body)["checkpoint"] as? [String: Any])?["id"] as? String)
            _ = try await post(client, base + "/checkpoints", token: token, ["checkpoint": ["vault_id": serverVault]])
            try await services.worker.drain()
            func backups(_ vault: String) async throws -> [[String: Any]] {
                try await client.execute(uri: base + "/backups?vault_id=\(vault)", method: .get, headers: [authToken: token]) { r in json(r.body)["backups"] as? [[String: Any]] ?? [] }
            }
            let fileBackup = try #require(try await backups(fileVault).first?["id"] as? String)
            let serverBackup = try #require(try await backups(serverVault).first)
            let serverBackupID = try #require(serverBackup["id"] as? String)
            let children = serverBackup["children"] as? [[String: Any]] ?? []
            let childIDs = children.compactMap { $0["id"] as? String }

            // Update the name (validated).
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .put, headers: [authToken: token], body: bodyBuffer(["backup": ["name": "renamed_1"]])) { r in
                #expect((json(r.body)["backup"] as? [String: Any])?["name"] as? String == "renamed_1")
            }
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .put, headers: [authToken: token], body: bodyBuffer(["backup": ["name": "bad name!"]])) { r in
                #expect(r.status == .badRequest)
            }
            // Seed 000: up to 255 characters.
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .put, headers: [authToken: token], body: bodyBuffer(["backup": ["name": String(repeating: "n", count: 255)]])) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .put, headers: [authToken: token], body: bodyBuffer(["backup": ["name": String(repeating: "n", count: 256)]])) { r in
                #expect(r.status == .badRequest && (json(r.body)["error_msg"] as? String ?? "").contains("backup.name"))
            }
            // The SDK may send no body at all: nothing changes.
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .put, headers: [authToken: token]) { r in
                #expect(r.status == .ok)
            }

            // Change the data, then restore the file system onto itself and into another directory.
            try Data("version 2\n".utf8).write(to: URL(fileURLWithPath: root.path + "/share/docs/readme.txt"))
            let restore = try await post(client, base + "/backups/\(fileBackup)/restore", token: token, ["restore": [:] as [String: Any]])
            #expect(restore.status == .accepted, "\(json(restore.body))")
            let again = try await post(client, base + "/backups/\(fileBackup)/restore", token: token, ["restore": [:] as [String: Any]])
            #expect(json(again.body)["error_code"] as? String == "BackupService.2005")  // it is restoring
            try await services.worker.drain()
            #expect(FileManager.default.contents(atPath: root.path + "/share/docs/readme.txt") == Data("version 1\n".utf8))
            // Terraform polls the restore's job_id as an operation log.
            let job = try #require(json(restore.body)["job_id"] as? String)
            let polled = try await client.execute(uri: base + "/operation-logs/\(job)", method: .get, headers: [authToken: token])
            #expect(((json(polled.body)["operation_log"] as? [String: Any])?["status"] as? String) == "success" && (json(polled.body)["operation_log"] as? [String: Any])?["operation_type"] as? String == "restore")
            // Elsewhere = a new directory inside one of the project's own file systems.
            let elsewhere = try await post(client, base + "/backups/\(fileBackup)/restore", token: token, ["restore": ["details": ["destination_path": root.path + "/share/copy"]]])
            #expect(elsewhere.status == .accepted)
            try await services.worker.drain()
            #expect(FileManager.default.contents(atPath: root.path + "/share/copy/docs/readme.txt") == Data("version 1\n".utf8))
            for destination in [root.outside + "/x", root.path + "/copy"] {
                let outside = try await post(client, base + "/backups/\(fileBackup)/restore", token: token, ["restore": ["details": ["destination_path": destination]]])
                #expect(outside.status == .badRequest && (json(outside.body)["error_msg"] as? String ?? "").contains("registered OS::Sfs::Turbo resources"))
            }

            // Server: wipe the data disk, restore by mappings.
            let wipe = FileHandle(forWritingAtPath: root.path + "/vm-data.img")!
            wipe.seek(toFileOffset: 8192); wipe.write(Data(count: original.count)); wipe.closeFile()
            let noMap = try await post(client, base + "/backups/\(serverBackupID)/restore", token: token, ["restore": ["server_id": serverID]])
            #expect(noMap.status == .badRequest && (json(noMap.body)["error_msg"] as? String ?? "").contains("restore.mappings"))
            let mapped = try await post(client, base + "/backups/\(serverBackupID)/restore", token: token, ["restore": ["server_id": serverID, "power_on": true,
                "mappings": children.map { ["backup_id": $0["id"] as? String ?? "", "volume_id": $0["resource_id"] as? String ?? ""] }]])
            #expect(mapped.status == .accepted, "\(json(mapped.body))")
            try await services.worker.drain()
            let restoredDisk = try FileHandle(forReadingFrom: URL(fileURLWithPath: root.path + "/vm-data.img"))
            restoredDisk.seek(toFileOffset: 8192)
            let diskRestored = restoredDisk.readData(ofLength: original.count) == original  // compared outside #expect: its diff of 300 KB never ends
            #expect(diskRestored)
            #expect(Set(children.compactMap { $0["resource_id"] as? String }) == Set(diskIDs))
            try await client.execute(uri: base + "/operation-logs?operation_type=restore&status=success", method: .get, headers: [authToken: token]) { r in
                #expect(json(r.body)["count"] as? Int == 3)
            }

            // Delete: deleting, then gone; the op log records it.
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .delete, headers: [authToken: token]) { r in #expect(r.status == .noContent) }
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["backup"] as? [String: Any])?["status"] as? String == "deleting")
            }
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .delete, headers: [authToken: token]) { r in
                #expect(json(r.body)["error_code"] as? String == "BackupService.6201")
            }
            try await services.worker.drain()
            try await client.execute(uri: base + "/backups/\(fileBackup)", method: .get, headers: [authToken: token]) { r in #expect(r.status == .notFound) }
            // Its checkpoint had only this backup: the checkpoint is gone too (Terraform waits for this 404).
            try await client.execute(uri: base + "/checkpoints/\(fileCheckpointID)", method: .get, headers: [authToken: token]) { r in
                #expect(r.status == .notFound && json(r.body)["error_code"] as? String == "BackupService.6217")
            }
            try await client.execute(uri: base + "/backups/\(childIDs[0])", method: .delete, headers: [authToken: token]) { r in
                #expect(json(r.body)["error_code"] as? String == "BackupService.6201")
            }
            try await client.execute(uri: base + "/operation-logs?operation_type=delete", method: .get, headers: [authToken: token]) { r in
                #expect((json(r.body)["operation_logs"] as? [[String: Any]])?.first?["status"] as? String == "success")
            }
        }
    }
}
