import CofferBlobStore
import CofferModel
import CofferCrypto
import CofferRepository
import CofferSystem
import Foundation

/// What a client sends to create a vault (CBR VaultCreate), already typed.
public struct VaultInput: Sendable {
    public struct Billing: Sendable {
        public var consistentLevel: String
        public var objectType: String
        public var protectType: String
        public var size: Int
        public var cloudType: String?
        public var chargingMode: String?
        public init(consistentLevel: String, objectType: String, protectType: String, size: Int, cloudType: String? = nil, chargingMode: String? = nil) {
            self.consistentLevel = consistentLevel
            self.objectType = objectType
            self.protectType = protectType
            self.size = size
            self.cloudType = cloudType
            self.chargingMode = chargingMode
        }
    }
    public struct Resource: Sendable {
        public var id: String
        public var type: String
        public var extraInfo: String
        public init(id: String, type: String, extraInfo: String = "{}") {
            self.id = id
            self.type = type
            self.extraInfo = extraInfo
        }
    }

    public var name: String
    public var description: String = ""
    public var billing: Billing
    public var resources: [Resource] = []
    public var tags: [Tag]?
    public var backupPolicyID: String?
    public var autoBind = false
    public var autoExpand = false
    public var smnNotify = true
    public var threshold = 80
    public var locked = false
    public var availabilityZone = ""
    public var enterpriseProjectID = "0"
    public var backupNamePrefix = ""

    public init(name: String, billing: Billing) {
        self.name = name
        self.billing = billing
    }
}

public struct VaultUpdateInput: Sendable {
    public var name: String?
    public var size: Int?
    public var consistentLevel: String?
    public var autoBind: Bool?
    public var autoExpand: Bool?
    public var smnNotify: Bool?
    public var threshold: Int?
    public var locked: Bool?
    public init() {}
}

public struct VaultView: Sendable {
    public var record: VaultRecord
    public var resources: [(binding: VaultResourceRecord, resource: ResourceView)]
}

/// CBR vaults: each owns one encrypted repository under the data directory;
/// resources of the vault's object type are bound to at most one vault.
public final class VaultService: @unchecked Sendable {
    let catalog: any Catalog
    var store: any VaultStore { catalog.vaults }
    let resources: ResourceService
    var resourceStore: any ResourceStore { catalog.resources }
    let secrets: SecretBox
    let clock: any Clock
    let dataDirectory: String
    let bindingGate = AsyncBudget(capacity: 1)
    /// Every vault repository also opens with this key (disaster recovery without the catalog).
    let masterKey: [UInt8]?

    /// Where new vaults' repositories go, one per vault under it (a blob-store URL; existing vaults keep the URL they recorded).
    public let repositoryBase: String
    /// Opens repository URLs (local ones, and the remote schemes the composition root registers).
    public let stores: BlobStoreFactory

    /// `repositoryBase` defaults to DATA_DIR/vaults on local disk.
    public init(catalog: any Catalog, resources: ResourceService, secrets: SecretBox, dataDirectory: String, clock: any Clock = SystemClock(),
                masterKey: [UInt8]? = nil, repositoryBase: String? = nil, stores: BlobStoreFactory = BlobStoreFactory()) {
        self.repositoryBase = repositoryBase.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? "file://" + dataDirectory + "/vaults"
        self.stores = stores
        self.masterKey = masterKey
        self.catalog = catalog
        self.resources = resources
        self.secrets = secrets
        self.dataDirectory = dataDirectory
        self.clock = clock
    }

    public static let objectTypes = ["server", "disk", "turbo", "workspace", "vmware", "rds", "file"]
    public static let supportedObjectTypes: [String: ResourceType] = ["server": .server, "disk": .volume, "turbo": .fileSystem]
    public static let providerIDs = ["server": "0daac4c5-6707-4851-97ba-169e36266b66", "disk": "d1603440-187d-4516-af25-121250c7cc97",
                                     "turbo": "3f3c3220-245c-4805-b811-758870015881"]
    public static let specCodes = ["server": "vault.backup.server.normal", "disk": "vault.backup.volume.normal", "turbo": "vault.backup.turbo.normal"]

    static func notFound(_ id: String) -> ServiceError { ServiceError(.vaultNotFound, "vault \(id) does not exist") }

    /// Checks resources against the inventory and the vault's object type.
    func checkResources(_ list: [VaultInput.Resource], project: String, objectType: String, field: String) async throws {
        guard let wanted = VaultService.supportedObjectTypes[objectType] else { return }
        var seen = Set<String>()
        for (i, r) in list.enumerated() {
            guard seen.insert(r.id).inserted else { throw ServiceError(.listedTwice, "\(field)[\(i)].id \(r.id) is listed twice") }
            guard let existing = try await resourceStore.get(project: project, id: r.id), existing.parentID == nil else {
                throw ServiceError(.resourceNotFound, "\(field)[\(i)].id \(r.id): resource does not exist")
            }
            guard r.type == existing.type, existing.type == wanted.rawValue else {
                throw ServiceError(.resourceTypeMismatch, "\(field)[\(i)]: resource type \(r.type) does not match the vault's object type \(objectType) (\(wanted.rawValue))")
            }
            if try await store.vault(ofResource: r.id) != nil {
                throw ServiceError(.resourceAlreadyBound, "\(field)[\(i)].id \(r.id) is already in a vault")
            }
        }
    }

    /// The vault's repository URL (vaults made before vaults recorded one live under the base by id).
    public func repositoryURL(_ vault: VaultRecord) -> String { vault.repositoryURL ?? repositoryBase + "/" + vault.id }

    func blobStore(_ vault: VaultRecord) throws -> BlobStore { try stores.open(url: repositoryURL(vault)) }

    /// Removes a repository whole, best effort: the catalog change it follows
    /// stands either way (a leftover costs space; `coffer repo` can still remove it).
    func destroyRepository(url: String) async { try? await stores.open(url: url).destroy() }

    /// `internalObjectType`: a vault the server makes for another API (RDS's `rds` vaults), not through CBR.
    public func create(caller: Principal, _ input: VaultInput, internalObjectType: Bool = false) async throws -> VaultView {
        try Validate.cbrName(input.name, field: "vault.name")
        try Validate.description(input.description, field: "vault.description", max: 64)
        let b = input.billing
        guard ["app_consistent", "crash_consistent"].contains(b.consistentLevel) else { throw ServiceError.validation("vault.billing.consistent_level must be app_consistent or crash_consistent") }
        guard VaultService.objectTypes.contains(b.objectType) else { throw ServiceError.validation("vault.billing.object_type must be one of \(VaultService.objectTypes.joined(separator: ", "))") }
        guard VaultService.supportedObjectTypes[b.objectType] != nil || internalObjectType else {
            throw ServiceError.validation("vault.billing.object_type \(b.objectType) is not supported by this server (server, disk, turbo)")
        }
        guard ["backup", "replication"].contains(b.protectType) else { throw ServiceError.validation("vault.billing.protect_type must be backup or replication") }
        guard b.protectType == "backup" else { throw ServiceError.validation("vault.billing.protect_type replication is not supported by this server yet") }
        guard (10...10_485_760).contains(b.size) else { throw ServiceError(.capacityOutOfRange, "vault.billing.size must be 10 to 10485760 (GB)") }
        if let c = b.cloudType, !["public", "hybrid"].contains(c) { throw ServiceError.validation("vault.billing.cloud_type must be public or hybrid") }
        if let m = b.chargingMode {
            guard ["post_paid", "pre_paid"].contains(m) else { throw ServiceError.validation("vault.billing.charging_mode must be post_paid or pre_paid") }
            guard m == "post_paid" else { throw ServiceError.validation("vault.billing.charging_mode pre_paid is not available on a self-hosted server") }
        }
        guard (1...100).contains(input.threshold) else { throw ServiceError.validation("vault.threshold must be 1 to 100") }
        guard input.backupNamePrefix.count <= 32 else { throw ServiceError.validation("vault.backup_name_prefix must be at most 32 characters") }
        guard input.availabilityZone.count <= 32 else { throw ServiceError.validation("vault.availability_zone must be at most 32 characters") }
        guard input.resources.count <= 255 else { throw ServiceError(.tooManyResources, "vault.resources may list at most 255 resources") }
        if let tags = input.tags { try Validate.tags(tags, field: "vault.tags", characters: .printable) }
        if let policy = input.backupPolicyID {
            guard let p = try await catalog.policies.get(project: caller.projectID, id: policy) else {
                throw ServiceError(.policyNotFound, "vault.backup_policy_id \(policy): policy does not exist")
            }
            guard p.operationType == "backup" else { throw ServiceError(.policyNotApplicable, "vault.backup_policy_id \(policy) is not a backup policy") }
        }
        try await checkResources(input.resources, project: caller.projectID, objectType: b.objectType, field: "vault.resources")

        let id = UUID().uuidString.lowercased()
        let key = randomBytes(32)
        let url = repositoryBase + "/" + id
        // The repository first: a vault row never points at nothing.
        do {
            let repository = try await Repository.initialize(store: try stores.open(url: url), secret: .keyFile(key))
            try await addMasterKeySlot(repository)
        } catch {
            throw ServiceError(.internalFailure, "cannot create the vault's repository", detail: "\(error)")
        }
        let now = clock.now()
        let tags = String(decoding: try JSONEncoder().encode(input.tags ?? []), as: UTF8.self)
        let record = VaultRecord(id: id, projectID: caller.projectID, userID: caller.userID, name: input.name, description: input.description,
                                 objectType: b.objectType, protectType: b.protectType, consistentLevel: b.consistentLevel, cloudType: b.cloudType ?? "public",
                                 chargingMode: "post_paid", sizeGB: b.size, status: "available", autoBind: input.autoBind, autoExpand: input.autoExpand,
                                 smnNotify: input.smnNotify, threshold: input.threshold, locked: input.locked, availabilityZone: input.availabilityZone,
                                 enterpriseProjectID: input.enterpriseProjectID, backupNamePrefix: input.backupNamePrefix, policyID: input.backupPolicyID, tags: tags,
                                 bindRules: "{\"tags\":[]}", usedBytes: 0, keySealed: secrets.seal(key.map { String(format: "%02x", $0) }.joined(), context: "vault-key:\(id)"),
                                 createdAt: now, updatedAt: now, repositoryURL: url)
        let bindings = input.resources.enumerated().map { VaultResourceRecord(resourceID: $1.id, vaultID: id, projectID: caller.projectID, extraInfo: $1.extraInfo, position: $0) }
        do {
            try await withinQuota { try await self.store.insert(record, resources: bindings) }
        } catch let e as CatalogError where e.code == .conflict {
            await destroyRepository(url: url)
            throw ServiceError(.resourceAlreadyBound, e.description)
        } catch {
            await destroyRepository(url: url)
            throw error
        }
        return try await view(project: caller.projectID, id: id)
    }

    public func view(project: String, id: String) async throws -> VaultView {
        guard let v = try await store.get(project: project, id: id) else { throw VaultService.notFound(id) }
        return try await view(v)
    }

    func view(_ v: VaultRecord) async throws -> VaultView {
        var bound: [(VaultResourceRecord, ResourceView)] = []
        for b in try await store.resources(vault: v.id) {
            if let r = try? await resources.view(project: v.projectID, id: b.resourceID) { bound.append((b, r)) }
        }
        return VaultView(record: v, resources: bound)
    }

    public func list(project: String, filter: VaultFilter, offset: Int, limit: Int) async throws -> (items: [VaultView], total: Int) {
        let (rows, total) = try await store.list(project: project, filter: filter, offset: offset, limit: limit)
        var out: [VaultView] = []
        for r in rows { out.append(try await view(r)) }
        return (out, total)
    }

    public func update(caller: Principal, id: String, _ input: VaultUpdateInput) async throws -> VaultView {
        guard var v = try await store.get(project: caller.projectID, id: id) else { throw VaultService.notFound(id) }
        if let name = input.name { try Validate.cbrName(name, field: "vault.name"); v.name = name }
        if let size = input.size {
            guard (1...10_485_760).contains(size) else { throw ServiceError(.capacityOutOfRange, "vault.billing.size must be 1 to 10485760 (GB)") }
            guard Int64(size) << 30 >= v.usedBytes else {
                throw ServiceError(.capacityOutOfRange, "vault.billing.size \(size) GB is smaller than what the vault already uses")
            }
            if size > v.sizeGB { try await withinQuota { try await catalog.quotas.checkResize(project: v.projectID, from: v.sizeGB, to: size) } }
            v.sizeGB = size
        }
        if let c = input.consistentLevel {
            guard ["app_consistent", "crash_consistent"].contains(c) else { throw ServiceError.validation("vault.billing.consistent_level must be app_consistent or crash_consistent") }
            v.consistentLevel = c
        }
        if let t = input.threshold {
            guard (1...100).contains(t) else { throw ServiceError.validation("vault.threshold must be 1 to 100") }
            v.threshold = t
        }
        if let b = input.autoBind { v.autoBind = b }
        if let b = input.autoExpand { v.autoExpand = b }
        if let b = input.smnNotify { v.smnNotify = b }
        if let l = input.locked {
            guard l || !v.locked else { throw ServiceError(.vaultLocked, "a locked vault cannot be unlocked") }
            v.locked = l
        }
        v.updatedAt = clock.now()
        try await store.update(v)
        return try await view(v)
    }

    public func delete(caller: Principal, id: String) async throws {
        guard let v = try await store.get(project: caller.projectID, id: id) else { throw VaultService.notFound(id) }
        guard ["available", "error"].contains(v.status) else {
            throw ServiceError(.vaultNotDeletable, "vault \(id) cannot be deleted while its status is \(v.status)")
        }
        try await store.delete(project: caller.projectID, id: id)
        await destroyRepository(url: repositoryURL(v))
    }

    public func addResources(caller: Principal, id: String, _ list: [VaultInput.Resource]) async throws -> [String] {
        guard let v = try await store.get(project: caller.projectID, id: id) else { throw VaultService.notFound(id) }
        guard (1...256).contains(list.count) else { throw ServiceError.validation("resources must list 1 to 256 resources") }
        try await checkResources(list, project: caller.projectID, objectType: v.objectType, field: "resources")
        let existing = try await store.resources(vault: id)
        guard existing.count + list.count <= 255 else { throw ServiceError(.tooManyResources, "a vault holds at most 255 resources") }
        let start = (existing.map(\.position).max() ?? -1) + 1
        do {
            try await store.addResources(list.enumerated().map { VaultResourceRecord(resourceID: $1.id, vaultID: id, projectID: caller.projectID, extraInfo: $1.extraInfo, position: start + $0) })
        } catch let e as CatalogError where e.code == .conflict {
            throw ServiceError(.resourceAlreadyBound, e.description)
        }
        return list.map(\.id)
    }

    public func removeResources(caller: Principal, id: String, _ ids: [String]) async throws -> [String] {
        guard try await store.get(project: caller.projectID, id: id) != nil else { throw VaultService.notFound(id) }
        guard (1...256).contains(ids.count) else { throw ServiceError.validation("resource_ids must list 1 to 256 ids") }
        let bound = Set(try await store.resources(vault: id).map(\.resourceID))
        for (i, rid) in ids.enumerated() where !bound.contains(rid) {
            throw ServiceError(.resourceNotInVault, "resource_ids[\(i)] \(rid) is not in the vault")
        }
        try await store.removeResources(vault: id, ids: ids)
        return ids
    }

    /// The vault's repository, opened with the vault's key.
    public func openRepository(_ vault: VaultRecord) async throws -> Repository {
        let hex = try secrets.open(vault.keySealed, context: "vault-key:\(vault.id)")
        var key: [UInt8] = []
        var it = hex.makeIterator()
        while let a = it.next(), let b = it.next(), let byte = UInt8(String([a, b]), radix: 16) { key.append(byte) }
        return try await Repository.open(store: try blobStore(vault), secret: .keyFile(key))
    }

    public func record(id: String) async throws -> VaultRecord? { try await store.get(id: id) }

    /// The vault a resource is bound to, if any.
    public func vaultID(ofResource id: String) async throws -> String? { try await store.vault(ofResource: id) }

    /// Sets the vault's used bytes from what its repository actually stores.
    /// `sample`: also keep it in the vault's history (false when the backups' states are about to change: `sampleUsage` follows).
    public func refreshUsage(vault: String, repository: Repository, sample: Bool = true) async throws {
        try await store.setUsage(vault: vault, bytes: try await repository.statistics().packBytes, at: sample ? clock.now().epochMilliseconds : nil)
    }

    /// Keeps the vault's current use, and what its available backups protect now, in its history.
    public func sampleUsage(vault: String) async throws {
        guard let record = try await store.get(id: vault) else { return }
        try await store.setUsage(vault: vault, bytes: record.usedBytes, at: clock.now().epochMilliseconds)
    }

    /// The vault a resource is bound to; otherwise binds it to the project's
    /// vault named `name` (made on first use, auto_expand). CSBS and RDS keep
    /// their backups this way. One at a time, so two first uses make one vault.
    public func vaultBinding(_ resource: ResourceView, caller: Principal, name: String, objectType: String, description: String) async throws -> String {
        if let bound = try await store.vault(ofResource: resource.record.id) { return bound }
        await bindingGate.acquire(1)
        defer { bindingGate.release(1) }
        if let bound = try await store.vault(ofResource: resource.record.id) { return bound }
        var filter = VaultFilter()
        filter.name = name
        filter.objectType = objectType
        let vaultID: String
        if let existing = try await store.list(project: caller.projectID, filter: filter, offset: 0, limit: 10).items.first(where: { $0.name == name }) {
            vaultID = existing.id
        } else {
            var input = VaultInput(name: name, billing: .init(consistentLevel: "crash_consistent", objectType: objectType, protectType: "backup", size: 100))
            input.description = description
            input.autoExpand = true
            vaultID = try await create(caller: caller, input, internalObjectType: VaultService.supportedObjectTypes[objectType] == nil).record.id
        }
        _ = try await addResources(caller: caller, id: vaultID, [VaultInput.Resource(id: resource.record.id, type: resource.record.type)])
        return vaultID
    }

    /// auto_expand: a vault whose usage passed its size grows to the next whole GB.
    public func expandToUsage(vault id: String) async throws {
        guard var v = try await store.get(id: id) else { return }
        let needed = Int((v.usedBytes + (1 << 30) - 1) >> 30)
        guard needed > v.sizeGB else { return }
        v.sizeGB = needed
        v.updatedAt = clock.now()
        try await store.update(v)
    }

    /// The vault's measured use over time, oldest first (the console's charts).
    public func usageHistory(project: String, id: String, limit: Int = 500) async throws -> [VaultUsageSample] {
        guard try await store.get(project: project, id: id) != nil else { throw VaultService.notFound(id) }
        return try await store.usageHistory(vault: id, limit: limit)
    }

    public func summary(project: String) async throws -> (sizeGB: Int, usedBytes: Int64) {
        try await store.summary(project: project)
    }
}
