import Foundation

/// `GET /v3/{project_id}/coffer/dashboard` (Coffer extension): every vault's state, problems first.
public enum Dashboard {
    public struct Response: Codable, Sendable {
        public var vaults: [Vault]
        public var count: Int
        /// How many vaults have problems (they come first).
        public var problems: Int
        public init(vaults: [Vault]) {
            self.vaults = vaults
            count = vaults.count
            problems = vaults.filter { !$0.problems.isEmpty }.count
        }
    }

    public struct Vault: Codable, Sendable {
        public var id: String
        public var name: String
        public var objectType: String
        public var sizeGB: Int
        public var usedBytes: Int64
        /// Of the capacity, 0-100 (may pass 100 if a vault shrank).
        public var usedPercent: Double
        public var policyID: String?
        public var policyName: String?
        public var nextRunAt: String?
        public var lastSuccessAt: String?
        public var lastBackupFailed: Bool
        public var failuresLast24h: Int
        public var running: [Running]
        public var problems: [String]
        public init(id: String, name: String, objectType: String, sizeGB: Int, usedBytes: Int64, usedPercent: Double, policyID: String?, policyName: String?,
                    nextRunAt: String?, lastSuccessAt: String?, lastBackupFailed: Bool, failuresLast24h: Int, running: [Running], problems: [String]) {
            self.id = id
            self.name = name
            self.objectType = objectType
            self.sizeGB = sizeGB
            self.usedBytes = usedBytes
            self.usedPercent = usedPercent
            self.policyID = policyID
            self.policyName = policyName
            self.nextRunAt = nextRunAt
            self.lastSuccessAt = lastSuccessAt
            self.lastBackupFailed = lastBackupFailed
            self.failuresLast24h = failuresLast24h
            self.running = running
            self.problems = problems
        }
        enum CodingKeys: String, CodingKey {
            case id, name, running, problems
            case objectType = "object_type", sizeGB = "size_gb", usedBytes = "used_bytes", usedPercent = "used_percent", policyID = "policy_id"
            case policyName = "policy_name", nextRunAt = "next_run_at", lastSuccessAt = "last_success_at", lastBackupFailed = "last_backup_failed"
            case failuresLast24h = "failures_last_24h"
        }
    }

    public struct Running: Codable, Sendable {
        public var operationLogID: String
        public var operationType: String
        public var resourceName: String
        public var progress: Int
        public var startedAt: String?
        public init(operationLogID: String, operationType: String, resourceName: String, progress: Int, startedAt: String?) {
            self.operationLogID = operationLogID
            self.operationType = operationType
            self.resourceName = resourceName
            self.progress = progress
            self.startedAt = startedAt
        }
        enum CodingKeys: String, CodingKey {
            case progress
            case operationLogID = "operation_log_id", operationType = "operation_type", resourceName = "resource_name", startedAt = "started_at"
        }
    }
}
