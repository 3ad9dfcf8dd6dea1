import CofferCrypto
import CofferService
import CofferTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import CofferHTTP
#if canImport(Glibc)
import Glibc
#endif

/// Every path, type, size and content byte below `path`, never following a symlink: equal digests, nothing changed.
func treeDigest(_ path: String) -> String {
    var lines: [String] = []
    func walk(_ dir: String, _ rel: String) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        for name in names {
            let full = dir + "/" + name
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            let kind = st.st_mode & S_IFMT
            var line = "\(rel)/\(name) mode=\(String(st.st_mode, radix: 8)) size=\(st.st_size)"
            if kind == S_IFREG, let data = FileManager.default.contents(atPath: full) { line += " sha=" + Digest.sha256Hex(Array(data)) }
            if kind == S_IFLNK, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: full) { line += " -> " + target }
            lines.append(line)
            if kind == S_IFDIR { walk(full, rel + "/" + name) }
        }
    }
    walk(path, "")
    return lines.joined(separator: "\n")
}

/// Two tenants on one server; A's data is hashed before and after every attack of B's.
struct TwoTenants {
    let server: TestServer
    let root: ResourceRoot
    let a: NewProjectCredentials
    let b: NewProjectCredentials

    static func start() async throws -> TwoTenants {
        let root = ResourceRoot()
        let fm = FileManager.default
        for dir in ["a-share", "b-share", "b-other"] { try fm.createDirectory(atPath: root.path + "/" + dir + "/sub", withIntermediateDirectories: true) }
        fm.createFile(atPath: root.path + "/a-share/precious.txt", contents: Data("A's data\n".utf8))
        fm.createFile(atPath: root.path + "/a-share/sub/more.txt", contents: Data("more of A\n".utf8))
        fm.createFile(atPath: root.path + "/b-share/b.txt", contents: Data("B's file\n".utf8))
        let server = try await TestServer.start(resourceRoots: [root.path])
        let a = try await server.services.identity.createProject(name: "tenant-a", role: .admin)
        let b = try await server.services.identity.createProject(name: "tenant-b", role: .admin)
        return TwoTenants(server: server, root: root, a: a, b: b)
    }

    /// Tokens of the service admin and of B's admin user.
    func tokens(_ client: any TestClientProtocol) async throws -> (admin: String, b: String) {
        (try await client.token(user: "admin", password: server.admin.password, project: "admin"),
         try await client.token(user: b.user_name, password: b.password, project: "tenant-b"))
    }

    /// Registers as the service admin, for `project`: the status and the resource (or the error body).
    func register(_ client: any TestClientProtocol, adminToken: String, project: String, _ resource: [String: Any]) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await registerFor(client, admin: server.admin, adminToken: adminToken, project: project, resource)
    }

    /// A resource registered for B and bound to a new vault of B's: (resource id, vault id).
    func inBVault(_ client: any TestClientProtocol, tokens: (admin: String, b: String), _ resource: [String: Any], objectType: String, vault name: String) async throws -> (String, String) {
        let (_, registered) = try await register(client, adminToken: tokens.admin, project: b.project_id, resource)
        let id = registered["id"] as? String ?? ""
        let (_, vault) = try await call(client, token: tokens.b, .post, "/v3/\(b.project_id)/vaults",
                                        vaultBody(name: name, objectType: objectType, resources: [["id": id, "type": resource["type"] as? String ?? ""]]))
        return (id, (vault["vault"] as? [String: Any])?["id"] as? String ?? "")
    }

    /// A turbo vault for `share` with one finished backup; returns the backup id.
    func backedUpShare(_ client: any TestClientProtocol, token: String, project: String, shareID: String, name: String) async throws -> String {
        let base = "/v3/\(project)"
        let (status, vault) = try await call(client, token: token, .post, base + "/vaults",
                                             vaultBody(name: name, objectType: "turbo", resources: [["id": shareID, "type": "OS::Sfs::Turbo"]]))
        #expect(status == .ok, "\(vault)")
        let vaultID = (vault["vault"] as? [String: Any])?["id"] as? String ?? ""
        let (_, cp) = try await call(client, token: token, .post, base + "/checkpoints", ["checkpoint": ["vault_id": vaultID]])
        let checkpointID = (cp["checkpoint"] as? [String: Any])?["id"] as? String ?? ""
        try await server.services.worker.drain()
        let (_, list) = try await call(client, token: token, .get, base + "/backups?checkpoint_id=\(checkpointID)")
        let backup = (list["backups"] as? [[String: Any]])?.first
        #expect(backup?["status"] as? String == "available", "\(list)")
        return backup?["id"] as? String ?? ""
    }

    func log(_ client: any TestClientProtocol, token: String, project: String, id: String) async throws -> [String: Any] {
        let (_, body) = try await call(client, token: token, .get, "/v3/\(project)/operation-logs/\(id)")
        return body["operation_log"] as? [String: Any] ?? [:]
    }
}

@Suite struct TenantAttacks {
    /// The confirmed exploit: B restores its backup over A's directory. Every
    /// form of it is refused with one answer, and A's tree is unchanged.
    @Test func crossTenantRestoreTargetsAreRefused() async throws {
        let t = try await TwoTenants.start()
        let root = t.root
        try await t.server.run { client in
            let (adminToken, bToken) = try await t.tokens(client)
            let (_, aShare) = try await t.register(client, adminToken: adminToken, project: t.a.project_id, ["type": "OS::Sfs::Turbo", "name": "a", "path": root.path + "/a-share"])
            let (_, aDisk) = try await t.register(client, adminToken: adminToken, project: t.a.project_id, ["type": "OS::Cinder::Volume", "name": "a-disk", "path": root.path + "/vm-root.img"])
            let (_, bShare) = try await t.register(client, adminToken: adminToken, project: t.b.project_id, ["type": "OS::Sfs::Turbo", "name": "b", "path": root.path + "/b-share"])
            let aDiskID = aDisk["id"] as? String ?? ""
            #expect(aShare["id"] != nil)
            let bShareID = bShare["id"] as? String ?? ""
            let backupID = try await t.backedUpShare(client, token: bToken, project: t.b.project_id, shareID: bShareID, name: "b-files")
            let before = treeDigest(root.path + "/a-share")

            let restore = "/v3/\(t.b.project_id)/backups/\(backupID)/restore"
            var answers = Set<String>()
            for destination in [root.path + "/a-share", root.path + "/a-share/sub", root.path + "/a-share/new-dir", root.path + "/b-share/../a-share",
                                root.path + "/b-share/./x", root.path, root.outside, "/nonexistent/nowhere", "/etc", "relative/path", root.path + "/b-share\u{0}x"] {
                let (status, body) = try await call(client, token: bToken, .post, restore, ["restore": ["details": ["destination_path": destination]]])
                #expect(status == .badRequest, "\(destination): \(body)")
                #expect(body["error_code"] as? String == "BackupService.9900")
                let message = body["error_msg"] as? String ?? ""
                #expect(message.contains("restore.details.destination_path"), "\(message)")
                if destination.hasPrefix("/") && !destination.contains("/./") && !destination.contains("/../") && !destination.contains("\u{0}") { answers.insert(message) }
            }
            // Missing and not-yours read the same.
            #expect(answers.count == 1, "\(answers)")
            // A's resources by id: B cannot name them.
            let aShareID = aShare["id"] as? String ?? ""
            let (status, _) = try await call(client, token: bToken, .post, restore, ["restore": ["resource_id": aShareID]])
            #expect(status == .notFound)
            let (bVolumeBackupStatus, _) = try await call(client, token: bToken, .post, "/v3/\(t.b.project_id)/backups/\(backupID)/restore", ["restore": ["resource_id": aDiskID]])
            #expect(bVolumeBackupStatus == .notFound)
            try await t.server.services.worker.drain()
            #expect(treeDigest(root.path + "/a-share") == before)

            // Into B's own share (a new directory inside it) works.
            let (ok, accepted) = try await call(client, token: bToken, .post, restore, ["restore": ["details": ["destination_path": root.path + "/b-share/restored/here"]]])
            #expect(ok == .accepted, "\(accepted)")
            try await t.server.services.worker.drain()
            #expect(FileManager.default.contents(atPath: root.path + "/b-share/restored/here/b.txt") == Data("B's file\n".utf8))
            #expect(treeDigest(root.path + "/a-share") == before)
        }
    }

    /// A symlink swapped in after the request was accepted is not followed: the job fails with a reason and nothing lands outside.
    @Test func symlinkSwappedInAfterTheCheckIsNotFollowed() async throws {
        let t = try await TwoTenants.start()
        let root = t.root
        try await t.server.run { client in
            let (adminToken, bToken) = try await t.tokens(client)
            _ = try await t.register(client, adminToken: adminToken, project: t.a.project_id, ["type": "OS::Sfs::Turbo", "name": "a", "path": root.path + "/a-share"])
            let (_, bShare) = try await t.register(client, adminToken: adminToken, project: t.b.project_id, ["type": "OS::Sfs::Turbo", "name": "b", "path": root.path + "/b-share"])
            let bShareID = bShare["id"] as? String ?? ""
            let backupID = try await t.backedUpShare(client, token: bToken, project: t.b.project_id, shareID: bShareID, name: "b-files")
            let before = treeDigest(root.path + "/a-share")
            let outsideBefore = treeDigest(root.outside)
            let restore = "/v3/\(t.b.project_id)/backups/\(backupID)/restore"

            for (i, link) in [("into-a", root.path + "/a-share"), ("out", root.outside)].enumerated() {
                let target = root.path + "/b-share/sub/\(link.0)"
                let (status, accepted) = try await call(client, token: bToken, .post, restore, ["restore": ["details": ["destination_path": target + "/deeper"]]])
                #expect(status == .accepted, "\(accepted)")
                // The swap: after the check, before the worker.
                try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: link.1)
                try await t.server.services.worker.drain()
                let logID = accepted["operation_log_id"] as? String ?? (accepted["restore"] as? [String: Any])?["operation_log_id"] as? String ?? ""
                let (_, logs) = try await call(client, token: bToken, .get, "/v3/\(t.b.project_id)/operation-logs?operation_type=restore")
                let entries = logs["operation_logs"] as? [[String: Any]] ?? []
                let failed = entries.filter { $0["status"] as? String == "failed" }
                #expect(failed.count == i + 1, "\(entries) \(logID)")
                let reason = ((failed.first?["error_info"] as? [String: Any])?["message"] as? String) ?? ""
                #expect(reason.contains("symbolic link"), "\(reason)")
            }
            #expect(treeDigest(root.path + "/a-share") == before)
            #expect(treeDigest(root.outside) == outsideBefore)
            // The backup is usable again after the failed restores.
            let (_, shown) = try await call(client, token: bToken, .get, "/v3/\(t.b.project_id)/backups/\(backupID)")
            #expect((shown["backup"] as? [String: Any])?["status"] as? String == "available")
        }
    }

    /// A registered disk image replaced by another file at the same path is refused with a reason.
    @Test func volumeReplacedAfterRegistrationIsRefused() async throws {
        let t = try await TwoTenants.start()
        let root = t.root
        try await t.server.run { client in
            let tokens = try await t.tokens(client)
            let bToken = tokens.b
            let (diskID, vaultID) = try await t.inBVault(client, tokens: tokens, ["type": "OS::Cinder::Volume", "name": "d", "path": root.path + "/vm-data.img"],
                                                         objectType: "disk", vault: "disks")
            let base = "/v3/\(t.b.project_id)"
            _ = try await call(client, token: bToken, .post, base + "/checkpoints", ["checkpoint": ["vault_id": vaultID]])
            try await t.server.services.worker.drain()
            let (_, list) = try await call(client, token: bToken, .get, base + "/backups?vault_id=\(vaultID)")
            let backupID = (list["backups"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            // The operator's file is replaced by a link to something else. (A hard link keeps the original
            // inode allocated, so no new file can be handed its number.)
            #expect(link(root.path + "/vm-data.img", root.outside + "/original-vm-data.img") == 0)
            try FileManager.default.removeItem(atPath: root.path + "/vm-data.img")
            try FileManager.default.createSymbolicLink(atPath: root.path + "/vm-data.img", withDestinationPath: root.outside + "/secret.img")
            let secretBefore = FileManager.default.contents(atPath: root.outside + "/secret.img")
            let (status, _) = try await call(client, token: bToken, .post, base + "/backups/\(backupID)/restore", ["restore": ["volume_id": diskID]])
            #expect(status == .accepted)
            try await t.server.services.worker.drain()
            let (_, logs) = try await call(client, token: bToken, .get, base + "/operation-logs?operation_type=restore")
            let entry = (logs["operation_logs"] as? [[String: Any]])?.first ?? [:]
            #expect(entry["status"] as? String == "failed", "\(entry)")
            #expect(FileManager.default.contents(atPath: root.outside + "/secret.img") == secretBefore)
            // A plain replacement (a new file, another inode) is refused too.
            try FileManager.default.removeItem(atPath: root.path + "/vm-data.img")
            FileManager.default.createFile(atPath: root.path + "/vm-data.img", contents: Data(count: 4096))
            _ = try await call(client, token: bToken, .post, base + "/backups/\(backupID)/restore", ["restore": ["volume_id": diskID]])
            try await t.server.services.worker.drain()
            let (_, again) = try await call(client, token: bToken, .get, base + "/operation-logs?operation_type=restore&status=failed")
            let messages = (again["operation_logs"] as? [[String: Any]] ?? []).compactMap { ($0["error_info"] as? [String: Any])?["message"] as? String }
            #expect(messages.count == 2 && messages.contains { $0.contains("no longer the file or device registered") }, "\(messages)")
            #expect(FileManager.default.contents(atPath: root.path + "/vm-data.img") == Data(count: 4096))
        }
    }

    /// A registered directory swapped for a symlink to somewhere else is not backed up (nothing of the target reaches the vault).
    @Test func backupSourceSwappedForASymlinkIsRefused() async throws {
        let t = try await TwoTenants.start()
        let root = t.root
        try await t.server.run { client in
            let tokens = try await t.tokens(client)
            let bToken = tokens.b
            let (_, vaultID) = try await t.inBVault(client, tokens: tokens, ["type": "OS::Sfs::Turbo", "name": "b", "path": root.path + "/b-other"],
                                                    objectType: "turbo", vault: "swapped")
            let base = "/v3/\(t.b.project_id)"
            // Kept under another name, so the symlink may even get the directory's inode number (tmpfs does that).
            try FileManager.default.moveItem(atPath: root.path + "/b-other", toPath: root.outside + "/b-other-moved")
            try FileManager.default.createSymbolicLink(atPath: root.path + "/b-other", withDestinationPath: root.path + "/a-share")
            _ = try await call(client, token: bToken, .post, base + "/checkpoints", ["checkpoint": ["vault_id": vaultID]])
            try await t.server.services.worker.drain()
            let (_, list) = try await call(client, token: bToken, .get, base + "/backups?vault_id=\(vaultID)")
            let backup = (list["backups"] as? [[String: Any]])?.first ?? [:]
            #expect(backup["status"] as? String == "error", "\(backup)")
            let (_, logs) = try await call(client, token: bToken, .get, base + "/operation-logs?operation_type=backup")
            let message = ((logs["operation_logs"] as? [[String: Any]])?.first?["error_info"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("no longer the file, device or directory registered"), "\(message)")
        }
    }

    /// Tenant restores create no device nodes and drop setuid/setgid bits, and say so; the operator can allow both per resource.
    @Test func deviceNodesAndSetuidBitsNeedTheOperatorsConsent() async throws {
        #expect(getuid() == 0, "this test makes device nodes: run it as root (CI does)")
        guard getuid() == 0 else { return }
        let t = try await TwoTenants.start()
        let root = t.root
        let share = root.path + "/b-share"
        #expect(mknod(share + "/null-device", S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0)
        FileManager.default.createFile(atPath: share + "/tool", contents: Data("#!/bin/sh\n".utf8))
        #expect(chmod(share + "/tool", 0o4755) == 0)
        try await t.server.run { client in
            let (adminToken, bToken) = try await t.tokens(client)
            let (_, bShare) = try await t.register(client, adminToken: adminToken, project: t.b.project_id, ["type": "OS::Sfs::Turbo", "name": "b", "path": share])
            let (_, trusted) = try await t.register(client, adminToken: adminToken, project: t.b.project_id,
                                                    ["type": "OS::Sfs::Turbo", "name": "trusted", "path": root.path + "/b-other", "restore_special_files": true])
            #expect(trusted["restore_special_files"] as? Bool == true)
            let bShareID = bShare["id"] as? String ?? ""
            let backupID = try await t.backedUpShare(client, token: bToken, project: t.b.project_id, shareID: bShareID, name: "b-files")
            let restore = "/v3/\(t.b.project_id)/backups/\(backupID)/restore"
            let (status, _) = try await call(client, token: bToken, .post, restore, ["restore": ["details": ["destination_path": share + "/copy"]]])
            #expect(status == .accepted)
            try await t.server.services.worker.drain()
            var st = stat()
            #expect(lstat(share + "/copy/null-device", &st) != 0, "a device node was created by a tenant restore")
            #expect(lstat(share + "/copy/tool", &st) == 0 && st.st_mode & 0o7777 == 0o755)
            let (_, logs) = try await call(client, token: bToken, .get, "/v3/\(t.b.project_id)/operation-logs?operation_type=restore")
            let entry = (logs["operation_logs"] as? [[String: Any]])?.first ?? [:]
            #expect(entry["status"] as? String == "success", "\(entry)")
            let skipped = ((entry["extra_info"] as? [String: Any])?["restore"] as? [String: Any])?["skipped"] as? [String] ?? []
            #expect(skipped.contains { $0.contains("null-device") && $0.contains("device node") } && skipped.contains { $0.contains("tool") && $0.contains("setuid") }, "\(skipped)")
            // Where the operator allowed it, both are restored as stored.
            _ = try await call(client, token: bToken, .post, restore, ["restore": ["details": ["destination_path": root.path + "/b-other/copy"]]])
            try await t.server.services.worker.drain()
            #expect(lstat(root.path + "/b-other/copy/null-device", &st) == 0 && st.st_mode & S_IFMT == S_IFCHR)
            #expect(lstat(root.path + "/b-other/copy/tool", &st) == 0 && st.st_mode & 0o7777 == 0o4755)
        }
    }

    /// Registration is the service admin's act, and no registered path overlaps another, a root or the data directory.
    @Test func registrationsNeverOverlap() async throws {
        let t = try await TwoTenants.start()
        let root = t.root
        let fm = FileManager.default
        try await t.server.run { client in
            let adminToken = try await client.token(user: "admin", password: t.server.admin.password, project: "admin")
            let aToken = try await client.token(user: t.a.user_name, password: t.a.password, project: "tenant-a")
            // A project's own admin role is not enough.
            let (denied, deniedBody) = try await call(client, token: aToken, .post, "/v3/\(t.a.project_id)/coffer/resources",
                                                       ["resource": ["type": "OS::Sfs::Turbo", "name": "mine", "path": root.path + "/a-share"]])
            #expect(denied == .forbidden && (deniedBody["error_msg"] as? String ?? "").contains("service administrator"), "\(deniedBody)")
            let (ok, _) = try await t.register(client, adminToken: adminToken, project: t.a.project_id, ["type": "OS::Sfs::Turbo", "name": "a", "path": root.path + "/a-share"])
            #expect(ok == .ok)
            try fm.createDirectory(atPath: root.path + "/a-share/inner", withIntermediateDirectories: true)
            let refused: [([String: Any], String)] = [
                (["type": "OS::Sfs::Turbo", "name": "x", "path": root.path + "/a-share"], "already registered"),
                (["type": "OS::Sfs::Turbo", "name": "x", "path": root.path + "/a-share/inner"], "overlaps another registered resource"),
                (["type": "OS::Sfs::Turbo", "name": "x", "path": root.path], "resource root itself"),
            ]
            for (resource, expected) in refused {
                let (status, body) = try await t.register(client, adminToken: adminToken, project: t.b.project_id, resource)
                #expect(status == .badRequest, "\(resource): \(body)")
                #expect((body["error_msg"] as? String ?? "").contains(expected), "\(body)")
            }
            // A directory holding a registered one is refused too.
            let (_, _) = try await t.register(client, adminToken: adminToken, project: t.a.project_id, ["type": "OS::Sfs::Turbo", "name": "deep", "path": root.path + "/b-share/sub"])
            let (holder, holderBody) = try await t.register(client, adminToken: adminToken, project: t.b.project_id, ["type": "OS::Sfs::Turbo", "name": "x", "path": root.path + "/b-share"])
            #expect(holder == .badRequest && (holderBody["error_msg"] as? String ?? "").contains("overlaps"), "\(holderBody)")
        }
    }

    @Test func theDataDirectoryIsNeverAResource() async throws {
        let server = try await TestServer.start(resourceRoots: [FileManager.default.temporaryDirectory.path])
        try FileManager.default.createDirectory(atPath: server.dir + "/vaults", withIntermediateDirectories: true)
        try await server.run { client in
            let adminToken = try await client.token(user: "admin", password: server.admin.password, project: "admin")
            for path in [server.dir, server.dir + "/vaults"] {
                let (status, body) = try await call(client, token: adminToken, .post, "/v3/\(server.admin.project_id)/coffer/resources",
                                                    ["resource": ["type": "OS::Sfs::Turbo", "name": "x", "path": path]])
                #expect(status == .badRequest && (body["error_msg"] as? String ?? "").contains("data directory"), "\(body)")
            }
        }
    }
}

extension TestClientProtocol {
    /// A signed request with extra headers, signed or only sent.
    func signed(_ uri: String, method: HTTPRequest.Method, ak: String, sk: String, body: String, date: Date,
                extra: [String: String], signExtra: Bool, sendBody: String? = nil) async throws -> TestResponse {
        var headers: [String: String] = ["content-type": "application/json", "x-sdk-date": AKSKSignature.formatSdkDate(date), "host": "localhost"]
        var names = ["content-type", "host", "x-sdk-date"]
        if signExtra { for (k, v) in extra { headers[k] = v; names.append(k) } }
        names.sort()
        let frozen = headers
        let signable = SignableRequest(method: method.rawValue, rawPath: uri, rawQuery: "", body: Data(body.utf8)) { frozen[$0] }
        headers["authorization"] = AKSKSignature.sign(signable, accessKey: ak, secret: sk, signedHeaders: names)
        for (k, v) in extra { headers[k] = v }
        var fields = HTTPFields()
        for (k, v) in headers where k != "host" { fields[HTTPField.Name(k)!] = v }
        let sent = sendBody ?? body
        return try await execute(uri: uri, method: method, headers: fields, body: sent.isEmpty ? nil : ByteBuffer(string: sent))
    }
}

@Suite struct AuthenticationAttacks {
    @Test func replayedAndBodySwappedSignaturesAreRefused() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let now = server.clock.now()
        try await server.run { client in
            let body = "{\"project\": {\"name\": \"once\"}}"
            let first = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key, body: body, date: now)
            #expect(first.status == .created, "\(json(first.body))")
            // The same signed request again (as captured on the wire).
            let replay = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key, body: body, date: now)
            #expect(replay.status == .unauthorized && (json(replay.body)["error_msg"] as? String ?? "").contains("replay"), "\(json(replay.body))")
            // The same change twice in one second is fine when a signed request id tells the two apart (as the CLI does).
            let twinBody = "{\"project\": {\"name\": \"twin-%@\"}}"
            for i in 0..<2 {
                let twin = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key, body: twinBody.replacingOccurrences(of: "%@", with: "x"),
                                                   date: now, extra: ["x-sdk-request-id": "id-\(i)"], signExtra: true)
                #expect(twin.status == (i == 0 ? .created : .badRequest), "\(json(twin.body))")  // the second fails only because the name exists
            }
            // Reads may repeat (SDKs poll with one-second dates).
            for _ in 0..<3 {
                let read = try await client.signed("/v3/projects", method: .get, ak: admin.access_key, sk: admin.secret_key, date: now)
                #expect(read.status == .ok)
            }
            // A body hash sent but not signed, a signed one for another body, and UNSIGNED-PAYLOAD: all refused.
            let original = "{\"project\": {\"name\": \"p1\"}}", swapped = "{\"project\": {\"name\": \"p2\"}}"
            let hash = Digest.sha256Hex(Array(original.utf8))
            let unsignedHash = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key, body: original, date: now,
                                                       extra: ["x-sdk-content-sha256": Digest.sha256Hex(Array(swapped.utf8))], signExtra: false, sendBody: swapped)
            #expect(unsignedHash.status == .unauthorized, "\(json(unsignedHash.body))")
            let signedHashOtherBody = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key, body: original, date: now,
                                                              extra: ["x-sdk-content-sha256": hash], signExtra: true, sendBody: swapped)
            #expect(signedHashOtherBody.status == .unauthorized)
            let unsignedPayload = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key, body: swapped, date: now,
                                                          extra: ["x-sdk-content-sha256": "UNSIGNED-PAYLOAD"], signExtra: true)
            #expect(unsignedPayload.status == .unauthorized && (json(unsignedPayload.body)["error_msg"] as? String ?? "").contains("UNSIGNED-PAYLOAD"))
            // A correct signed body hash is fine.
            let honest = try await client.signed("/v3/projects", method: .post, ak: admin.access_key, sk: admin.secret_key, body: original, date: now,
                                                 extra: ["x-sdk-content-sha256": hash], signExtra: true)
            #expect(honest.status == .created, "\(json(honest.body))")
            let (_, projects) = try await call(client, token: try await client.token(user: "admin", password: admin.password, project: "admin"), .get, "/v3/projects")
            let names = (projects["projects"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names.contains("p1") && !names.contains("p2"), "\(names)")
        }
    }

    @Test func tokensCanBeRevokedAndOnlyTheirHolderSeesThem() async throws {
        let server = try await TestServer.start()
        let admin = server.admin
        let a = try await server.services.identity.createProject(name: "tenant-a")
        let b = try await server.services.identity.createProject(name: "tenant-b")
        try await server.run { client in
            let aToken = try await client.token(user: a.user_name, password: a.password, project: "tenant-a")
            let bToken = try await client.token(user: b.user_name, password: b.password, project: "tenant-b")
            let adminToken = try await client.token(user: "admin", password: admin.password, project: "admin")
            let subject = HTTPField.Name("X-Subject-Token")!
            // B cannot read A's token; A and the service admin can.
            try await client.execute(uri: "/v3/auth/tokens", method: .get, headers: [authToken: bToken, subject: aToken]) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/v3/auth/tokens", method: .get, headers: [authToken: aToken, subject: aToken]) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/v3/auth/tokens", method: .get, headers: [authToken: adminToken, subject: aToken]) { r in #expect(r.status == .ok) }
            // B cannot revoke A's token.
            try await client.execute(uri: "/v3/auth/tokens", method: .delete, headers: [authToken: bToken, subject: aToken]) { r in #expect(r.status == .forbidden) }
            // Re-scoping keeps the original expiry.
            let original = try await server.services.identity.tokenRecord(aToken)
            server.clock.advance(by: 3600)
            let rescoped = try await client.execute(uri: "/v3/auth/tokens", method: .post, headers: [.contentType: "application/json"],
                                                    body: bodyBuffer(["auth": ["identity": ["methods": ["token"], "token": ["id": aToken]],
                                                                               "scope": ["project": ["id": a.project_id]]]])) { r in
                #expect(r.status == .created)
                return r.headers[subject] ?? ""
            }
            let renewed = try await server.services.identity.tokenRecord(rescoped)
            #expect(renewed != nil && renewed?.expiresAt == original?.expiresAt, "\(String(describing: renewed)) \(String(describing: original))")
            // A revokes its own token: 204, then 401 everywhere.
            try await client.execute(uri: "/v3/auth/tokens", method: .delete, headers: [authToken: aToken, subject: aToken]) { r in #expect(r.status == .noContent) }
            try await client.execute(uri: "/v3/\(a.project_id)/vaults", method: .get, headers: [authToken: aToken]) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/v3/auth/tokens", method: .get, headers: [authToken: adminToken, subject: aToken]) { r in #expect(r.status == .notFound) }
            // The service admin may revoke anyone's.
            try await client.execute(uri: "/v3/auth/tokens", method: .delete, headers: [authToken: adminToken, subject: bToken]) { r in #expect(r.status == .noContent) }
            try await client.execute(uri: "/v3/\(b.project_id)/vaults", method: .get, headers: [authToken: bToken]) { r in #expect(r.status == .unauthorized) }
        }
    }

    @Test func repeatedFailedLoginsAreThrottled() async throws {
        let server = try await TestServer.start()
        let a = try await server.services.identity.createProject(name: "tenant-a")
        try await server.run { client in
            func login(_ user: String, _ password: String) async throws -> (HTTPResponse.Status, String?) {
                try await client.execute(uri: "/v3/auth/tokens", method: .post, headers: [.contentType: "application/json"],
                                         body: bodyBuffer(["auth": ["identity": ["methods": ["password"], "password": ["user": ["name": user, "password": password, "domain": ["name": "Default"]]]],
                                                                    "scope": ["project": ["name": "tenant-a", "domain": ["name": "Default"]]]]])) { r in
                    (r.status, r.headers[.retryAfter])
                }
            }
            for _ in 0..<10 { #expect(try await login(a.user_name, "wrong").0 == .unauthorized) }
            let (status, retryAfter) = try await login(a.user_name, a.password)
            #expect(status == .tooManyRequests && Int(retryAfter ?? "") ?? 0 > 0, "\(status) \(String(describing: retryAfter))")
            // Unknown users answer like known ones (401), and count too.
            #expect(try await login("nobody-here", "x").0 == .unauthorized)
            server.clock.advance(by: 301)
            #expect(try await login(a.user_name, a.password).0 == .created)
        }
    }
}
