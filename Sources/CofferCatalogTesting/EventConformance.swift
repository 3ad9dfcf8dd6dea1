import CofferModel
import Foundation

/// The contract of what events need: webhooks and their delivery outbox, and
/// the claims the missed-schedule check walks.
extension CatalogConformance {
    static func webhook(_ id: String, project: String, at: Int64, events: [String] = []) -> WebhookRecord {
        WebhookRecord(id: id, projectID: project, url: "https://example.com/" + id, sealedSecret: "sealed-" + id, events: events, description: "",
                      enabled: true, createdAt: at, updatedAt: at)
    }

    static func delivery(_ id: String, webhook: String, project: String = "p1", due: Int64, created: Int64 = 0) -> WebhookDeliveryRecord {
        WebhookDeliveryRecord(id: id, webhookID: webhook, projectID: project, eventID: "e-" + id, eventType: "backup.succeeded", payload: "{\"id\":\"\(id)\"}",
                              nextAttemptAt: due, createdAt: created, updatedAt: created)
    }

    static let webhooks: Check = { catalog in
        let store = catalog.webhooks
        try await project("p1", catalog)
        try await project("p2", catalog)
        try await store.insert(webhook("w1", project: "p1", at: 1, events: ["backup.failed", "schedule.missed"]), limit: 2)
        try await store.insert(webhook("w2", project: "p1", at: 2), limit: 2)
        try await store.insert(webhook("w3", project: "p2", at: 3), limit: 2)
        try await requireThrows(.quotaWebhooks, "a third webhook past the limit") { try await store.insert(webhook("w4", project: "p1", at: 4), limit: 2) }
        try require(try await store.list(project: "p1").map(\.id) == ["w1", "w2"], "oldest first, own project only")
        try require(try await store.get(project: "p2", id: "w1") == nil, "another project's webhook is not found")
        var w1 = try await store.get(project: "p1", id: "w1")!
        try require(w1.events == ["backup.failed", "schedule.missed"] && w1.sealedSecret == "sealed-w1" && w1.enabled, "stored as given")
        w1.enabled = false
        w1.url = "https://example.org/hook"
        w1.events = []
        w1.updatedAt = 9
        try await store.update(w1)
        try require(try await store.get(project: "p1", id: "w1") == w1, "updated")

        // The outbox: due ones only, one per webhook per claim, each taken by one claimer.
        try await store.enqueue([delivery("d1", webhook: "w1", due: 10), delivery("d2", webhook: "w1", due: 11), delivery("d3", webhook: "w2", due: 12),
                                 delivery("d4", webhook: "w2", due: 500), delivery("d5", webhook: "w3", project: "p2", due: 13)])
        let claims = try await withThrowingTaskGroup(of: [WebhookDeliveryRecord].self) { group in
            for _ in 0..<4 { group.addTask { try await store.claimDue(now: 100, leaseUntil: 160, limit: 10) } }
            var all: [[WebhookDeliveryRecord]] = []
            for try await c in group { all.append(c) }
            return all
        }
        let claimedIDs = claims.flatMap { $0.map(\.id) }
        try require(Set(claimedIDs).count == claimedIDs.count, "no delivery claimed twice: \(claimedIDs)")
        try require(claims.allSatisfy { Set($0.map(\.webhookID)).count == $0.count }, "at most one per webhook in a claim")
        try require(!claimedIDs.contains("d4"), "a delivery not yet due is not claimed")
        try require(claims.flatMap { $0 }.allSatisfy { $0.nextAttemptAt == 160 }, "a claimed delivery is due again at the lease's end")
        let rest = try await store.claimDue(now: 100, leaseUntil: 160, limit: 10)
        try require(Set(claimedIDs + rest.map(\.id)) == ["d1", "d2", "d3", "d5"], "the second of a webhook comes in a later claim: \(claimedIDs) then \(rest.map(\.id))")
        try require(try await store.claimDue(now: 159, leaseUntil: 200, limit: 10).isEmpty, "nothing while leased")
        try require(try await store.claimDue(now: 160, leaseUntil: 220, limit: 1).count == 1, "a lease that ran out is taken again, up to the limit")

        try require(try await store.recordAttempt(WebhookAttemptRecord(deliveryID: "d1", number: 1, at: 100, durationMS: 5, statusCode: 500, error: "HTTP 500"),
                                                  status: .pending, nextAttemptAt: 300), "a failed attempt is recorded")
        try require(try await store.recordAttempt(WebhookAttemptRecord(deliveryID: "d1", number: 2, at: 300, durationMS: 7, statusCode: 200, error: nil),
                                                  status: .delivered, nextAttemptAt: 307), "then the delivery")
        try require(try await store.recordAttempt(WebhookAttemptRecord(deliveryID: "d1", number: 3, at: 400, durationMS: 1, statusCode: 200, error: nil),
                                                  status: .delivered, nextAttemptAt: 401) == false, "nothing more once delivered")
        let d1 = try await store.delivery(project: "p1", id: "d1")
        try require(d1?.status == .delivered && d1?.attempts == 2 && d1?.deliveredAt == 307 && d1?.lastStatusCode == 200 && d1?.lastError == nil,
                    "delivered with its count, time and last answer: \(String(describing: d1))")
        try require(try await store.delivery(project: "p2", id: "d1") == nil, "another project's delivery is not found")
        let attempts = try await store.attempts(deliveries: ["d1", "d3"])
        try require(attempts["d1"]?.map(\.number) == [1, 2] && attempts["d1"]?.first?.statusCode == 500 && attempts["d3"] == nil, "attempts in order, by delivery")
        _ = try await store.recordAttempt(WebhookAttemptRecord(deliveryID: "d2", number: 1, at: 100, durationMS: 1, statusCode: nil, error: "timeout"),
                                          status: .failed, nextAttemptAt: 101)
        let page = try await store.deliveries(project: "p1", webhook: "w1", status: nil, offset: 0, limit: 1)
        try require(page.total == 2 && page.items.count == 1, "paged with the total")
        try require(try await store.deliveries(project: "p1", webhook: "w1", status: .failed, offset: 0, limit: 10).items.map(\.id) == ["d2"], "by status")
        try require(try await store.deliveries(project: "p2", webhook: "w1", status: nil, offset: 0, limit: 10).total == 0, "scoped by project")
        try require(try await store.forgetFinished(before: 200) == 1, "finished deliveries last changed before a time are forgotten (d2, not d1 nor pending ones)")
        let d2Gone = try await store.delivery(project: "p1", id: "d2") == nil, d1Kept = try await store.delivery(project: "p1", id: "d1") != nil
        try require(d2Gone && d1Kept, "d2 went, d1 stays")

        try require(try await store.delete(project: "p2", id: "w1") == false, "another project's webhook is not deleted")
        try require(try await store.delete(project: "p1", id: "w1"), "deleted")
        let orphan = try await store.delivery(project: "p1", id: "d1")
        let orphanAttempts = try await store.attempts(deliveries: ["d1"])
        try require(orphan == nil && orphanAttempts.isEmpty, "its deliveries and attempts went with it")
        try require(try await store.delivery(project: "p1", id: "d3") != nil, "another webhook's stay")
        try require(try await catalog.identity.deleteProject(id: "p2"), "a project deleted")
        let d5Gone = try await store.delivery(project: "p2", id: "d5") == nil, hooksGone = try await store.list(project: "p2").isEmpty
        try require(d5Gone && hooksGone, "takes its webhooks and deliveries")
    }

    static let scheduleAudit: Check = { catalog in
        let store = catalog.policies
        try await project("p1", catalog)
        for (occurrence, outcome) in [(Int64(10), "baseline"), (20, "started"), (30, "skipped_missed"), (40, "running")] {
            _ = try await store.claim(ScheduleClaim(policyID: "a", vaultID: "v1", projectID: "p1", occurrence: occurrence, outcome: outcome, claimedAt: occurrence))
        }
        try require(try await store.unaudited(before: 35).map(\.occurrence) == [20, 30], "claims before a time, baselines never, oldest first")
        let claim = try await store.unaudited(before: 35)[0]
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<3 { group.addTask { try await store.markAudited(claim, at: 50) } }
            var n = 0
            for try await won in group where won { n += 1 }
            return n
        }
        try require(wins == 1, "one of several markers wins (\(wins))")
        try require(try await store.unaudited(before: 100).map(\.occurrence) == [30, 40], "an audited claim is not listed again")
    }
}
