import Foundation

public struct VaultRecord: Sendable, Equatable, Codable {
    public var id: String
    public var projectID: String
    public var userID: String
    public var name: String
    public var description: String
    public var objectType: String
    public var protectType: String
    public var consistentLevel: String
    public var cloudType: String
    public var chargingMode: String
    public var sizeGB: Int
    public var status: String
    public var autoBind: Bool
    public var autoExpand: Bool
    public var smnNotify: Bool
    public var threshold: Int
    public var locked: Bool
    public var availabilityZone: String
    public var enterpriseProjectID: String
    public var backupNamePrefix: String
    public var policyID: String?
    /// JSON arrays, kept as text: `[{"key", "value"}]`.
    public var tags: String
    public var bindRules: String
    public var usedBytes: Int64
    public var keySealed: String
    /// Where the vault's repository lives (`file:///…`, later `s3://…`); every store is opened from it.
    /// Nil for vaults made before vaults named their repository (they live under the data directory by id).
    public var repositoryURL: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, projectID: String, userID: String, name: String, description: String, objectType: String, protectType: String,
                consistentLevel: String, cloudType: String, chargingMode: String, sizeGB: Int, status: String, autoBind: Bool, autoExpand: Bool,
                smnNotify: Bool, threshold: Int, locked: Bool, availabilityZone: String, enterpriseProjectID: String, backupNamePrefix: String,
                policyID: String?, tags: String, bindRules: String, usedBytes: Int64, keySealed: String, createdAt: Date, updatedAt: Date, repositoryURL: String?) {
        self.id = id
        self.projectID = projectID
        self.userID = userID
        self.name = name
        self.description = description
        self.objectType = objectType
        self.protectType = protectType
        self.consistentLevel = consistentLevel
        self.cloudType = cloudType
        self.chargingMode = chargingMode
        self.sizeGB = sizeGB
        self.status = status
        self.autoBind = autoBind
        self.autoExpand = autoExpand
        self.smnNotify = smnNotify
        self.threshold = threshold
        self.locked = locked
        self.availabilityZone = availabilityZone
        self.enterpriseProjectID = enterpriseProjectID
        self.backupNamePrefix = backupNamePrefix
        self.policyID = policyID
        self.tags = tags
        self.bindRules = bindRules
        self.usedBytes = usedBytes
        self.keySealed = keySealed
        self.repositoryURL = repositoryURL
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

extension VaultRecord {
    /// The share of its size the repository uses, in percent to one decimal (0 for a sizeless vault; may pass 100).
    public var usedPercent: Double {
        let capacity = Double(sizeGB) * 1_073_741_824
        return capacity > 0 ? (Double(usedBytes) * 1000 / capacity).rounded() / 10 : 0
    }
}

public struct VaultResourceRecord: Sendable, Equatable {
    public var resourceID: String
    public var vaultID: String
    public var projectID: String
    public var extraInfo: String
    public var position: Int
    public init(resourceID: String, vaultID: String, projectID: String, extraInfo: String, position: Int) {
        self.resourceID = resourceID
        self.vaultID = vaultID
        self.projectID = projectID
        self.extraInfo = extraInfo
        self.position = position
    }
}

public struct VaultFilter: Sendable {
    public var name: String?
    public var objectType: String?
    public var protectType: String?
    public var cloudType: String?
    public var status: String?
    public var policyID: String?
    public var ids: [String] = []
    public var resourceIDs: [String] = []
    public init() {}
}
