import CofferEngine
import CofferModel
import CofferRepository
import CofferSystem
import Foundation
import Logging
import ServiceLifecycle

/// Runs queued jobs: claims one at a time under a lease, renews the lease
/// while working, hands the job to the handler of its kind, and applies the
/// job's lifecycle (`JobStatus.after`) as conditional updates in the catalog.
/// A job whose worker died is found by its expired lease and queued again (at
/// most `maxAttempts` times), or ends failed with the reason recorded on its
/// backup and operation log. Every wait (polling, heartbeat, progress) is on
/// the injected clock, so tests drive the loops with a manual clock.
///
/// A `ServiceLifecycle.Service`: `coffer serve` runs it in the same
/// ServiceGroup as the HTTP server. On graceful shutdown it claims nothing
/// more, cancels the job in hand and hands it back to the queue unfinished
/// (another worker runs it again from the start, as after a crash, but at
/// once and without counting an attempt), then returns.
public final class JobRuntime: Service, @unchecked Sendable {
    let catalog: any Catalog
    var store: any BackupStore { catalog.backups }
    var jobs: any JobStore { catalog.jobs }
    var logs: any OperationLogStore { catalog.operationLogs }
    let vaults: VaultService
    let resources: ResourceService
    let drivers: ResourceDrivers
    let clock: any Clock
    let logger: Logger
    public let id = "worker-" + UUID().uuidString.prefix(8).lowercased()
    public var leaseDuration: TimeInterval = 60
    public var maxAttempts = 3
    public var pollInterval: TimeInterval = 0.5
    /// How often a running operation's progress is written to its log.
    public var progressInterval: TimeInterval = 1
    /// How long a job on an agent's resource waits for that agent to take it before it fails.
    public var agentWait: TimeInterval = 3600
    /// Where outcomes are counted (/metrics).
    public var metrics = ServiceMetrics()
    /// Where ended operations are published for webhooks (nil: nowhere).
    public var events: EventPublisher?
    /// What runs each kind of job. Tests replace a handler to drive the loop
    /// without real resources.
    public typealias Handler = @Sendable (JobRecord) async throws -> Void
    var handlers: [JobKind: Handler] = [:]
    /// Called with a backup's id once its job succeeded (the scheduler's retention runs then). Set before `run`.
    public var afterBackup: (@Sendable (String) async -> Void)?
    private let state = NSLock()
    private var stopping = false
    private var current: Task<Void, Never>?

    public init(catalog: any Catalog, vaults: VaultService, resources: ResourceService, drivers: ResourceDrivers, clock: any Clock = SystemClock(),
                logger: Logger) {
        self.catalog = catalog
        self.vaults = vaults
        self.resources = resources
        self.drivers = drivers
        self.clock = clock
        self.logger = logger
        handlers = [
            .backup: { [unowned self] in try await self.runBackup($0) },
            .restore: { [unowned self] in try await self.runRestore($0) },
            .delete: { [unowned self] in try await self.runDelete($0) },
            .databaseRestore: { [unowned self] in try await self.runDatabaseRestore($0) },
            .verify: { [unowned self] in try await self.runVerify($0) },
            .prune: { [unowned self] in try await self.runPrune($0) },
        ]
    }

    var nowMS: Int64 { clock.now().epochMilliseconds }

    var driverContext: DriverContext {
        DriverContext(resources: resources, vaults: vaults, clock: clock)
    }

    // MARK: the loop

    public func run() async throws {
        // Graceful shutdown cancels the loop (its sleep ends at once) and the job in hand, which is handed back.
        try await withGracefulShutdownHandler {
            try await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Claims nothing more; the job in hand is cancelled and handed back to the queue.
    public func stop() {
        state.withLock {
            stopping = true
            current?.cancel()
        }
    }

    var isStopping: Bool { state.withLock { stopping } }

    /// Polls until cancelled.
    public func runUntilCancelled() async {
        await pollUntilCancelled(clock: clock, interval: pollInterval, logger: logger, what: "worker") { try await drain() }
    }

    /// Runs jobs until none is queued. Returns how many ran.
    @discardableResult
    public func drain() async throws -> Int {
        try await recoverExpired()
        var count = 0
        while !Task.isCancelled, !isStopping, let job = try await jobs.claim(owner: id, now: nowMS, leaseUntil: leaseEnd()) {
            // Its own task, not cancelled with the loop: only `stop` cancels it (and then hands it back).
            let task = Task { await self.run(job) }
            state.withLock {
                current = task
                if stopping { task.cancel() }
            }
            await task.value
            state.withLock { current = nil }
            count += 1
        }
        return count
    }

    func leaseEnd() -> Int64 { clock.now().addingTimeInterval(leaseDuration).epochMilliseconds }

    /// Requeues or fails the jobs whose lease ran out; fails agents' jobs that waited too long for their agent.
    public func recoverExpired() async throws {
        try await failJobsOfAbsentAgents()
        for job in try await jobs.expired(now: nowMS) {
            guard let transition = job.status.after(.leaseExpired(attempts: job.attempts, maxAttempts: maxAttempts)) else { continue }
            let reason = transition.actions.first.map { if case .failTarget(_, let reason) = $0 { reason } else { "" } }
            // Decided from the job as read: if another worker moved it meanwhile, nothing happens.
            guard try await jobs.transition(job, to: transition.next, error: reason, now: nowMS) else { continue }
            if transition.next == .queued {
                logger.warning("requeueing job whose lease expired", metadata: ["job": "\(job.id)", "attempts": "\(job.attempts)"])
                await logRequeued(job)
            }
            try await apply(transition.actions, to: job)
        }
    }

    func run(_ job: JobRecord) async {
        let heartbeat = Task {
            while !Task.isCancelled {
                do { try await clock.sleep(for: max(1, leaseDuration / 3)) } catch { return }
                guard (try? await jobs.extendLease(job: job.id, owner: id, until: leaseEnd())) != false else {
                    logger.warning("lost the lease of a running job", metadata: ["job": "\(job.id)"])
                    return
                }
            }
        }
        defer { heartbeat.cancel() }
        do {
            try await handle(job)
            try await jobs.transition(job, to: .succeeded, error: nil, now: nowMS)
            if job.kind == .backup, let afterBackup { await afterBackup(job.targetId) }
        } catch where isStopping {
            // Cut short by a shutdown, not failed: another worker takes it now. (In a task of its
            // own: this one is cancelled, and the catalog would refuse to start the write.)
            guard let transition = job.status.after(.handedBack), transition.next == .queued else { return }
            let jobs = self.jobs, now = nowMS
            if (try? await Task { try await jobs.handBack(job, now: now) }.value) == true {
                await Task { await self.logRequeued(job) }.value
                logger.info("handed back an unfinished job at shutdown", metadata: ["job": "\(job.id)", "kind": "\(job.kind.rawValue)"])
            }
        } catch {
            await recordFailure(job, error)
        }
    }

    /// Ends a running job failed: the operation log (which the tenant reads) gets the public
    /// message, the server log and the job row everything. Nothing happens if the job moved meanwhile.
    func recordFailure(_ job: JobRecord, _ error: any Error) async {
        logger.error("job failed", metadata: ["job": "\(job.id)", "error": "\(ServiceError.logText(error))"])
        let (code, message) = ServiceError.publicFailure(error, reference: "job \(job.id)")
        guard let transition = job.status.after(.failed(code: code.rawValue, reason: message)),
              (try? await jobs.transition(job, to: transition.next, error: ServiceError.logText(error), now: nowMS)) == true else { return }
        try? await apply(transition.actions, to: job)
    }

    func handle(_ job: JobRecord) async throws {
        guard let handler = handlers[job.kind] else {
            throw ServiceError(.internalFailure, "no handler for \(job.kind.rawValue) jobs")
        }
        try await handler(job)
    }

    // MARK: what jobs share

    func apply(_ actions: [JobAction], to job: JobRecord) async throws {
        for action in actions {
            switch action {
            case .failTarget(let code, let reason): try await failTarget(job, code: code, reason: reason)
            }
        }
    }

    /// Records a failure on what the job worked on: a backup being made ends
    /// in error (with its disks and checkpoint); a failed restore leaves the
    /// backup as it was; a failed delete leaves it in error. The operation log says why.
    func failTarget(_ job: JobRecord, code: String, reason: String) async throws {
        if let backup = try await store.backup(id: job.targetId) {
            let event: BackupEvent = job.kind == .backup || job.kind == .delete ? .failed : .restoreEnded
            for var row in [backup] + (try await store.children(of: backup.id)) {
                guard let next = row.status.after(event) else { continue }
                let was = row.status
                row.status = next
                row.updatedAt = nowMS
                if next == .error { row.failReason = reason }
                try await store.updateBackup(row, expected: was)
            }
            if job.kind == .backup {
                try await settleCheckpoint(backup.checkpointId, project: backup.projectId)
                // What the failed backup stored is referenced by no snapshot: the vault's prune frees it.
                try await catalog.vaults.prunePlanned(vault: backup.vaultId, at: nowMS)
            }
        }
        try await endLog(job, .failed) { log in
            log.errorCode = code
            log.errorMsg = reason
        }
    }

    /// Moves the job's operation log by `event` (if the log is where the event applies).
    func endLog(_ job: JobRecord, _ event: OperationEvent, skipped: [String] = [], change: (inout OperationLogRecord) -> Void = { _ in }) async throws {
        guard var log = try await logs.get(id: job.operationLogId), let next = log.status.after(event) else { return }
        let was = log.status
        log.status = next
        if !skipped.isEmpty { log.skipped = String(decoding: JSONWriter.bytes(Array(skipped.prefix(1000))), as: UTF8.self) }
        log.updatedAt = nowMS
        if next == .running { log.startedAt = nowMS }
        if next.hasEnded { log.endedAt = nowMS }
        if next == .success { log.progress = 100 }
        change(&log)
        guard try await logs.update(log, expected: was) else { return }
        metrics.operation(log, from: was)
        if next.hasEnded, let events { await events.operationEnded(log) }
    }

    /// A handed-back job's operation log waits again (for its agent, if it has one), its progress reset.
    func logRequeued(_ job: JobRecord) async {
        try? await endLog(job, .requeued) { log in
            log.progress = 0
            if let agent = job.agentId { log.details = OperationLogRecord.waitingFor(agent: agent) }
        }
    }

    /// Writes the meter's percentage into the running operation log every `progressInterval`.
    func reportProgress(_ meter: ProgressMeter, log id: String) -> Task<Void, Never> {
        Task {
            var written = 0
            while !Task.isCancelled {
                do { try await clock.sleep(for: progressInterval) } catch { return }
                let percent = meter.percent
                guard percent != written else { continue }
                try? await logs.setProgress(log: id, percent: percent, now: nowMS)
                written = percent
            }
        }
    }

    /// A checkpoint is done when none of its backups is being made.
    func settleCheckpoint(_ id: String, project: String) async throws {
        guard var checkpoint = try await store.checkpoint(project: project, id: id) else { return }
        let settled = CheckpointStatus.settled(from: try await store.backups(checkpoint: id).filter { $0.parentId == nil }.map(\.status))
        guard settled != checkpoint.status else { return }
        checkpoint.status = settled
        checkpoint.updatedAt = nowMS
        try await store.updateCheckpoint(checkpoint)
    }
}

/// How far an operation is: parts (disks) done plus the current part's bytes,
/// against the expected total. Stays below 100 until the job ends.
public final class ProgressMeter: @unchecked Sendable {
    private let lock = NSLock()
    private var expected: Int64
    private var done: Int64 = 0
    private var current: Int64 = 0

    public init(expected: Int64) { self.expected = expected }

    public func update(current bytes: Int64, expected part: Int64?) {
        lock.withLock {
            current = bytes
            // A directory's size is known only from its previous snapshot.
            if let part, expected < done + part { expected = done + part }
        }
    }

    public func finishPart(_ bytes: Int64) { lock.withLock { done += bytes; current = 0; expected = max(expected, done) } }

    public var percent: Int {
        lock.withLock {
            guard expected > 0 else { return 0 }
            return Int(min(99, (done + current) * 100 / expected))
        }
    }
}
