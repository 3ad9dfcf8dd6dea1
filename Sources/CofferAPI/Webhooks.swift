import Foundation

/// Event webhooks (Coffer extension, `/v3/{project_id}/coffer/webhooks`, docs/observability.md).
public enum Webhooks {
    public static let eventTypes = ["backup.succeeded", "backup.failed", "restore.succeeded", "restore.failed", "delete.succeeded", "delete.failed",
                                    "verification.succeeded", "verification.failed", "retention.deleted", "schedule.missed", "ping"]

    public struct CreateRequest: Codable, Sendable {
        public var webhook: Create
        public init(_ webhook: Create) { self.webhook = webhook }
    }

    public struct Create: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] {
            ["url": .string(format: "uri", minLength: 1, maxLength: 2048), "secret": .string(minLength: 16, maxLength: 256),
             "events": .array(.string(values: Webhooks.eventTypes)), "description": .string(maxLength: 255)]
        }
        public var url: String
        /// Absent: the server makes one and answers it once.
        public var secret: String?
        /// Absent or empty: every event type.
        public var events: [String]?
        public var description: String?
        public var enabled: Bool?
        public init(url: String) { self.url = url }
    }

    public struct UpdateRequest: Codable, Sendable {
        public var webhook: Update
        public init(_ webhook: Update) { self.webhook = webhook }
    }

    public struct Update: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] { Create.refinements }
        public var url: String?
        public var secret: String?
        /// A new secret made by the server, answered once.
        public var rotateSecret: Bool?
        public var events: [String]?
        public var description: String?
        public var enabled: Bool?
        public init() {}
        enum CodingKeys: String, CodingKey { case url, secret, events, description, enabled, rotateSecret = "rotate_secret" }
    }

    public struct Webhook: Codable, Sendable {
        public var id: String
        public var projectID: String
        public var url: String
        public var events: [String]
        public var description: String
        public var enabled: Bool
        public var createdAt: String
        public var updatedAt: String
        /// Only in the answer that made it.
        public var secret: String?
        public init(id: String, projectID: String, url: String, events: [String], description: String, enabled: Bool, createdAt: String, updatedAt: String,
                    secret: String?) {
            self.id = id
            self.projectID = projectID
            self.url = url
            self.events = events
            self.description = description
            self.enabled = enabled
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.secret = secret
        }
        enum CodingKeys: String, CodingKey {
            case id, url, events, description, enabled, secret
            case projectID = "project_id", createdAt = "created_at", updatedAt = "updated_at"
        }
    }

    public struct WebhookResponse: Codable, Sendable {
        public var webhook: Webhook
        public init(_ webhook: Webhook) { self.webhook = webhook }
    }

    public struct WebhookList: Codable, Sendable {
        public var webhooks: [Webhook]
        public var count: Int
        public init(_ webhooks: [Webhook]) {
            self.webhooks = webhooks
            count = webhooks.count
        }
    }

    public struct Attempt: Codable, Sendable {
        public var number: Int
        public var at: String
        public var durationMS: Int64
        public var statusCode: Int?
        public var error: String?
        public init(number: Int, at: String, durationMS: Int64, statusCode: Int?, error: String?) {
            self.number = number
            self.at = at
            self.durationMS = durationMS
            self.statusCode = statusCode
            self.error = error
        }
        enum CodingKeys: String, CodingKey { case number, at, error, durationMS = "duration_ms", statusCode = "status_code" }
    }

    public struct Delivery: Codable, Sendable {
        public var id: String
        public var webhookID: String
        public var eventID: String
        public var eventType: String
        /// `pending`, `delivered` or `failed`.
        public var status: String
        public var attempts: Int
        /// When it is tried next (pending only).
        public var nextAttemptAt: String?
        public var createdAt: String
        public var deliveredAt: String?
        public var lastStatusCode: Int?
        public var lastError: String?
        /// The JSON body POSTed (what the signature covers, after `T.`).
        public var payload: String
        public var attemptLog: [Attempt]
        public init(id: String, webhookID: String, eventID: String, eventType: String, status: String, attempts: Int, nextAttemptAt: String?, createdAt: String,
                    deliveredAt: String?, lastStatusCode: Int?, lastError: String?, payload: String, attemptLog: [Attempt]) {
            self.id = id
            self.webhookID = webhookID
            self.eventID = eventID
            self.eventType = eventType
            self.status = status
            self.attempts = attempts
            self.nextAttemptAt = nextAttemptAt
            self.createdAt = createdAt
            self.deliveredAt = deliveredAt
            self.lastStatusCode = lastStatusCode
            self.lastError = lastError
            self.payload = payload
            self.attemptLog = attemptLog
        }
        enum CodingKeys: String, CodingKey {
            case id, status, attempts, payload
            case webhookID = "webhook_id", eventID = "event_id", eventType = "event_type", nextAttemptAt = "next_attempt_at", createdAt = "created_at"
            case deliveredAt = "delivered_at", lastStatusCode = "last_status_code", lastError = "last_error", attemptLog = "attempt_log"
        }
    }

    public struct DeliveryList: Codable, Sendable {
        public var deliveries: [Delivery]
        public var count: Int
        public init(_ deliveries: [Delivery], count: Int) {
            self.deliveries = deliveries
            self.count = count
        }
    }

    public struct DeliveryResponse: Codable, Sendable {
        public var delivery: Delivery
        public init(_ delivery: Delivery) { self.delivery = delivery }
    }
}
