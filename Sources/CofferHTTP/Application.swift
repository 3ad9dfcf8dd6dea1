// CofferHTTP: the Hummingbird edge. Routes decode CofferAPI requests, call
// service methods, encode CofferAPI answers; middleware authenticates; the
// per-family tables (WireStatus, ErrorFamily) turn the service's states
// and reasons into each API's words.

import CofferAPI
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus

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
    /// Seconds between the scheduler's passes over the bound policies.
    public var schedulerInterval: TimeInterval = 30
    /// What this process does; several processes on one catalog share the work.
    public var role: Role = .all
    /// How long a worker holds a job without renewing it before another worker may take it over.
    public var jobLease: TimeInterval = 60
    /// How long a job on an agent's resource waits for its agent before it fails.
    public var agentWait: TimeInterval = 3600
    /// Where new vaults' repositories go (`file:///…` or `s3://BUCKET[/PREFIX]`); nil: DATA_DIR/vaults.
    public var store: String?
    /// Networks webhooks may reach although loopback, private or link-local (`--webhook-allow`).
    public var webhookAllow: [WebhookTargetPolicy.Network] = []

    public enum Role: String, Sendable, CaseIterable {
        /// Serves the API only: requests are answered and jobs queued, never run here.
        case api
        /// Runs jobs and the scheduler only; no listener.
        case worker
        case all
    }

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

/// The services the routes use. Built by the composition root (CofferCLI's
/// `CofferServices`), which also owns the catalog, the master key and the worker.
public struct APIServices: Sendable {
    public var identity: IdentityService
    public var resources: ResourceService
    public var vaults: VaultService
    public var backups: BackupService
    public var protection: ProtectionService
    public var databases: DatabaseService
    public var policies: PolicyService
    public var agents: AgentService
    /// Agents' jobs (claiming, uploads, reports).
    public var agentWork: AgentWork
    /// Event webhooks.
    public var webhooks: WebhookService
    /// Every vault's state (`coffer status`, the console).
    public var dashboard: DashboardService
    /// Whether the catalog answers (`/health`).
    public var healthy: @Sendable () async -> Bool
    public var logger: Logger
    /// /metrics: the service's series, their registry, and the catalog read that brings the gauges up to date.
    public var metrics: MetricsExposition

    public init(identity: IdentityService, resources: ResourceService, vaults: VaultService, backups: BackupService, protection: ProtectionService,
                databases: DatabaseService, policies: PolicyService, agents: AgentService, agentWork: AgentWork, webhooks: WebhookService, dashboard: DashboardService, healthy: @escaping @Sendable () async -> Bool,
                metrics: MetricsExposition, logger: Logger) {
        self.agentWork = agentWork
        self.webhooks = webhooks
        self.dashboard = dashboard
        self.metrics = metrics
        self.identity = identity
        self.resources = resources
        self.vaults = vaults
        self.backups = backups
        self.protection = protection
        self.databases = databases
        self.policies = policies
        self.agents = agents
        self.healthy = healthy
        self.logger = logger
    }
}

/// What /metrics serves, in Prometheus' text format: the service's own series (read from the
/// catalog at each scrape) and those of swift-metrics handles (HTTP requests, durations).
public struct MetricsExposition: Sendable {
    public let series: ServiceMetrics
    let registry: PrometheusCollectorRegistry
    let render: @Sendable () async throws -> [UInt8]

    /// A registry of its own (not the process-wide one): each server in a process reports only itself.
    public init(render: @escaping @Sendable (ServiceMetrics) async throws -> [UInt8]) {
        let registry = PrometheusCollectorRegistry()
        let series = ServiceMetrics(factory: PrometheusMetricsFactory(registry: registry))
        self.registry = registry
        self.series = series
        self.render = { try await render(series) }
    }

    func response() async throws -> Response {
        var text = try await render()
        registry.emit(into: &text)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
}

/// The whole HTTP application in one place: middleware order, routes.
public func buildRouter(services: APIServices, configuration: ServerConfiguration) -> Router<CofferContext> {
    let router = Router(context: CofferContext.self)
    let routes = RouteTable()
    router.middlewares.add(RequestMetricsMiddleware(metrics: services.metrics.series))
    router.middlewares.add(RequestIDMiddleware(routes: routes))
    router.middlewares.add(AuthMiddleware(identity: services.identity))
    let healthy = services.healthy
    router.get("/health") { _, _ -> Response in
        guard await healthy() else {
            return try JSONBody.encoded(status: .serviceUnavailable, Health("catalog unreachable"))
        }
        return try JSONBody.encoded(Health("ok"))
    }
    routes.add(.get, "/health")
    let openAPI = OpenAPIDocument.json
    router.get("/openapi.json") { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
    }
    routes.add(.get, "/openapi.json")
    let metrics = services.metrics
    router.get("/metrics") { _, context -> Response in
        guard context.principal?.isServiceAdmin == true else {
            throw ServiceError(.forbidden, "/metrics is for the service admin (or a scraper on --metrics-listen)")
        }
        return try await metrics.response()
    }
    routes.add(.get, "/metrics")
    IdentityRoutes(identity: services.identity, region: configuration.region).register(on: router, routes: routes)
    ResourceRoutes(resources: services.resources, vaults: services.vaults).register(on: router, routes: routes)
    VaultRoutes(vaults: services.vaults, backups: services.backups).register(on: router, routes: routes)
    let rds = RDSRoutes(databases: services.databases, backups: services.backups, resources: services.resources)
    rds.register(on: router, routes: routes)
    BackupRoutes(backups: services.backups, rds: rds).register(on: router, routes: routes)
    PolicyRoutes(policies: services.policies).register(on: router, routes: routes)
    VaultTagRoutes(vaults: services.vaults).register(on: router, routes: routes)
    AgentRoutes(agents: services.agents).register(on: router, routes: routes)
    AgentJobRoutes(work: services.agentWork).register(on: router, routes: routes)
    WebhookRoutes(webhooks: services.webhooks).register(on: router, routes: routes)
    DashboardRoutes(dashboard: services.dashboard).register(on: router, routes: routes)
    CSBSRoutes(protection: services.protection, backups: services.backups, vaults: services.vaults, region: configuration.region).register(on: router, routes: routes)
    ConsoleRoutes(services: services).register(on: router, routes: routes)
    return router
}

/// /metrics alone, without authentication, for a scraper on a private address (`--metrics-listen`).
public func buildMetricsApplication(_ metrics: MetricsExposition, host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
    let router = Router()
    router.get("/metrics") { _, _ -> Response in try await metrics.response() }
    return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "coffer-metrics"), logger: logger)
}

public func buildApplication(services: APIServices, configuration: ServerConfiguration) -> some ApplicationProtocol {
    Application(router: buildRouter(services: services, configuration: configuration),
                configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "coffer"),
                logger: services.logger)
}
