import CofferCrypto
import CofferModel
import CofferSystem
import Foundation
import Logging
import ServiceLifecycle

/// How a delivery reaches its receiver (async-http-client in `coffer serve`).
public protocol WebhookTransport: Sendable {
    /// POSTs `body` to the target's URL over a connection to `address` (the one
    /// the policy permitted, so the name is not resolved again); the
    /// receiver's HTTP status. Redirects are not followed.
    func post(_ target: WebhookTargetPolicy.Target, address: [UInt8], headers: [(String, String)], body: [UInt8], timeout: TimeInterval) async throws -> Int
}

/// When a failed delivery is tried again: 10 s after the first failure,
/// doubling to at most an hour, each ±20 % so receivers coming back are not
/// hit by every sender at once; given up once the retry period (a day)
/// since the event is over.
public enum WebhookRetry {
    public static func delay(afterAttempt n: Int, jitter: Double) -> TimeInterval {
        let base = min(3600, 10 * pow(2, Double(max(0, min(n - 1, 20)))))
        return base * (1 + 0.2 * max(-1, min(1, jitter)))
    }

    /// `jitter` in -1...1. Nil: no further attempt.
    public static func next(afterAttempt n: Int, createdAt: Int64, now: Int64, retryFor: TimeInterval, jitter: Double) -> Int64? {
        let next = now + Int64(delay(afterAttempt: n, jitter: jitter) * 1000)
        return next <= createdAt + Int64(retryFor * 1000) ? next : nil
    }
}

/// The receiver's way to check a delivery: `X-Coffer-Signature: t=T,v1=HEX`
/// where HEX is HMAC-SHA256 over `T.BODY` with the webhook's secret and T the
/// attempt's Unix time (receivers refuse old T to stop replays).
public enum WebhookSignature {
    public static func header(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=" + HexString.encode(Digest.hmacSHA256(key: Array(secret.utf8), Array("\(timestamp).".utf8) + body))
    }
}

/// POSTs queued deliveries: claims a batch of due ones (at most one per
/// webhook, so a slow receiver holds up only its own), sends them
/// concurrently with a timeout, and records each attempt: delivered on 2xx,
/// else retried by `WebhookRetry` or given up. A process that dies while
/// sending leaves its claims to be taken again after `lease` (at least once:
/// receivers dedupe by `X-Coffer-Delivery`). Waits on the injected clock.
public final class WebhookDispatcher: Service, @unchecked Sendable {
    let catalog: any Catalog
    let secrets: SecretBox
    let transport: any WebhookTransport
    let targets: WebhookTargetPolicy
    let clock: any Clock
    let logger: Logger
    public var batch = 16
    public var timeout: TimeInterval = 10
    public var pollInterval: TimeInterval = 2
    public var lease: TimeInterval = 60
    public var retryFor: TimeInterval = 86_400
    /// Finished deliveries are listed this long, then forgotten.
    public var history: TimeInterval = 7 * 86_400
    /// Name to addresses (tests stand in for DNS).
    public var resolve: @Sendable (String) async throws -> [[UInt8]] = { try await WebhookTargetPolicy.resolve($0) }
    public var jitter: @Sendable () -> Double = { Double.random(in: -1...1) }
    /// Where attempts are counted (/metrics).
    public var metrics = ServiceMetrics()
    private let lock = NSLock()
    private var forgottenAt: Int64?

    public init(catalog: any Catalog, secrets: SecretBox, transport: any WebhookTransport, targets: WebhookTargetPolicy, clock: any Clock, logger: Logger) {
        self.catalog = catalog
        self.secrets = secrets
        self.transport = transport
        self.targets = targets
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
    }

    public func runUntilCancelled() async {
        await pollUntilCancelled(clock: clock, interval: pollInterval, logger: logger, what: "webhook dispatcher") { try await drain() }
    }

    /// Sends one batch of due deliveries; how many.
    @discardableResult
    public func drain() async throws -> Int {
        let now = clock.now().epochMilliseconds
        if lock.withLock({ forgottenAt.map { now - $0 >= 3_600_000 } ?? true }) {
            _ = try await catalog.webhooks.forgetFinished(before: now - Int64(history * 1000))
            lock.withLock { forgottenAt = now }
        }
        let due = try await catalog.webhooks.claimDue(now: now, leaseUntil: now + Int64(lease * 1000), limit: batch)
        await withTaskGroup(of: Void.self) { group in
            for delivery in due { group.addTask { await self.deliver(delivery) } }
        }
        return due.count
    }

    struct Refused: Error, CustomStringConvertible { var description: String }

    func deliver(_ d: WebhookDeliveryRecord) async {
        // A deleted webhook took its deliveries with it.
        guard let hook = try? await catalog.webhooks.get(project: d.projectID, id: d.webhookID) else { return }
        let number = d.attempts + 1, started = clock.now()
        var status: Int?, failure: String?
        if !hook.enabled && d.eventType != EventType.ping.rawValue {
            failure = "the webhook is disabled"
        } else {
            do {
                status = try await send(d, to: hook)
                if let code = status, !(200..<300).contains(code) { failure = "the receiver answered HTTP \(code)" }
            } catch {
                failure = (error as? Refused)?.description ?? (error as? ServiceError)?.description ?? "no answer: \(error)"
            }
        }
        let end = clock.now(), endMS = end.epochMilliseconds
        let next: Int64? = failure == nil || !hook.enabled && d.eventType != EventType.ping.rawValue ? nil
            : WebhookRetry.next(afterAttempt: number, createdAt: d.createdAt, now: endMS, retryFor: retryFor, jitter: jitter())
        let outcome: DeliveryStatus = failure == nil ? .delivered : next == nil ? .failed : .pending
        let attempt = WebhookAttemptRecord(deliveryID: d.id, number: number, at: started.epochMilliseconds,
                                           durationMS: max(0, Int64(end.timeIntervalSince(started) * 1000)), statusCode: status, error: failure.map { String($0.prefix(500)) })
        do {
            try await catalog.webhooks.recordAttempt(attempt, status: outcome, nextAttemptAt: next ?? endMS)
        } catch {
            logger.error("webhook attempt not recorded", metadata: ["delivery": "\(d.id)", "error": "\(ServiceError.logText(error))"])
        }
        metrics.webhookAttempt(outcome: outcome == .pending ? "retried" : outcome.rawValue)
        if outcome == .failed {
            logger.warning("webhook delivery given up", metadata: ["delivery": "\(d.id)", "webhook": "\(d.webhookID)", "attempts": "\(number)"])
        }
    }

    /// Checks where the URL leads now, signs, POSTs; the receiver's status.
    func send(_ d: WebhookDeliveryRecord, to hook: WebhookRecord) async throws -> Int {
        let target = try targets.target(hook.url, field: "the webhook URL")
        let addresses = try await resolve(target.host)
        guard let address = addresses.first else { throw Refused(description: "\(target.host) resolves to no address") }
        if let refused = addresses.first(where: { !targets.permits($0) }) {
            throw Refused(description: "\(target.host) resolves to \(WebhookTargetPolicy.format(refused)), an address webhooks may not reach")
        }
        let secret = try secrets.open(hook.sealedSecret, context: WebhookService.sealContext(hook.id))
        let body = Array(d.payload.utf8), timestamp = Int64(clock.now().timeIntervalSince1970)
        let headers = [
            ("Content-Type", "application/json"), ("User-Agent", "Coffer-Webhooks/1"), ("X-Coffer-Event", d.eventType), ("X-Coffer-Delivery", d.id),
            ("X-Coffer-Webhook", hook.id), ("X-Coffer-Timestamp", "\(timestamp)"),
            ("X-Coffer-Signature", WebhookSignature.header(secret: secret, timestamp: timestamp, body: body)),
        ]
        return try await transport.post(target, address: address, headers: headers, body: body, timeout: timeout)
    }
}
