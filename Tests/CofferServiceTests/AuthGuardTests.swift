import Foundation
import Testing
@testable import CofferService

@Suite struct AuthGuards {
    @Test func replayGuardRemembersChangesForTheWindow() {
        let guardTable = ReplayGuard(window: 60, capacity: 3)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        #expect(guardTable.firstUse(accessKey: "AK", signature: "s1", now: t0))
        #expect(!guardTable.firstUse(accessKey: "AK", signature: "s1", now: t0.addingTimeInterval(30)))
        #expect(guardTable.firstUse(accessKey: "AK2", signature: "s1", now: t0))
        #expect(guardTable.firstUse(accessKey: "AK", signature: "s2", now: t0))
        // Full of live signatures: fail closed rather than forget one.
        #expect(!guardTable.firstUse(accessKey: "AK", signature: "s3", now: t0.addingTimeInterval(1)))
        // After the window everything old is forgotten (the date check refuses such requests anyway).
        #expect(guardTable.firstUse(accessKey: "AK", signature: "s1", now: t0.addingTimeInterval(61)))
    }

    @Test func loginThrottleCountsPerKeyWithinItsWindow() {
        let throttle = LoginThrottle(limit: 3, window: 100)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        for i in 0..<3 {
            #expect(throttle.retryAfter(["user:a", "source:1"], now: t0) == nil)
            throttle.failed(["user:a", "source:1"], now: t0.addingTimeInterval(Double(i)))
        }
        #expect(throttle.retryAfter(["user:a"], now: t0.addingTimeInterval(10)) == 90)
        // A source (maybe a proxy for many users) has ten times the room.
        #expect(throttle.retryAfter(["user:b", "source:1"], now: t0.addingTimeInterval(10)) == nil)
        for _ in 0..<27 { throttle.failed(["source:1"], now: t0) }
        #expect(throttle.retryAfter(["user:b", "source:1"], now: t0.addingTimeInterval(10)) == 90)
        #expect(throttle.retryAfter(["user:b", "source:2"], now: t0.addingTimeInterval(10)) == nil)
        #expect(throttle.retryAfter(["user:a"], now: t0.addingTimeInterval(101)) == nil)
        throttle.failed(["user:c"], now: t0)
        throttle.succeeded("user:c")
        #expect(throttle.retryAfter(["user:c"], now: t0) == nil)
    }
}
