import Foundation

// CBR v3 policies (cbr-v3.md "Policies", models PolicyCreate, PolicyoODCreate;
// client-expectations.md §2–3): what is sent is echoed as sent.

extension CBR {
    /// PolicyoODCreate: retention and full-backup rules; only the keys sent are kept.
    public struct OperationDefinition: Codable, Sendable, Equatable, SchemaRefined {
        public static var refinements: [String: Schema] {
            ["max_backups": .integer(minimum: -1, maximum: 99_999), "retention_duration_days": .integer(minimum: -1, maximum: 99_999),
             "day_backups": .integer(minimum: 0, maximum: 100), "week_backups": .integer(minimum: 0, maximum: 100),
             "month_backups": .integer(minimum: 0, maximum: 100), "year_backups": .integer(minimum: 0, maximum: 100),
             "full_backup_interval": .integer(minimum: -1, maximum: 100)]
        }
        public var maxBackups: Int?
        public var retentionDurationDays: Int?
        public var dayBackups: Int?
        public var weekBackups: Int?
        public var monthBackups: Int?
        public var yearBackups: Int?
        /// `UTC+08:00`: the day, week, month and year the long-term rules count in.
        public var timezone: String?
        public var fullBackupInterval: Int?
        /// Replication only.
        public var destinationProjectID: String?
        public var destinationRegion: String?
        public var enableAcceleration: Bool?
        public var crossAccountURN: String?
        public var advancedRetentionRules: JSONObject?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case timezone
            case maxBackups = "max_backups", retentionDurationDays = "retention_duration_days", dayBackups = "day_backups", weekBackups = "week_backups"
            case monthBackups = "month_backups", yearBackups = "year_backups", fullBackupInterval = "full_backup_interval"
            case destinationProjectID = "destination_project_id", destinationRegion = "destination_region", enableAcceleration = "enable_acceleration"
            case crossAccountURN = "cross_account_urn", advancedRetentionRules = "advanced_retention_rules"
        }
    }

    public struct TriggerProperties: Codable, Sendable {
        public var pattern: [String]
        public var startWindowMinutes: Int?
        public init(pattern: [String]) { self.pattern = pattern }
        enum CodingKeys: String, CodingKey { case pattern, startWindowMinutes = "start_window_minutes" }
    }

    public struct TriggerInput: Codable, Sendable {
        public var properties: TriggerProperties
        public init(_ properties: TriggerProperties) { self.properties = properties }
    }

    /// `POST /v3/{project_id}/policies`.
    public struct PolicyCreateRequest: Codable, Sendable {
        public var policy: PolicyCreate
        public init(_ policy: PolicyCreate) { self.policy = policy }
    }

    public struct PolicyCreate: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] {
            ["name": .string(minLength: 1, maxLength: 64), "operation_type": .string(values: ["backup", "replication"])]
        }
        public var name: String
        public var enabled: Bool?
        public var operationType: String
        public var operationDefinition: OperationDefinition
        public var trigger: TriggerInput
        public init(name: String, operationType: String, operationDefinition: OperationDefinition, trigger: TriggerInput) {
            self.name = name
            self.operationType = operationType
            self.operationDefinition = operationDefinition
            self.trigger = trigger
        }
        enum CodingKeys: String, CodingKey {
            case name, enabled, trigger
            case operationType = "operation_type", operationDefinition = "operation_definition"
        }
    }

    /// `PUT /v3/{project_id}/policies/{policy_id}`: what is not sent keeps its value.
    public struct PolicyUpdateRequest: Codable, Sendable {
        public var policy: PolicyUpdate
        public init(_ policy: PolicyUpdate) { self.policy = policy }
    }

    public struct PolicyUpdate: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] { ["name": .string(minLength: 1, maxLength: 64)] }
        public var name: String?
        public var enabled: Bool?
        public var operationDefinition: OperationDefinition?
        public var trigger: TriggerInput?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case name, enabled, trigger
            case operationDefinition = "operation_definition"
        }
    }

    public struct Policy: Codable, Sendable {
        public var id = ""
        public var name = ""
        public var enabled = true
        public var operationType = "backup"
        public var operationDefinition = OperationDefinition()
        public var trigger = Trigger()
        public var associatedVaults: [AssociatedVault] = []
        public var policyType = "custom_policy"
        public init() {}

        public struct Trigger: Codable, Sendable {
            public var id = ""
            public var name = "default"
            public var type = "time"
            public var properties = Properties()
            public init() {}
        }

        public struct Properties: Codable, Sendable {
            public var pattern: [String] = []
            /// `2020-01-08 09:59:49`: when the schedule started.
            public var startTime = ""
            public var startWindowMinutes: Int?
            public init() {}
            enum CodingKeys: String, CodingKey { case pattern, startTime = "start_time", startWindowMinutes = "start_window_minutes" }
        }

        public struct AssociatedVault: Codable, Sendable {
            public var vaultID: String
            public var destinationVaultID: String?
            public init(vaultID: String) { self.vaultID = vaultID }
            enum CodingKeys: String, CodingKey { case vaultID = "vault_id", destinationVaultID = "destination_vault_id" }
        }

        enum CodingKeys: String, CodingKey {
            case id, name, enabled, trigger
            case operationType = "operation_type", operationDefinition = "operation_definition", associatedVaults = "associated_vaults", policyType = "policy_type"
        }
    }

    public struct PolicyResponse: Codable, Sendable {
        public var policy: Policy
        public init(_ policy: Policy) { self.policy = policy }
    }

    public struct PolicyList: Codable, Sendable {
        public var policies: [Policy]
        public var count: Int
        public init(_ policies: [Policy], count: Int) {
            self.policies = policies
            self.count = count
        }
    }

    /// `POST /v3/{project_id}/vaults/{vault_id}/associatepolicy`.
    public struct AssociatePolicyRequest: Codable, Sendable {
        public var policyID: String?
        public var destinationVaultID: String?
        public var addPolicyIDs: [String]?
        public init(policyID: String) { self.policyID = policyID }
        enum CodingKeys: String, CodingKey { case policyID = "policy_id", destinationVaultID = "destination_vault_id", addPolicyIDs = "add_policy_ids" }
    }

    /// `POST /v3/{project_id}/vaults/{vault_id}/dissociatepolicy`.
    public struct DissociatePolicyRequest: Codable, Sendable {
        public var policyID: String
        public init(policyID: String) { self.policyID = policyID }
        enum CodingKeys: String, CodingKey { case policyID = "policy_id" }
    }

    public struct VaultPolicy: Codable, Sendable {
        public var vaultID: String
        public var policyID: String
        public var destinationVaultID: String?
        public init(vaultID: String, policyID: String) {
            self.vaultID = vaultID
            self.policyID = policyID
        }
        enum CodingKeys: String, CodingKey { case vaultID = "vault_id", policyID = "policy_id", destinationVaultID = "destination_vault_id" }
    }

    public struct AssociatePolicyResponse: Codable, Sendable {
        public var associatePolicy: VaultPolicy
        public init(_ binding: VaultPolicy) { associatePolicy = binding }
        enum CodingKeys: String, CodingKey { case associatePolicy = "associate_policy" }
    }

    public struct DissociatePolicyResponse: Codable, Sendable {
        public var dissociatePolicy: VaultPolicy
        public init(_ binding: VaultPolicy) { dissociatePolicy = binding }
        enum CodingKeys: String, CodingKey { case dissociatePolicy = "dissociate_policy" }
    }
}

/// Coffer extension `POST /v3/{project_id}/coffer/policies/simulate`: what a
/// policy would back up and keep over a span, without touching anything.
public enum PolicySimulation {
    public struct Request: Codable, Sendable {
        public var simulate: Body
        public init(_ simulate: Body) { self.simulate = simulate }
    }

    public struct Body: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] { ["days": .integer(minimum: 1, maximum: 366)] }
        /// A stored policy, or `policy` given inline.
        public var policyID: String?
        public var policy: Inline?
        /// `2026-01-31T12:00:00Z`; default now.
        public var start: String?
        /// Default `start` plus `days` (default 30).
        public var end: String?
        public var days: Int?
        public init() {}
        enum CodingKeys: String, CodingKey { case policy, start, end, days, policyID = "policy_id" }
    }

    public struct Inline: Codable, Sendable {
        public var operationDefinition: CBR.OperationDefinition?
        public var trigger: CBR.TriggerInput
        public init(operationDefinition: CBR.OperationDefinition?, trigger: CBR.TriggerInput) {
            self.operationDefinition = operationDefinition
            self.trigger = trigger
        }
        enum CodingKeys: String, CodingKey { case trigger, operationDefinition = "operation_definition" }
    }

    public struct Backup: Codable, Sendable {
        public var createdAt: String
        public var kept: Bool
        /// The rules that keep it at the end of the span (`max_backups`, `day_backups`, ..., `no limit`).
        public var keptBy: [String]
        public var deletedAt: String?
        public var expiresAt: String?
        public init(createdAt: String, kept: Bool, keptBy: [String], deletedAt: String?, expiresAt: String?) {
            self.createdAt = createdAt
            self.kept = kept
            self.keptBy = keptBy
            self.deletedAt = deletedAt
            self.expiresAt = expiresAt
        }
        enum CodingKeys: String, CodingKey { case kept, createdAt = "created_at", keptBy = "kept_by", deletedAt = "deleted_at", expiresAt = "expires_at" }
    }

    public struct Result: Codable, Sendable {
        public var start: String
        public var end: String
        public var created: Int
        public var kept: Int
        public var backups: [Backup]
        public init(start: String, end: String, backups: [Backup]) {
            self.start = start
            self.end = end
            self.backups = backups
            created = backups.count
            kept = backups.filter(\.kept).count
        }
    }

    public struct Response: Codable, Sendable {
        public var simulation: Result
        public init(_ simulation: Result) { self.simulation = simulation }
    }
}
