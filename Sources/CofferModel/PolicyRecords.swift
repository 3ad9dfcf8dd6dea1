import Foundation

/// A CBR backup policy: when to back up (its patterns) and how long to keep
/// (its operation definition). What the client sent is kept as sent, so it
/// reads back verbatim (the Terraform provider and Ansible compare it).
public struct PolicyRecord: Codable, Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var name: String
    public var enabled: Bool
    /// `backup` (replication is refused until it exists).
    public var operationType: String
    /// The operation definition as a JSON object, the keys the client sent.
    public var definition: String
    /// The trigger's patterns, a JSON array of strings as sent.
    public var patterns: String
    public var startWindowMinutes: Int?
    /// The trigger's id (CBR shows one per policy).
    public var triggerID: String
    /// When the schedule starts: INTERVAL counts from this day.
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: String, projectID: String, name: String, enabled: Bool, operationType: String, definition: String, patterns: String,
                startWindowMinutes: Int?, triggerID: String, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.projectID = projectID
        self.name = name
        self.enabled = enabled
        self.operationType = operationType
        self.definition = definition
        self.patterns = patterns
        self.startWindowMinutes = startWindowMinutes
        self.triggerID = triggerID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, enabled, definition, patterns
        case projectID = "project_id", operationType = "operation_type", startWindowMinutes = "start_window_minutes", triggerID = "trigger_id"
        case createdAt = "created_at", updatedAt = "updated_at"
    }
}

public struct PolicyFilter: Sendable {
    public var operationType: String?
    /// Only the policy bound to this vault.
    public var vaultID: String?
    public init(operationType: String? = nil, vaultID: String? = nil) {
        self.operationType = operationType
        self.vaultID = vaultID
    }
}

/// An enabled backup policy and a vault bound to it: one schedule to run.
public struct ScheduleBinding: Sendable, Equatable {
    public var policy: PolicyRecord
    public var vaultID: String
    public init(policy: PolicyRecord, vaultID: String) {
        self.policy = policy
        self.vaultID = vaultID
    }
}

/// One occurrence of a schedule, claimed once: what became of it.
public struct ScheduleClaim: Codable, Sendable, Equatable {
    public var policyID: String
    public var vaultID: String
    public var projectID: String
    /// When the pattern said to run (epoch milliseconds).
    public var occurrence: Int64
    /// `baseline` (when the schedule was first seen), `running`, `started`, `skipped_missed`, `skipped_busy`, `failed`.
    public var outcome: String
    public var checkpointID: String?
    public var claimedAt: Int64
    public init(policyID: String, vaultID: String, projectID: String, occurrence: Int64, outcome: String, checkpointID: String? = nil, claimedAt: Int64) {
        self.policyID = policyID
        self.vaultID = vaultID
        self.projectID = projectID
        self.occurrence = occurrence
        self.outcome = outcome
        self.checkpointID = checkpointID
        self.claimedAt = claimedAt
    }
    enum CodingKeys: String, CodingKey {
        case occurrence, outcome
        case policyID = "policy_id", vaultID = "vault_id", projectID = "project_id", checkpointID = "checkpoint_id", claimedAt = "claimed_at"
    }
}
