import CofferCatalog
import CofferCrypto
import CofferModel
import CofferSystem
import Foundation
import Logging
import Testing
@testable import CofferService

/// The job runtime over an in-memory SQLite catalog and a manual clock:
/// leases, heartbeats, requeue and failure on expiry, progress, the polling
/// loop and stopping. Handlers are replaced, so no resource is read.
final class RuntimeFixture: @unchecked Sendable {
    let catalog: SQLCatalog
    let clock = ManualClock()
    let runtime: JobRuntime
    let directory: String

    init() async throws {
        catalog = try await SQLCatalog.open(url: "sqlite::memory:", logger: Logger(label: "test"))
        directory = NSTemporaryDirectory() + "coffer-runtime-" + UUID().uuidString
        let resources = ResourceService(catalog: catalog, roots: [], clock: clock)
        let vaults = VaultService(catalog: catalog, resources: resources, secrets: SecretBox(keyBytes: randomBytes(32))!, dataDirectory: directory, clock: clock)
        runtime = JobRuntime(catalog: catalog, vaults: vaults, resources: resources, drivers: ResourceDrivers(engines: []), clock: clock, logger: Logger(label: "test"))
        try await catalog.identity.ensureDefaultDomain(now: clock.now())
        try await catalog.identity.insertProject(ProjectRecord(id: "p1", name: "p1", domainID: ProjectRecord.defaultDomainID, description: "", createdAt: clock.now()))
    }

    func close() async {
        await catalog.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var now: Int64 { clock.now().epochMilliseconds }

    /// A backup being made (with its checkpoint), its operation log and its queued job.
    @discardableResult
    func queueBackup(_ id: String) async throws -> JobRecord {
        try await catalog.backups.insertCheckpoint(CheckpointRecord(id: "c-" + id, projectId: "p1", vaultId: "v", vaultName: "v", status: .protecting, name: "c",
                                                                    description: "", resources: "[]", skipped: "[]", createdAt: now, updatedAt: now))
        try await catalog.backups.insertBackups([BackupRecord(id: id, projectId: "p1", vaultId: "v", checkpointId: "c-" + id, parentId: nil, resourceId: "r",
                                                              resourceType: "OS::Cinder::Volume", resourceName: "r", resourceSize: 0, name: id, description: "",
                                                              status: .protecting, imageType: "backup", providerId: "", incremental: false, autoTrigger: false,
                                                              bootable: false, snapshotId: nil, failReason: nil, createdAt: now, protectedAt: nil, updatedAt: now,
                                                              expiredAt: nil)])
        try await catalog.operationLogs.insert(OperationLogRecord(id: "log-" + id, projectId: "p1", operationType: "backup", status: .waiting, vaultId: "v",
                                                                  vaultName: "v", providerId: "", resourceId: "r", resourceName: "r", resourceType: "OS::Cinder::Volume",
                                                                  checkpointId: "c-" + id, backupId: id, progress: 0, errorCode: nil, errorMsg: nil, createdAt: now,
                                                                  startedAt: nil, endedAt: nil, updatedAt: now))
        let job = JobRecord(id: "job-" + id, projectId: "p1", kind: .backup, targetId: id, operationLogId: "log-" + id, status: .queued, owner: nil,
                            leaseUntil: nil, attempts: 0, lastError: nil, createdAt: now, updatedAt: now)
        try await catalog.jobs.insert(job)
        return job
    }

    func job(_ id: String) async throws -> JobRecord { try #require(try await catalog.jobs.job(id: id)) }
    func log(_ id: String) async throws -> OperationLogRecord { try #require(try await catalog.operationLogs.get(id: id)) }
    func backup(_ id: String) async throws -> BackupRecord { try #require(try await catalog.backups.backup(id: id)) }
}

/// Opens once; lets every waiter through.
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var open = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        await withCheckedContinuation { c in
            let go = lock.withLock { open ? true : { waiters.append(c); return false }() }
            if go { c.resume() }
        }
    }
    func release() {
        let all = lock.withLock { open = true; defer { waiters = [] }; return waiters }
        for c in all { c.resume() }
    }
}

func withRuntime(_ body: (RuntimeFixture) async throws -> Void) async throws {
    let f = try await RuntimeFixture()
    do { try await body(f) } catch {
        await f.close()
        throw error
    }
    await f.close()
}

@Suite struct JobRuntimeTests {
    @Test func heartbeatsKeepTheLeaseWhileAJobRuns() async throws {
        try await withRuntime { f in
            let started = Gate(), finish = Gate()
            f.runtime.leaseDuration = 60
            f.runtime.handlers[.backup] = { _ in started.release(); await finish.wait() }
            try await f.queueBackup("b1")
            let t0 = f.now
            let drain = Task { try await f.runtime.drain() }
            await started.wait()
            #expect(try await f.job("job-b1").status == .running)
            #expect(try await f.job("job-b1").leaseUntil == t0 + 60_000)
            for beat in 1...4 {
                try await f.clock.waitForSleepers(1)  // the heartbeat
                f.clock.advance(by: 20)
                try await f.clock.waitForSleepers(1)  // renewed, asleep again
                #expect(try await f.job("job-b1").leaseUntil == t0 + Int64(beat) * 20_000 + 60_000)
            }
            // 80 s in: without heartbeats the lease would have run out at 60 s.
            #expect(try await f.catalog.jobs.expired(now: f.now).isEmpty)
            finish.release()
            #expect(try await drain.value == 1)
            let done = try await f.job("job-b1")
            #expect(done.status == .succeeded && done.leaseUntil == nil)
            #expect(f.clock.sleeping == 0, "the heartbeat stops with the job")
        }
    }

    @Test func anExpiredLeaseRequeuesThenFailsWithTheReason() async throws {
        try await withRuntime { f in
            f.runtime.maxAttempts = 3
            try await f.queueBackup("b1")
            for attempt in 1...3 {
                // A worker claims the job and dies.
                let claimed = try await f.catalog.jobs.claim(owner: "dead-worker", now: f.now, leaseUntil: f.now + 60_000)
                #expect(claimed?.id == "job-b1" && claimed?.attempts == attempt)
                f.clock.advance(by: 30)
                try await f.runtime.recoverExpired()
                #expect(try await f.job("job-b1").status == .running, "a live lease is left alone")
                f.clock.advance(by: 31)
                try await f.runtime.recoverExpired()
                let job = try await f.job("job-b1")
                if attempt < 3 {
                    #expect(job.status == .queued && job.owner == nil && job.attempts == attempt)
                } else {
                    #expect(job.status == .failed)
                }
            }
            let reason = "the backup was interrupted 3 times (worker stopped or crashed)"
            let backup = try await f.backup("b1")
            #expect(backup.status == .error && backup.failReason == reason)
            let log = try await f.log("log-b1")
            #expect(log.status == .failed && log.errorCode == "internal_failure" && log.errorMsg == reason && log.endedAt != nil)
            #expect(try await f.catalog.backups.checkpoint(project: "p1", id: "c-b1")?.status == .error)
            // Nothing left to recover, nothing to claim.
            try await f.runtime.recoverExpired()
            #expect(try await f.runtime.drain() == 0)
        }
    }

    @Test func aFailingHandlerFailsTheJobAndWhatItWorkedOn() async throws {
        try await withRuntime { f in
            f.runtime.handlers[.backup] = { job in
                try await f.runtime.endLog(job, .started)
                throw ServiceError(.vaultFull, "vault v is full")
            }
            try await f.queueBackup("b1")
            #expect(try await f.runtime.drain() == 1)
            let job = try await f.job("job-b1")
            #expect(job.status == .failed && job.lastError == "vault v is full")
            let log = try await f.log("log-b1")
            #expect(log.status == .failed && log.errorCode == "vault_full" && log.errorMsg == "vault v is full" && log.startedAt != nil)
            #expect(try await f.backup("b1").status == .error)
        }
    }

    @Test func progressIsWrittenEveryIntervalOfTheClock() async throws {
        try await withRuntime { f in
            let ready = Gate(), finish = Gate()
            let meter = ProgressMeter(expected: 200)
            f.runtime.progressInterval = 1
            f.runtime.handlers[.backup] = { job in
                try await f.runtime.endLog(job, .started)
                let reporter = f.runtime.reportProgress(meter, log: job.operationLogId)
                defer { reporter.cancel() }
                ready.release()
                await finish.wait()
                try await f.runtime.endLog(job, .succeeded)
            }
            try await f.queueBackup("b1")
            let drain = Task { try await f.runtime.drain() }
            await ready.wait()
            try await f.clock.waitForSleepers(2)  // heartbeat and reporter
            meter.update(current: 80, expected: nil)
            #expect(try await f.log("log-b1").progress == 0, "nothing is written before the interval")
            f.clock.advance(by: 1)
            try await f.clock.waitForSleepers(2)
            #expect(try await f.log("log-b1").progress == 40)
            meter.finishPart(200)
            f.clock.advance(by: 1)
            try await f.clock.waitForSleepers(2)
            #expect(try await f.log("log-b1").progress == 99, "never 100 before the job ends")
            finish.release()
            _ = try await drain.value
            let log = try await f.log("log-b1")
            #expect(log.status == .success && log.progress == 100)
        }
    }

    @Test func aShutdownHandsTheJobInHandBackUnfinished() async throws {
        try await withRuntime { f in
            let started = Gate()
            f.runtime.handlers[.backup] = { _ in
                started.release()
                // Works until cancelled, as the engine does (cancellation surfaces as an error).
                while true { try await Task.sleep(nanoseconds: 1_000_000) }
            }
            try await f.queueBackup("b1")
            let loop = Task { try await f.runtime.drain() }
            await started.wait()
            #expect(try await f.job("job-b1").attempts == 1)
            f.runtime.stop()
            #expect(try await loop.value == 1)
            let job = try await f.job("job-b1")
            #expect(job.status == .queued && job.owner == nil && job.leaseUntil == nil && job.attempts == 0, "\(job)")
            #expect(try await f.backup("b1").status == .protecting, "the backup is not failed")
            #expect(try await f.log("log-b1").errorCode == nil)
            // A stopped runtime claims nothing more.
            #expect(try await f.runtime.drain() == 0)
            #expect(try await f.job("job-b1").status == .queued)
        }
    }

    @Test func theLoopPollsOnTheClockAndFinishesTheJobInHandWhenStopped() async throws {
        try await withRuntime { f in
            let started = Gate(), finish = Gate()
            f.runtime.pollInterval = 5
            f.runtime.handlers[.backup] = { _ in started.release(); await finish.wait() }
            let loop = Task { await f.runtime.runUntilCancelled() }
            try await f.clock.waitForSleepers(1)  // nothing queued: polling
            try await f.queueBackup("b1")
            f.clock.advance(by: 4)
            #expect(try await f.job("job-b1").status == .queued, "not before the poll interval")
            f.clock.advance(by: 1)
            await started.wait()
            // Asked to stop while the job runs: the job still finishes, then the loop ends.
            loop.cancel()
            finish.release()
            await loop.value
            #expect(try await f.job("job-b1").status == .succeeded)
            #expect(f.clock.sleeping == 0)
        }
    }
}
