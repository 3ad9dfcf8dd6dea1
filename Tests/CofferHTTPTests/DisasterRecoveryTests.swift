import CofferCLI
import CofferBlobStore
import CofferCatalog
import CofferModel
import CofferCrypto
import CofferRepository
import CofferService
import CofferSystem
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import CofferHTTP

@Suite struct DisasterRecovery {
    /// The drill: a directory, a volume and a two-disk server backed up
    /// through the API; the catalog lost; rebuilt from the repositories with
    /// the master key; every backup lists with its id and restores byte for byte.
    @Test func catalogRebuiltFromTheRepositoriesAlone() async throws {
        let root = ResourceRoot()
        let fm = FileManager.default
        func random(_ n: Int) -> Data { Data(randomBytes(n)) }
        try random(300_000).write(to: URL(fileURLWithPath: root.path + "/share/docs/big.bin"))
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: root.path + "/share/docs/readme.txt"))
        try random(1 << 20).write(to: URL(fileURLWithPath: root.path + "/small.img"))
        for disk in ["vm-root.img", "vm-data.img"] {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: root.path + "/" + disk))
            h.seek(toFileOffset: 4096); h.write(random(200_000)); h.closeFile()
        }
        func digest(_ path: String) -> String { Digest.sha256Hex(Array(fm.contents(atPath: path) ?? Data())) }
        let original = ["share": treeDigest(root.path + "/share"), "small": digest(root.path + "/small.img"),
                        "vm-root": digest(root.path + "/vm-root.img"), "vm-data": digest(root.path + "/vm-data.img")]

        // Phase 1: a running server makes the backups.
        let server = try await TestServer.start(resourceRoots: [root.path])
        let tenant = try await server.services.identity.createProject(name: "tenant-a", role: .admin)
        var backupIDs: [String: String] = [:]
        var resourceIDs: [String: String] = [:]
        try await server.app.test(.router) { client in
            let adminToken = try await client.token(user: "admin", password: server.admin.password, project: "admin")
            let token = try await client.token(user: tenant.user_name, password: tenant.password, project: "tenant-a")
            let base = "/v3/\(tenant.project_id)"
            func register(_ resource: [String: Any]) async throws -> [String: Any] {
                let (status, body) = try await registerFor(client, admin: server.admin, adminToken: adminToken, project: tenant.project_id, resource)
                #expect(status == .ok, "\(body)")
                return body
            }
            let share = try await register(["type": "OS::Sfs::Turbo", "name": "share", "path": root.path + "/share"])
            let small = try await register(["type": "OS::Cinder::Volume", "name": "small", "path": root.path + "/small.img"])
            let vm = try await register(["type": "OS::Nova::Server", "name": "vm", "disks": [["name": "root", "path": root.path + "/vm-root.img"],
                                                                                              ["name": "data", "path": root.path + "/vm-data.img"]]])
            resourceIDs = ["share": share["id"] as? String ?? "", "small": small["id"] as? String ?? "", "vm": vm["id"] as? String ?? ""]
            for (d, disk) in (vm["disks"] as? [[String: Any]] ?? []).enumerated() { resourceIDs[d == 0 ? "vm-root" : "vm-data"] = disk["id"] as? String ?? "" }
            for (key, type, objectType) in [("share", "OS::Sfs::Turbo", "turbo"), ("small", "OS::Cinder::Volume", "disk"), ("vm", "OS::Nova::Server", "server")] {
                let (_, vault) = try await call(client, token: token, .post, base + "/vaults", vaultBody(name: key, objectType: objectType, resources: [["id": resourceIDs[key]!, "type": type]]))
                let vaultID = (vault["vault"] as? [String: Any])?["id"] as? String ?? ""
                let (_, cp) = try await call(client, token: token, .post, base + "/checkpoints", ["checkpoint": ["vault_id": vaultID, "parameters": ["name": "drill_\(key)"]]])
                let checkpointID = (cp["checkpoint"] as? [String: Any])?["id"] as? String ?? ""
                try await server.services.worker.drain()
                let (_, list) = try await call(client, token: token, .get, base + "/backups?checkpoint_id=\(checkpointID)")
                let row = (list["backups"] as? [[String: Any]])?.first ?? [:]
                #expect(row["status"] as? String == "available", "\(list)")
                backupIDs[key] = row["id"] as? String ?? ""
            }
        }
        await server.services.catalog.close()

        // The master key alone opens a vault's repository offline.
        let masterKey = [UInt8](fm.contents(atPath: server.dir + "/master.key") ?? Data())
        let vaultDirectories = try fm.contentsOfDirectory(atPath: server.dir + "/vaults")
        #expect(vaultDirectories.count == 3)
        for directory in vaultDirectories {
            let repository = try await Repository.open(store: LocalBlobStore(root: URL(fileURLWithPath: server.dir + "/vaults/" + directory)), secret: .keyFile(masterKey))
            #expect(try await repository.snapshotIDs().count >= 1)
        }

        // Phase 2: the catalog is gone (a new, empty one); rebuild it.
        var logger = Logger(label: "dr")
        logger.logLevel = .warning
        let (services, created) = try await CofferServices.open(server.configuration, clock: server.clock, logger: logger, passwordCost: 1 << 4, bootstrap: false)
        #expect(created == nil)
        let report = try await services.recovery.rebuild()
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.vaults == 3 && report.backups == 3)
        #expect(Set(report.projects.map(\.project_id)) == [tenant.project_id])
        // Rebuilding twice is refused: the catalog is no longer empty.
        await #expect(throws: ServiceError.self) { try await services.recovery.rebuild() }
        let credentials = try #require(report.projects.first { $0.project_name == "tenant-a" })

        // Damage the data, then restore everything from the rebuilt catalog.
        try fm.removeItem(atPath: root.path + "/share/docs")
        try random(1 << 20).write(to: URL(fileURLWithPath: root.path + "/small.img"))
        for disk in ["vm-root.img", "vm-data.img"] {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: root.path + "/" + disk))
            h.seek(toFileOffset: 4096); h.write(Data(count: 200_000)); h.closeFile()
        }
        let configuration = server.configuration
        try await buildApplication(services: services.api, configuration: configuration).test(.router) { client in
            let token = try await client.token(user: credentials.user_name, password: credentials.password, project: "tenant-a")
            let base = "/v3/\(tenant.project_id)"
            let (_, list) = try await call(client, token: token, .get, base + "/backups")
            let listed = (list["backups"] as? [[String: Any]] ?? [])
            #expect(Set(listed.compactMap { $0["id"] as? String }) == Set(backupIDs.values), "\(list)")
            #expect(listed.allSatisfy { $0["status"] as? String == "available" })
            let serverBackup = listed.first { $0["id"] as? String == backupIDs["vm"] } ?? [:]
            let children = serverBackup["children"] as? [[String: Any]] ?? []
            #expect(children.count == 2)
            let restores: [(String, [String: Any])] = [
                ("share", ["resource_id": resourceIDs["share"]!]),
                ("small", ["volume_id": resourceIDs["small"]!]),
                ("vm", ["server_id": resourceIDs["vm"]!, "mappings": children.map { ["backup_id": $0["id"] as? String ?? "", "volume_id": $0["resource_id"] as? String ?? ""] }]),
            ]
            for (key, body) in restores {
                let (status, answer) = try await call(client, token: token, .post, base + "/backups/\(backupIDs[key]!)/restore", ["restore": body])
                #expect(status == .accepted, "\(key): \(answer)")
            }
            try await services.worker.drain()
            let (_, logs) = try await call(client, token: token, .get, base + "/operation-logs?operation_type=restore")
            #expect((logs["operation_logs"] as? [[String: Any]] ?? []).allSatisfy { $0["status"] as? String == "success" }, "\(logs)")
        }
        await services.catalog.close()
        #expect(treeDigest(root.path + "/share") == original["share"])
        #expect(digest(root.path + "/small.img") == original["small"])
        #expect(digest(root.path + "/vm-root.img") == original["vm-root"])
        #expect(digest(root.path + "/vm-data.img") == original["vm-data"])
        try? fm.removeItem(atPath: server.dir)
    }

    @Test func catalogBackupIsAConsistentCopy() async throws {
        let server = try await TestServer.start()
        _ = try await server.services.identity.createProject(name: "tenant-a")
        let copy = server.dir + "/catalog-copy.sqlite"
        try await server.services.catalog.backup(to: copy)
        await #expect(throws: Error.self) { try await server.services.catalog.backup(to: copy) }
        var logger = Logger(label: "copy")
        logger.logLevel = .warning
        let reopened = try await SQLCatalog.open(url: "sqlite://" + copy, logger: logger)
        let names = try await reopened.identity.projects().map(\.name)
        await reopened.close()
        #expect(Set(names) == ["admin", "tenant-a"])
        await server.stop()
    }
}
