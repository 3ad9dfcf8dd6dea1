import CofferCrypto
import CofferEngine
import CofferModel
import CofferRepository
import Foundation

// Drivers for what lives on the Coffer host's file systems: directories
// (CBR file systems), volumes (disk images, block devices) and servers (a
// named set of volumes, backed up and restored disk by disk).

/// The confinement a restore item runs under, checked again when the job
/// runs: the target resource must still be the project's, the path still
/// inside it, a volume still the file or device that was registered.
func confinedOptions(project: String, item: RestorePlan.Item, context: DriverContext) async throws -> RestoreOptions {
    let resource = try await context.resources.stillOwned(project: project, id: item.targetResourceID)
    try ResourceService.refuseAgentResource(resource)
    guard let base = resource.path, componentsBelow(base, item.targetPath) != nil else {
        throw ServiceError(.resourceNotFound, "\(item.targetPath) is no longer inside resource \(resource.id)")
    }
    var options = RestoreOptions()
    options.specialFiles = resource.restoreSpecialFiles
    if resource.type == ResourceType.volume.rawValue {
        guard item.targetPath == base else { throw ServiceError(.resourceNotFound, "\(item.targetPath) is not volume \(resource.id)") }
        options.expectedIdentity = resource.registeredIdentity
    } else {
        options.beneath = base
    }
    return options
}

/// A driver whose items are paths on this host (a tree or a volume),
/// restored under `confinedOptions`.
protocol ConfinedPathDriver: ResourceDriver {}

extension ConfinedPathDriver {
    func restore(_ item: RestorePlan.Item, snapshot: Hash256, with restorer: Restorer, project: String,
                 progress: @escaping @Sendable (Int64) -> Void, context: DriverContext) async throws -> RestoreResult {
        var options = try await confinedOptions(project: project, item: item, context: context)
        options.progress = { p in progress(p.bytesWritten) }
        return try await restorer.restore(snapshot: snapshot, target: item.targetPath, options: options)
    }
}

/// A volume of the caller's project, by id, as a restore target.
func volumeTarget(_ volumeID: String, field: String, project: String, context: DriverContext) async throws -> (id: String, path: String) {
    guard let v = try? await context.resources.view(project: project, id: volumeID), v.type == .volume, let path = v.record.path else {
        throw ServiceError(.resourceNotFound, "\(field) \(volumeID): volume does not exist")
    }
    return (v.record.id, path)
}

struct FileSystemDriver: ConfinedPathDriver {
    var type: ResourceType { .fileSystem }

    func planRestore(_ backup: BackupRecord, children: [BackupRecord], input: RestoreInput, project: String,
                     context: DriverContext) async throws -> [RestorePlan.Item] {
        let path: String
        let rid: String
        if let destination = input.destinationPath {
            guard (1...255).contains(destination.count) else { throw ServiceError.validation("restore.details.destination_path must be 1 to 255 characters") }
            // Only into the caller's own file systems: never wherever the server can write. On the host of
            // restore.resource_id if given (another agent: a migration), else the backup's host, else this server.
            let hostOf = { (id: String) async throws -> String? in try await context.resources.store.get(project: project, id: id)?.agentID }
            let preferred = try await hostOf(input.resourceID ?? backup.resourceId)
            let (owner, relative) = try await context.resources.ownedTarget(destination, project: project, types: [.fileSystem],
                                                                            field: "restore.details.destination_path",
                                                                            hosts: input.resourceID != nil ? [preferred] : [preferred, nil])
            path = ([owner.path ?? ""] + relative).joined(separator: "/")
            rid = owner.id
        } else {
            let original = try await context.resources.view(project: project, id: input.resourceID ?? backup.resourceId)
            guard original.type == .fileSystem, let p = original.record.path else { throw ServiceError.validation("restore.resource_id must be a file system resource") }
            path = p
            rid = original.record.id
        }
        return [.init(backupID: backup.id, snapshotID: backup.snapshotId ?? "", targetPath: path, targetResourceID: rid)]
    }

    func backUp(_ resource: ResourceView, with archiver: Archiver, options: BackupOptions, context: DriverContext) async throws -> BackupResult {
        // The source must still be what the operator registered: a path swapped for a symlink or another directory is not read.
        try ResourceService.verifyStillRegistered(resource.record)
        return try await archiver.backup(path: try path(of: resource), options: options)
    }
}

struct VolumeDriver: ConfinedPathDriver {
    var type: ResourceType { .volume }

    func planRestore(_ backup: BackupRecord, children: [BackupRecord], input: RestoreInput, project: String,
                     context: DriverContext) async throws -> [RestorePlan.Item] {
        guard let target = input.volumeID ?? input.resourceID else { throw ServiceError.validation("restore.volume_id is required to restore a volume backup") }
        let (rid, path) = try await volumeTarget(target, field: "restore.volume_id", project: project, context: context)
        return [.init(backupID: backup.id, snapshotID: backup.snapshotId ?? "", targetPath: path, targetResourceID: rid)]
    }

    func backUp(_ resource: ResourceView, with archiver: Archiver, options: BackupOptions, context: DriverContext) async throws -> BackupResult {
        // Still the file or block device that was registered (not a symlink to another one).
        try ResourceService.verifyStillRegistered(resource.record)
        return try await archiver.backupVolume(path: try path(of: resource), options: options)
    }
}

/// A server is backed up as one backup per disk (children of the server's
/// backup) and restored disk by disk onto volumes the caller maps.
struct ServerDriver: ResourceDriver {
    var type: ResourceType { .server }

    func planRestore(_ backup: BackupRecord, children: [BackupRecord], input: RestoreInput, project: String,
                     context: DriverContext) async throws -> [RestorePlan.Item] {
        guard input.serverID ?? input.resourceID != nil else { throw ServiceError.validation("restore.server_id is required to restore a server backup") }
        guard !input.mappings.isEmpty else { throw ServiceError.validation("restore.mappings is required to restore a server backup") }
        var items: [RestorePlan.Item] = []
        var seenTargets = Set<String>()
        for (i, m) in input.mappings.enumerated() {
            guard let child = children.first(where: { $0.id == m.backupID }) else {
                throw ServiceError.validation("restore.mappings[\(i)].backup_id \(m.backupID) is not a disk backup of backup \(backup.id)")
            }
            let (rid, path) = try await volumeTarget(m.volumeID, field: "restore.mappings[\(i)].volume_id", project: project, context: context)
            guard seenTargets.insert(rid).inserted else { throw ServiceError.validation("restore.mappings[\(i)].volume_id \(m.volumeID) is the target of two disks") }
            items.append(.init(backupID: child.id, snapshotID: child.snapshotId ?? "", targetPath: path, targetResourceID: rid))
        }
        return items
    }

    func backUp(_ resource: ResourceView, with archiver: Archiver, options: BackupOptions, context: DriverContext) async throws -> BackupResult {
        throw ServiceError(.internalFailure, "server \(resource.record.id) is backed up disk by disk")
    }

    func restore(_ item: RestorePlan.Item, snapshot: Hash256, with restorer: Restorer, project: String,
                 progress: @escaping @Sendable (Int64) -> Void, context: DriverContext) async throws -> RestoreResult {
        throw ServiceError(.internalFailure, "a server is restored disk by disk")
    }
}

func path(of resource: ResourceView) throws -> String {
    guard let path = resource.record.path else { throw ServiceError(.internalFailure, "resource \(resource.record.id) has no path") }
    return path
}
