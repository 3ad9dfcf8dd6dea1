import CofferModel
import CoreMetrics
import Foundation

/// What the service reports at /metrics (docs/observability.md). Series
/// per vault and resource are this type's own and rendered here, in
/// Prometheus' text format, from the catalog at each scrape: swift-prometheus'
/// registry copies a metric family's series on every new label set, so
/// registering the ~130 000 series of 10 000 vaults took 55 s (bench/metrics.sh).
/// The few series of bounded number (HTTP requests by route, backup durations
/// by resource type) are swift-metrics handles made by an injected factory.
/// Counters count what happened in this process: with several processes,
/// scrape each and sum. Labels name projects, vaults, resources and types,
/// never a backup or snapshot: a series per backup would grow without bound.
public final class ServiceMetrics: @unchecked Sendable {
    let factory: any MetricsFactory
    private let lock = NSLock()
    private var vaultCounts: [String: [Int64]] = [:]
    private var missed: [String: Int64] = [:]
    private var durations: [String: CoreMetrics.Timer] = [:]
    private var requests: [String: (count: Counter, duration: CoreMetrics.Timer)] = [:]
    private var webhookAttempts: [String: Counter] = [:]

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    /// A vault's counters, in this order; each vault has all of them, at 0 until counted.
    enum VaultCounter: Int, CaseIterable {
        case backupAttempt, backupSuccess, backupFailure, bytesRead, bytesAdded, restoreAttempt, restoreSuccess, restoreFailure, retentionDeleted, pruneFreed

        var name: String {
            switch self {
            case .backupAttempt: "coffer_backup_attempt_total"
            case .backupSuccess: "coffer_backup_success_total"
            case .backupFailure: "coffer_backup_failure_total"
            case .bytesRead: "coffer_backup_bytes_read_total"
            case .bytesAdded: "coffer_backup_bytes_added_total"
            case .restoreAttempt: "coffer_restore_attempt_total"
            case .restoreSuccess: "coffer_restore_success_total"
            case .restoreFailure: "coffer_restore_failure_total"
            case .retentionDeleted: "coffer_retention_deleted_total"
            case .pruneFreed: "coffer_prune_freed_bytes_total"
            }
        }
    }

    private func add(_ counter: VaultCounter, vault: String, _ amount: Int64 = 1) {
        guard amount > 0 else { return }
        lock.withLock {
            var counts = vaultCounts[vault] ?? Array(repeating: 0, count: VaultCounter.allCases.count)
            counts[counter.rawValue] += amount
            vaultCounts[vault] = counts
        }
    }

    // MARK: what happened

    /// An operation log moved from `was` to the log's status: attempts, outcomes and durations of backups and restores.
    public func operation(_ log: OperationLogRecord, from was: OperationStatus) {
        guard log.operationType == "backup" || log.operationType == "restore", !log.vaultId.isEmpty else { return }
        let backup = log.operationType == "backup"
        let (attempt, success, failure): (VaultCounter, VaultCounter, VaultCounter) =
            backup ? (.backupAttempt, .backupSuccess, .backupFailure) : (.restoreAttempt, .restoreSuccess, .restoreFailure)
        switch log.status {
        case .running where was == .waiting:
            add(attempt, vault: log.vaultId)
        case .success:
            if was == .waiting { add(attempt, vault: log.vaultId) }
            add(success, vault: log.vaultId)
            if backup, let started = log.startedAt, let ended = log.endedAt, ended >= started {
                duration(resourceType: log.resourceType).recordMilliseconds(ended - started)
            }
        case .failed:
            // One that never started (its agent never came) was still attempted.
            if was == .waiting { add(attempt, vault: log.vaultId) }
            add(failure, vault: log.vaultId)
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
    public func backupBytes(vault: String, read: Int64, added: Int64) {
        add(.bytesRead, vault: vault, read)
        add(.bytesAdded, vault: vault, added)
    }

    public func retentionDeleted(vault: String, count: Int) { add(.retentionDeleted, vault: vault, Int64(count)) }

    public func pruneFreed(vault: String, bytes: Int64) { add(.pruneFreed, vault: vault, bytes) }

    /// A policy's occurrence that produced no backup (recorded as skipped: missed).
    public func scheduleMissed(project: String) { lock.withLock { missed[project, default: 0] += 1 } }

    /// One webhook delivery attempt: `delivered`, `retried` (it failed and is tried again) or `failed` (given up).
    public func webhookAttempt(outcome: String) {
        lock.withLock {
            if let known = webhookAttempts[outcome] { return known }
            let made = Counter(label: "coffer_webhook_attempts_total", dimensions: [("outcome", outcome)], factory: factory)
            webhookAttempts[outcome] = made
            return made
        }.increment()
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

    /// This type's series in Prometheus' text format: every vault's counters
    /// (0 for a vault nothing happened to here; a deleted vault's are dropped),
    /// and the gauges as the catalog has them now. Three catalog reads whatever
    /// the number of backups.
    public func render(catalog: any Catalog) async throws -> [UInt8] {
        let vaults = try await catalog.vaults.capacities()
        let statistics = try await catalog.backups.resourceStatistics()
        let jobs = try await catalog.jobs.countByStatus()
        let live = Set(vaults.map(\.id))
        let (counts, missed) = lock.withLock { () -> ([String: [Int64]], [String: Int64]) in
            vaultCounts = vaultCounts.filter { live.contains($0.key) }
            return (vaultCounts, self.missed)
        }
        var protected: [String: Int64] = [:]
        for s in statistics { protected[s.vaultId, default: 0] += s.protectedBytes }
        var out = Exposition()
        let zero = Array(repeating: Int64(0), count: VaultCounter.allCases.count)
        for counter in VaultCounter.allCases {
            out.family(counter.name, "counter")
            for v in vaults { out.sample(counter.name, [("project", v.projectID), ("vault_id", v.id)], (counts[v.id] ?? zero)[counter.rawValue]) }
        }
        out.family("coffer_vault_size_bytes", "gauge")
        for v in vaults { out.sample("coffer_vault_size_bytes", [("project", v.projectID), ("vault_id", v.id)], Int64(v.sizeGB) << 30) }
        out.family("coffer_vault_used_bytes", "gauge")
        for v in vaults { out.sample("coffer_vault_used_bytes", [("project", v.projectID), ("vault_id", v.id)], v.usedBytes) }
        out.family("coffer_vault_dedup_ratio", "gauge")
        for v in vaults {
            // Bytes protected per byte stored (1 while nothing is stored).
            out.sample("coffer_vault_dedup_ratio", [("project", v.projectID), ("vault_id", v.id)],
                       v.usedBytes > 0 ? Double(protected[v.id] ?? 0) / Double(v.usedBytes) : 1)
        }
        let resources = statistics.filter { live.contains($0.vaultId) }
        func labels(_ s: ResourceBackupStatistics) -> [(String, String)] {
            [("project", s.projectId), ("vault_id", s.vaultId), ("resource_id", s.resourceId), ("resource_type", s.resourceType)]
        }
        out.family("coffer_backup_last_success_timestamp_seconds", "gauge")
        for s in resources { out.sample("coffer_backup_last_success_timestamp_seconds", labels(s), Double(s.lastSuccessAt ?? 0) / 1000) }
        out.family("coffer_backup_last_status", "gauge")
        for s in resources { out.sample("coffer_backup_last_status", labels(s), Int64(s.lastSucceeded ? 1 : 0)) }
        out.family("coffer_jobs_queued", "gauge")
        out.sample("coffer_jobs_queued", [], Int64(jobs[.queued] ?? 0))
        out.family("coffer_jobs_running", "gauge")
        out.sample("coffer_jobs_running", [], Int64(jobs[.running] ?? 0))
        out.family("coffer_scheduler_missed_total", "counter")
        for (project, n) in missed.sorted(by: { $0.key < $1.key }) { out.sample("coffer_scheduler_missed_total", [("project", project)], n) }
        return out.bytes
    }
}

/// Prometheus' text format (0.0.4), written straight into bytes.
struct Exposition {
    var bytes: [UInt8] = []

    mutating func family(_ name: String, _ type: String) {
        bytes += "# TYPE \(name) \(type)\n".utf8
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Int64) {
        line(name, labels)
        bytes += String(value).utf8
        bytes.append(UInt8(ascii: "\n"))
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        line(name, labels)
        bytes += (value.isFinite ? String(value) : value.isNaN ? "NaN" : value > 0 ? "+Inf" : "-Inf").utf8
        bytes.append(UInt8(ascii: "\n"))
    }

    private mutating func line(_ name: String, _ labels: [(String, String)]) {
        bytes += name.utf8
        if !labels.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            for (i, (key, value)) in labels.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes += key.utf8
                bytes += "=\"".utf8
                for byte in value.utf8 {
                    switch byte {
                    case UInt8(ascii: "\\"): bytes += "\\\\".utf8
                    case UInt8(ascii: "\""): bytes += "\\\"".utf8
                    case UInt8(ascii: "\n"): bytes += "\\n".utf8
                    default: bytes.append(byte)
                    }
                }
                bytes.append(UInt8(ascii: "\""))
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: " "))
    }
}
