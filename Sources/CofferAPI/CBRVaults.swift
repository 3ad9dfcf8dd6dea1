import Foundation

/// CBR v3 (../shared/api/cbr-v3.md): the shapes the official SDKs,
/// otcextensions, Terraform and Ansible send and read. Response types start
/// from defaults (`init()`) and are filled in by the edge; every property is
/// still decoded as required, so the derived schema names what is always written.
public enum CBR {
    public static let resourceTypes = ["OS::Cinder::Volume", "OS::Nova::Server", "OS::Sfs::Turbo", "OS::RDS::Instance"]
}

extension CBR {
    /// A tag as sent and shown (the service's `Tag` is the value it keeps).
    public struct Tag: Codable, Sendable, Equatable {
        public var key: String
        public var value: String?
        public init(key: String, value: String?) {
            self.key = key
            self.value = value
        }
    }
}

// MARK: vault requests

extension CBR {
    /// A resource bound to a vault (create and addresources).
    public struct VaultResourceInput: Codable, Sendable {
        public var id: String
        public var type: String
        public var name: String?
        public var extraInfo: JSONObject?
        enum CodingKeys: String, CodingKey {
            case id, type, name
            case extraInfo = "extra_info"
        }
        public init(id: String, type: String) {
            self.id = id
            self.type = type
        }
    }

    /// `POST /v3/{project_id}/vaults`.
    public struct VaultCreateRequest: Codable, Sendable {
        public var vault: VaultCreate
        public init(_ vault: VaultCreate) { self.vault = vault }
    }

    public struct VaultCreate: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] { ["name": .string(minLength: 1, maxLength: 64), "description": .string(maxLength: 255)] }
        public var billing: BillingCreate
        public var name: String
        public var description: String?
        public var resources: [VaultResourceInput]
        public var tags: [Tag]?
        public var backupPolicyID: String?
        public var autoBind: Bool?
        public var autoExpand: Bool?
        public var smnNotify: Bool?
        public var threshold: Int?
        public var locked: Bool?
        public var availabilityZone: String?
        public var enterpriseProjectID: String?
        public var backupNamePrefix: String?
        enum CodingKeys: String, CodingKey {
            case billing, name, description, resources, tags, threshold, locked
            case backupPolicyID = "backup_policy_id", autoBind = "auto_bind", autoExpand = "auto_expand", smnNotify = "smn_notify"
            case availabilityZone = "availability_zone", enterpriseProjectID = "enterprise_project_id", backupNamePrefix = "backup_name_prefix"
        }
        public init(name: String, billing: BillingCreate, resources: [VaultResourceInput]) {
            self.name = name
            self.billing = billing
            self.resources = resources
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            billing = try c.decode(BillingCreate.self, forKey: .billing)
            name = try c.decode(String.self, forKey: .name)
            description = try c.decodeIfPresent(String.self, forKey: .description)
            resources = try c.decode([VaultResourceInput].self, forKey: .resources, hintIfMissing: "(send [] for none)")
            tags = try c.decodeIfPresent([Tag].self, forKey: .tags)
            backupPolicyID = try c.decodeIfPresent(String.self, forKey: .backupPolicyID)
            autoBind = try c.decodeIfPresent(Bool.self, forKey: .autoBind)
            autoExpand = try c.decodeIfPresent(Bool.self, forKey: .autoExpand)
            smnNotify = try c.decodeIfPresent(Bool.self, forKey: .smnNotify)
            threshold = try c.decodeIfPresent(Int.self, forKey: .threshold)
            locked = try c.decodeIfPresent(Bool.self, forKey: .locked)
            availabilityZone = try c.decodeIfPresent(String.self, forKey: .availabilityZone)
            enterpriseProjectID = try c.decodeIfPresent(String.self, forKey: .enterpriseProjectID)
            backupNamePrefix = try c.decodeIfPresent(String.self, forKey: .backupNamePrefix)
        }
    }

    public struct BillingCreate: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] {
            ["cloud_type": .string(values: ["public", "hybrid"]), "protect_type": .string(values: ["backup", "replication"])]
        }
        public var size: Int
        public var consistentLevel: String
        public var objectType: String
        public var protectType: String
        public var cloudType: String?
        public var chargingMode: String?
        enum CodingKeys: String, CodingKey {
            case size, consistentLevel = "consistent_level", objectType = "object_type", protectType = "protect_type"
            case cloudType = "cloud_type", chargingMode = "charging_mode"
        }
        public init(size: Int, consistentLevel: String, objectType: String, protectType: String) {
            self.size = size
            self.consistentLevel = consistentLevel
            self.objectType = objectType
            self.protectType = protectType
        }
    }

    /// `PUT /v3/{project_id}/vaults/{vault_id}`: only what is sent changes.
    public struct VaultUpdateRequest: Codable, Sendable {
        public var vault: VaultUpdate
        public init(_ vault: VaultUpdate) { self.vault = vault }
    }

    public struct VaultUpdate: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] { ["name": .string(minLength: 1, maxLength: 64), "threshold": .integer(minimum: 1, maximum: 100)] }
        public var name: String?
        public var billing: BillingUpdate?
        public var autoBind: Bool?
        public var autoExpand: Bool?
        public var smnNotify: Bool?
        public var threshold: Int?
        public var locked: Bool?
        public init() {}
        public struct BillingUpdate: Codable, Sendable {
            public var size: Int?
            public var consistentLevel: String?
            public init(size: Int?) { self.size = size }
            enum CodingKeys: String, CodingKey { case size, consistentLevel = "consistent_level" }
        }
        enum CodingKeys: String, CodingKey {
            case name, billing, threshold, locked
            case autoBind = "auto_bind", autoExpand = "auto_expand", smnNotify = "smn_notify"
        }
    }

    /// `POST …/vaults/{vault_id}/addresources`.
    public struct AddResourcesRequest: Codable, Sendable {
        public var resources: [VaultResourceInput]
        public init(_ resources: [VaultResourceInput]) { self.resources = resources }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            resources = try c.decode([VaultResourceInput].self, forKey: .resources, hintIfMissing: "(send [] for none)")
        }
    }

    /// `POST …/vaults/{vault_id}/removeresources`.
    public struct RemoveResourcesRequest: Codable, Sendable {
        public var resourceIDs: [String]
        enum CodingKeys: String, CodingKey { case resourceIDs = "resource_ids" }
        public init(_ ids: [String]) { resourceIDs = ids }
    }

    /// Coffer extension `POST /v3/{project_id}/coffer/vaults/{vault_id}/verify` (body optional).
    public struct VerifyRequest: Codable, Sendable {
        public var verify: Verify?
        public struct Verify: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] { ["max_duration_seconds": .integer(minimum: 1, maximum: 604_800)] }
            public var subset: String?
            public var maxDurationSeconds: Int?
            enum CodingKeys: String, CodingKey { case subset, maxDurationSeconds = "max_duration_seconds" }
        }
    }
}

// MARK: vault responses

extension CBR {
    public struct Billing: Codable, Sendable {
        public var allocated = 0
        public var chargingMode = ""
        public var cloudType = ""
        public var consistentLevel = ""
        public var objectType = ""
        public var protectType = ""
        public var size = 0
        public var specCode = ""
        public var status = ""
        public var storageUnit = ""
        /// MiB, rounded up.
        public var used = 0
        public var frozenScene = ""
        public var isMultiAZ = false
        @Nullable public var orderID: String?
        @Nullable public var productID: String?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case allocated, size, status, used
            case chargingMode = "charging_mode", cloudType = "cloud_type", consistentLevel = "consistent_level", objectType = "object_type"
            case protectType = "protect_type", specCode = "spec_code", storageUnit = "storage_unit", frozenScene = "frozen_scene"
            case isMultiAZ = "is_multi_az", orderID = "order_id", productID = "product_id"
        }
    }

    public struct VaultResource: Codable, Sendable {
        public var id = ""
        public var name = ""
        public var type = ""
        public var protectStatus = "available"
        /// GiB, rounded up.
        public var size = 0
        public var backupSize = 0
        public var backupCount = 0
        public var autoProtect = false
        public var extraInfo: JSONObject = [:]
        public init() {}
        enum CodingKeys: String, CodingKey {
            case id, name, type, size
            case protectStatus = "protect_status", backupSize = "backup_size", backupCount = "backup_count", autoProtect = "auto_protect", extraInfo = "extra_info"
        }
    }

    public struct Vault: Codable, Sendable, SchemaComponent {
        public static let componentName = "Vault"
        public var id = ""
        public var name = ""
        public var description = ""
        public var projectID = ""
        public var providerID = ""
        public var billing = Billing()
        public var resources: [VaultResource] = []
        public var tags: [Tag] = []
        public var enterpriseProjectID = "0"
        public var autoBind = false
        public var bindRules: JSONObject = [:]
        public var userID = ""
        public var createdAt = ""
        public var updatedAt = ""
        public var autoExpand = false
        public var smnNotify = true
        public var threshold = 80
        public var sysLockSourceService = ""
        public var locked = false
        public var availabilityZone = ""
        public var backupNamePrefix = ""
        public var demandBilling = false
        public var cbcDeleteCount = 0
        public var frozen = false
        /// The bound backup policy (Coffer writes it only when there is one).
        public var policyID: String?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case id, name, description, billing, resources, tags, threshold, locked, frozen
            case projectID = "project_id", providerID = "provider_id", enterpriseProjectID = "enterprise_project_id", autoBind = "auto_bind"
            case bindRules = "bind_rules", userID = "user_id", createdAt = "created_at", updatedAt = "updated_at", autoExpand = "auto_expand"
            case smnNotify = "smn_notify", sysLockSourceService = "sys_lock_source_service", availabilityZone = "availability_zone"
            case backupNamePrefix = "backup_name_prefix", demandBilling = "demand_billing", cbcDeleteCount = "cbc_delete_count", policyID = "policy_id"
        }
    }

    public struct VaultResponse: Codable, Sendable {
        public var vault: Vault
        public init(_ vault: Vault) { self.vault = vault }
    }

    public struct VaultList: Codable, Sendable {
        public var vaults: [Vault]
        public var count: Int
        public var limit: Int
        public var offset: Int
        public init(vaults: [Vault], count: Int, limit: Int, offset: Int) {
            self.vaults = vaults
            self.count = count
            self.limit = limit
            self.offset = offset
        }
    }

    /// `GET /v3/{project_id}/vaults/summary`: GB allocated, MiB used.
    public struct VaultSummary: Codable, Sendable {
        public var size: Int
        public var usedSize: Int
        enum CodingKeys: String, CodingKey { case size, usedSize = "used_size" }
        public init(size: Int, usedSize: Int) {
            self.size = size
            self.usedSize = usedSize
        }
    }

    public struct AddResourcesResponse: Codable, Sendable {
        public var addResourceIDs: [String]
        enum CodingKeys: String, CodingKey { case addResourceIDs = "add_resource_ids" }
        public init(_ ids: [String]) { addResourceIDs = ids }
    }

    public struct RemoveResourcesResponse: Codable, Sendable {
        public var removeResourceIDs: [String]
        enum CodingKeys: String, CodingKey { case removeResourceIDs = "remove_resource_ids" }
        public init(_ ids: [String]) { removeResourceIDs = ids }
    }

    /// Coffer extension: the job a verification runs as.
    public struct OperationLogID: Codable, Sendable {
        public var operationLogID: String
        enum CodingKeys: String, CodingKey { case operationLogID = "operation_log_id" }
        public init(_ id: String) { operationLogID = id }
    }
}

// MARK: vault tags (singular /vault/ paths, as CBR spells them)

extension CBR {
    /// `POST /v3/{project_id}/vault/{vault_id}/tags/action`.
    public struct TagActionRequest: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] { ["action": .string(values: ["create", "delete"])] }
        public var action: String
        public var tags: [Tag]?
        public var sysTags: [FreeObject]?
        enum CodingKeys: String, CodingKey { case action, tags, sysTags = "sys_tags" }
    }

    /// `POST /v3/{project_id}/vault/{vault_id}/tags`.
    public struct TagCreateRequest: Codable, Sendable {
        public var tag: Tag
    }

    /// `GET /v3/{project_id}/vault/{vault_id}/tags`.
    public struct VaultTags: Codable, Sendable {
        public var tags: [Tag]
        public var sysTags: [Tag] = []
        public init(_ tags: [Tag]) { self.tags = tags }
        enum CodingKeys: String, CodingKey { case tags, sysTags = "sys_tags" }
    }

    /// `GET /v3/{project_id}/vault/tags`: every key of the project's vaults with its values.
    public struct ProjectTags: Codable, Sendable {
        public var tags: [Key]
        public struct Key: Codable, Sendable {
            public var key: String
            public var values: [String]
            public init(key: String, values: [String]) {
                self.key = key
                self.values = values
            }
        }
        public init(_ tags: [Key]) { self.tags = tags }
    }
}
