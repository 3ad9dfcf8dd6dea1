import CofferModel
import CofferSystem
import Foundation
import Logging

/// What a project's webhooks can be told. The names are the wire's
/// (`X-Coffer-Event` and the body's `type`).
public enum EventType: String, Sendable, CaseIterable, Codable {
    case backupSucceeded = "backup.succeeded"
    case backupFailed = "backup.failed"
    case restoreSucceeded = "restore.succeeded"
    case restoreFailed = "restore.failed"
    case deleteSucceeded = "delete.succeeded"
    case deleteFailed = "delete.failed"
    case verificationSucceeded = "verification.succeeded"
    case verificationFailed = "verification.failed"
    /// A policy's retention deleted backups.
    case retentionDeleted = "retention.deleted"
    /// A scheduled occurrence produced no successful backup within its window.
    case scheduleMissed = "schedule.missed"
    /// Sent on request to check a receiver.
    case ping

    /// The event an operation log's end is, if any.
    static func ended(_ log: OperationLogRecord) -> EventType? {
        let succeeded: Bool
        switch log.status {
        case .success: succeeded = true
        case .failed: succeeded = false
        default: return nil
        }
        switch log.operationType {
        case "backup": return succeeded ? .backupSucceeded : .backupFailed
        case "restore": return succeeded ? .restoreSucceeded : .restoreFailed
        case "delete": return succeeded ? .deleteSucceeded : .deleteFailed
        case "verify": return succeeded ? .verificationSucceeded : .verificationFailed
        default: return nil
        }
    }
}

/// The body every delivery POSTs: `data` depends on the type (docs/observability.md).
struct EventBody<Payload: Encodable>: Encodable {
    var id: String
    var type: String
    var created_at: String
    var project_id: String
    var data: Payload
}

/// An asynchronous operation that ended (backup, restore, delete, verification).
struct OperationPayload: Encodable {
    var operation_log_id: String
    var operation_type: String
    var status: String
    var vault_id: String
    var vault_name: String
    var resource_id: String
    var resource_name: String
    var resource_type: String
    var checkpoint_id: String?
    var backup_id: String?
    var error_code: String?
    var error_message: String?
    var started_at: String?
    var ended_at: String?

    init(_ log: OperationLogRecord) {
        operation_log_id = log.id
        operation_type = log.operationType
        status = log.status.rawValue
        vault_id = log.vaultId
        vault_name = log.vaultName
        resource_id = log.resourceId
        resource_name = log.resourceName
        resource_type = log.resourceType
        checkpoint_id = log.checkpointId
        backup_id = log.backupId
        error_code = log.errorCode
        error_message = log.errorMsg
        started_at = log.startedAt.map { UTCTimeFormat.cbrString(epochMilliseconds: $0) }
        ended_at = log.endedAt.map { UTCTimeFormat.cbrString(epochMilliseconds: $0) }
    }
}

struct RetentionPayload: Encodable {
    var policy_id: String
    var policy_name: String
    var vault_id: String
    var deleted_count: Int
    /// At most 1 000 of them.
    var deleted_backup_ids: [String]
}

struct MissedSchedulePayload: Encodable {
    struct Occurrence: Encodable {
        var occurrence: String
        /// `skipped_missed` (no server ran), `skipped_busy`, `failed` (did not start), `started` (started, not successful in time).
        var outcome: String
        var checkpoint_id: String?
        var checkpoint_status: String?
    }
    /// A CBR policy's id, or `rds:INSTANCE` for an RDS instance's automated backups.
    var policy_id: String
    var policy_name: String
    var vault_id: String?
    var vault_name: String?
    var instance_id: String?
    /// How long after its occurrence a backup had to succeed.
    var window_seconds: Int64
    var occurrences: [Occurrence]
}

struct PingPayload: Encodable {
    var webhook_id: String
    var message: String
}

/// Turns what happened into deliveries: one row per event and subscribed
/// webhook in the catalog's outbox, which the dispatcher POSTs. Publishing
/// never fails the caller (the operation it reports has already happened);
/// a catalog error is logged.
public struct EventPublisher: Sendable {
    let catalog: any Catalog
    let clock: any Clock
    let logger: Logger

    public init(catalog: any Catalog, clock: any Clock, logger: Logger) {
        self.catalog = catalog
        self.clock = clock
        self.logger = logger
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// One event, queued for each of `hooks`; the deliveries made.
    func enqueue<Payload: Encodable>(_ type: EventType, project: String, data: Payload, to hooks: [WebhookRecord]) async throws -> [WebhookDeliveryRecord] {
        guard !hooks.isEmpty else { return [] }
        let now = clock.now().epochMilliseconds, eventID = BackupService.newID()
        let body = EventBody(id: eventID, type: type.rawValue, created_at: UTCTimeFormat.cbrString(epochMilliseconds: now), project_id: project, data: data)
        let payload = String(decoding: try EventPublisher.encoder.encode(body), as: UTF8.self)
        let deliveries = hooks.map {
            WebhookDeliveryRecord(id: BackupService.newID(), webhookID: $0.id, projectID: project, eventID: eventID, eventType: type.rawValue, payload: payload,
                                  nextAttemptAt: now, createdAt: now, updatedAt: now)
        }
        try await catalog.webhooks.enqueue(deliveries)
        return deliveries
    }

    /// Queues the event for every webhook of the project that receives it.
    func publish<Payload: Encodable>(_ type: EventType, project: String, data: Payload) async {
        do {
            _ = try await enqueue(type, project: project, data: data, to: try await catalog.webhooks.list(project: project).filter { $0.receives(type.rawValue) })
        } catch {
            logger.error("event not queued for webhooks", metadata: ["event": "\(type.rawValue)", "project": "\(project)", "error": "\(ServiceError.logText(error))"])
        }
    }

    /// An operation log that reached its end.
    public func operationEnded(_ log: OperationLogRecord) async {
        guard let type = EventType.ended(log) else { return }
        await publish(type, project: log.projectId, data: OperationPayload(log))
    }
}
