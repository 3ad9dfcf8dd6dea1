import CofferAPI
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird

/// Event webhooks (Coffer extension): register, list, change, delete, ping,
/// and the deliveries with every attempt.
struct WebhookRoutes {
    let webhooks: WebhookService

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.post, "/v3/:project_id/coffer/webhooks", create)
        add(.get, "/v3/:project_id/coffer/webhooks", list)
        add(.get, "/v3/:project_id/coffer/webhooks/:webhook_id", show)
        add(.put, "/v3/:project_id/coffer/webhooks/:webhook_id", update)
        add(.delete, "/v3/:project_id/coffer/webhooks/:webhook_id", delete)
        add(.post, "/v3/:project_id/coffer/webhooks/:webhook_id/ping", ping)
        add(.get, "/v3/:project_id/coffer/webhooks/:webhook_id/deliveries", deliveries)
    }

    static func time(_ ms: Int64) -> String { UTCTimeFormat.cbrString(epochMilliseconds: ms) }

    static func webhook(_ r: WebhookRecord, secret: String? = nil) -> Webhooks.Webhook {
        Webhooks.Webhook(id: r.id, projectID: r.projectID, url: r.url, events: r.events, description: r.description, enabled: r.enabled,
                         createdAt: time(r.createdAt), updatedAt: time(r.updatedAt), secret: secret)
    }

    static func delivery(_ d: WebhookDeliveryRecord, attempts: [WebhookAttemptRecord]) -> Webhooks.Delivery {
        Webhooks.Delivery(id: d.id, webhookID: d.webhookID, eventID: d.eventID, eventType: d.eventType, status: d.status.rawValue, attempts: d.attempts,
                          nextAttemptAt: d.status == .pending ? time(d.nextAttemptAt) : nil, createdAt: time(d.createdAt), deliveredAt: d.deliveredAt.map(time),
                          lastStatusCode: d.lastStatusCode, lastError: d.lastError, payload: d.payload,
                          attemptLog: attempts.map { .init(number: $0.number, at: time($0.at), durationMS: $0.durationMS, statusCode: $0.statusCode, error: $0.error) })
    }

    @Sendable func create(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(Webhooks.CreateRequest.self, &request, context: context).webhook
        let input = WebhookInput(url: body.url, secret: body.secret, events: body.events, description: body.description, enabled: body.enabled)
        let view = try await webhooks.create(caller: caller, input)
        return try JSONBody.encoded(status: .created, Webhooks.WebhookResponse(WebhookRoutes.webhook(view.record, secret: view.secret)))
    }

    @Sendable func list(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.encoded(Webhooks.WebhookList(try await webhooks.list(caller: caller).map { WebhookRoutes.webhook($0) }))
    }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let record = try await webhooks.show(caller: caller, id: try context.parameters.require("webhook_id"))
        return try JSONBody.encoded(Webhooks.WebhookResponse(WebhookRoutes.webhook(record)))
    }

    @Sendable func update(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(Webhooks.UpdateRequest.self, &request, context: context).webhook
        var input = WebhookInput(url: body.url, secret: body.secret, events: body.events, description: body.description, enabled: body.enabled)
        input.rotateSecret = body.rotateSecret ?? false
        let view = try await webhooks.update(caller: caller, id: try context.parameters.require("webhook_id"), input)
        return try JSONBody.encoded(Webhooks.WebhookResponse(WebhookRoutes.webhook(view.record, secret: view.secret)))
    }

    @Sendable func delete(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try await webhooks.delete(caller: caller, id: try context.parameters.require("webhook_id"))
        return Response(status: .noContent)
    }

    @Sendable func ping(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let delivery = try await webhooks.ping(caller: caller, id: try context.parameters.require("webhook_id"))
        return try JSONBody.encoded(status: .accepted, Webhooks.DeliveryResponse(WebhookRoutes.delivery(delivery, attempts: [])))
    }

    @Sendable func deliveries(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        let limit = try q.int("limit", range: 1...200, default: 50)
        let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
        guard q.all("status").count <= 1 else { throw APIError.validation("status may be given once") }
        let status = try q.oneOf("status", DeliveryStatus.allCases.map(\.rawValue)).flatMap(DeliveryStatus.init(rawValue:))
        let (items, total) = try await webhooks.deliveries(caller: caller, webhook: try context.parameters.require("webhook_id"), status: status,
                                                           offset: offset, limit: limit)
        return try JSONBody.encoded(Webhooks.DeliveryList(items.map { WebhookRoutes.delivery($0.record, attempts: $0.attempts) }, count: total))
    }
}
