import ArgumentParser
import CofferService
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the server is and who we are: `--endpoint` (COFFER_ENDPOINT) and an
/// AK/SK from `--credentials FILE` (COFFER_CREDENTIALS; the bootstrap file's
/// shape) or COFFER_ACCESS_KEY / COFFER_SECRET_KEY / COFFER_PROJECT_ID.
struct ClientOptions: ParsableArguments {
    @Option(help: "Server URL (env COFFER_ENDPOINT; default http://127.0.0.1:8088).") var endpoint: String?
    @Option(help: "Credentials JSON with project_id, access_key, secret_key (env COFFER_CREDENTIALS; default ./coffer-data/admin-credentials.json).")
    var credentials: String?
    @Flag(help: "Print the server's JSON.") var json = false

    func client() throws -> APIClient {
        let env = ProcessInfo.processInfo.environment
        let base = endpoint ?? env["COFFER_ENDPOINT"] ?? "http://127.0.0.1:8088"
        guard let url = URL(string: base), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw CLIError("endpoint '\(base)' is not an http(s) URL")
        }
        if let ak = env["COFFER_ACCESS_KEY"], let sk = env["COFFER_SECRET_KEY"], let pid = env["COFFER_PROJECT_ID"] {
            return APIClient(base: url, accessKey: ak, secretKey: sk, projectID: pid)
        }
        let path = credentials ?? env["COFFER_CREDENTIALS"] ?? "./coffer-data/admin-credentials.json"
        guard let data = FileManager.default.contents(atPath: path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let ak = object["access_key"] as? String, let sk = object["secret_key"] as? String, let pid = object["project_id"] as? String else {
            throw CLIError("no credentials: \(path) must hold project_id, access_key and secret_key (or set COFFER_ACCESS_KEY, COFFER_SECRET_KEY, COFFER_PROJECT_ID)")
        }
        return APIClient(base: url, accessKey: ak, secretKey: sk, projectID: pid)
    }
}

/// Signs requests as the Huawei SDK does and decodes JSON answers; an error
/// answer becomes a CLIError with the server's code and message.
struct APIClient {
    let base: URL
    let accessKey: String
    let secretKey: String
    let projectID: String

    func call(_ method: String, _ path: String, query: String = "", body: [String: Any]? = nil) async throws -> [String: Any] {
        let bodyData = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let fullPath = "/v3/\(projectID)" + path
        guard let url = URL(string: base.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + fullPath + (query.isEmpty ? "" : "?" + query)) else {
            throw CLIError("cannot build a URL for \(fullPath)")
        }
        let host = base.port.map { "\(base.host!):\($0)" } ?? base.host!
        // A signed random request id: two identical changes within the same second (the date's resolution)
        // would otherwise carry the same signature, and the server refuses the second as a replay.
        var headers = ["content-type": "application/json", "host": host, "x-project-id": projectID, "x-sdk-date": AKSKSignature.formatSdkDate(Date()),
                       "x-sdk-request-id": UUID().uuidString.lowercased()]
        let frozen = headers
        let signable = SignableRequest(method: method, rawPath: url.path, rawQuery: url.query ?? "", body: Array(bodyData)) { frozen[$0] }
        headers["authorization"] = AKSKSignature.sign(signable, accessKey: accessKey, secret: secretKey,
                                                      signedHeaders: ["content-type", "host", "x-project-id", "x-sdk-date", "x-sdk-request-id"])
        var request = URLRequest(url: url)
        request.httpMethod = method
        for (k, v) in headers where k != "host" { request.setValue(v, forHTTPHeaderField: k) }
        if !bodyData.isEmpty { request.httpBody = bodyData }
        let (data, response): (Data, URLResponse)
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw CLIError("cannot reach \(base.absoluteString): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        guard (200..<300).contains(status) else {
            throw CLIError("\(method) \(path): HTTP \(status) \(object["error_code"] as? String ?? ""): \(object["error_msg"] as? String ?? String(decoding: data, as: UTF8.self))")
        }
        return object
    }
}

func printResult(_ options: ClientOptions, _ object: [String: Any], text: () -> [String]) {
    if options.json { printJSON(object) } else { for line in text() { print(line) } }
}

struct ResourceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resource", abstract: "Register what can be protected (admin).",
                                                    subcommands: [Add.self, List.self, Show.self, Remove.self])

    struct Add: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: "volume, server, turbo (directory) or rds (PostgreSQL instance).") var type: String
        @Option var name: String
        @Option(help: "Disk image, block device or directory.") var path: String?
        @Option(help: "A server disk: NAME=PATH, with :bootable appended for the system disk (repeatable).") var disk: [String] = []
        @Option(help: "rds: postgresql://user:password@host:port/db (better: env COFFER_DB_CONNECTION, which keeps the password out of the process list).")
        var connection: String?
        @Option(help: "rds: the instance's data directory (needed to restore in place).") var dataDir: String?
        @Option(help: "The project (id) the resource is for; default the caller's.") var project: String?
        @Flag(help: "Tenant restores into it may create device nodes and keep setuid/setgid bits.") var restoreSpecialFiles = false

        func run() async throws {
            let types = ["volume": "OS::Cinder::Volume", "server": "OS::Nova::Server", "turbo": "OS::Sfs::Turbo", "rds": "rds"]
            guard let apiType = types[type] else { throw ValidationError("--type must be volume, server, turbo or rds") }
            var resource: [String: Any] = ["type": apiType, "name": name]
            if let path { resource["path"] = path }
            if let project { resource["project_id"] = project }
            if restoreSpecialFiles { resource["restore_special_files"] = true }
            if type == "rds" {
                guard let url = connection ?? ProcessInfo.processInfo.environment["COFFER_DB_CONNECTION"] else {
                    throw ValidationError("--type rds needs --connection or COFFER_DB_CONNECTION")
                }
                resource["engine"] = "PostgreSQL"
                resource["connection"] = url
                if let dataDir { resource["data_dir"] = dataDir }
            }
            if !disk.isEmpty {
                resource["disks"] = try disk.map { spec -> [String: Any] in
                    guard let eq = spec.firstIndex(of: "=") else { throw ValidationError("--disk must be NAME=PATH[:bootable]") }
                    var path = String(spec[spec.index(after: eq)...])
                    let bootable = path.hasSuffix(":bootable")
                    if bootable { path.removeLast(":bootable".count) }
                    return ["name": String(spec[..<eq]), "path": path, "bootable": bootable]
                }
            }
            let result = try await options.client().call("POST", "/coffer/resources", body: ["resource": resource])
            let r = result["resource"] as? [String: Any] ?? [:]
            printResult(options, result) { ["\(r["id"] ?? "")  \(r["type"] ?? "")  \(r["name"] ?? "")"] }
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let result = try await options.client().call("GET", "/coffer/resources", query: "limit=1000")
            printResult(options, result) { (result["resources"] as? [[String: Any]] ?? []).map { "\($0["id"] ?? "")  \($0["type"] ?? "")  \($0["name"] ?? "")  \($0["path"] ?? "")" } }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            let result = try await options.client().call("GET", "/coffer/resources/\(id)")
            printJSON(result)
        }
    }

    struct Remove: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            _ = try await options.client().call("DELETE", "/coffer/resources/\(id)")
            print("removed resource \(id)")
        }
    }
}

struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vault", subcommands: [Create.self, List.self, Show.self, Update.self, AddResources.self,
                                                                                       RemoveResources.self, Delete.self])

    /// The id and type of each registered resource, as a vault binding wants them.
    static func bindings(_ client: APIClient, _ ids: [String]) async throws -> [[String: Any]] {
        var resources: [[String: Any]] = []
        for id in ids {
            let r = try await client.call("GET", "/coffer/resources/\(id)")
            resources.append(["id": id, "type": (r["resource"] as? [String: Any])?["type"] as? String ?? ""])
        }
        return resources
    }

    struct Create: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var name: String
        @Option(help: "server, disk or turbo.") var type: String
        @Option(help: "Capacity in GB.") var size = 100
        @Option(help: "Resource id to bind (repeatable).") var resource: [String] = []
        func run() async throws {
            let client = try options.client()
            let resources = try await VaultCommand.bindings(client, resource)
            let result = try await client.call("POST", "/vaults", body: ["vault": ["name": name, "resources": resources,
                "billing": ["consistent_level": "crash_consistent", "object_type": type, "protect_type": "backup", "size": size]]])
            let v = result["vault"] as? [String: Any] ?? [:]
            printResult(options, result) { ["\(v["id"] ?? "")  \(v["name"] ?? "")"] }
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let result = try await options.client().call("GET", "/vaults")
            printResult(options, result) {
                (result["vaults"] as? [[String: Any]] ?? []).map { v in
                    let b = v["billing"] as? [String: Any] ?? [:]
                    return "\(v["id"] ?? "")  \(v["name"] ?? "")  \(b["object_type"] ?? "")  \(b["used"] ?? 0) MB of \(b["size"] ?? 0) GB"
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws { printJSON(try await options.client().call("GET", "/vaults/\(id)")) }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename, resize or change a vault's switches.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option var name: String?
        @Option(help: "Capacity in GB (not below what the vault uses).") var size: Int?
        @Option(help: "Grow the vault instead of failing backups when full (true/false).") var autoExpand: Bool?
        @Option(help: "Alert threshold in percent of capacity.") var threshold: Int?
        @Flag(help: "Lock the vault (cannot be undone).") var lock = false
        func run() async throws {
            var vault: [String: Any] = [:]
            if let name { vault["name"] = name }
            if let size { vault["billing"] = ["size": size] }
            if let autoExpand { vault["auto_expand"] = autoExpand }
            if let threshold { vault["threshold"] = threshold }
            if lock { vault["locked"] = true }
            guard !vault.isEmpty else { throw CLIError("nothing to change: give --name, --size, --auto-expand, --threshold or --lock") }
            let result = try await options.client().call("PUT", "/vaults/\(id)", body: ["vault": vault])
            let v = result["vault"] as? [String: Any] ?? [:]
            printResult(options, result) { ["\(v["id"] ?? "")  \(v["name"] ?? "")  \((v["billing"] as? [String: Any])?["size"] ?? 0) GB"] }
        }
    }

    struct AddResources: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-resources", abstract: "Bind registered resources to a vault.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option(help: "Resource id (repeatable).") var resource: [String]
        func run() async throws {
            let client = try options.client()
            let result = try await client.call("POST", "/vaults/\(id)/addresources", body: ["resources": try await VaultCommand.bindings(client, resource)])
            printResult(options, result) { (result["add_resource_ids"] as? [String] ?? []).map { "added \($0)" } }
        }
    }

    struct RemoveResources: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-resources", abstract: "Unbind resources from a vault (their backups stay).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option(help: "Resource id (repeatable).") var resource: [String]
        func run() async throws {
            let result = try await options.client().call("POST", "/vaults/\(id)/removeresources", body: ["resource_ids": resource])
            printResult(options, result) { (result["remove_resource_ids"] as? [String] ?? []).map { "removed \($0)" } }
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            _ = try await options.client().call("DELETE", "/vaults/\(id)")
            print("deleted vault \(id)")
        }
    }
}

/// Polls the backups of a listing until none is in a transient state.
func waitForBackups(_ client: APIClient, query: String, json: Bool) async throws -> [[String: Any]] {
    let transient: Set<String> = ["protecting", "restoring", "deleting", "waiting_protect", "waiting_restore", "waiting_delete"]
    let tty = isatty(2) == 1 && !json
    let started = Date()
    while true {
        let list = try await client.call("GET", "/backups", query: query)["backups"] as? [[String: Any]] ?? []
        let busy = list.filter { transient.contains($0["status"] as? String ?? "") }
        if busy.isEmpty {
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            return list
        }
        if tty {
            // Progress of the running operations on these backups, from their operation logs.
            let running = try await client.call("GET", "/operation-logs", query: "status=running")["operation_logs"] as? [[String: Any]] ?? []
            let ids = Set(busy.compactMap { $0["id"] as? String })
            let percents = running.filter { ids.contains((($0["extra_info"] as? [String: Any])?["backup"] as? [String: Any])?["backup_id"] as? String ?? "") }
                .compactMap { (($0["extra_info"] as? [String: Any])?["common"] as? [String: Any])?["progress"] as? Int }
            let shown = percents.isEmpty ? "" : " (" + percents.map { "\($0)%" }.joined(separator: ", ") + ")"
            FileHandle.standardError.write(Data("\r\u{1B}[K[\(elapsedText(Date().timeIntervalSince(started)))] waiting for \(busy.count) backups\(shown)".utf8))
        }
        try await Task.sleep(for: .milliseconds(500))
    }
}

struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkpoint", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Back up a vault's resources now.")
        @OptionGroup var options: ClientOptions
        @Option var vault: String
        @Option var name: String?
        @Flag(help: "Wait until every backup of the checkpoint is available or failed.") var wait = false
        func run() async throws {
            let client = try options.client()
            var parameters: [String: Any] = [:]
            if let name { parameters["name"] = name }
            let result = try await client.call("POST", "/checkpoints", body: ["checkpoint": ["vault_id": vault, "parameters": parameters]])
            let id = (result["checkpoint"] as? [String: Any])?["id"] as? String ?? ""
            guard wait else { return printResult(options, result) { ["checkpoint \(id) protecting"] } }
            let backups = try await waitForBackups(client, query: "checkpoint_id=\(id)", json: options.json)
            printResult(options, ["checkpoint_id": id, "backups": backups]) { backups.map { "\($0["id"] ?? "")  \($0["status"] ?? "")  \($0["resource_name"] ?? "")" } }
            if backups.contains(where: { $0["status"] as? String == "error" }) { throw ExitCode(1) }
        }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup", subcommands: [List.self, Show.self, Delete.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var vault: String?
        func run() async throws {
            let result = try await options.client().call("GET", "/backups", query: vault.map { "vault_id=\($0)" } ?? "")
            printResult(options, result) { (result["backups"] as? [[String: Any]] ?? []).map { "\($0["id"] ?? "")  \($0["status"] ?? "")  \($0["resource_name"] ?? "")  \($0["created_at"] ?? "")" } }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws { printJSON(try await options.client().call("GET", "/backups/\(id)")) }
    }

    /// Top level as `coffer restore BACKUP_ID`.
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore a backup (in place, onto --volume, or into --destination).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option(help: "Target volume id (volume backups).") var volume: String?
        @Option(help: "Restore a file-system backup into this directory instead of in place.") var destination: String?
        @Flag var wait = false
        func run() async throws {
            let client = try options.client()
            var restore: [String: Any] = [:]
            if let volume { restore["volume_id"] = volume }
            if let destination { restore["details"] = ["destination_path": destination] }
            _ = try await client.call("POST", "/backups/\(id)/restore", body: ["restore": restore])
            if wait {
                while (try await client.call("GET", "/backups/\(id)")["backup"] as? [String: Any])?["status"] as? String == "restoring" {
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
            print("restore of \(id) \(wait ? "finished" : "started")")
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            _ = try await options.client().call("DELETE", "/backups/\(id)")
            print("deleting backup \(id)")
        }
    }
}

struct OplogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "oplog", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let result = try await options.client().call("GET", "/operation-logs")
            printResult(options, result) {
                (result["operation_logs"] as? [[String: Any]] ?? []).map { log in
                    let resource = ((log["extra_info"] as? [String: Any])?["resource"] as? [String: Any])?["name"] ?? ""
                    return "\(log["id"] ?? "")  \(log["operation_type"] ?? "")  \(log["status"] ?? "")  \(resource)"
                }
            }
        }
    }
}

/// RDS v3 database backups of a registered PostgreSQL instance.
struct RDSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rds", abstract: "Back up, list and restore PostgreSQL instances (RDS v3 API).",
                                                    subcommands: [Backup.self, List.self, Restore.self])

    /// Polls a list until the backup leaves BUILDING.
    static func waitForBackup(_ client: APIClient, instance: String, id: String) async throws -> [String: Any] {
        while true {
            let list = try await client.call("GET", "/backups", query: "instance_id=\(instance)&backup_id=\(id)")["backups"] as? [[String: Any]] ?? []
            if let b = list.first, b["status"] as? String != "BUILDING" { return b }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a manual backup (a physical base backup).")
        @OptionGroup var options: ClientOptions
        @Argument var instance: String
        @Option(help: "4-64 characters: a letter, then letters, digits, _ or -.") var name: String
        @Option var description: String?
        @Flag var wait = false
        func run() async throws {
            let client = try options.client()
            var body: [String: Any] = ["instance_id": instance, "name": name]
            if let description { body["description"] = description }
            let created = try await client.call("POST", "/backups", body: body)
            let id = (created["backup"] as? [String: Any])?["id"] as? String ?? ""
            guard wait else { return printResult(options, created) { ["backup \(id) BUILDING"] } }
            let done = try await RDSCommand.waitForBackup(client, instance: instance, id: id)
            printResult(options, ["backup": done]) { ["backup \(id) \(done["status"] ?? "")  \(done["size"] ?? 0) KB"] }
            if done["status"] as? String != "COMPLETED" { throw ExitCode(1) }
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var instance: String
        func run() async throws {
            let result = try await options.client().call("GET", "/backups", query: "instance_id=\(instance)")
            printResult(options, result) { (result["backups"] as? [[String: Any]] ?? []).map { "\($0["id"] ?? "")  \($0["status"] ?? "")  \($0["name"] ?? "")  \($0["begin_time"] ?? "")  \($0["size"] ?? 0) KB" } }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restore a backup onto its instance (in place: stop, swap, start, check) or into a new data directory.")
        @OptionGroup var options: ClientOptions
        @Argument var backup: String
        @Option(help: "Restore in place onto this instance (it needs a registered data_dir).") var instance: String?
        @Option(help: "Restore into this new, empty data directory under a resource root, left stopped.") var dataDir: String?
        @Flag var wait = false
        func run() async throws {
            guard (instance == nil) != (dataDir == nil) else { throw CLIError("give exactly one of --instance or --data-dir") }
            let client = try options.client()
            let target: [String: Any] = instance.map { ["instance_id": $0] } ?? ["data_dir": dataDir ?? ""]
            let started = try await client.call("POST", "/instances/recovery", body: ["source": ["type": "backup", "backup_id": backup], "target": target])
            let job = started["job_id"] as? String ?? ""
            guard wait else { return printResult(options, started) { ["restore job \(job) running"] } }
            var status = "Running", result: [String: Any] = [:]
            while status == "Running" {
                try await Task.sleep(for: .milliseconds(500))
                result = try await client.call("GET", "/jobs", query: "id=\(job)")
                status = (result["job"] as? [String: Any])?["status"] as? String ?? "Failed"
            }
            printResult(options, result) { ["restore job \(job) \(status)" + (((result["job"] as? [String: Any])?["fail_reason"] as? String).map { ": \($0)" } ?? "")] }
            if status != "Completed" { throw ExitCode(1) }
        }
    }
}
