import CofferCatalog
import CofferCrypto
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

public struct ServerConfiguration: Sendable {
    public var dataDirectory: String
    public var host: String
    public var port: Int
    public var catalogURL: String
    public var resourceRoots: [String]
    public var region: String
    public var tokenLifetime: TimeInterval
    /// Where the master key lives (default DATA_DIR/master.key); may be outside the data directory.
    public var masterKeyFile: String

    public init(dataDirectory: String = "./coffer-data", host: String = "127.0.0.1", port: Int = 8088, catalogURL: String? = nil,
                resourceRoots: [String] = [], region: String = "coffer-local", tokenLifetime: TimeInterval = 86400) {
        let dir = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        self.dataDirectory = dir
        self.host = host
        self.port = port
        self.catalogURL = catalogURL ?? "sqlite://\(dir)/catalog.sqlite"
        self.resourceRoots = resourceRoots
        self.region = region
        self.tokenLifetime = tokenLifetime
        self.masterKeyFile = dir + "/master.key"
    }

    /// `HOST:PORT`, e.g. `127.0.0.1:8088` or `[::1]:8088`.
    public static func parseListen(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (host, port)
    }
}

/// Everything the routes use, built once per process.
public struct CofferServices: Sendable {
    public var catalog: Catalog
    public var identity: IdentityService
    public var resources: ResourceService
    public var vaults: VaultService
    public var backups: BackupService
    public var protection: ProtectionService
    public var databases: DatabaseService
    public var worker: Worker
    /// Rebuilding an empty catalog from the vault repositories (disaster recovery).
    public var recovery: CatalogRecovery
    public var logger: Logger

    /// Opens (or creates) the data directory: master key, catalog, and on an
    /// empty catalog the admin project, whose credentials are returned once.
    /// `bootstrap: false` leaves an empty catalog empty (for a rebuild from the repositories).
    public static func open(_ configuration: ServerConfiguration, clock: any Clock = SystemClock(), logger: Logger,
                            passwordCost: Int = 1 << 14, bootstrap: Bool = true) async throws -> (CofferServices, NewProjectCredentials?) {
        // The catalog holds password hashes and sealed secrets: the directory is the owner's alone.
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = try loadOrCreateMasterKey(at: configuration.masterKeyFile)
        guard let secrets = SecretBox(keyBytes: key) else { throw ServiceError(.internalFailure, "BackupService.9910", "master key must be 32 bytes") }
        let catalog = try await Catalog.open(url: configuration.catalogURL, logger: logger)
        let identity = IdentityService(store: IdentityStore(catalog: catalog), secrets: secrets, clock: clock,
                                       tokenLifetime: configuration.tokenLifetime, passwordCost: passwordCost)
        let created = bootstrap ? try await identity.bootstrapIfEmpty() : nil
        if let created {
            let path = configuration.dataDirectory + "/admin-credentials.json"
            let data = try JSONSerialization.data(withJSONObject: [
                "project_id": created.project_id, "project_name": created.project_name, "user_name": created.user_name,
                "password": created.password, "access_key": created.access_key, "secret_key": created.secret_key,
            ], options: [.sortedKeys, .prettyPrinted])
            try writePrivateFile(path, data)
        }
        let resources = ResourceService(store: ResourceStore(catalog: catalog), identity: IdentityStore(catalog: catalog),
                                        roots: configuration.resourceRoots, clock: clock, secrets: secrets, dataDirectory: configuration.dataDirectory)
        let vaults = VaultService(store: VaultStore(catalog: catalog), resources: resources, resourceStore: ResourceStore(catalog: catalog),
                                  secrets: secrets, dataDirectory: configuration.dataDirectory, clock: clock, masterKey: key)
        let backupStore = BackupStore(catalog: catalog)
        let backups = BackupService(store: backupStore, vaults: vaults, resources: resources, clock: clock)
        let worker = Worker(store: backupStore, vaults: vaults, resources: resources, clock: clock, logger: logger)
        let protection = ProtectionService(backups: backups, vaults: vaults, resources: resources)
        let databases = DatabaseService(backups: backups, vaults: vaults, resources: resources)
        if bootstrap {
            let added = try await vaults.ensureMasterKeySlots()
            if added > 0 { logger.info("added the master key to the repositories of vaults made before key slots", metadata: ["vaults": "\(added)"]) }
        }
        let recovery = CatalogRecovery(identity: identity, vaults: vaults, resourceStore: ResourceStore(catalog: catalog), databases: DatabaseStore(catalog: catalog),
                                       backups: backupStore, masterKey: key, clock: clock)
        return (CofferServices(catalog: catalog, identity: identity, resources: resources, vaults: vaults, backups: backups, protection: protection,
                               databases: databases, worker: worker, recovery: recovery, logger: logger), created)
    }

    /// 32 random bytes in a 0600 file, made on first start with O_EXCL and
    /// never overwritten: any error reading an existing key stops the start
    /// loudly (a new key would make every sealed secret and vault unreadable).
    static func loadOrCreateMasterKey(at path: String) throws -> [UInt8] {
        func failure(_ what: String) -> ServiceError {
            ServiceError(.internalFailure, "BackupService.9910", "master key \(path): \(what): \(String(cString: strerror(errno)))")
        }
        func read() throws -> [UInt8]? {
            let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 {
                if errno == ENOENT { return nil }
                throw failure("cannot open")
            }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 33)
            let n = Glibc.read(fd, &buffer, 33)
            guard n >= 0 else { throw failure("cannot read") }
            guard n == 32 else { throw ServiceError(.internalFailure, "BackupService.9910", "master key \(path) must hold exactly 32 bytes (it holds \(n)); refusing to start") }
            return Array(buffer.prefix(32))
        }
        if let key = try read() { return key }
        let key = randomBytes(32)
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 {
            // Another process made it first: use that one.
            if errno == EEXIST, let key = try read() { return key }
            throw failure("cannot create")
        }
        defer { close(fd) }
        let written = key.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, 32) }
        guard written == 32, fsync(fd) == 0 else {
            unlink(path)
            throw failure("cannot write")
        }
        let directory = Glibc.open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 { fsync(directory); close(directory) }
        return key
    }

    public static func writePrivateFile(_ path: String, _ data: Data) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServiceError(.internalFailure, "BackupService.9910", "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        try data.withUnsafeBytes { raw in
            guard write(fd, raw.baseAddress, raw.count) == raw.count, fsync(fd) == 0 else {
                throw ServiceError(.internalFailure, "BackupService.9910", "cannot write \(path)")
            }
        }
    }
}

/// The whole HTTP application in one place: middleware order, routes.
public func buildRouter(services: CofferServices, configuration: ServerConfiguration) -> Router<CofferContext> {
    let router = Router(context: CofferContext.self)
    let routes = RouteTable()
    router.middlewares.add(RequestIDMiddleware(routes: routes))
    router.middlewares.add(AuthMiddleware(identity: services.identity))
    let catalog = services.catalog
    router.get("/health") { _, _ -> Response in
        guard await catalog.ping() else {
            return JSONBody.response(status: .serviceUnavailable, ["status": "catalog unreachable"])
        }
        return JSONBody.response(["status": "ok"])
    }
    routes.add(.get, "/health")
    let openAPI = OpenAPIDocument.json
    router.get("/openapi.json") { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
    }
    routes.add(.get, "/openapi.json")
    IdentityRoutes(identity: services.identity, region: configuration.region).register(on: router, routes: routes)
    ResourceRoutes(resources: services.resources, vaults: services.vaults).register(on: router, routes: routes)
    VaultRoutes(vaults: services.vaults, backups: services.backups).register(on: router, routes: routes)
    let rds = RDSRoutes(databases: services.databases, backups: services.backups, resources: services.resources)
    rds.register(on: router, routes: routes)
    BackupRoutes(backups: services.backups, rds: rds).register(on: router, routes: routes)
    CSBSRoutes(protection: services.protection, backups: services.backups, vaults: services.vaults, region: configuration.region).register(on: router, routes: routes)
    return router
}

public func buildApplication(services: CofferServices, configuration: ServerConfiguration) -> some ApplicationProtocol {
    Application(router: buildRouter(services: services, configuration: configuration),
                configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "coffer"),
                logger: services.logger)
}
