import CofferModel
import CoreMetrics
import Foundation

/// What the service reports at /metrics (docs/observability.md), through
/// swift-metrics handles made by an injected factory (Prometheus in the
/// server, nothing by default). Counters count what happened in this
/// process: with several processes, scrape each and sum. The gauges are read
/// from the catalog at each scrape (`refresh`), so every process reports the
/// same. Labels name projects, vaults, resources and types, never a backup or
/// snapshot: a series per backup would grow without bound.
public final class ServiceMetrics: @unchecked Sendable {
    let factory: any MetricsFactory
    private let lock = NSLock()
    private var vaultSeries: [String: VaultSeries] = [:]
    private var resourceSeries: [String: ResourceSeries] = [:]
    private var durations: [String: CoreMetrics.Timer] = [:]
    private var missed: [String: Counter] = [:]
    private var requests: [String: (count: Counter, duration: CoreMetrics.Timer)] = [:]
    private let jobsQueued: Gauge
    private let jobsRunning: Gauge

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        jobsQueued = Gauge(label: "coffer_jobs_queued", factory: factory)
        jobsRunning = Gauge(label: "coffer_jobs_running", factory: factory)
    }

    /// A vault's series, made (counters at 0) the first time it is seen.
    struct VaultSeries {
        let backupAttempts, backupSuccesses, backupFailures, bytesRead, bytesAdded: Counter
        let restoreAttempts, restoreSuccesses, restoreFailures, retentionDeleted, pruneFreed: Counter
        let size, used, dedupRatio: Gauge

        init(project: String, vault: String, factory: any MetricsFactory) {
            let labels = [("project", project), ("vault_id", vault)]
            func counter(_ name: String) -> Counter { Counter(label: name, dimensions: labels, factory: factory) }
            func gauge(_ name: String) -> Gauge { Gauge(label: name, dimensions: labels, factory: factory) }
            backupAttempts = counter("coffer_backup_attempt_total")
            backupSuccesses = counter("coffer_backup_success_total")
            backupFailures = counter("coffer_backup_failure_total")
            bytesRead = counter("coffer_backup_bytes_read_total")
            bytesAdded = counter("coffer_backup_bytes_added_total")
            restoreAttempts = counter("coffer_restore_attempt_total")
            restoreSuccesses = counter("coffer_restore_success_total")
            restoreFailures = counter("coffer_restore_failure_total")
            retentionDeleted = counter("coffer_retention_deleted_total")
            pruneFreed = counter("coffer_prune_freed_bytes_total")
            size = gauge("coffer_vault_size_bytes")
            used = gauge("coffer_vault_used_bytes")
            dedupRatio = gauge("coffer_vault_dedup_ratio")
        }

        func destroy() {
            for c in [backupAttempts, backupSuccesses, backupFailures, bytesRead, bytesAdded, restoreAttempts, restoreSuccesses, restoreFailures,
                      retentionDeleted, pruneFreed] { c.destroy() }
            for g in [size, used, dedupRatio] { g.destroy() }
        }
    }

    /// A protected resource's last backup, per vault.
    struct ResourceSeries {
        let lastSuccess, lastStatus: Gauge

        init(_ s: ResourceBackupStatistics, factory: any MetricsFactory) {
            let labels = [("project", s.projectId), ("vault_id", s.vaultId), ("resource_id", s.resourceId), ("resource_type", s.resourceType)]
            lastSuccess = Gauge(label: "coffer_backup_last_success_timestamp_seconds", dimensions: labels, factory: factory)
            lastStatus = Gauge(label: "coffer_backup_last_status", dimensions: labels, factory: factory)
        }

        func destroy() {
            lastSuccess.destroy()
            lastStatus.destroy()
        }
    }

    private func vault(project: String, id: String) -> VaultSeries {
        lock.withLock {
            if let known = vaultSeries[id] { return known }
            let made = VaultSeries(project: project, vault: id, factory: factory)
            vaultSeries[id] = made
            return made
        }
    }

    // MARK: what happened

    /// An operation log moved from `was` to the log's status: attempts, outcomes and durations of backups and restores.
    public func operation(_ log: OperationLogRecord, from was: OperationStatus) {
        guard log.operationType == "backup" || log.operationType == "restore", !log.vaultId.isEmpty else { return }
        let series = vault(project: log.projectId, id: log.vaultId)
        let backup = log.operationType == "backup"
        switch log.status {
        case .running where was == .waiting:
            (backup ? series.backupAttempts : series.restoreAttempts).increment()
        case .success:
            if was == .waiting { (backup ? series.backupAttempts : series.restoreAttempts).increment() }
            (backup ? series.backupSuccesses : series.restoreSuccesses).increment()
            if backup, let started = log.startedAt, let ended = log.endedAt, ended >= started {
                duration(resourceType: log.resourceType).recordMilliseconds(ended - started)
            }
        case .failed:
            // One that never started (its agent never came) was still attempted.
            if was == .waiting { (backup ? series.backupAttempts : series.restoreAttempts).increment() }
            (backup ? series.backupFailures : series.restoreFailures).increment()
        default:
            break
        }
    }

    private func duration(resourceType: String) -> CoreMetrics.Timer {
        lock.withLock {
            if let known = durations[resourceType] { return known }
            let made = CoreMetrics.Timer(label: "coffer_backup_duration_seconds", dimensions: [("resource_type", resourceType)], factory: factory)
            durations[resourceType] = made
            return made
        }
    }

    /// What a backup read from its resource and added to its vault.
    public func backupBytes(project: String, vault: String, read: Int64, added: Int64) {
        let series = self.vault(project: project, id: vault)
        series.bytesRead.increment(by: max(0, read))
        series.bytesAdded.increment(by: max(0, added))
    }

    public func retentionDeleted(project: String, vault: String, count: Int) {
        self.vault(project: project, id: vault).retentionDeleted.increment(by: count)
    }

    public func pruneFreed(project: String, vault: String, bytes: Int64) {
        self.vault(project: project, id: vault).pruneFreed.increment(by: max(0, bytes))
    }

    /// A policy's occurrence that produced no backup (recorded as skipped: missed).
    public func scheduleMissed(project: String) {
        let counter = lock.withLock {
            if let known = missed[project] { return known }
            let made = Counter(label: "coffer_scheduler_missed_total", dimensions: [("project", project)], factory: factory)
            missed[project] = made
            return made
        }
        counter.increment()
    }

    /// One HTTP request answered: `route` is the matched route's template (never the raw path, which holds ids).
    public func request(route: String, method: String, status: Int, nanoseconds: UInt64) {
        let key = route + " " + method + " " + String(status)
        let handles = lock.withLock {
            if let known = requests[key] { return known }
            let made = (Counter(label: "coffer_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory),
                        CoreMetrics.Timer(label: "coffer_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory))
            requests[key] = made
            return made
        }
        handles.count.increment()
        handles.duration.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    // MARK: what is

    /// Brings the gauges up to date from the catalog and drops the series of
    /// vaults and resources that are gone. One call per scrape.
    public func refresh(catalog: any Catalog) async throws {
        let vaults = try await catalog.vaults.all()
        let statistics = try await catalog.backups.resourceStatistics()
        let jobs = try await catalog.jobs.countByStatus()
        var protected: [String: Int64] = [:]
        for s in statistics { protected[s.vaultId, default: 0] += s.protectedBytes }
        let live = Set(vaults.map(\.id))
        for v in vaults {
            let series = vault(project: v.projectID, id: v.id)
            series.size.record(Double(Int64(v.sizeGB) << 30))
            series.used.record(Double(v.usedBytes))
            // Bytes protected per byte stored (1 when nothing is stored yet).
            series.dedupRatio.record(v.usedBytes > 0 ? Double(protected[v.id] ?? 0) / Double(v.usedBytes) : 1)
        }
        var current: [String: ResourceBackupStatistics] = [:]
        // Keyed by every label: a resource whose type or project changed gets new series.
        for s in statistics where live.contains(s.vaultId) { current[[s.vaultId, s.resourceId, s.resourceType, s.projectId].joined(separator: "/")] = s }
        let (goneVaults, goneResources, series) = lock.withLock { () -> ([VaultSeries], [ResourceSeries], [(ResourceSeries, ResourceBackupStatistics)]) in
            let goneVaults = vaultSeries.filter { !live.contains($0.key) }
            for id in goneVaults.keys { vaultSeries.removeValue(forKey: id) }
            let goneResources = resourceSeries.filter { key, _ in current[key] == nil }
            for key in goneResources.keys { resourceSeries.removeValue(forKey: key) }
            var out: [(ResourceSeries, ResourceBackupStatistics)] = []
            for (key, s) in current {
                if resourceSeries[key] == nil { resourceSeries[key] = ResourceSeries(s, factory: factory) }
                out.append((resourceSeries[key]!, s))
            }
            return (Array(goneVaults.values), Array(goneResources.values), out)
        }
        goneVaults.forEach { $0.destroy() }
        goneResources.forEach { $0.destroy() }
        for (gauges, s) in series {
            gauges.lastSuccess.record(Double(s.lastSuccessAt ?? 0) / 1000)
            gauges.lastStatus.record(s.lastSucceeded ? 1 : 0)
        }
        jobsQueued.record(Double(jobs[.queued] ?? 0))
        jobsRunning.record(Double(jobs[.running] ?? 0))
    }
}
