// CofferCLI: the `coffer` commands (repository, server, client) and the
// composition root below, which wires catalog, master key, services, job
// runtime and HTTP app for `coffer serve`.

import CofferCatalog
import CofferCrypto
import CofferHTTP
import CofferModel
import CofferPostgres
import CofferService
import CofferSystem
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

// The composition root: opens the data directory (master key, catalog),
// builds the services, the worker and the recovery tool. `coffer serve` and
// `coffer admin` start here; the HTTP target sees only `APIServices`.

/// Everything a Coffer process runs, built once per process.
public struct CofferServices: Sendable {
    public var catalog: any Catalog
    public var identity: IdentityService
    public var resources: ResourceService
    public var vaults: VaultService
    public var backups: BackupService
    public var protection: ProtectionService
    public var databases: DatabaseService
    public var policies: PolicyService
    public var agents: AgentService
    /// The job runtime (a ServiceLifecycle service beside the HTTP server).
    public var worker: JobRuntime
    /// Fires bound backup policies (a ServiceLifecycle service beside the worker).
    public var scheduler: Scheduler
    /// Event webhooks (the API's side) and their deliveries (a ServiceLifecycle service beside the worker).
    public var webhooks: WebhookService
    public var dispatcher: WebhookDispatcher
    public var dashboard: DashboardService
    /// Rebuilding an empty catalog from the vault repositories (disaster recovery).
    public var recovery: CatalogRecovery
    /// What this process counts and reports at /metrics.
    public var metrics: MetricsExposition
    public var logger: Logger

    /// What the HTTP routes get.
    public var api: APIServices {
        let catalog = self.catalog
        return APIServices(identity: identity, resources: resources, vaults: vaults, backups: backups, protection: protection, databases: databases,
                           policies: policies, agents: agents, agentWork: AgentWork(runtime: worker, agents: agents), webhooks: webhooks, dashboard: dashboard, healthy: { await catalog.ping() },
                           metrics: metrics, logger: logger)
    }

    /// Opens (or creates) the data directory: master key, catalog, and on an
    /// empty catalog the admin project, whose credentials are returned once.
    /// `bootstrap: false` leaves an empty catalog empty (for a rebuild from the repositories).
    public static func open(_ configuration: ServerConfiguration, clock: any Clock = SystemClock(), logger: Logger,
                            passwordCost: Int = 1 << 14, bootstrap: Bool = true) async throws -> (CofferServices, NewProjectCredentials?) {
        // The catalog holds password hashes and sealed secrets: the directory is the owner's alone.
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = try loadOrCreateMasterKey(at: configuration.masterKeyFile)
        guard let secrets = SecretBox(keyBytes: key) else { throw ServiceError(.internalFailure, "master key must be 32 bytes") }
        let catalog: any Catalog = try await SQLCatalog.open(url: configuration.catalogURL, logger: logger)
        let identity = IdentityService(catalog: catalog, secrets: secrets, clock: clock,
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
        // Every kind of resource has a driver; database engines are registered here.
        let drivers = ResourceDrivers(engines: [PostgresEngine()])
        let resources = ResourceService(catalog: catalog, roots: configuration.resourceRoots, clock: clock, secrets: secrets, dataDirectory: configuration.dataDirectory,
                                        engines: drivers.engines)
        let vaults = VaultService(catalog: catalog, resources: resources, secrets: secrets, dataDirectory: configuration.dataDirectory, clock: clock, masterKey: key,
                                  repositoryBase: configuration.store, stores: RepositoryStores.factory(cacheRoot: configuration.dataDirectory + "/cache"))
        let backups = BackupService(catalog: catalog, vaults: vaults, resources: resources, drivers: drivers, clock: clock)
        let worker = JobRuntime(catalog: catalog, vaults: vaults, resources: resources, drivers: drivers, clock: clock, logger: logger)
        worker.leaseDuration = configuration.jobLease
        worker.agentWait = configuration.agentWait
        let protection = ProtectionService(backups: backups, vaults: vaults, resources: resources)
        let databases = DatabaseService(backups: backups, vaults: vaults, resources: resources)
        let policies = PolicyService(catalog: catalog, clock: clock)
        let agents = AgentService(catalog: catalog, clock: clock)
        let recovery = CatalogRecovery(identity: identity, vaults: vaults, catalog: catalog, masterKey: key, clock: clock)
        let scheduler = Scheduler(catalog: catalog, backups: backups, databases: databases, clock: clock, logger: logger, interval: configuration.schedulerInterval)
        worker.afterBackup = { id in await scheduler.backupFinished(id) }
        let metrics = MetricsExposition { series in try await series.render(catalog: catalog) }
        worker.metrics = metrics.series
        scheduler.metrics = metrics.series
        let events = EventPublisher(catalog: catalog, clock: clock, logger: logger)
        worker.events = events
        scheduler.events = events
        let targets = WebhookTargetPolicy(allowed: configuration.webhookAllow)
        let webhooks = WebhookService(catalog: catalog, secrets: secrets, clock: clock, targets: targets, events: events)
        let dispatcher = WebhookDispatcher(catalog: catalog, secrets: secrets, transport: WebhookHTTPTransport(), targets: targets, clock: clock, logger: logger)
        dispatcher.metrics = metrics.series
        return (CofferServices(catalog: catalog, identity: identity, resources: resources, vaults: vaults, backups: backups, protection: protection,
                               databases: databases, policies: policies, agents: agents, worker: worker,
                               scheduler: scheduler, webhooks: webhooks, dispatcher: dispatcher,
                               dashboard: DashboardService(catalog: catalog, clock: clock), recovery: recovery, metrics: metrics, logger: logger), created)
    }

    /// 32 random bytes in a 0600 file, made on first start with O_EXCL and
    /// never overwritten: any error reading an existing key stops the start
    /// loudly (a new key would make every sealed secret and vault unreadable).
    static func loadOrCreateMasterKey(at path: String) throws -> [UInt8] {
        func failure(_ what: String) -> ServiceError {
            ServiceError(.internalFailure, "master key \(path): \(what): \(String(cString: strerror(errno)))")
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
            guard n == 32 else { throw ServiceError(.internalFailure, "master key \(path) must hold exactly 32 bytes (it holds \(n)); refusing to start") }
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
        guard fd >= 0 else { throw ServiceError(.internalFailure, "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        try data.withUnsafeBytes { raw in
            guard write(fd, raw.baseAddress, raw.count) == raw.count, fsync(fd) == 0 else {
                throw ServiceError(.internalFailure, "cannot write \(path)")
            }
        }
    }
}

