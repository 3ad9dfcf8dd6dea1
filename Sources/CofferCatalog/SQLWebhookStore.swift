import CofferModel
import Foundation
import SQLKit

/// Webhooks and their delivery outbox; tenant reads are scoped by project.
struct SQLWebhookStore: WebhookStore {
    let catalog: SQLCatalog
    var sql: any SQLDatabase { catalog.sql }

    static let columns = ["id", "project_id", "url", "sealed_secret", "events", "description", "enabled", "created_at", "updated_at"]
    static let deliveryColumns = ["id", "webhook_id", "project_id", "event_id", "event_type", "payload", "status", "attempts", "next_attempt_at",
                                  "created_at", "updated_at", "delivered_at", "last_status_code", "last_error"]

    static func eventsText(_ events: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(events)) ?? Data("[]".utf8), as: UTF8.self)
    }

    func values(_ w: WebhookRecord) -> [any SQLExpression] {
        [SQLBind(w.id), SQLBind(w.projectID), SQLBind(w.url), SQLBind(w.sealedSecret), SQLBind(SQLWebhookStore.eventsText(w.events)), SQLBind(w.description),
         SQLBind(w.enabled), SQLBind(w.createdAt), SQLBind(w.updatedAt)]
    }

    func decode(_ row: any SQLRow) throws -> WebhookRecord {
        let events = try row.decode(column: "events", as: String.self)
        return WebhookRecord(id: try row.decode(column: "id", as: String.self), projectID: try row.decode(column: "project_id", as: String.self),
                             url: try row.decode(column: "url", as: String.self), sealedSecret: try row.decode(column: "sealed_secret", as: String.self),
                             events: (try? JSONDecoder().decode([String].self, from: Data(events.utf8))) ?? [],
                             description: try row.decode(column: "description", as: String.self), enabled: try row.decode(column: "enabled", as: Bool.self),
                             createdAt: try row.decode(column: "created_at", as: Int64.self), updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    func select(_ db: any SQLDatabase) -> SQLSelectBuilder {
        db.select().columns(SQLWebhookStore.columns.map { SQLColumn($0) }).from("webhooks")
    }

    /// Counted inside the transaction that inserts, so two requests cannot both take the last place.
    func insert(_ webhook: WebhookRecord, limit: Int) async throws {
        try await catalog.withTransaction { db in
            let row = try await db.raw("SELECT COUNT(*) AS n FROM webhooks WHERE project_id = \(bind: webhook.projectID)").first()
            guard try row?.decode(column: "n", as: Int.self) ?? 0 < limit else {
                throw CatalogError(.quotaWebhooks, "project \(webhook.projectID) may hold at most \(limit) webhooks")
            }
            try await db.insert(into: "webhooks").columns(SQLWebhookStore.columns).values(values(webhook)).run()
        }
    }

    func get(project: String, id: String) async throws -> WebhookRecord? {
        try await select(sql).where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).first().map(decode)
    }

    func list(project: String) async throws -> [WebhookRecord] {
        try await select(sql).where("project_id", .equal, SQLBind(project)).orderBy("created_at").orderBy("id").all().map(decode)
    }

    func update(_ w: WebhookRecord) async throws {
        try await sql.update("webhooks").set("url", to: SQLBind(w.url)).set("sealed_secret", to: SQLBind(w.sealedSecret))
            .set("events", to: SQLBind(SQLWebhookStore.eventsText(w.events))).set("description", to: SQLBind(w.description))
            .set("enabled", to: SQLBind(w.enabled)).set("updated_at", to: SQLBind(w.updatedAt))
            .where("project_id", .equal, SQLBind(w.projectID)).where("id", .equal, SQLBind(w.id)).run()
    }

    func delete(project: String, id: String) async throws -> Bool {
        try await !sql.delete(from: "webhooks").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).returning("id").all().isEmpty
    }

    // MARK: deliveries

    func deliveryValues(_ d: WebhookDeliveryRecord) -> [any SQLExpression] {
        [SQLBind(d.id), SQLBind(d.webhookID), SQLBind(d.projectID), SQLBind(d.eventID), SQLBind(d.eventType), SQLBind(d.payload), SQLBind(d.status.rawValue),
         SQLBind(d.attempts), SQLBind(d.nextAttemptAt), SQLBind(d.createdAt), SQLBind(d.updatedAt), SQLBind(d.deliveredAt), SQLBind(d.lastStatusCode),
         SQLBind(d.lastError)]
    }

    func decodeDelivery(_ row: any SQLRow) throws -> WebhookDeliveryRecord {
        WebhookDeliveryRecord(id: try row.decode(column: "id", as: String.self), webhookID: try row.decode(column: "webhook_id", as: String.self),
                              projectID: try row.decode(column: "project_id", as: String.self), eventID: try row.decode(column: "event_id", as: String.self),
                              eventType: try row.decode(column: "event_type", as: String.self), payload: try row.decode(column: "payload", as: String.self),
                              status: DeliveryStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .failed,
                              attempts: try row.decode(column: "attempts", as: Int.self), nextAttemptAt: try row.decode(column: "next_attempt_at", as: Int64.self),
                              createdAt: try row.decode(column: "created_at", as: Int64.self), updatedAt: try row.decode(column: "updated_at", as: Int64.self),
                              deliveredAt: try row.decode(column: "delivered_at", as: Int64?.self),
                              lastStatusCode: try row.decode(column: "last_status_code", as: Int?.self), lastError: try row.decode(column: "last_error", as: String?.self))
    }

    func selectDeliveries(_ db: any SQLDatabase) -> SQLSelectBuilder {
        db.select().columns(SQLWebhookStore.deliveryColumns.map { SQLColumn($0) }).from("webhook_deliveries")
    }

    func enqueue(_ deliveries: [WebhookDeliveryRecord]) async throws {
        guard !deliveries.isEmpty else { return }
        try await catalog.withTransaction { db in
            for start in stride(from: 0, to: deliveries.count, by: 100) {
                var insert = db.insert(into: "webhook_deliveries").columns(SQLWebhookStore.deliveryColumns)
                for d in deliveries[start..<min(start + 100, deliveries.count)] { insert = insert.values(deliveryValues(d)) }
                try await insert.run()
            }
        }
    }

    func claimDue(now: Int64, leaseUntil: Int64, limit: Int) async throws -> [WebhookDeliveryRecord] {
        let candidates = try await selectDeliveries(sql).where("status", .equal, SQLBind(DeliveryStatus.pending.rawValue))
            .where("next_attempt_at", .lessThanOrEqual, SQLBind(now)).orderBy("next_attempt_at").orderBy("id").limit(limit * 8).all().map(decodeDelivery)
        var webhooks = Set<String>(), claimed: [WebhookDeliveryRecord] = []
        for var d in candidates where claimed.count < limit && webhooks.insert(d.webhookID).inserted {
            // Taken only if nobody moved it since it was read.
            let moved = try await sql.update("webhook_deliveries").set("next_attempt_at", to: SQLBind(leaseUntil))
                .where("id", .equal, SQLBind(d.id)).where("status", .equal, SQLBind(DeliveryStatus.pending.rawValue))
                .where("next_attempt_at", .equal, SQLBind(d.nextAttemptAt)).returning("id").all()
            guard !moved.isEmpty else { continue }
            d.nextAttemptAt = leaseUntil
            claimed.append(d)
        }
        return claimed
    }

    func recordAttempt(_ a: WebhookAttemptRecord, status: DeliveryStatus, nextAttemptAt: Int64) async throws -> Bool {
        try await catalog.withTransaction { db in
            var update = db.update("webhook_deliveries").set("status", to: SQLBind(status.rawValue)).set("attempts", to: SQLBind(a.number))
                .set("next_attempt_at", to: SQLBind(nextAttemptAt)).set("updated_at", to: SQLBind(a.at + a.durationMS))
                .set("last_status_code", to: SQLBind(a.statusCode)).set("last_error", to: SQLBind(a.error))
            if status == .delivered { update = update.set("delivered_at", to: SQLBind(a.at + a.durationMS)) }
            guard try await !update.where("id", .equal, SQLBind(a.deliveryID)).where("status", .equal, SQLBind(DeliveryStatus.pending.rawValue))
                .returning("id").all().isEmpty else { return false }
            try await db.insert(into: "webhook_attempts").columns("delivery_id", "number", "at", "duration_ms", "status_code", "error")
                .values(SQLBind(a.deliveryID), SQLBind(a.number), SQLBind(a.at), SQLBind(a.durationMS), SQLBind(a.statusCode), SQLBind(a.error))
                .ignoringConflicts(with: ["delivery_id", "number"]).run()
            return true
        }
    }

    func delivery(project: String, id: String) async throws -> WebhookDeliveryRecord? {
        try await selectDeliveries(sql).where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).first().map(decodeDelivery)
    }

    func deliveries(project: String, webhook: String, status: DeliveryStatus?, offset: Int, limit: Int) async throws -> (items: [WebhookDeliveryRecord], total: Int) {
        func apply(_ q: SQLSelectBuilder) -> SQLSelectBuilder {
            let q = q.where("project_id", .equal, SQLBind(project)).where("webhook_id", .equal, SQLBind(webhook))
            return status.map { q.where("status", .equal, SQLBind($0.rawValue)) } ?? q
        }
        let total = try await apply(sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("webhook_deliveries")).first()?
            .decode(column: "n", as: Int.self) ?? 0
        let items = try await apply(selectDeliveries(sql)).orderBy("created_at", .descending).orderBy("id", .descending).offset(offset).limit(limit).all()
            .map(decodeDelivery)
        return (items, total)
    }

    func attempts(deliveries ids: [String]) async throws -> [String: [WebhookAttemptRecord]] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await sql.select().columns("delivery_id", "number", "at", "duration_ms", "status_code", "error").from("webhook_attempts")
            .where("delivery_id", .in, SQLBind.group(ids)).orderBy("delivery_id").orderBy("number").all()
        var result: [String: [WebhookAttemptRecord]] = [:]
        for row in rows {
            let a = WebhookAttemptRecord(deliveryID: try row.decode(column: "delivery_id", as: String.self), number: try row.decode(column: "number", as: Int.self),
                                         at: try row.decode(column: "at", as: Int64.self), durationMS: try row.decode(column: "duration_ms", as: Int64.self),
                                         statusCode: try row.decode(column: "status_code", as: Int?.self), error: try row.decode(column: "error", as: String?.self))
            result[a.deliveryID, default: []].append(a)
        }
        return result
    }

    func forgetFinished(before: Int64) async throws -> Int {
        try await sql.delete(from: "webhook_deliveries").where("status", .notEqual, SQLBind(DeliveryStatus.pending.rawValue))
            .where("updated_at", .lessThan, SQLBind(before)).returning("id").all().count
    }
}
