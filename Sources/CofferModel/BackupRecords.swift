import Foundation

// Rows map to columns by snake_case conversion; times are epoch milliseconds.

public struct CheckpointRecord: Codable, Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var vaultId: String
    public var vaultName: String
    public var status: CheckpointStatus
    public var name: String
    public var description: String
    /// JSON arrays: the resources being backed up, and those skipped with a reason.
    public var resources: String
    public var skipped: String
    public var createdAt: Int64
    public var updatedAt: Int64

    /// Column names spelled out: a key strategy converts every key of every row.
    enum CodingKeys: String, CodingKey {
        case id
        case projectId = "project_id"
        case vaultId = "vault_id"
        case vaultName = "vault_name"
        case status
        case name
        case description
        case resources
        case skipped
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, projectId: String, vaultId: String, vaultName: String, status: CheckpointStatus, name: String, description: String, resources: String, skipped: String, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.projectId = projectId
        self.vaultId = vaultId
        self.vaultName = vaultName
        self.status = status
        self.name = name
        self.description = description
        self.resources = resources
        self.skipped = skipped
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct BackupRecord: Codable, Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var vaultId: String
    public var checkpointId: String
    public var parentId: String?
    public var resourceId: String
    public var resourceType: String
    public var resourceName: String
    public var resourceSize: Int64
    public var name: String
    public var description: String
    public var status: BackupStatus
    public var imageType: String
    public var providerId: String
    public var incremental: Bool
    public var autoTrigger: Bool
    public var bootable: Bool
    public var snapshotId: String?
    public var failReason: String?
    public var createdAt: Int64
    public var protectedAt: Int64?
    public var updatedAt: Int64
    public var expiredAt: Int64?
    /// The vault's availability zone when the backup was made.
    public var resourceAz: String
    /// JSON array of {key, value}.
    public var tags: String
    /// The policy an automatic backup was made for.
    public var policyId: String? = nil

    /// Column names spelled out: a key strategy converts every key of every row.
    enum CodingKeys: String, CodingKey {
        case id
        case projectId = "project_id"
        case vaultId = "vault_id"
        case checkpointId = "checkpoint_id"
        case parentId = "parent_id"
        case resourceId = "resource_id"
        case resourceType = "resource_type"
        case resourceName = "resource_name"
        case resourceSize = "resource_size"
        case name
        case description
        case status
        case imageType = "image_type"
        case providerId = "provider_id"
        case incremental
        case autoTrigger = "auto_trigger"
        case bootable
        case snapshotId = "snapshot_id"
        case failReason = "fail_reason"
        case createdAt = "created_at"
        case protectedAt = "protected_at"
        case updatedAt = "updated_at"
        case expiredAt = "expired_at"
        case resourceAz = "resource_az"
        case tags
        case policyId = "policy_id"
    }

    public init(id: String, projectId: String, vaultId: String, checkpointId: String, parentId: String?, resourceId: String, resourceType: String, resourceName: String, resourceSize: Int64, name: String, description: String, status: BackupStatus, imageType: String, providerId: String, incremental: Bool, autoTrigger: Bool, bootable: Bool, snapshotId: String?, failReason: String?, createdAt: Int64, protectedAt: Int64?, updatedAt: Int64, expiredAt: Int64?, resourceAz: String = "", tags: String = "[]") {
        self.id = id
        self.projectId = projectId
        self.vaultId = vaultId
        self.checkpointId = checkpointId
        self.parentId = parentId
        self.resourceId = resourceId
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.resourceSize = resourceSize
        self.name = name
        self.description = description
        self.status = status
        self.imageType = imageType
        self.providerId = providerId
        self.incremental = incremental
        self.autoTrigger = autoTrigger
        self.bootable = bootable
        self.snapshotId = snapshotId
        self.failReason = failReason
        self.createdAt = createdAt
        self.protectedAt = protectedAt
        self.updatedAt = updatedAt
        self.expiredAt = expiredAt
        self.resourceAz = resourceAz
        self.tags = tags
    }
}

public struct JobRecord: Codable, Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var kind: JobKind
    public var targetId: String
    public var operationLogId: String
    public var status: JobStatus
    public var owner: String?
    public var leaseUntil: Int64?
    public var attempts: Int
    public var lastError: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    /// JSON: what the job needs beyond its target (restore destinations).
    public var payload: String?
    /// The vault whose repository the job works in: a prune of a vault never
    /// runs beside another job of that vault (nil: rows from before this was kept).
    public var vaultId: String?
    /// Set for a job on an agent's resource: only that agent claims it (server workers never do).
    public var agentId: String?

    /// Column names spelled out: a key strategy converts every key of every row.
    enum CodingKeys: String, CodingKey {
        case id
        case projectId = "project_id"
        case kind
        case targetId = "target_id"
        case operationLogId = "operation_log_id"
        case status
        case owner
        case leaseUntil = "lease_until"
        case attempts
        case lastError = "last_error"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case payload
        case vaultId = "vault_id"
        case agentId = "agent_id"
    }

    public init(id: String, projectId: String, kind: JobKind, targetId: String, operationLogId: String, status: JobStatus, owner: String?, leaseUntil: Int64?, attempts: Int, lastError: String?, createdAt: Int64, updatedAt: Int64, payload: String? = nil, vaultId: String? = nil, agentId: String? = nil) {
        self.agentId = agentId
        self.id = id
        self.projectId = projectId
        self.kind = kind
        self.targetId = targetId
        self.operationLogId = operationLogId
        self.status = status
        self.owner = owner
        self.leaseUntil = leaseUntil
        self.attempts = attempts
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.payload = payload
        self.vaultId = vaultId
    }
}

public struct OperationLogRecord: Codable, Sendable, Equatable {
    public var id: String
    public var projectId: String
    public var operationType: String
    public var status: OperationStatus
    public var vaultId: String
    public var vaultName: String
    public var providerId: String
    public var resourceId: String
    public var resourceName: String
    public var resourceType: String
    public var checkpointId: String?
    public var backupId: String?
    public var progress: Int
    public var errorCode: String?
    public var errorMsg: String?
    public var createdAt: Int64
    public var startedAt: Int64?
    public var endedAt: Int64?
    public var updatedAt: Int64
    /// What a restore deliberately left out, as a JSON array of lines (nil: nothing).
    public var skipped: String? = nil
    /// Counts an operation reports (a vault deletion's backups), as a JSON object.
    public var details: String? = nil

    /// `details` of a job queued for an agent.
    public static func waitingFor(agent: String) -> String {
        String(decoding: (try? JSONEncoder().encode(["waiting_for_agent": agent])) ?? Data(), as: UTF8.self)
    }

    /// The agent a waiting operation waits for.
    public var awaitedAgent: String? {
        guard status == .waiting, let details, let object = try? JSONDecoder().decode([String: String].self, from: Data(details.utf8)) else { return nil }
        return object["waiting_for_agent"]
    }

    /// Column names spelled out: a key strategy converts every key of every row.
    enum CodingKeys: String, CodingKey {
        case id
        case skipped
        case details
        case projectId = "project_id"
        case operationType = "operation_type"
        case status
        case vaultId = "vault_id"
        case vaultName = "vault_name"
        case providerId = "provider_id"
        case resourceId = "resource_id"
        case resourceName = "resource_name"
        case resourceType = "resource_type"
        case checkpointId = "checkpoint_id"
        case backupId = "backup_id"
        case progress
        case errorCode = "error_code"
        case errorMsg = "error_msg"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, projectId: String, operationType: String, status: OperationStatus, vaultId: String, vaultName: String, providerId: String, resourceId: String, resourceName: String, resourceType: String, checkpointId: String?, backupId: String?, progress: Int, errorCode: String?, errorMsg: String?, createdAt: Int64, startedAt: Int64?, endedAt: Int64?, updatedAt: Int64) {
        self.id = id
        self.projectId = projectId
        self.operationType = operationType
        self.status = status
        self.vaultId = vaultId
        self.vaultName = vaultName
        self.providerId = providerId
        self.resourceId = resourceId
        self.resourceName = resourceName
        self.resourceType = resourceType
        self.checkpointId = checkpointId
        self.backupId = backupId
        self.progress = progress
        self.errorCode = errorCode
        self.errorMsg = errorMsg
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.updatedAt = updatedAt
    }
}

/// What retention needs of an automatic backup (a narrow read: a vault's
/// retention runs every hour over all of its backups).
public struct ExpiryCandidate: Sendable, Equatable {
    public var id: String
    public var resourceID: String
    public var createdAt: Int64
    public var expiredAt: Int64?
    public init(id: String, resourceID: String, createdAt: Int64, expiredAt: Int64?) {
        self.id = id
        self.resourceID = resourceID
        self.createdAt = createdAt
        self.expiredAt = expiredAt
    }
}

public struct BackupFilter: Sendable, Hashable {
    public var vaultID: String?
    public var resourceID: String?
    public var resourceType: String?
    public var checkpointID: String?
    public var statuses: [BackupStatus] = []
    public var name: String?
    public var parentID: String?
    public var imageType: String?
    public var incremental: Bool?
    public var startTime: Int64?
    public var endTime: Int64?
    public var resourceName: String?
    public var resourceAz: String?
    /// Backups in vaults whose usage is at least this percentage of their size.
    public var usedPercent: Int?
    /// Only these backups (RDS's backup_id filter).
    public var ids: [String] = []
    /// Only automatic (true) or only manual (false) backups.
    public var autoTrigger: Bool?
    /// Resource types left out (CBR does not list RDS backups).
    public var excludedTypes: [String] = []
    /// Set when a filter names a kind of backup Coffer never holds (shared with
    /// this project, dedicated cloud, another enterprise project): nothing matches.
    public var matchesNothing = false
    /// Without a parent filter only top-level backups are listed; a server's
    /// disk backups appear in its `children` (or with `parent_id`).
    public init() {}
}

public struct OperationLogFilter: Sendable {
    public var operationType: String?
    public var status: OperationStatus?
    public var vaultID: String?
    public var resourceID: String?
    public var resourceName: String?
    public var vaultName: String?
    public var providerID: String?
    public var startTime: Int64?
    public var endTime: Int64?
    public init() {}
}
