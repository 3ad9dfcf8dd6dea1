import CofferBlobStore
import CofferModel
import CofferCrypto
import CofferEngine
import CofferRepository
import CofferSystem
import Foundation

/// What a vault's repository keeps about each backup so the catalog can be
/// rebuilt from the repositories alone (design §3: the catalog is a query
/// layer). Stored as the snapshot label `coffer.catalog`, inside the sealed
/// snapshot, so it is as private as the data.
public struct RecoveryDocument: Codable, Sendable {
    public static let label = "coffer.catalog"
    public var version = 1
    public var projectID: String
    public var projectName: String
    /// The vault row without its sealed key (a rebuilt vault gets a new one).
    public var vault: VaultRecord
    /// The resource backed up; for a server's disk also the server and its other disks.
    public var resources: [ResourceRecord]
    /// A database instance's engine and sealed connection (sealed under the master key).
    public var database: DatabaseInstanceRecord?
    public var checkpoint: CheckpointRecord
    /// This snapshot's backup row, as it was when the backup ran.
    public var backup: BackupRecord
    /// For a server's disk: the server backup it belongs to.
    public var parent: BackupRecord?

    /// The resource a vault binds: the server for one of its disks.
    var topLevelResourceID: String {
        backup.parentId == nil ? backup.resourceId : (resources.first { $0.parentID == nil }?.id ?? backup.resourceId)
    }
}

extension VaultService {
    /// Adds the master key as a key of the vault's repository, so the master
    /// key alone opens it (`coffer repo … --master-key-file`, catalog rebuild).
    func addMasterKeySlot(_ repository: Repository) async throws {
        guard let masterKey else { return }
        _ = try await repository.addKey(.keyFile(masterKey), cheapKDF: true)
    }

    /// Vaults made before key slots existed get one now. Returns how many were added.
    @discardableResult
    public func ensureMasterKeySlots() async throws -> Int {
        guard let masterKey else { return 0 }
        var added = 0
        for vault in try await store.all() {
            guard let blobStore = try? blobStore(vault) else { continue }
            if (try? await Repository.open(store: blobStore, secret: .keyFile(masterKey))) != nil { continue }
            guard let repository = try? await openRepository(vault) else { continue }
            try await addMasterKeySlot(repository)
            added += 1
        }
        return added
    }
}

extension JobRuntime {
    /// The labels a backup's snapshot carries for disaster recovery.
    func recoveryLabels(for row: BackupRecord, resource: ResourceView, vault: VaultRecord) async throws -> [String: String] {
        let project = try await resources.identity.project(id: row.projectId)
        var records = [resource.record] + resource.children.map(\.record)
        var parent: BackupRecord?
        if let parentID = row.parentId {
            parent = try await store.backup(id: parentID)
            if let serverID = resource.record.parentID, let server = try? await resources.view(project: row.projectId, id: serverID) {
                records = [server.record] + server.children.map(\.record)
            }
        }
        guard let checkpoint = try await store.checkpoint(project: row.projectId, id: row.checkpointId) else { return [:] }
        var vaultCopy = vault
        vaultCopy.keySealed = ""
        let document = RecoveryDocument(projectID: row.projectId, projectName: project?.name ?? row.projectId, vault: vaultCopy, resources: records,
                                        database: try await resources.databases.get(resource.record.id), checkpoint: checkpoint, backup: row, parent: parent)
        return [RecoveryDocument.label: String(decoding: try JSONEncoder().encode(document), as: UTF8.self)]
    }
}

/// Rebuilds an empty catalog from the vault repositories under a data
/// directory, opened with the master key: projects (each with a new admin
/// user and access key), vaults (each with a new repository key), resources,
/// checkpoints and backups with their ids, `available`.
public struct CatalogRecovery: Sendable {
    public struct Report: Sendable {
        public var projects: [NewProjectCredentials] = []
        public var vaults = 0
        public var backups = 0
        /// Vaults or snapshots that could not be recovered, each with the reason.
        public var problems: [String] = []
    }

    let identity: IdentityService
    let vaults: VaultService
    let catalog: any Catalog
    let masterKey: [UInt8]
    let clock: any Clock

    public init(identity: IdentityService, vaults: VaultService, catalog: any Catalog,
                masterKey: [UInt8], clock: any Clock = SystemClock()) {
        self.identity = identity
        self.vaults = vaults
        self.catalog = catalog
        self.masterKey = masterKey
        self.clock = clock
    }

    struct Found {
        var document: RecoveryDocument
        var snapshotID: Hash256
        var snapshot: Snapshot
    }

    public func rebuild() async throws -> Report {
        guard try await identity.projects().isEmpty else {
            throw ServiceError(.invalidRequest, "the catalog is not empty: rebuild only into a new catalog (move the old one aside)")
        }
        var report = Report()
        // Every repository under the base: a `<vault id>/config` object marks one.
        let base = vaults.repositoryBase
        let vaultIDs = Set(try await vaults.stores.open(url: base).list(prefix: "").compactMap { object -> String? in
            let parts = object.key.split(separator: "/")
            return parts.count == 2 && parts[1] == ObjectKey.config ? String(parts[0]) : nil
        }).sorted()
        var found: [String: [Found]] = [:]
        for vaultID in vaultIDs {
            let blobStore = try vaults.stores.open(url: base + "/" + vaultID)
            let repository: Repository
            do { repository = try await Repository.open(store: blobStore, secret: .keyFile(masterKey)) } catch {
                report.problems.append("vault \(vaultID): cannot open with the master key: \(error)")
                continue
            }
            let (snapshots, damaged) = try await repository.listSnapshots()
            report.problems += damaged.map { "vault \(vaultID): \($0)" }
            for (id, snapshot) in snapshots {
                guard let text = snapshot.labels?[RecoveryDocument.label] else {
                    report.problems.append("vault \(vaultID): snapshot \(id.hex) has no catalog label (made before labels existed)")
                    continue
                }
                do {
                    let document = try JSONDecoder().decode(RecoveryDocument.self, from: Data(text.utf8))
                    found[document.vault.id, default: []].append(Found(document: document, snapshotID: id, snapshot: snapshot))
                } catch {
                    report.problems.append("vault \(vaultID): snapshot \(id.hex): unreadable catalog label: \(error)")
                }
            }
        }
        // Projects first (the admin project keeps its name and gets the admin user).
        var projects: [String: String] = [:]
        for f in found.values.flatMap({ $0 }) { projects[f.document.projectID] = f.document.projectName }
        try await identity.store.ensureDefaultDomain(now: clock.now())
        for (id, name) in projects.sorted(by: { $0.value < $1.value }) {
            let admin = name == "admin"
            report.projects.append(try await identity.createProject(name: name, description: "rebuilt from the repositories",
                                                                    userName: admin ? "admin" : nil, role: .admin, id: id))
        }
        if projects.values.contains("admin") == false, let created = try await identity.bootstrapIfEmpty() {
            report.projects.append(created)
        }
        var insertedResources = Set<String>()
        for (vaultID, items) in found.sorted(by: { $0.key < $1.key }) {
            // The newest document describes the vault and its resources best.
            let newest = items.max { $0.document.backup.createdAt < $1.document.backup.createdAt }!.document
            var resourceRows: [ResourceRecord] = []
            for f in items.sorted(by: { $0.document.backup.createdAt > $1.document.backup.createdAt }) {
                for r in f.document.resources where !insertedResources.contains(r.id) {
                    insertedResources.insert(r.id)
                    resourceRows.append(r)
                }
            }
            // Parents before children.
            resourceRows.sort { ($0.parentID == nil ? 0 : 1) < ($1.parentID == nil ? 0 : 1) }
            if !resourceRows.isEmpty { try await catalog.resources.insert(resourceRows) { _ in } }
            for f in items { if let db = f.document.database, try await catalog.databases.get(db.resourceId) == nil { try await catalog.databases.insert(db) } }
            // The vault: a new repository key, added beside the master key's slot.
            let key = randomBytes(32)
            let repository = try await Repository.open(store: try vaults.stores.open(url: base + "/" + vaultID), secret: .keyFile(masterKey))
            _ = try await repository.addKey(.keyFile(key), cheapKDF: true)
            var vault = newest.vault
            vault.status = "available"
            vault.repositoryURL = base + "/" + vaultID
            vault.keySealed = vaults.secrets.seal(key.map { String(format: "%02x", $0) }.joined(), context: "vault-key:\(vault.id)")
            let bindings = found.flatMap { $0.value }.reduce(into: [String: (vault: String, at: Int64)]()) { newest, f in
                let id = f.document.topLevelResourceID
                if (newest[id]?.at ?? .min) < f.document.backup.createdAt { newest[id] = (f.document.vault.id, f.document.backup.createdAt) }
            }.filter { $0.value.vault == vaultID }.keys.sorted().enumerated().map {
                VaultResourceRecord(resourceID: $1, vaultID: vault.id, projectID: vault.projectID, extraInfo: "{}", position: $0)
            }
            try await vaults.store.insert(vault, resources: bindings)
            try await vaults.refreshUsage(vault: vault.id, repository: repository)
            // Checkpoints and backups, with their ids, available.
            var checkpoints: [String: CheckpointRecord] = [:]
            var rows: [String: BackupRecord] = [:]
            for f in items {
                var c = f.document.checkpoint
                c.status = .available
                checkpoints[c.id] = c
                var b = f.document.backup
                b.status = .available
                b.snapshotId = f.snapshotID.hex
                b.resourceSize = f.snapshot.summary?.bytesTotal ?? b.resourceSize
                b.protectedAt = b.protectedAt ?? f.snapshot.time.epochMilliseconds
                rows[b.id] = b
                if var parent = f.document.parent {
                    parent.status = .available
                    parent.protectedAt = parent.protectedAt ?? f.snapshot.time.epochMilliseconds
                    if rows[parent.id] == nil { rows[parent.id] = parent }
                }
            }
            // A server backup's size is its disks'.
            let snapshotRows = Array(rows.values)
            for (id, row) in rows where row.parentId == nil && row.snapshotId == nil {
                rows[id]?.resourceSize = snapshotRows.filter { $0.parentId == row.id }.reduce(0) { $0 + $1.resourceSize }
            }
            let recoveredCheckpoints = Array(checkpoints.values), recoveredBackups = Array(rows.values)
            try await catalog.transaction {
                for c in recoveredCheckpoints { try await catalog.backups.insertCheckpoint(c) }
                try await catalog.backups.insertBackups(recoveredBackups)
            }
            report.vaults += 1
            report.backups += rows.values.filter { $0.parentId == nil }.count
        }
        return report
    }
}
