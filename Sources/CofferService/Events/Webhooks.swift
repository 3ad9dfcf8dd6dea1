import CofferCrypto
import CofferModel
import CofferSystem
import Foundation

/// A webhook as the API shows it; `secret` only in the answer that set it.
public struct WebhookView: Sendable {
    public var record: WebhookRecord
    public var secret: String?
}

/// What a client sends to make or change a webhook (nil: unchanged, or the default on create).
public struct WebhookInput: Sendable {
    public var url: String?
    /// At least 16 characters; on create, nil makes one (shown once).
    public var secret: String?
    /// On update: make a new secret (shown once).
    public var rotateSecret = false
    public var events: [String]?
    public var description: String?
    public var enabled: Bool?
    public init(url: String? = nil, secret: String? = nil, events: [String]? = nil, description: String? = nil, enabled: Bool? = nil) {
        self.url = url
        self.secret = secret
        self.events = events
        self.description = description
        self.enabled = enabled
    }
}

/// A delivery with its attempts, as the API lists them.
public struct DeliveryView: Sendable {
    public var record: WebhookDeliveryRecord
    public var attempts: [WebhookAttemptRecord]
}

/// Event webhooks (Coffer extension, `/v3/{project_id}/coffer/webhooks`):
/// a project's admins register where its events go and with which secret
/// they are signed; its users see the webhooks and every delivery attempt.
/// The secret is sealed by the master key in the catalog and shown only in
/// the answer that set it.
public struct WebhookService: Sendable {
    let catalog: any Catalog
    let secrets: SecretBox
    let clock: any Clock
    let targets: WebhookTargetPolicy
    let events: EventPublisher
    var store: any WebhookStore { catalog.webhooks }
    public static let webhookLimit = 20

    public init(catalog: any Catalog, secrets: SecretBox, clock: any Clock, targets: WebhookTargetPolicy, events: EventPublisher) {
        self.catalog = catalog
        self.secrets = secrets
        self.clock = clock
        self.targets = targets
        self.events = events
    }

    static func sealContext(_ id: String) -> String { "webhook-secret:" + id }

    static func notFound(_ id: String) -> ServiceError { ServiceError(.webhookNotFound, "webhook \(id) does not exist") }

    static func requireAdmin(_ caller: Principal) throws {
        guard caller.role == .admin else { throw ServiceError(.forbidden, "managing webhooks needs role admin in the project") }
    }

    static func requireReader(_ caller: Principal) throws {
        guard caller.role != .agent else { throw ServiceError(.forbidden, "an agent credential reads no webhooks") }
    }

    static func checkSecret(_ secret: String) throws {
        guard (16...256).contains(secret.utf8.count), secret.utf8.allSatisfy({ (33...126).contains($0) }) else {
            throw ServiceError.validation("webhook.secret must be 16 to 256 printable ASCII characters without spaces")
        }
    }

    static func checkEvents(_ events: [String]) throws {
        guard events.count <= EventType.allCases.count else { throw ServiceError.validation("webhook.events may name at most \(EventType.allCases.count) types") }
        for (i, e) in events.enumerated() {
            guard EventType(rawValue: e) != nil else {
                throw ServiceError.validation("webhook.events[\(i)] \(Printable.excerpt(e)) is not an event type (\(EventType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        guard Set(events).count == events.count else { throw ServiceError.validation("webhook.events names a type twice") }
    }

    static func newSecret() -> String { "whsec_" + HexString.encode(randomBytes(24)) }

    public func create(caller: Principal, _ input: WebhookInput) async throws -> WebhookView {
        try WebhookService.requireAdmin(caller)
        guard let url = input.url else { throw ServiceError.validation("webhook.url is required") }
        _ = try targets.target(url, field: "webhook.url")
        if let secret = input.secret { try WebhookService.checkSecret(secret) }
        try WebhookService.checkEvents(input.events ?? [])
        try Validate.description(input.description ?? "", field: "webhook.description", max: 255)
        let id = BackupService.newID(), now = clock.now().epochMilliseconds, secret = input.secret ?? WebhookService.newSecret()
        let record = WebhookRecord(id: id, projectID: caller.projectID, url: url, sealedSecret: secrets.seal(secret, context: WebhookService.sealContext(id)),
                                   events: input.events ?? [], description: input.description ?? "", enabled: input.enabled ?? true, createdAt: now, updatedAt: now)
        do {
            try await store.insert(record, limit: WebhookService.webhookLimit)
        } catch let e as CatalogError where e.code == .quotaWebhooks {
            throw ServiceError(.quotaWebhooks, "a project may hold at most \(WebhookService.webhookLimit) webhooks")
        }
        // A secret the client chose is not echoed back: it has it.
        return WebhookView(record: record, secret: input.secret == nil ? secret : nil)
    }

    public func list(caller: Principal) async throws -> [WebhookRecord] {
        try WebhookService.requireReader(caller)
        return try await store.list(project: caller.projectID)
    }

    public func show(caller: Principal, id: String) async throws -> WebhookRecord {
        try WebhookService.requireReader(caller)
        guard let record = try await store.get(project: caller.projectID, id: id) else { throw WebhookService.notFound(id) }
        return record
    }

    public func update(caller: Principal, id: String, _ input: WebhookInput) async throws -> WebhookView {
        try WebhookService.requireAdmin(caller)
        guard var record = try await store.get(project: caller.projectID, id: id) else { throw WebhookService.notFound(id) }
        if let url = input.url {
            _ = try targets.target(url, field: "webhook.url")
            record.url = url
        }
        guard input.secret == nil || !input.rotateSecret else { throw ServiceError.validation("webhook.secret and webhook.rotate_secret exclude each other") }
        var shown: String?
        if let secret = input.secret {
            try WebhookService.checkSecret(secret)
            record.sealedSecret = secrets.seal(secret, context: WebhookService.sealContext(id))
        } else if input.rotateSecret {
            let secret = WebhookService.newSecret()
            record.sealedSecret = secrets.seal(secret, context: WebhookService.sealContext(id))
            shown = secret
        }
        if let events = input.events {
            try WebhookService.checkEvents(events)
            record.events = events
        }
        if let description = input.description {
            try Validate.description(description, field: "webhook.description", max: 255)
            record.description = description
        }
        if let enabled = input.enabled { record.enabled = enabled }
        record.updatedAt = clock.now().epochMilliseconds
        try await store.update(record)
        return WebhookView(record: record, secret: shown)
    }

    public func delete(caller: Principal, id: String) async throws {
        try WebhookService.requireAdmin(caller)
        guard try await store.delete(project: caller.projectID, id: id) else { throw WebhookService.notFound(id) }
    }

    public func deliveries(caller: Principal, webhook id: String, status: DeliveryStatus?, offset: Int, limit: Int) async throws -> (items: [DeliveryView], total: Int) {
        _ = try await show(caller: caller, id: id)
        let (items, total) = try await store.deliveries(project: caller.projectID, webhook: id, status: status, offset: offset, limit: limit)
        let attempts = try await store.attempts(deliveries: items.map(\.id))
        return (items.map { DeliveryView(record: $0, attempts: attempts[$0.id] ?? []) }, total)
    }

    /// Queues a `ping` event to this webhook (enabled or not: checking a receiver before enabling it is the point).
    public func ping(caller: Principal, id: String) async throws -> WebhookDeliveryRecord {
        try WebhookService.requireAdmin(caller)
        guard let record = try await store.get(project: caller.projectID, id: id) else { throw WebhookService.notFound(id) }
        return try await events.enqueue(.ping, project: caller.projectID, data: PingPayload(webhook_id: id, message: "Coffer webhook test"), to: [record])[0]
    }
}
