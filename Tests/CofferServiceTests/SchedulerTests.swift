import CofferCatalog
import CofferCrypto
import CofferModel
import CofferSystem
import Foundation
import Logging
import Testing
@testable import CofferService

/// The scheduler over an in-memory SQLite catalog and a manual clock: a
/// directory in a vault bound to a policy, two scheduler instances on one
/// catalog, days passing in seconds. The worker never runs: backups stay
/// `protecting` until a test settles them, which is how overlap is made.
final class SchedulerFixture: @unchecked Sendable {
    let catalog: SQLCatalog
    /// 2026-12-02 (a Wednesday) 00:30 UTC.
    let clock = ManualClock(Date(timeIntervalSince1970: 1_796_171_400))
    let backups: BackupService
    let policies: PolicyService
    let schedulers: [Scheduler]
    let runtime: JobRuntime
    let directory: String
    let caller = Principal(userID: "u1", userName: "admin", projectID: "p1", projectName: "admin", role: .admin, domainID: ProjectRecord.defaultDomainID)
    var vaultID = ""

    init() async throws {
        let catalog = try await SQLCatalog.open(url: "sqlite::memory:", logger: Logger(label: "test")), clock = self.clock
        self.catalog = catalog
        directory = NSTemporaryDirectory() + "coffer-scheduler-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory + "/root/share", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/root/share/a.txt"))
        let resources = ResourceService(catalog: catalog, roots: [directory + "/root"], clock: clock)
        let vaults = VaultService(catalog: catalog, resources: resources, secrets: SecretBox(keyBytes: randomBytes(32))!, dataDirectory: directory + "/data", clock: clock)
        let backups = BackupService(catalog: catalog, vaults: vaults, resources: resources, drivers: ResourceDrivers(engines: []), clock: clock)
        self.backups = backups
        policies = PolicyService(catalog: catalog, clock: clock)
        schedulers = (0..<2).map { _ in Scheduler(catalog: catalog, backups: backups, clock: clock, logger: Logger(label: "test")) }
        runtime = JobRuntime(catalog: catalog, vaults: vaults, resources: resources, drivers: ResourceDrivers(engines: []), clock: clock, logger: Logger(label: "test"))
        // A backup job "makes" the backup at once; other jobs are left queued.
        runtime.handlers[.backup] = { job in
            guard var b = try await catalog.backups.backup(id: job.targetId) else { return }
            b.status = .available
            try await catalog.backups.updateBackup(b, expected: .protecting)
        }
        runtime.handlers[.delete] = { _ in }
        try await catalog.identity.ensureDefaultDomain(now: clock.now())
        try await catalog.identity.insertProject(ProjectRecord(id: "p1", name: "admin", domainID: ProjectRecord.defaultDomainID, description: "", createdAt: clock.now()))
        let share = try await resources.register(caller: caller, ResourceInput(type: .fileSystem, name: "share", path: directory + "/root/share"))
        var input = VaultInput(name: "scheduled", billing: .init(consistentLevel: "crash_consistent", objectType: "turbo", protectType: "backup", size: 10))
        input.resources = [.init(id: share.record.id, type: share.record.type)]
        input.backupNamePrefix = "nightly"
        vaultID = try await vaults.create(caller: caller, input).record.id
    }

    func close() async {
        await catalog.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func bind(_ patterns: [String], definition: PolicyDefinition = PolicyDefinition()) async throws -> String {
        let policy = try await policies.create(caller: caller, PolicyInput(name: "p\(patterns.count)", operationType: "backup", definition: definition, patterns: patterns))
        try await policies.associate(caller: caller, vaultID: vaultID, policyID: policy.record.id)
        return policy.record.id
    }

    /// Every scheduler passes at once; what they fired together.
    func passAll() async throws -> [Scheduler.Fired] {
        try await withThrowingTaskGroup(of: [Scheduler.Fired].self) { group in
            for s in schedulers { group.addTask { try await s.pass() } }
            var all: [Scheduler.Fired] = []
            for try await fired in group { all += fired }
            return all
        }
    }

    /// Ends every running backup as if the worker had made it.
    func settleBackups() async throws {
        for b in try await catalog.backups.listBackups(project: "p1", filter: BackupFilter(), sort: [("created_at", true)], offset: 0, limit: 10_000).items
            where b.status == .protecting {
            var done = b
            done.status = .available
            try await catalog.backups.updateBackup(done, expected: .protecting)
        }
    }

    func logs(_ status: OperationStatus) async throws -> [OperationLogRecord] {
        var filter = OperationLogFilter()
        filter.status = status
        return try await catalog.operationLogs.list(project: "p1", filter: filter, offset: 0, limit: 1000).items
    }
}

@Suite(.serialized) struct Scheduling {
    let day: TimeInterval = 86_400

    @Test func eachOccurrenceFiresOnceAcrossTwoSchedulers() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        let policy = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"])
        // The first pass sees the binding: nothing fires for the past.
        #expect(try await f.passAll().isEmpty)
        f.clock.advance(by: 3_600)  // 01:30
        #expect(try await f.passAll().isEmpty)
        f.clock.advance(by: 1_810)  // 02:00:10
        let fired = try await f.passAll()
        #expect(fired.count == 1 && fired.first?.outcome == "started", "\(fired)")
        let checkpoint = try #require(fired.first?.checkpointID)
        let made = try await f.catalog.backups.backups(checkpoint: checkpoint)
        #expect(made.count == 1 && made[0].autoTrigger && made[0].policyId == policy && made[0].name.hasPrefix("nightly_"), "\(made)")
        #expect(try await f.passAll().isEmpty, "a second pass finds nothing new")
        let claims = try await f.catalog.policies.claims(policy: policy, vault: f.vaultID)
        #expect(claims.map(\.outcome) == ["baseline", "started"])
    }

    @Test func overlappingAndMissedOccurrencesAreRecorded() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        let policy = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"])
        _ = try await f.passAll()
        f.clock.advance(by: 5_400)  // 02:00
        #expect(try await f.passAll().map(\.outcome) == ["started"])
        // A day later the backup still runs: this occurrence is skipped, and the tenant sees why.
        f.clock.advance(by: day)
        #expect(try await f.passAll().map(\.outcome) == ["skipped_busy"])
        let busy = try await f.logs(.skipped)
        #expect(busy.count == 1 && busy[0].errorCode == "backup_busy" && (busy[0].errorMsg ?? "").contains("still running"))
        // Three days with no server: two occurrences skipped as missed, the latest runs.
        try await f.settleBackups()
        f.clock.advance(by: 3 * day + 600)
        let after = try await f.passAll()
        #expect(after.map(\.outcome) == ["skipped_missed", "skipped_missed", "started"], "\(after)")
        let missed = try await f.logs(.skipped).filter { $0.errorCode == "schedule_missed" }
        #expect(missed.count == 1 && (missed[0].errorMsg ?? "").contains("2 scheduled backups"))
        let outcomes = try await f.catalog.policies.claims(policy: policy, vault: f.vaultID).map(\.outcome)
        #expect(outcomes == ["baseline", "started", "skipped_busy", "skipped_missed", "skipped_missed", "started"])
    }

    @Test func aLateOccurrenceOlderThanItsPeriodIsSkipped() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        // Monday and Tuesday 03:00: Tuesday's period is one day.
        _ = try await f.bind(["FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=03;BYMINUTE=00"])
        _ = try await f.passAll()
        // Wednesday 00:30 -> the next Thursday 04:00: Monday and Tuesday passed unseen; Tuesday is two days old.
        f.clock.advance(by: 8 * day + 3.5 * 3_600)
        let fired = try await f.passAll()
        #expect(fired.map(\.outcome) == ["skipped_missed", "skipped_missed"], "\(fired)")
        #expect(try await f.logs(.skipped).first?.errorMsg?.contains("more than one period old") == true)
    }

    @Test func twoMonthsOfADailyPolicyInSeconds() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        _ = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00", "FREQ=WEEKLY;BYDAY=SA;BYHOUR=14;BYMINUTE=30"])
        _ = try await f.passAll()
        var started = 0
        for _ in 0..<(60 * 4) {
            f.clock.advance(by: 6 * 3_600)
            started += try await f.passAll().filter { $0.outcome == "started" }.count
            try await f.settleBackups()
        }
        // 60 nights and 8 or 9 Saturday afternoons, each once.
        #expect((68...69).contains(started), "\(started)")
        let auto = try await f.catalog.backups.listBackups(project: "p1", filter: BackupFilter(), sort: [("created_at", true)], offset: 0, limit: 10_000).items
        #expect(auto.count == started && auto.allSatisfy(\.autoTrigger))
    }

    @Test func disabledOrUnboundPoliciesDoNotFire() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        let policy = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"])
        _ = try await f.passAll()
        var change = PolicyChange()
        change.enabled = false
        _ = try await f.policies.update(caller: f.caller, id: policy, change)
        f.clock.advance(by: day)
        #expect(try await f.passAll().isEmpty)
        change.enabled = true
        _ = try await f.policies.update(caller: f.caller, id: policy, change)
        try await f.policies.dissociate(caller: f.caller, vaultID: f.vaultID, policyID: policy)
        f.clock.advance(by: day)
        #expect(try await f.passAll().isEmpty)
    }

    @Test func retentionKeepsWhatThePolicySaysAndLockingHoldsTheRest() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        var rules = PolicyDefinition()
        rules.maxBackups = 3
        let policy = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"], definition: rules)
        _ = try await f.passAll()
        // A manual backup: no policy ever expires it.
        let (manual, _, _) = try await f.backups.createCheckpoint(caller: f.caller, CheckpointInput(vaultID: f.vaultID))
        try await f.settleBackups()
        for _ in 0..<6 {
            f.clock.advance(by: day)
            _ = try await f.passAll()
            try await f.settleBackups()
        }
        let binding = try #require(try await f.catalog.policies.schedules().first { $0.policy.id == policy })
        _ = try await f.schedulers[0].applyRetention(binding, now: f.clock.now().epochMilliseconds)
        let all = try await f.catalog.backups.listBackups(project: "p1", filter: BackupFilter(), sort: [("created_at", false)], offset: 0, limit: 100).items
        let automatic = all.filter(\.autoTrigger)
        #expect(automatic.filter { $0.status == .available }.count == 3, "\(automatic.map(\.status))")
        #expect(automatic.filter { $0.status == .deleting }.count == 3)
        #expect(automatic.prefix(3).allSatisfy { $0.status == .available && $0.expiredAt != nil }, "kept backups know when they go")
        #expect(all.first { $0.checkpointId == manual.id }?.status == .available, "the manual backup stays")
        #expect(try await f.logs(.waiting).filter { $0.operationType == "delete" }.count == 3, "one delete log per expired backup")

        // Locked: automatic backups cannot be deleted by hand before they expire; manual ones can; retention still expires.
        var record = try #require(try await f.catalog.vaults.get(project: "p1", id: f.vaultID))
        record.locked = true
        try await f.catalog.vaults.update(record)
        let oldestKept = try #require(automatic.prefix(3).last)
        await #expect(throws: ServiceError.self) { _ = try await f.backups.delete(caller: f.caller, id: oldestKept.id) }
        do { _ = try await f.backups.delete(caller: f.caller, id: oldestKept.id) } catch let e as ServiceError { #expect(e.reason == .backupLocked) }
        let manualBackup = try #require(all.first { $0.checkpointId == manual.id })
        _ = try await f.backups.delete(caller: f.caller, id: manualBackup.id)
        await #expect(throws: ServiceError.self) { try await f.backups.deleteVault(caller: f.caller, id: f.vaultID) }
        f.clock.advance(by: day)
        _ = try await f.passAll()
        try await f.settleBackups()
        let expired = try await f.schedulers[1].applyRetention(binding, now: f.clock.now().epochMilliseconds)
        #expect(expired == [oldestKept.id], "retention expires a locked vault's backup when its time comes")
    }

    @Test func fullBackupIntervalMakesEveryThirdAutomaticBackupFull() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        var rules = PolicyDefinition()
        rules.fullBackupInterval = 2
        _ = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"], definition: rules)
        _ = try await f.passAll()
        for _ in 0..<7 {
            f.clock.advance(by: day)
            _ = try await f.passAll()
            try await f.settleBackups()
        }
        let made = try await f.catalog.backups.listBackups(project: "p1", filter: BackupFilter(), sort: [("created_at", true)], offset: 0, limit: 100).items
        #expect(made.map(\.incremental) == [false, true, true, false, true, true, false], "\(made.map(\.incremental))")
    }

    @Test func retentionRunsAsSoonAsAnAutomaticBackupIsMade() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        var rules = PolicyDefinition()
        rules.maxBackups = 2
        _ = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"], definition: rules)
        let scheduler = f.schedulers[0]
        f.runtime.afterBackup = { id in await scheduler.backupFinished(id) }
        _ = try await f.passAll()
        for day in 1...4 {
            f.clock.advance(by: self.day)
            _ = try await f.passAll()
            // The pass's own retention ran before this backup was made; the one after the backup keeps the count.
            _ = try await f.runtime.drain()
            let auto = try await f.catalog.backups.listBackups(project: "p1", filter: BackupFilter(), sort: [("created_at", false)], offset: 0, limit: 100)
                .items.filter(\.autoTrigger)
            #expect(auto.filter { $0.status == .available }.count == min(day, 2), "day \(day): \(auto.map(\.status))")
        }
    }

    @Test func anOccurrenceInterruptedWhileStartingFailsOnceAndIsNotFiredAgain() async throws {
        let f = try await SchedulerFixture()
        defer { Task { await f.close() } }
        let policy = try await f.bind(["FREQ=DAILY;BYHOUR=02;BYMINUTE=00"])
        _ = try await f.passAll()
        // A process claimed 02:00 and stopped before making the checkpoint.
        f.clock.advance(by: 5_400)
        let occurrence = f.clock.now().epochMilliseconds
        #expect(try await f.catalog.policies.claim(ScheduleClaim(policyID: policy, vaultID: f.vaultID, projectID: "p1", occurrence: occurrence,
                                                                 outcome: "running", claimedAt: occurrence)))
        #expect(try await f.passAll().isEmpty, "not fired again")
        f.clock.advance(by: 3_700)
        _ = try await f.passAll()
        let outcomes = try await f.catalog.policies.claims(policy: policy, vault: f.vaultID).map(\.outcome)
        #expect(outcomes == ["baseline", "failed"])
        let failed = try await f.logs(.failed)
        #expect(failed.count == 1 && (failed[0].errorMsg ?? "").contains("did not start"), "one log, though two schedulers passed")
    }
}
