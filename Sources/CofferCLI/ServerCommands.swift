import ArgumentParser
import CofferModel
import CofferHTTP
import CofferService
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Server settings from flags, then environment (`COFFER_*`), then a JSON
/// config file, then defaults.
struct ServerOptions: ParsableArguments {
    @Option(help: "Data directory (env COFFER_DATA_DIR; default ./coffer-data).") var dataDir: String?
    @Option(help: "Listen address HOST:PORT (env COFFER_LISTEN; default 127.0.0.1:8088).") var listen: String?
    @Option(help: "Catalog URL (env COFFER_CATALOG; default sqlite://DATA_DIR/catalog.sqlite).") var catalog: String?
    @Option(help: "A directory under which resources may be registered (repeatable; env COFFER_RESOURCE_ROOTS, ':'-separated).") var resourceRoot: [String] = []
    @Option(help: "Master key file (env COFFER_MASTER_KEY_FILE; default DATA_DIR/master.key); created once, never overwritten.") var masterKeyFile: String?
    @Option(help: "JSON config file with keys data_dir, listen, catalog, store, resource_roots, master_key_file, role, region.") var config: String?
    @Option(help: "Seconds between the scheduler's passes over bound policies (env COFFER_SCHEDULER_INTERVAL; default 30).") var schedulerInterval: Double?
    @Option(help: "A network (CIDR, e.g. 10.1.2.0/24 or 127.0.0.1/32) that tenants' webhooks may reach although it is loopback, private or link-local (repeatable; env COFFER_WEBHOOK_ALLOW, comma-separated).")
    var webhookAllow: [String] = []
    @Option(help: "Where new vaults' repositories go: file:///PATH or s3://BUCKET[/PREFIX] (env COFFER_STORE; default file://DATA_DIR/vaults). S3 is configured by the AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3).") var store: String?

    /// With `process` (serve), also the process's role, region and job lease.
    func resolve(process: ProcessOptions? = nil) throws -> ServerConfiguration {
        let env = ProcessInfo.processInfo.environment
        var file: [String: Any] = [:]
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw CLIError("cannot read config file \(config)") }
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw CLIError("config file \(config) is not a JSON object") }
            let known: Set<String> = ["data_dir", "listen", "catalog", "resource_roots", "master_key_file", "role", "region", "store", "webhook_allow"]
            if let unknown = object.keys.first(where: { !known.contains($0) }) { throw CLIError("config file \(config): unknown key \(unknown)") }
            file = object
        }
        func fileString(_ key: String) throws -> String? {
            guard let v = file[key] else { return nil }
            guard let s = v as? String else { throw CLIError("config file \(config ?? ""): \(key) must be a string") }
            return s
        }
        let dir = try dataDir ?? env["COFFER_DATA_DIR"] ?? fileString("data_dir") ?? "./coffer-data"
        let listenText = try listen ?? env["COFFER_LISTEN"] ?? fileString("listen") ?? "127.0.0.1:8088"
        guard let (host, port) = ServerConfiguration.parseListen(listenText) else {
            throw CLIError("listen address '\(listenText)' is not HOST:PORT (e.g. 127.0.0.1:8088)")
        }
        var roots = resourceRoot
        if roots.isEmpty, let e = env["COFFER_RESOURCE_ROOTS"], !e.isEmpty { roots = e.split(separator: ":").map(String.init) }
        if roots.isEmpty, let r = file["resource_roots"] {
            guard let list = r as? [String] else { throw CLIError("config file: resource_roots must be an array of strings") }
            roots = list
        }
        var configuration = ServerConfiguration(dataDirectory: dir, host: host, port: port, catalogURL: try catalog ?? env["COFFER_CATALOG"] ?? fileString("catalog"),
                                                resourceRoots: roots)
        if let keyFile = try masterKeyFile ?? env["COFFER_MASTER_KEY_FILE"] ?? fileString("master_key_file") {
            configuration.masterKeyFile = URL(fileURLWithPath: keyFile).standardizedFileURL.path
        }
        if let seconds = schedulerInterval ?? env["COFFER_SCHEDULER_INTERVAL"].flatMap(Double.init) {
            guard (1...3_600).contains(seconds) else { throw CLIError("--scheduler-interval must be 1 to 3600 seconds") }
            configuration.schedulerInterval = seconds
        }
        if let process {
            if let text = try process.role ?? env["COFFER_ROLE"] ?? fileString("role") {
                guard let parsed = ServerConfiguration.Role(rawValue: text) else { throw CLIError("--role must be api, worker or all, not '\(text)'") }
                configuration.role = parsed
            }
            if let name = try process.region ?? env["COFFER_REGION"] ?? fileString("region") {
                guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
                    throw CLIError("--region must be 1 to 64 letters, digits, '-', '_' or '.'")
                }
                configuration.region = name
            }
            if let seconds = process.jobLease ?? env["COFFER_JOB_LEASE"].flatMap(Double.init) {
                guard (5...3_600).contains(seconds) else { throw CLIError("--job-lease must be 5 to 3600 seconds") }
                configuration.jobLease = seconds
            }
            if let seconds = process.agentWait ?? env["COFFER_AGENT_WAIT"].flatMap(Double.init) {
                guard (10...7 * 86_400).contains(seconds) else { throw CLIError("--agent-wait must be 10 seconds to 7 days") }
                configuration.agentWait = seconds
            }
        }
        var allow = webhookAllow
        if allow.isEmpty, let e = env["COFFER_WEBHOOK_ALLOW"], !e.isEmpty { allow = e.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if allow.isEmpty, let r = file["webhook_allow"] {
            guard let list = r as? [String] else { throw CLIError("config file: webhook_allow must be an array of strings") }
            allow = list
        }
        configuration.webhookAllow = try allow.map { text in
            guard let network = WebhookTargetPolicy.Network(text) else { throw CLIError("--webhook-allow '\(text)' is not an address or network in CIDR form (e.g. 10.1.2.0/24)") }
            return network
        }
        if let url = try store ?? env["COFFER_STORE"] ?? fileString("store") {
            try RepositoryStores.check(url)
            configuration.store = url
        }
        return configuration
    }
}

/// What only `serve` takes: the admin commands share `ServerOptions`, and
/// there `--role` is a user's role (`admin user create --role agent`).
struct ProcessOptions: ParsableArguments {
    @Option(help: "api (answer requests, queue jobs), worker (run jobs and the scheduler, no listener) or all (env COFFER_ROLE; default all).") var role: String?
    @Option(help: "Region name in the token catalog (env COFFER_REGION; default coffer-local).") var region: String?
    @Option(parsing: .unconditional, help: "Seconds a worker holds a job between renewals before another may take it over (env COFFER_JOB_LEASE; default 60).") var jobLease: Double?
    @Option(parsing: .unconditional, help: "Seconds a job on an agent's resource waits for that agent before it fails (env COFFER_AGENT_WAIT; default 3600).") var agentWait: Double?
    @Option(help: "Also serve /metrics without authentication on HOST:PORT, for a scraper on a private address (env COFFER_METRICS_LISTEN).")
    var metricsListen: String?

    /// Where the unauthenticated /metrics listens, if anywhere.
    func metricsAddress() throws -> (String, Int)? {
        guard let text = metricsListen ?? ProcessInfo.processInfo.environment["COFFER_METRICS_LISTEN"] else { return nil }
        guard let address = ServerConfiguration.parseListen(text) else { throw CLIError("--metrics-listen '\(text)' is not HOST:PORT (e.g. 127.0.0.1:9464)") }
        return address
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the Coffer service (CBR/CSBS/RDS-compatible API) until SIGTERM or SIGINT.")
    @OptionGroup var options: ServerOptions
    @OptionGroup var process: ProcessOptions

    func run() async throws {
        let configuration = try options.resolve(process: process)
        let metricsAddress = try process.metricsAddress()
        LoggingSystem.bootstrap { label in SinkLogHandler(label: label, sink: .standardOutput) }
        defer { LogSink.standardOutput.flush() }
        var logger = Logger(label: "coffer")
        logger.logLevel = ProcessInfo.processInfo.environment["COFFER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let (services, created) = try await CofferServices.open(configuration, logger: logger)
        // Vaults made before key slots existed get the master key's slot (once; a no-op afterwards).
        let added = try await services.vaults.ensureMasterKeySlots()
        if added > 0 { logger.info("added the master key to the repositories of vaults made before key slots", metadata: ["vaults": "\(added)"]) }
        if let created {
            // Secrets go to the 0600 file only: stdout is often a journal or a terminal log.
            stdoutNow("""
            Created the admin project \(created.project_id) (user \(created.user_name)).
            Its password and access key are in \(configuration.dataDirectory)/admin-credentials.json (mode 0600).

            """)
        }
        logger.info("coffer serving", metadata: ["role": "\(configuration.role.rawValue)", "listen": "\(configuration.role == .worker ? "-" : "\(configuration.host):\(configuration.port)")",
                                                 "data_dir": "\(configuration.dataDirectory)", "store": "\(services.vaults.repositoryBase)",
                                                 "worker": "\(configuration.role == .api ? "-" : services.worker.id)"])
        // The job runtime, the scheduler and the HTTP server, as the role says, in one ServiceGroup.
        // On SIGTERM or SIGINT services stop in reverse order: the server stops
        // accepting first, then the runtime finishes the job in hand and stops.
        var running: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if configuration.role != .api { running += [.init(service: services.worker), .init(service: services.scheduler), .init(service: services.dispatcher)] }
        if configuration.role != .worker { running.append(.init(service: buildApplication(services: services.api, configuration: configuration))) }
        if let (host, port) = metricsAddress {
            running.append(.init(service: buildMetricsApplication(services.metrics, host: host, port: port, logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(services: running, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await services.catalog.close()
            throw error
        }
        await services.catalog.close()
    }
}

/// Writes at once (print is buffered when stdout is not a terminal).
func stdoutNow(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "admin", abstract: "Manage projects, users and access keys directly in the catalog (coffer admin --data-dir DIR project create NAME).",
                                                    subcommands: [ProjectCommand.self, UserCommand.self, KeyCommand.self, CatalogCommand.self, SchedulerCommand.self])
    @OptionGroup var options: ServerOptions
}

/// Opens the catalog of a data directory, runs `body`, closes it.
func withServices<T>(_ options: ServerOptions, bootstrap: Bool = true, _ body: (CofferServices) async throws -> T) async throws -> T {
    var logger = Logger(label: "coffer-admin")
    logger.logLevel = .warning
    let (services, _) = try await CofferServices.open(try options.resolve(), logger: logger, bootstrap: bootstrap)
    do {
        let result = try await body(services)
        await services.catalog.close()
        return result
    } catch {
        await services.catalog.close()
        throw error
    }
}

func output(_ json: Bool, _ object: Any, text: String) {
    if json { printJSON(object) } else { print(text) }
}

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "project", subcommands: [Create.self, List.self, Delete.self, Quota.self])

    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "quota", abstract: "Show or set a project's quotas (vault count, GB allocated to vaults, queued or running jobs); 'none' lifts a limit.")
        @ParentCommand var admin: Admin
        @Argument(help: "Project name or id.") var project: String
        @Option(help: "Most vaults, or none.") var vaults: String?
        @Option(help: "Most GB allocated to the project's vaults, or none.") var capacityGb: String?
        @Option(help: "Most queued or running jobs, or none.") var queuedJobs: String?
        @Flag(help: "Print the result as JSON.") var json = false

        func limit(_ text: String?, _ current: Int?, _ name: String) throws -> Int? {
            guard let text else { return current }
            if text == "none" { return nil }
            guard let n = Int(text), n >= 0 else { throw CLIError("--\(name) must be a non-negative integer or none") }
            return n
        }

        func run() async throws {
            let quota = try await withServices(admin.options) { s -> ProjectQuota in
                let p = try await s.identity.resolveProject(project)
                let store = s.catalog.quotas
                var q = try await store.get(project: p.id)
                if vaults != nil || capacityGb != nil || queuedJobs != nil {
                    q = ProjectQuota(maxVaults: try limit(vaults, q.maxVaults, "vaults"), maxCapacityGB: try limit(capacityGb, q.maxCapacityGB, "capacity-gb"),
                                     maxQueuedJobs: try limit(queuedJobs, q.maxQueuedJobs, "queued-jobs"))
                    try await store.set(project: p.id, q)
                }
                return q
            }
            func show(_ v: Int?) -> Any { v.map { $0 as Any } ?? NSNull() }
            func text(_ v: Int?) -> String { v.map(String.init) ?? "none" }
            output(json, ["max_vaults": show(quota.maxVaults), "max_capacity_gb": show(quota.maxCapacityGB), "max_queued_jobs": show(quota.maxQueuedJobs)],
                   text: "vaults \(text(quota.maxVaults)), capacity \(text(quota.maxCapacityGB)) GB, queued jobs \(text(quota.maxQueuedJobs))")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Argument var name: String
        @Option var description = ""
        @Flag var json = false
        func run() async throws {
            let c = try await withServices(options) { try await $0.identity.createProject(name: name, description: description) }
            output(json, ["project_id": c.project_id, "project_name": c.project_name, "user_name": c.user_name, "password": c.password,
                          "access_key": c.access_key, "secret_key": c.secret_key],
                   text: "project \(c.project_name) (\(c.project_id))\nuser \(c.user_name) password \(c.password)\naccess key \(c.access_key) secret \(c.secret_key)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Flag var json = false
        func run() async throws {
            let projects = try await withServices(options) { try await $0.identity.projects() }
            printList(json, projects.map { ["id": $0.id, "name": $0.name, "description": $0.description] }, lines: projects.map { "\($0.id)  \($0.name)" })
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Argument(help: "Project id or name.") var project: String
        func run() async throws {
            try await withServices(options) { s in
                let p = try await s.identity.resolveProject(project)
                try await s.identity.deleteProject(id: p.id)
                print("deleted project \(p.name) (\(p.id))")
            }
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Option(help: "Project id or name.") var project: String
        @Argument var name: String
        @Option(help: "admin, member, readonly or agent (for `coffer agent` on a data host: its agents only).") var role = "member"
        @Flag var json = false
        func validate() throws {
            guard Role(rawValue: role) != nil else { throw ValidationError("--role must be admin, member, readonly or agent") }
        }
        func run() async throws {
            let (user, password) = try await withServices(options) { s in
                let p = try await s.identity.resolveProject(project)
                return try await s.identity.createUser(project: p.id, name: name, role: Role(rawValue: role)!)
            }
            output(json, ["user_id": user.id, "user_name": user.name, "password": password, "role": role], text: "user \(user.name) (\(user.id)) password \(password)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Option var project: String
        @Flag var json = false
        func run() async throws {
            let users = try await withServices(options) { s in try await s.identity.users(project: try await s.identity.resolveProject(project).id) }
            printList(json, users.map { ["id": $0.0.id, "name": $0.0.name, "role": $0.1.rawValue] }, lines: users.map { "\($0.0.id)  \($0.0.name)  \($0.1.rawValue)" })
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Option var project: String
        @Argument(help: "User id or name.") var user: String
        func run() async throws {
            try await withServices(options) { s in
                let p = try await s.identity.resolveProject(project)
                let users = try await s.identity.users(project: p.id)
                guard let u = users.first(where: { $0.0.id == user || $0.0.name == user }) else { throw CLIError("no user \(user) in project \(p.name)") }
                try await s.identity.deleteUser(project: p.id, id: u.0.id)
                print("deleted user \(u.0.name)")
            }
        }
    }
}

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key", subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Option var project: String
        @Option(help: "User id or name (default: the project's first admin or member).") var user: String?
        @Flag var json = false
        func run() async throws {
            let (projectID, ak, sk) = try await withServices(options) { s -> (String, String, String) in
                let p = try await s.identity.resolveProject(project)
                let users = try await s.identity.users(project: p.id)
                let chosen = user.flatMap { u in users.first { $0.0.id == u || $0.0.name == u } }
                    ?? (user == nil ? users.first { $0.1 == .admin || $0.1 == .member } ?? users.first : nil)
                guard let chosen else { throw CLIError(user.map { "no user \($0) in project \(p.name)" } ?? "project \(p.name) has no users") }
                let (ak, sk) = try await s.identity.createAccessKey(project: p.id, user: chosen.0.id, description: "created with coffer admin")
                return (p.id, ak, sk)
            }
            // The JSON is a credentials file as `--credentials` reads it (`coffer agent` on a data host).
            output(json, ["project_id": projectID, "access_key": ak, "secret_key": sk], text: "access key \(ak) secret \(sk)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Option var project: String
        @Flag var json = false
        func run() async throws {
            let keys = try await withServices(options) { s in try await s.identity.accessKeys(project: try await s.identity.resolveProject(project).id) }
            printList(json, keys.map { ["access_key": $0.accessKey, "user_id": $0.userID, "description": $0.description] }, lines: keys.map { "\($0.accessKey)  user \($0.userID)  \($0.description)" })
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete")
        @ParentCommand var admin: Admin
        var options: ServerOptions { admin.options }
        @Option var project: String
        @Argument var accessKey: String
        func run() async throws {
            try await withServices(options) { s in
                try await s.identity.deleteAccessKey(project: try await s.identity.resolveProject(project).id, accessKey: accessKey)
                print("deleted access key \(accessKey)")
            }
        }
    }
}

struct OpenAPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the OpenAPI document the server serves at /openapi.json (docs/openapi.json is this output).")
    func run() throws {
        FileHandle.standardOutput.write(OpenAPIDocument.json)
        stdoutNow("\n")
    }
}
