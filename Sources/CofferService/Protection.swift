import CofferModel
import CofferSystem
import Foundation

/// CSBS v1 "protect" (shared/api/csbs-v1-and-rds-v3.md §3) over the same
/// backups as CBR: a CSBS checkpoint is a CBR checkpoint, a checkpoint item
/// is a top-level server backup (its disks are the item's volume backups).
/// A server bound to a vault is backed up into that vault; otherwise it is
/// bound to the project's CSBS vault, made on first use with auto_expand.
public final class ProtectionService: @unchecked Sendable {
    public static let providerID = "fc4d5750-22e7-4798-8a46-f48f62c4c1da"
    public static let vaultName = "csbs_server_backups"
    let backups: BackupService
    let vaults: VaultService
    let resources: ResourceService

    public init(backups: BackupService, vaults: VaultService, resources: ResourceService) {
        self.backups = backups
        self.vaults = vaults
        self.resources = resources
    }

    public struct ProtectInput: Sendable {
        public var name: String?
        public var description = ""
        public var incremental = true
        public var tags: [Tag] = []
        public init() {}
    }

    public static func invalid(_ message: String) -> ServiceError { ServiceError(.invalidRequest, message) }

    public static func checkProvider(_ id: String) throws {
        guard id == providerID else { throw ServiceError(.providerInvalid, "provider invalid: provider_id must be \(providerID)") }
    }


    /// Seed 001's rules for backup_name, description and tags.
    public static func validate(_ input: ProtectInput) throws {
        if let name = input.name { try Validate.wordName(name, field: "protect.backup_name", error: invalid) }
        try Validate.description(input.description, field: "protect.description", max: 255, error: invalid)
        try Validate.tags(input.tags, field: "protect.tags", characters: .word, error: invalid)
    }

    /// The registered server, or CSBS.6000 (404).
    public func server(project: String, id: String) async throws -> ResourceView {
        guard let view = try? await resources.view(project: project, id: id) else {
            throw ServiceError(.resourceNotFound, "server \(id) does not exist")
        }
        guard view.type == .server else { throw ServiceError(.notAServer, "resource \(id) is a \(view.record.type), not an OS::Nova::Server") }
        return view
    }


    /// Backs up one server (all its disks); the item is listable at once as `protecting`.
    public func protect(caller: Principal, serverID: String, _ input: ProtectInput) async throws -> (CheckpointRecord, ResourceView) {
        try ProtectionService.validate(input)
        let server = try await server(project: caller.projectID, id: serverID)
        guard try await !backups.store.hasActiveBackup(resource: serverID) else {
            throw ServiceError(.serverBeingBackedUp, "resource_in_protecting: server \(serverID) is being backed up")
        }
        var checkpoint = CheckpointInput(vaultID: try await vaults.vaultBinding(server, caller: caller, name: ProtectionService.vaultName, objectType: "server",
                                                                                description: "CSBS server backups"))
        checkpoint.resources = [serverID]
        checkpoint.name = input.name
        checkpoint.description = input.description
        checkpoint.incremental = input.incremental
        let tags = input.tags.map { ["key": $0.key, "value": $0.value] }
        checkpoint.tags = String(decoding: JSONWriter.data(tags), as: UTF8.self)
        let (row, _, _) = try await backups.createCheckpoint(caller: caller, checkpoint, nameIsValidated: true)
        return (row, server)
    }

    /// The top-level backups of a checkpoint (its items), or CSBS.3001 (404).
    public func items(project: String, checkpointID: String) async throws -> [BackupRecord] {
        let items = try await backups.store.backups(checkpoint: checkpointID).filter { $0.parentId == nil && $0.projectId == project }
        guard !items.isEmpty else { throw ServiceError(.backupNotFound, "Checkpoint (\(checkpointID)) is not found.") }
        return items
    }

    public func item(project: String, id: String) async throws -> (BackupRecord, [BackupRecord]) {
        guard let b = try await backups.store.backup(project: project, id: id), b.parentId == nil, b.resourceType == ResourceType.server.rawValue else {
            throw ServiceError(.backupNotFound, "Checkpoint_item (\(id)) is not found.")
        }
        return (b, try await backups.store.children(of: b.id))
    }

    /// Deletes a checkpoint's items (or one), asynchronously. Asking again
    /// while they are being deleted is not an error; once gone, 404.
    public func delete(caller: Principal, checkpointID: String, itemID: String?) async throws {
        var items = try await items(project: caller.projectID, checkpointID: checkpointID)
        if let itemID {
            items = items.filter { $0.id == itemID }
            guard !items.isEmpty else { throw ServiceError(.backupNotFound, "Checkpoint_item (\(itemID)) is not found.") }
        }
        for item in items {
            switch item.status {
            case .deleting, .waitingDelete: continue
            case .available, .error: _ = try await backups.delete(caller: caller, id: item.id)
            default: throw ServiceError(.backupNotDeletable, "checkpoint item \(item.id) is \(item.status.rawValue); it can be deleted when available or error")
            }
        }
    }

    public struct VolumeTarget: Sendable {
        public var backupID: String
        public var volumeID: String
        public init(backupID: String, volumeID: String) {
            self.backupID = backupID
            self.volumeID = volumeID
        }
    }

    /// Restores a server backup onto its disks, or onto the mapped volumes. Returns the operation log id.
    public func restore(caller: Principal, checkpointID: String, itemID: String, serverID: String?, volumes: [VolumeTarget], powerOn: Bool) async throws -> String {
        let (item, children) = try await item(project: caller.projectID, id: itemID)
        guard item.checkpointId == checkpointID else { throw ServiceError(.backupNotFound, "Checkpoint_item (\(itemID)) is not in checkpoint \(checkpointID).") }
        guard item.status == .available else { throw ServiceError(.itemNotAvailable, "checkpoint item \(itemID) is \(item.status.rawValue), not available") }
        var input = RestoreInput()
        input.serverID = serverID ?? item.resourceId
        input.powerOn = powerOn
        input.mappings = volumes.isEmpty ? children.map { ($0.id, $0.resourceId) } : volumes.map { ($0.backupID, $0.volumeID) }
        return try await backups.restore(caller: caller, id: itemID, input)
    }

    public struct Check: Sendable {
        public var resourceID: String
        public var resourceType: String
        public var result: Bool
        /// Why not (nil when it can, or when the failure was not the service's own).
        public var reason: Reason?
        public var errorMessage: String
    }

    /// The answer to a check; a failure that is not the answer (the catalog unreachable) is thrown.
    public func checkProtectable(caller: Principal, resourceID: String, resourceType: String) async throws -> Check {
        do {
            guard resourceType == ResourceType.server.rawValue else {
                throw ServiceError(.notAServer, "resource type \(resourceType) is not supported (OS::Nova::Server)")
            }
            let server = try await server(project: caller.projectID, id: resourceID)
            guard !server.children.isEmpty else { throw ServiceError(.serverHasNoDisks, "server \(resourceID) has no disks") }
            if try await backups.store.hasActiveBackup(resource: resourceID) {
                throw ServiceError(.serverBeingBackedUp, "resource_in_protecting: server \(resourceID) is being backed up")
            }
            return Check(resourceID: resourceID, resourceType: resourceType, result: true, reason: nil, errorMessage: "")
        } catch let e as ServiceError {
            return Check(resourceID: resourceID, resourceType: resourceType, result: false, reason: e.reason, errorMessage: e.description)
        }
    }

    public func checkRestorable(caller: Principal, itemID: String, serverID: String, resourceType: String, volumes: [VolumeTarget]) async throws -> Check {
        do {
            let (item, children) = try await item(project: caller.projectID, id: itemID)
            guard item.status == .available else { throw ServiceError(.itemNotAvailable, "checkpoint item \(itemID) is \(item.status.rawValue), not available") }
            let target = try await server(project: caller.projectID, id: serverID)
            let disks = Set(target.children.map(\.record.id))
            let wanted = volumes.isEmpty ? children.map { VolumeTarget(backupID: $0.id, volumeID: $0.resourceId) } : volumes
            for v in wanted {
                guard children.contains(where: { $0.id == v.backupID }) else {
                    throw ServiceError(.backupNotOfItem, "backup \(v.backupID) is not a volume backup of item \(itemID)")
                }
                guard disks.contains(v.volumeID) else {
                    throw ServiceError(.volumeNotOfServer, "volume \(v.volumeID) is not a disk of server \(serverID)")
                }
            }
            return Check(resourceID: serverID, resourceType: resourceType, result: true, reason: nil, errorMessage: "")
        } catch let e as ServiceError {
            return Check(resourceID: serverID, resourceType: resourceType, result: false, reason: e.reason, errorMessage: e.description)
        }
    }
}
