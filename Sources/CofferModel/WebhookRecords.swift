import Foundation

/// A project's event webhook: where its events are POSTed, signed with its secret.
public struct WebhookRecord: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var url: String
    /// The signing secret, sealed by the master key (never stored or shown in clear).
    public var sealedSecret: String
    /// The event types it receives (empty: every type).
    public var events: [String]
    public var description: String
    public var enabled: Bool
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: String, projectID: String, url: String, sealedSecret: String, events: [String], description: String, enabled: Bool,
                createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.projectID = projectID
        self.url = url
        self.sealedSecret = sealedSecret
        self.events = events
        self.description = description
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Whether an event of this type goes to this webhook.
    public func receives(_ type: String) -> Bool {
        enabled && (events.isEmpty || events.contains(type))
    }
}

public enum DeliveryStatus: String, Sendable, CaseIterable, Codable {
    /// Not yet accepted by the receiver; tried again at `nextAttemptAt`.
    case pending
    /// The receiver answered 2xx.
    case delivered
    /// Given up: the retry period ended without a 2xx.
    case failed
}

/// One event on its way to one webhook, with its retry state.
public struct WebhookDeliveryRecord: Sendable, Equatable {
    public var id: String
    public var webhookID: String
    public var projectID: String
    public var eventID: String
    public var eventType: String
    /// The JSON body POSTed, as made when the event happened.
    public var payload: String
    public var status: DeliveryStatus
    public var attempts: Int
    /// When it is due (pending); a claim moves it to the end of the claimer's lease.
    public var nextAttemptAt: Int64
    public var createdAt: Int64
    public var updatedAt: Int64
    public var deliveredAt: Int64?
    public var lastStatusCode: Int?
    public var lastError: String?

    public init(id: String, webhookID: String, projectID: String, eventID: String, eventType: String, payload: String, status: DeliveryStatus = .pending,
                attempts: Int = 0, nextAttemptAt: Int64, createdAt: Int64, updatedAt: Int64, deliveredAt: Int64? = nil, lastStatusCode: Int? = nil,
                lastError: String? = nil) {
        self.id = id
        self.webhookID = webhookID
        self.projectID = projectID
        self.eventID = eventID
        self.eventType = eventType
        self.payload = payload
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deliveredAt = deliveredAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
    }
}

/// One POST of a delivery and how the receiver answered.
public struct WebhookAttemptRecord: Sendable, Equatable {
    public var deliveryID: String
    /// 1, 2, ... per delivery.
    public var number: Int
    public var at: Int64
    public var durationMS: Int64
    /// The receiver's HTTP status (nil: no answer).
    public var statusCode: Int?
    /// Why it did not count (a non-2xx status, a refused address, a timeout); nil when delivered.
    public var error: String?

    public init(deliveryID: String, number: Int, at: Int64, durationMS: Int64, statusCode: Int?, error: String?) {
        self.deliveryID = deliveryID
        self.number = number
        self.at = at
        self.durationMS = durationMS
        self.statusCode = statusCode
        self.error = error
    }
}

/// Webhooks, their deliveries (an outbox in the catalog, so events survive a
/// restart and several processes deliver each once) and the attempts' log.
public protocol WebhookStore: Sendable {
    /// `.quotaWebhooks` when the project already has `limit`.
    func insert(_ webhook: WebhookRecord, limit: Int) async throws
    func get(project: String, id: String) async throws -> WebhookRecord?
    /// Oldest first.
    func list(project: String) async throws -> [WebhookRecord]
    func update(_ webhook: WebhookRecord) async throws
    /// Whether it existed; its deliveries and their attempts go with it.
    func delete(project: String, id: String) async throws -> Bool

    func enqueue(_ deliveries: [WebhookDeliveryRecord]) async throws
    /// Takes up to `limit` pending deliveries due by `now`, at most one per webhook, oldest due first: each is
    /// moved to `leaseUntil` so no other process takes it meanwhile (if this one dies, it is due again then).
    func claimDue(now: Int64, leaseUntil: Int64, limit: Int) async throws -> [WebhookDeliveryRecord]
    /// Records an attempt and the delivery's new state (pending with its next time, delivered or failed),
    /// only while it is still pending; whether it was.
    @discardableResult
    func recordAttempt(_ attempt: WebhookAttemptRecord, status: DeliveryStatus, nextAttemptAt: Int64) async throws -> Bool
    func delivery(project: String, id: String) async throws -> WebhookDeliveryRecord?
    /// Newest first.
    func deliveries(project: String, webhook: String, status: DeliveryStatus?, offset: Int, limit: Int) async throws -> (items: [WebhookDeliveryRecord], total: Int)
    /// Each delivery's attempts in order, by delivery id.
    func attempts(deliveries ids: [String]) async throws -> [String: [WebhookAttemptRecord]]
    /// Forgets finished (delivered or failed) deliveries last changed before `before`; how many went.
    func forgetFinished(before: Int64) async throws -> Int
}
