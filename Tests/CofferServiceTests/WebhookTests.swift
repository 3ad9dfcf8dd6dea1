import CofferCatalog
import CofferCrypto
import CofferModel
import CofferSystem
import Foundation
import Logging
import Testing
@testable import CofferService

@Suite struct WebhookTargets {
    let policy = WebhookTargetPolicy()

    func permits(_ text: String, _ p: WebhookTargetPolicy = WebhookTargetPolicy()) -> Bool { p.permits(WebhookTargetPolicy.parseAddress(text)!) }

    @Test func addressesOnlyTheServerReachesAreRefused() {
        for refused in ["127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                        "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "fc12::3", "ff02::1",
                        "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1"] {
            #expect(!permits(refused), "\(refused)")
        }
        for allowed in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            #expect(permits(allowed), "\(allowed)")
        }
    }

    @Test func theOperatorsAllowListOpensANetwork() throws {
        let p = WebhookTargetPolicy(allowed: [try #require(.init("127.0.0.1/32")), try #require(.init("10.20.0.0/16")), try #require(.init("fd00:1::/32"))])
        #expect(permits("127.0.0.1", p) && permits("10.20.255.1", p) && permits("fd00:1:ffff::1", p))
        #expect(!permits("127.0.0.2", p) && !permits("10.21.0.1", p) && !permits("fd00:2::1", p))
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0/8", "example.com/8", "10.0.0.0/8/1", "10.0.0.0/-1", "10.0.0.0/ 8"] {
            #expect(WebhookTargetPolicy.Network(bad) == nil, "\(bad)")
        }
    }

    @Test func urlsAreCheckedNamingTheField() throws {
        let ok = try policy.target("https://hooks.example.com:8443/in/coffer?team=ops", field: "webhook.url")
        #expect(ok.host == "hooks.example.com" && ok.port == 8443 && ok.requestTarget == "/in/coffer?team=ops" && ok.scheme == "https")
        #expect(try policy.target("http://[2606:4700::1111]/x", field: "f").host == "2606:4700::1111")
        let refusals: [(String, String)] = [
            ("ftp://example.com/", "http:// or https://"), ("https://user:pw@example.com/", "credentials"), ("https://example.com/#x", "fragment"),
            ("http://127.0.0.1:9464/metrics", "127.0.0.1"), ("http://169.254.169.254/latest/meta-data", "169.254.169.254"), ("http://[::1]/", "::1"),
            ("http://localhost/", "localhost"), ("http://a.localhost/", "localhost"), ("https://exa mple.com/", "printable"), ("https:///path", "host"),
            ("https://under_score.example.com/", "neither an address"), ("https://example.com:0/", "port"), ("https://example.com:70000/", "port"),
            ("https://ex\u{7f}ample.com/", "printable"), ("http://[::ffff:10.0.0.1]/", "10.0.0.1"), (String(repeating: "a", count: 3000), "2048"),
        ]
        for (url, words) in refusals {
            do {
                _ = try policy.target(url, field: "webhook.url")
                Issue.record("\(url) was accepted")
            } catch let e as ServiceError {
                #expect(e.reason == .invalidRequest && e.description.contains("webhook.url") && e.description.contains(words), "\(url): \(e.description)")
            }
        }
    }
}

@Suite struct WebhookSigningAndRetry {
    @Test func theSignatureIsHMACSHA256OverTimestampDotBody() {
        // Computed with Python's hmac module.
        #expect(WebhookSignature.header(secret: "whsec_0123456789abcdef", timestamp: 1_700_000_000, body: Array(#"{"id":"e1"}"#.utf8))
            == "t=1700000000,v1=1d0aa489f3bec83604c4c19ad75263ddc9ca64959e07123cbb586b3bce5c3045")
    }

    @Test func retriesBackOffToAnHourAndStopAfterADay() {
        #expect(WebhookRetry.delay(afterAttempt: 1, jitter: 0) == 10 && WebhookRetry.delay(afterAttempt: 2, jitter: 0) == 20)
        #expect(WebhookRetry.delay(afterAttempt: 12, jitter: 0) == 3600 && WebhookRetry.delay(afterAttempt: 1_000, jitter: 0) == 3600)
        #expect(WebhookRetry.delay(afterAttempt: 1, jitter: 1) == 12 && WebhookRetry.delay(afterAttempt: 1, jitter: -1) == 8)
        // Attempts at the planned times until the day is over.
        var now: Int64 = 0, attempts = 1
        while let next = WebhookRetry.next(afterAttempt: attempts, createdAt: 0, now: now, retryFor: 86_400, jitter: 0) {
            #expect(next > now)
            now = next
            attempts += 1
        }
        #expect(now <= 86_400_000 && now > 86_400_000 - 3_600_000 && (25...40).contains(attempts), "last at \(now) ms after \(attempts) attempts")
    }
}

/// A receiver that answers from a script and records what it got.
final class ScriptedTransport: WebhookTransport, @unchecked Sendable {
    struct Received { var url: String; var address: String; var headers: [String: String]; var body: String }
    private let lock = NSLock()
    private var answers: [Result<Int, any Error>]
    private(set) var received: [Received] = []
    init(_ answers: [Result<Int, any Error>]) { self.answers = answers }
    var all: [Received] { lock.withLock { received } }

    func post(_ target: WebhookTargetPolicy.Target, address: [UInt8], headers: [(String, String)], body: [UInt8], timeout: TimeInterval) async throws -> Int {
        let answer: Result<Int, any Error> = lock.withLock {
            received.append(Received(url: target.url, address: WebhookTargetPolicy.format(address),
                                     headers: Dictionary(headers.map { ($0.0.lowercased(), $0.1) }, uniquingKeysWith: { $1 }), body: String(decoding: body, as: UTF8.self)))
            return answers.isEmpty ? .success(200) : answers.removeFirst()
        }
        return try answer.get()
    }
}

@Suite(.serialized) struct WebhookDispatching {
    struct Timeout: Error {}

    /// A catalog with one project, the webhook service and a dispatcher over `transport`; DNS says `hooks.example.com` is `address`.
    static func fixture(_ transport: ScriptedTransport, address: String = "93.184.216.34") async throws
        -> (SQLCatalog, WebhookService, WebhookDispatcher, ManualClock, Principal) {
        let catalog = try await SQLCatalog.open(url: "sqlite::memory:", logger: Logger(label: "test"))
        let clock = ManualClock(Date(timeIntervalSince1970: 1_796_171_400))
        try await catalog.identity.ensureDefaultDomain(now: clock.now())
        try await catalog.identity.insertProject(ProjectRecord(id: "p1", name: "one", domainID: ProjectRecord.defaultDomainID, description: "", createdAt: clock.now()))
        let secrets = SecretBox(keyBytes: randomBytes(32))!
        let events = EventPublisher(catalog: catalog, clock: clock, logger: Logger(label: "test"))
        let service = WebhookService(catalog: catalog, secrets: secrets, clock: clock, targets: WebhookTargetPolicy(), events: events)
        let dispatcher = WebhookDispatcher(catalog: catalog, secrets: secrets, transport: transport, targets: WebhookTargetPolicy(), clock: clock, logger: Logger(label: "test"))
        let resolved = WebhookTargetPolicy.parseAddress(address)!
        dispatcher.resolve = { host in host == "hooks.example.com" ? [resolved] : [] }
        dispatcher.jitter = { 0 }
        let caller = Principal(userID: "u1", userName: "admin", projectID: "p1", projectName: "one", role: .admin, domainID: ProjectRecord.defaultDomainID)
        return (catalog, service, dispatcher, clock, caller)
    }

    @Test func aFailedDeliveryIsRetriedSignedAndRecorded() async throws {
        let transport = ScriptedTransport([.success(500), .failure(Timeout()), .success(204)])
        let (catalog, service, dispatcher, clock, caller) = try await WebhookDispatching.fixture(transport)
        defer { Task { await catalog.close() } }
        var input = WebhookInput(url: "https://hooks.example.com/coffer", events: ["backup.failed"])
        input.description = "ops"
        let hook = try await service.create(caller: caller, input)
        let secret = try #require(hook.secret, "a made secret is answered once")
        #expect(try await service.show(caller: caller, id: hook.record.id).sealedSecret != secret)
        var log = OperationLogRecord(id: "log1", projectId: "p1", operationType: "backup", status: .failed, vaultId: "v1", vaultName: "vault", providerId: "",
                                     resourceId: "r1", resourceName: "share", resourceType: "OS::Sfs::Turbo", checkpointId: "c1", backupId: "b1", progress: 0,
                                     errorCode: "source_unreadable", errorMsg: "cannot read", createdAt: 0, startedAt: 0, endedAt: 1, updatedAt: 1)
        await service.events.operationEnded(log)
        log.status = .success
        await service.events.operationEnded(log)  // backup.succeeded: not subscribed
        #expect(try await dispatcher.drain() == 1)
        clock.advance(by: 9)
        #expect(try await dispatcher.drain() == 0, "not before its retry time")
        clock.advance(by: 2)
        #expect(try await dispatcher.drain() == 1)
        clock.advance(by: 25)
        #expect(try await dispatcher.drain() == 1)
        #expect(try await dispatcher.drain() == 0)
        let got = transport.all
        #expect(got.count == 3 && got.allSatisfy { $0.address == "93.184.216.34" && $0.url == "https://hooks.example.com/coffer" })
        for r in got {
            let t = try #require(r.headers["x-coffer-timestamp"].flatMap(Int64.init))
            #expect(r.headers["x-coffer-signature"] == WebhookSignature.header(secret: secret, timestamp: t, body: Array(r.body.utf8)))
            #expect(r.headers["x-coffer-event"] == "backup.failed" && r.headers["content-type"] == "application/json")
        }
        let body = try #require(try JSONSerialization.jsonObject(with: Data(got[0].body.utf8)) as? [String: Any])
        let data = try #require(body["data"] as? [String: Any])
        #expect(body["type"] as? String == "backup.failed" && body["project_id"] as? String == "p1" && data["backup_id"] as? String == "b1"
            && data["error_code"] as? String == "source_unreadable" && data["resource_name"] as? String == "share")
        #expect(Set(got.map { $0.headers["x-coffer-delivery"] ?? "" }).count == 1, "one delivery, three attempts")
        let listed = try await service.deliveries(caller: caller, webhook: hook.record.id, status: nil, offset: 0, limit: 10)
        #expect(listed.total == 1)
        let d = try #require(listed.items.first)
        #expect(d.record.status == .delivered && d.record.attempts == 3 && d.record.lastStatusCode == 204)
        #expect(d.attempts.map(\.statusCode) == [500, nil, 204] && d.attempts[0].error == "the receiver answered HTTP 500"
            && (d.attempts[1].error ?? "").hasPrefix("no answer") && d.attempts[2].error == nil, "\(d.attempts)")
    }

    @Test func aReceiverDownForADayIsGivenUp() async throws {
        let transport = ScriptedTransport(Array(repeating: .success(503), count: 100))
        let (catalog, service, dispatcher, clock, caller) = try await WebhookDispatching.fixture(transport)
        defer { Task { await catalog.close() } }
        let hook = try await service.create(caller: caller, WebhookInput(url: "https://hooks.example.com/", secret: "a-secret-of-16-chars"))
        #expect(hook.secret == nil, "a secret the client chose is not echoed")
        _ = try await service.ping(caller: caller, id: hook.record.id)
        for _ in 0..<200 {
            try await dispatcher.drain()
            clock.advance(by: 600)
        }
        let d = try #require(try await service.deliveries(caller: caller, webhook: hook.record.id, status: .failed, offset: 0, limit: 10).items.first)
        #expect((25...40).contains(d.record.attempts) && d.attempts.count == d.record.attempts, "\(d.record.attempts)")
        let last = try #require(d.attempts.last)
        #expect(last.at - d.record.createdAt <= 86_400_000 + 600_000)
    }

    @Test func aNameThatResolvesToAPrivateAddressIsNotContacted() async throws {
        let transport = ScriptedTransport([])
        let (catalog, service, dispatcher, _, caller) = try await WebhookDispatching.fixture(transport, address: "169.254.169.254")
        defer { Task { await catalog.close() } }
        let hook = try await service.create(caller: caller, WebhookInput(url: "http://hooks.example.com/"))
        _ = try await service.ping(caller: caller, id: hook.record.id)
        try await dispatcher.drain()
        #expect(transport.all.isEmpty, "nothing was sent")
        let d = try #require(try await service.deliveries(caller: caller, webhook: hook.record.id, status: nil, offset: 0, limit: 10).items.first)
        #expect(d.record.status == .pending && (d.record.lastError ?? "").contains("169.254.169.254"), "\(String(describing: d.record.lastError))")
    }

    @Test func onlyAdminsManageAndAgentsSeeNothing() async throws {
        let (catalog, service, _, _, admin) = try await WebhookDispatching.fixture(ScriptedTransport([]))
        defer { Task { await catalog.close() } }
        let hook = try await service.create(caller: admin, WebhookInput(url: "https://hooks.example.com/"))
        var member = admin
        member.role = .member
        var agent = admin
        agent.role = .agent
        await #expect(throws: ServiceError.self) { _ = try await service.create(caller: member, WebhookInput(url: "https://hooks.example.com/")) }
        await #expect(throws: ServiceError.self) { try await service.delete(caller: member, id: hook.record.id) }
        await #expect(throws: ServiceError.self) { _ = try await service.ping(caller: member, id: hook.record.id) }
        #expect(try await service.list(caller: member).count == 1)
        await #expect(throws: ServiceError.self) { _ = try await service.list(caller: agent) }
        var other = admin
        other.projectID = "p2"
        do {
            _ = try await service.show(caller: other, id: hook.record.id)
            Issue.record("another project saw the webhook")
        } catch let e as ServiceError {
            #expect(e.reason == .webhookNotFound)
        }
    }
}

@Suite(.serialized) struct MissedScheduleEvents {
    func missedEvents(_ f: SchedulerFixture) async throws -> [[String: Any]] {
        try await f.catalog.webhooks.deliveries(project: "p1", webhook: "w1", status: nil, offset: 0, limit: 100).items.reversed().map {
            #expect($0.eventType == "schedule.missed")
            return try #require(try JSONSerialization.jsonObject(with: Data($0.payload.utf8)) as? [String: Any])
        }
    }

    @Test func anOccurrenceWithoutASuccessfulBackupIsReportedOnceWhenItsWindowEnds() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        let events = EventPublisher(catalog: f.catalog, clock: f.clock, logger: Logger(label: "test"))
        for s in f.schedulers { s.events = events }
        try await f.catalog.webhooks.insert(WebhookRecord(id: "w1", projectID: "p1", url: "https://hooks.example.com/", sealedSecret: "x", events: ["schedule.missed"],
                                                          description: "", enabled: true, createdAt: 0, updatedAt: 0), limit: 20)
        let policy = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"])
        _ = try await f.passAll()  // 00:30: the baseline
        f.clock.advance(by: 5_400)  // 02:00
        #expect(try await f.passAll().map(\.outcome) == ["started"])
        // Its backup never finishes. Within the day (the window of a daily schedule) nothing is said.
        f.clock.advance(by: 23 * 3_600)
        _ = try await f.passAll()
        #expect(try await missedEvents(f).isEmpty)
        f.clock.advance(by: 3_660)  // 02:01 the next day: the next occurrence is skipped (busy), the first reported
        #expect(try await f.passAll().map(\.outcome) == ["skipped_busy"])
        var missed = try await missedEvents(f)
        #expect(missed.count == 1, "one event although two schedulers passed")
        let first = try #require(missed.first?["data"] as? [String: Any])
        let occurrences = try #require(first["occurrences"] as? [[String: Any]])
        #expect(first["policy_id"] as? String == policy && first["vault_id"] as? String == f.vaultID && first["vault_name"] as? String == "scheduled"
            && first["window_seconds"] as? Int == 86_400 && occurrences.count == 1 && occurrences[0]["outcome"] as? String == "started"
            && occurrences[0]["checkpoint_status"] as? String == "protecting" && (occurrences[0]["occurrence"] as? String ?? "").contains("T02:00:00"), "\(first)")
        // The backup ends; the next day's runs and succeeds: only the skipped one is reported.
        try await f.settleBackups()
        f.clock.advance(by: 86_400)
        #expect(try await f.passAll().map(\.outcome) == ["started"])
        try await f.settleBackups()
        missed = try await missedEvents(f)
        let second = try #require(missed.last?["data"] as? [String: Any])
        #expect(missed.count == 2 && (second["occurrences"] as? [[String: Any]])?.first?["outcome"] as? String == "skipped_busy", "\(missed)")
        f.clock.advance(by: 86_400)
        _ = try await f.passAll()
        #expect(try await missedEvents(f).count == 2, "a successful occurrence is not reported")
        // Unbound, nothing more is owed.
        try await f.policies.dissociate(caller: f.caller, vaultID: f.vaultID, policyID: policy)
        f.clock.advance(by: 86_400)
        _ = try await f.passAll()
        #expect(try await missedEvents(f).count == 2)
        #expect(try await f.catalog.policies.unaudited(before: f.clock.now().epochMilliseconds).isEmpty)
    }
}
