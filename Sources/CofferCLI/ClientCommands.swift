import ArgumentParser
import AsyncHTTPClient
import CofferAPI
import CofferCrypto
import CofferS3
import CofferService
import CofferSystem
import Foundation

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
    /// The longest a request may take, upload and answer (a claim long-polls for at most 60 s).
    static let timeoutSeconds: Int64 = 600
    /// The largest answer read (a restore's blob batch is at most 32 MiB).
    static let maxAnswerBytes = 256 << 20
    let base: URL
    let accessKey: String
    let secretKey: String
    let projectID: String

    /// An answer as one of the API's types (CofferAPI), the ones the server writes; the body is one of its request types.
    func call<T: Decodable>(_ method: String, _ path: String, query: String = "", body: (any Encodable)? = nil, as type: T.Type) async throws -> T {
        let data = try await send(method, path, query: query, body: body)
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw CLIError("\(method) \(path): the answer is not a \(T.self): \(error)")
        }
    }

    /// Sends a signed request; the body of a 2xx answer, else a CLIError with the server's code and message.
    @discardableResult
    func send(_ method: String, _ path: String, query: String = "", body: (any Encodable)? = nil) async throws -> Data {
        try await send(method, path, query: query, raw: try body.map { try JSONEncoder().encode($0) } ?? Data(), contentType: "application/json").data
    }

    /// Sends bytes as they are; the answer's body and status (2xx), else a CLIError with the server's code and message.
    /// `contentSHA256`: the body's SHA-256 in hex when the caller knows it (an object named by it).
    func send(_ method: String, _ path: String, query: String = "", raw bodyData: Data, contentType: String,
              contentSHA256: String? = nil) async throws -> (data: Data, status: Int) {
        let fullPath = "/v3/\(projectID)" + path
        guard let url = URL(string: base.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + fullPath + (query.isEmpty ? "" : "?" + query)) else {
            throw CLIError("cannot build a URL for \(fullPath)")
        }
        let host = base.port.map { "\(base.host!):\($0)" } ?? base.host!
        // A signed random request id: two identical changes within the same second (the date's resolution)
        // would otherwise carry the same signature, and the server refuses the second as a replay.
        // The body's hash as a signed header: the signature then needs no copy of a pack-sized body.
        var headers = ["content-type": contentType, "host": host, "x-project-id": projectID, "x-sdk-date": AKSKSignature.formatSdkDate(Date()),
                       "x-sdk-request-id": UUID().uuidString.lowercased(), "x-sdk-content-sha256": contentSHA256 ?? Digest.sha256Hex(bodyData)]
        let frozen = headers
        let signable = SignableRequest(method: method, rawPath: url.path, rawQuery: url.query ?? "", body: Data()) { frozen[$0] }
        headers["authorization"] = AKSKSignature.sign(signable, accessKey: accessKey, secret: secretKey,
                                                      signedHeaders: ["content-type", "host", "x-project-id", "x-sdk-content-sha256", "x-sdk-date", "x-sdk-request-id"])
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .init(rawValue: method)
        for (k, v) in headers where k != "host" { request.headers.add(name: k, value: v) }
        // Handed to the connection in slices as it is written, not copied whole.
        if !bodyData.isEmpty { request.body = .bytes(bodyData) }
        let data: Data, status: Int
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(APIClient.timeoutSeconds))
            status = Int(response.status.code)
            data = try await response.bodyData(upTo: APIClient.maxAnswerBytes)
        } catch {
            throw CLIError("cannot reach \(base.absoluteString): \(error)")
        }
        guard (200..<300).contains(status) else {
            let error = try? JSONDecoder().decode(ErrorBody.self, from: data)
            throw CLIError("\(method) \(path): HTTP \(status) \(error?.code ?? ""): \(error?.message ?? String(decoding: data, as: UTF8.self))", status: status)
        }
        return (data, status)
    }
}

/// The server's answer as JSON with `--json`, else the lines a person reads.
func printResult(_ options: ClientOptions, _ value: some Encodable, text: () -> [String]) {
    if options.json { printAnswer(value) } else { for line in text() { print(line) } }
}

/// An answer of the API's types, printed as the server wrote it.
func printAnswer(_ value: some Encodable) {
    FileHandle.standardOutput.write(Data(((try? JSONWriter.encode(value)) ?? Array("{}".utf8)) + Array("\n".utf8)))
}

struct ResourceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resource", abstract: "Register what can be protected (admin).",
                                                    subcommands: [Add.self, List.self, Show.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add")
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
        @Option(help: "The agent whose host holds the path or disks (they are that host's paths; only the agent reads them).") var agent: String?

        func run() async throws {
            let types = ["volume": "OS::Cinder::Volume", "server": "OS::Nova::Server", "turbo": "OS::Sfs::Turbo", "rds": "rds"]
            guard let apiType = types[type] else { throw ValidationError("--type must be volume, server, turbo or rds") }
            var resource = Inventory.Register(type: apiType, name: name)
            resource.path = path
            resource.projectID = project
            resource.agentID = agent
            if restoreSpecialFiles { resource.restoreSpecialFiles = true }
            if type == "rds" {
                guard let url = connection ?? ProcessInfo.processInfo.environment["COFFER_DB_CONNECTION"] else {
                    throw ValidationError("--type rds needs --connection or COFFER_DB_CONNECTION")
                }
                resource.engine = "PostgreSQL"
                resource.connection = url
                resource.dataDirectory = dataDir
            }
            if !disk.isEmpty {
                resource.disks = try disk.map { spec in
                    guard let eq = spec.firstIndex(of: "=") else { throw ValidationError("--disk must be NAME=PATH[:bootable]") }
                    var path = String(spec[spec.index(after: eq)...])
                    let bootable = path.hasSuffix(":bootable")
                    if bootable { path.removeLast(":bootable".count) }
                    return Inventory.Register.Disk(name: String(spec[..<eq]), path: path, bootable: bootable)
                }
            }
            let result = try await options.client().call("POST", "/coffer/resources", body: Inventory.RegisterRequest(resource), as: Inventory.ResourceResponse.self)
            let r = result.resource
            printResult(options, result) { ["\(r.id)  \(r.type)  \(r.name)"] }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let result = try await options.client().call("GET", "/coffer/resources", query: "limit=1000", as: Inventory.ResourceList.self)
            printResult(options, result) { result.resources.map { "\($0.id)  \($0.type)  \($0.name)  \($0.path ?? $0.dataDirectory ?? "")" } }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            printAnswer(try await options.client().call("GET", "/coffer/resources/\(id)", as: Inventory.ResourceResponse.self))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await options.client().send("DELETE", "/coffer/resources/\(id)")
            print("removed resource \(id)")
        }
    }
}

struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vault", subcommands: [Create.self, List.self, Show.self, Update.self, AddResources.self,
                                                                                       RemoveResources.self, Delete.self])

    /// The id and type of each registered resource, as a vault binding wants them.
    static func bindings(_ client: APIClient, _ ids: [String]) async throws -> [CBR.VaultResourceInput] {
        var resources: [CBR.VaultResourceInput] = []
        for id in ids {
            let r = try await client.call("GET", "/coffer/resources/\(id)", as: Inventory.ResourceResponse.self)
            resources.append(CBR.VaultResourceInput(id: id, type: r.resource.type))
        }
        return resources
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create")
        @OptionGroup var options: ClientOptions
        @Option var name: String
        @Option(help: "server, disk or turbo.") var type: String
        @Option(help: "Capacity in GB.") var size = 100
        @Option(help: "Resource id to bind (repeatable).") var resource: [String] = []
        func run() async throws {
            let client = try options.client()
            let resources = try await VaultCommand.bindings(client, resource)
            let billing = CBR.BillingCreate(size: size, consistentLevel: "crash_consistent", objectType: type, protectType: "backup")
            let result = try await client.call("POST", "/vaults", body: CBR.VaultCreateRequest(.init(name: name, billing: billing, resources: resources)),
                                               as: CBR.VaultResponse.self)
            printResult(options, result) { ["\(result.vault.id)  \(result.vault.name)"] }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let result = try await options.client().call("GET", "/vaults", as: CBR.VaultList.self)
            printResult(options, result) {
                result.vaults.map { v in "\(v.id)  \(v.name)  \(v.billing.objectType)  \(v.billing.used) MB of \(v.billing.size) GB" }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws { printAnswer(try await options.client().call("GET", "/vaults/\(id)", as: CBR.VaultResponse.self)) }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Rename, resize or change a vault's switches.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option var name: String?
        @Option(help: "Capacity in GB (not below what the vault uses).") var size: Int?
        @Option(help: "Grow the vault instead of failing backups when full (true/false).") var autoExpand: Bool?
        @Option(help: "Alert threshold in percent of capacity.") var threshold: Int?
        @Flag(help: "Lock the vault (cannot be undone).") var lock = false
        func run() async throws {
            var vault = CBR.VaultUpdate()
            vault.name = name
            vault.billing = size.map { CBR.VaultUpdate.BillingUpdate(size: $0) }
            vault.autoExpand = autoExpand
            vault.threshold = threshold
            if lock { vault.locked = true }
            guard name != nil || size != nil || autoExpand != nil || threshold != nil || lock else {
                throw CLIError("nothing to change: give --name, --size, --auto-expand, --threshold or --lock")
            }
            let result = try await options.client().call("PUT", "/vaults/\(id)", body: CBR.VaultUpdateRequest(vault), as: CBR.VaultResponse.self)
            printResult(options, result) { ["\(result.vault.id)  \(result.vault.name)  \(result.vault.billing.size) GB"] }
        }
    }

    struct AddResources: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-resources", abstract: "Bind registered resources to a vault.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option(help: "Resource id (repeatable).") var resource: [String]
        func run() async throws {
            let client = try options.client()
            let result = try await client.call("POST", "/vaults/\(id)/addresources", body: CBR.AddResourcesRequest(try await VaultCommand.bindings(client, resource)),
                                               as: CBR.AddResourcesResponse.self)
            printResult(options, result) { result.addResourceIDs.map { "added \($0)" } }
        }
    }

    struct RemoveResources: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-resources", abstract: "Unbind resources from a vault (their backups stay).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option(help: "Resource id (repeatable).") var resource: [String]
        func run() async throws {
            let result = try await options.client().call("POST", "/vaults/\(id)/removeresources", body: CBR.RemoveResourcesRequest(resource),
                                                         as: CBR.RemoveResourcesResponse.self)
            printResult(options, result) { result.removeResourceIDs.map { "removed \($0)" } }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await options.client().send("DELETE", "/vaults/\(id)")
            print("deleted vault \(id)")
        }
    }
}
