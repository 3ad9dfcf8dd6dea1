import CofferModel
import CofferCrypto
import CofferEngine
import CofferSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum ResourceType: String, Sendable, CaseIterable {
    case volume = "OS::Cinder::Volume"
    case server = "OS::Nova::Server"
    case fileSystem = "OS::Sfs::Turbo"
    /// A PostgreSQL instance, backed up through the RDS v3 API (not a CBR protectable).
    case database = "OS::RDS::Instance"

    /// The `protectable_type` path segment of the CBR protectables API.
    public var protectableType: String {
        switch self {
        case .volume: return "disk"
        case .server: return "server"
        case .fileSystem: return "turbo"
        case .database: return "rds"
        }
    }

    public init?(protectableType: String) {
        guard let t = ResourceType.allCases.first(where: { $0.protectableType == protectableType }), t != .database else { return nil }
        self = t
    }
}

public struct DiskInput: Sendable {
    public var name: String
    public var path: String
    public var bootable: Bool
    public init(name: String, path: String, bootable: Bool) {
        self.name = name
        self.path = path
        self.bootable = bootable
    }
}

public struct ResourceInput: Sendable {
    public var type: ResourceType
    public var name: String
    public var description: String
    public var path: String?
    public var disks: [DiskInput]
    /// Register for another project (service admin only).
    public var projectID: String?
    /// Tenant restores into this resource may create device nodes and keep setuid/setgid bits.
    public var restoreSpecialFiles = false
    /// Database instances: the engine (PostgreSQL) and `postgresql://user:password@host:port/db`.
    public var engine: String?
    public var connection: String?
    /// A resource on an agent's host: its paths are that host's, checked by the agent (its
    /// --resource-root), never opened here.
    public var agentID: String?
    public init(type: ResourceType, name: String, description: String = "", path: String? = nil, disks: [DiskInput] = [], projectID: String? = nil) {
        self.type = type
        self.name = name
        self.description = description
        self.path = path
        self.disks = disks
        self.projectID = projectID
    }
}

extension ResourceRecord {
    /// The file's identity recorded at registration (kept as two signed columns).
    var registeredIdentity: FileIdentity? {
        get { device.flatMap { d in inode.map { FileIdentity(device: UInt64(bitPattern: d), inode: UInt64(bitPattern: $0)) } } }
        set {
            device = newValue.map { Int64(bitPattern: $0.device) }
            inode = newValue.map { Int64(bitPattern: $0.inode) }
        }
    }
}

/// A resource as the API shows it: the row, a server's disks, and the size
/// read from the source now (nil for directories, whose size is what a backup reads).
public struct ResourceView: Sendable {
    public var record: ResourceRecord
    public var children: [ResourceView]
    public var sizeBytes: Int64?
    public var type: ResourceType { ResourceType(rawValue: record.type) ?? .volume }
}

/// The resource inventory: operators register paths (confined to the
/// server's resource roots); projects see only their own resources.
public final class ResourceService: @unchecked Sendable {
    let catalog: any Catalog
    var store: any ResourceStore { catalog.resources }
    var identity: any IdentityStore { catalog.identity }
    let clock: any Clock
    /// Seals database connection URLs (they hold passwords).
    let secrets: SecretBox?
    public var databases: any DatabaseInstanceStore { catalog.databases }
    /// Canonical resource roots (symlinks resolved).
    public let roots: [String]
    /// The server's own data directory (canonical): never a resource, never inside one.
    let dataDirectory: String?

    /// The database engines this server drives, by lowercased name.
    let engines: [String: any DatabaseEngine]

    public init(catalog: any Catalog, roots: [String], clock: any Clock = SystemClock(), secrets: SecretBox? = nil,
                dataDirectory: String? = nil, engines: [String: any DatabaseEngine] = [:]) {
        self.catalog = catalog
        self.engines = engines
        self.dataDirectory = dataDirectory.flatMap { ResourceService.canonical($0) }
        self.secrets = secrets
        self.clock = clock
        self.roots = roots.compactMap { ResourceService.canonical($0) }
    }

    static func canonical(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func notFound(_ id: String) -> ServiceError { ServiceError(.resourceNotFound, "resource \(id) does not exist") }

    /// The canonical form of `path` if it exists and lies under a resource
    /// root; otherwise a 400 naming `field`. For registration (the operator's
    /// act): tenants' restore targets go through `ownedTarget`.
    func confine(_ path: String, field: String) throws -> String {
        guard path.hasPrefix("/") else { throw ServiceError.validation("\(field) must be an absolute path") }
        guard !path.utf8.contains(0) else { throw ServiceError.validation("\(field) must not contain NUL") }
        guard let real = ResourceService.canonical(path) else { throw ServiceError.validation("\(field) \(path) does not exist") }
        guard roots.contains(where: { ResourceService.isInside(real, $0) }) else {
            throw ServiceError.validation("\(field) \(path) is not under a resource root of this server (--resource-root)")
        }
        guard !roots.contains(real) else { throw ServiceError.validation("\(field) \(path) is a resource root itself; register a directory or file below it") }
        if let dataDirectory, ResourceService.isInside(real, dataDirectory) || ResourceService.isInside(dataDirectory, real) {
            throw ServiceError.validation("\(field) \(path) overlaps the server's data directory")
        }
        return real
    }

    /// Whether `path` is `base` or lies below it (both canonical, absolute).
    static func isInside(_ path: String, _ base: String) -> Bool {
        base == "/" || path == base || path.hasPrefix(base + "/")
    }

    /// Refuses a path that equals, contains or lies inside another registered
    /// resource of any project: each byte on the host has at most one owner.
    static func refuseOverlap(_ rows: [ResourceRecord], with existing: [ResourceRecord], fields: [String: String]) throws {
        for row in rows {
            guard let path = row.path else { continue }
            let field = fields[path] ?? "resource.path"
            // Paths of different hosts never meet (an agent's, or this server's).
            for other in existing where other.agentID == row.agentID && (row.agentID == nil || other.projectID == row.projectID) {
                guard let taken = other.path else { continue }
                if path == taken { throw ServiceError(.resourceAlreadyBound, "\(field) is already registered as another resource") }
                if isInside(path, taken) || isInside(taken, path) {
                    throw ServiceError(.resourceAlreadyBound, "\(field) overlaps another registered resource (one lies inside the other)")
                }
            }
        }
    }

    /// Where a tenant may have data written: `path` must be one of `project`'s
    /// own registered resources of these types, or lie inside one. Decided
    /// from the catalog alone, by path components (no `.` or `..`), so the
    /// answer is the same whether or not something exists at `path`. The
    /// worker then walks from the resource without following symlinks.
    /// `hosts`: whose paths are meant, in order of preference (nil: this
    /// server's; an agent id: that agent's host); the same path on two hosts is two places.
    public func ownedTarget(_ path: String, project: String, types: [ResourceType], field: String,
                            hosts: [String?] = [nil]) async throws -> (resource: ResourceRecord, relative: [String]) {
        let refusal = ServiceError.validation("\(field) must be one of this project's registered \(types.map(\.rawValue).joined(separator: " or ")) resources, or a path inside one")
        guard path.hasPrefix("/"), path.utf8.count <= 4096, !path.utf8.contains(0) else {
            throw ServiceError.validation("\(field) must be an absolute path of at most 4096 bytes without NUL")
        }
        let components = path.split(separator: "/").map(String.init)
        guard !components.contains(where: { $0 == "." || $0 == ".." }) else { throw ServiceError.validation("\(field) must not contain . or .. components") }
        let owned = try await store.withPaths(project: project, types: types.map(\.rawValue))
        // The deepest match: a resource inside another is impossible now, but rows registered before the overlap rule may nest.
        for host in hosts {
            let best = owned.compactMap { r -> (ResourceRecord, [String])? in
                guard r.parentID == nil, r.agentID == host, let base = r.path, let rel = componentsBelow(base, "/" + components.joined(separator: "/")) else { return nil }
                return (r, rel)
            }.min { $0.1.count < $1.1.count }
            if let best { return best }
        }
        throw refusal
    }

    /// Whether the path still names what was registered: the same kind of
    /// file (never a symlink) and, where recorded, the same device and inode
    /// (a kind check too, because a file system may hand a deleted
    /// directory's inode number straight to the symlink that replaced it).
    static func verifyStillRegistered(_ record: ResourceRecord) throws {
        try refuseAgentResource(record)
        guard let path = record.path else { return }
        var st = stat()
        let kind = lstat(path, &st) == 0 ? st.st_mode & S_IFMT : 0
        let expectedKinds: [mode_t] = record.type == ResourceType.fileSystem.rawValue ? [S_IFDIR] : [S_IFREG, S_IFBLK]
        var same = expectedKinds.contains(kind)
        if same, let registered = record.registeredIdentity { same = FileIdentity.of(path: path) == registered }
        guard same else {
            throw ServiceError(.sourceUnreadable,
                               "\(path) is no longer the file, device or directory registered as \(record.name); the operator must register it again")
        }
    }

    /// The server never opens a path of an agent's host on its own disks (the same path here is something else).
    static func refuseAgentResource(_ record: ResourceRecord) throws {
        if let agent = record.agentID {
            throw ServiceError(.internalFailure, "resource \(record.id) is on agent \(agent)'s host: only that agent reads or writes it")
        }
    }

    /// A resource of `project` still registered at `path` (the worker's re-check when a job runs).
    public func stillOwned(project: String, id: String) async throws -> ResourceRecord {
        guard let r = try await store.get(project: project, id: id), r.path != nil else {
            throw ServiceError(.resourceNotFound, "resource \(id) is no longer registered to this project")
        }
        return r
    }

    static func fileKind(_ path: String) -> (isDirectory: Bool, isVolume: Bool) {
        var st = stat()
        guard stat(path, &st) == 0 else { return (false, false) }
        let fmt = st.st_mode & S_IFMT
        return (fmt == S_IFDIR, fmt == S_IFREG || fmt == S_IFBLK)
    }

    static func volumeSize(_ path: String) -> Int64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let end = lseek(fd, 0, SEEK_END)
        return end >= 0 ? Int64(end) : nil
    }

    static func requireServiceAdmin(_ caller: Principal) throws {
        guard caller.isServiceAdmin else {
            throw ServiceError(.forbidden, "registering resources is the service administrator's act (role admin in the admin project)")
        }
    }

    /// Renaming or removing: the service administrator, or an admin of the owning project.
    static func requireAdmin(_ caller: Principal) throws {
        guard caller.role == .admin else {
            throw ServiceError(.forbidden, "changing resources needs role admin")
        }
    }

    public func register(caller: Principal, _ input: ResourceInput) async throws -> ResourceView {
        try ResourceService.requireServiceAdmin(caller)
        var project = caller.projectID
        if let other = input.projectID, other != caller.projectID {
            guard try await identity.project(id: other) != nil else { throw ServiceError.validation("resource.project_id \(other) does not exist") }
            project = other
        }
        try Validate.resourceName(input.name, field: "resource.name")
        guard input.description.count <= 255 else { throw ServiceError.validation("resource.description must be at most 255 characters") }
        let now = clock.now()
        let id = UUID().uuidString.lowercased()
        if let agent = input.agentID { return try await registerOnAgent(input, agent: agent, project: project, id: id, now: now) }
        var rows: [ResourceRecord] = []
        var fields: [String: String] = [:]
        switch input.type {
        case .volume, .fileSystem:
            guard input.disks.isEmpty else { throw ServiceError.validation("resource.disks is only for \(ResourceType.server.rawValue)") }
            guard let raw = input.path else { throw ServiceError.validation("resource.path is required for \(input.type.rawValue)") }
            let path = try confine(raw, field: "resource.path")
            let kind = ResourceService.fileKind(path)
            if input.type == .volume && !kind.isVolume {
                throw ServiceError(.resourceTypeMismatch, "resource.path \(raw) is not a disk image file or block device (\(input.type.rawValue))")
            }
            if input.type == .fileSystem && !kind.isDirectory {
                throw ServiceError(.resourceTypeMismatch, "resource.path \(raw) is not a directory (\(input.type.rawValue))")
            }
            fields[path] = "resource.path"
            var row = ResourceRecord(id: id, projectID: project, type: input.type.rawValue, name: input.name, description: input.description,
                                     path: path, parentID: nil, bootable: false, position: 0, createdAt: now, updatedAt: now, restoreSpecialFiles: input.restoreSpecialFiles)
            row.registeredIdentity = FileIdentity.of(path: path)
            rows.append(row)
        case .server:
            guard input.path == nil else { throw ServiceError.validation("resource.path is not used for \(ResourceType.server.rawValue); give resource.disks") }
            guard !input.disks.isEmpty else { throw ServiceError.validation("resource.disks must list at least one disk") }
            guard input.disks.count <= 64 else { throw ServiceError.validation("resource.disks may list at most 64 disks") }
            rows.append(ResourceRecord(id: id, projectID: project, type: input.type.rawValue, name: input.name, description: input.description,
                                       path: nil, parentID: nil, bootable: false, position: 0, createdAt: now, updatedAt: now))
            var seen = Set<String>()
            for (i, disk) in input.disks.enumerated() {
                let field = "resource.disks[\(i)]"
                try Validate.resourceName(disk.name, field: field + ".name")
                let path = try confine(disk.path, field: field + ".path")
                guard ResourceService.fileKind(path).isVolume else {
                    throw ServiceError(.resourceTypeMismatch, "\(field).path \(disk.path) is not a disk image file or block device")
                }
                guard seen.insert(path).inserted else { throw ServiceError(.listedTwice, "\(field).path \(disk.path) is listed twice") }
                fields[path] = field + ".path"
                var row = ResourceRecord(id: UUID().uuidString.lowercased(), projectID: project, type: ResourceType.volume.rawValue, name: disk.name,
                                         description: "", path: path, parentID: id, bootable: disk.bootable, position: i, createdAt: now, updatedAt: now,
                                         restoreSpecialFiles: input.restoreSpecialFiles)
                row.registeredIdentity = FileIdentity.of(path: path)
                rows.append(row)
            }
        case .database:
            return try await registerDatabase(input, project: project, now: now)
        }
        try await store.insert(rows) { existing in try ResourceService.refuseOverlap(rows, with: existing, fields: fields) }
        return try await view(project: project, id: id)
    }

    /// RDS-style instance id: 32 hex digits and `in03` (PostgreSQL).
    static func databaseInstanceID() -> String { UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() + "in03" }

    /// A PostgreSQL instance: the connection is checked for form, sealed and
    /// never shown again; `path` (optional) is its data directory, needed
    /// for restoring in place.
    func registerDatabase(_ input: ResourceInput, project: String, now: Date) async throws -> ResourceView {
        guard input.disks.isEmpty else { throw ServiceError.validation("resource.disks is only for \(ResourceType.server.rawValue)") }
        guard let engine = input.engine.flatMap({ engines[$0.lowercased()] }) else {
            throw ServiceError.validation("resource.engine must be " + engines.values.map(\.name).sorted().joined(separator: " or "))
        }
        guard let connection = input.connection else { throw ServiceError.validation("resource.connection is required (postgresql://user:password@host:port/db)") }
        // Refused now rather than as a failed backup later.
        try await engine.checkConnection(connection, field: "resource.connection")
        guard let secrets else { throw ServiceError(.internalFailure, "no master key to seal the connection with") }
        var dataDirectory: String?
        if let raw = input.path {
            let path = try confine(raw, field: "resource.data_dir")
            // The engine looks inside: a file or a foreign directory is refused.
            try engine.checkDataDirectory(path, shownAs: "resource.data_dir \(raw)")
            dataDirectory = path
        }
        let id = ResourceService.databaseInstanceID()
        let rows = [ResourceRecord(id: id, projectID: project, type: ResourceType.database.rawValue, name: input.name, description: input.description,
                                   path: dataDirectory, parentID: nil, bootable: false, position: 0, createdAt: now, updatedAt: now)]
        try await store.insert(rows) { existing in try ResourceService.refuseOverlap(rows, with: existing, fields: [dataDirectory ?? "": "resource.data_dir"]) }
        let policy = #"{"keep_days":7,"start_time":"00:00-01:00","period":"1,2,3,4,5,6,7"}"#
        do {
            try await databases.insert(DatabaseInstanceRecord(resourceId: id, engine: engine.name, connectionSealed: secrets.seal(connection, context: "database:\(id)"),
                                                              version: "", policy: policy))
        } catch {
            try? await store.delete(project: project, id: id)
            throw error
        }
        return try await view(project: project, id: id)
    }

    /// The instance's connection, unsealed (for the worker and the restore checks only).
    public func databaseConnectionURL(_ id: String) async throws -> String {
        guard let record = try await databases.get(id), let secrets, let url = try? secrets.open(record.connectionSealed, context: "database:\(id)") else {
            throw ServiceError(.instanceNotFound, "instance \(id) has no usable connection")
        }
        return url
    }

    /// A resource on an agent's host: paths checked for form only (the agent
    /// decides what it may read), never overlapping another of that agent's.
    func registerOnAgent(_ input: ResourceInput, agent: String, project: String, id: String, now: Date) async throws -> ResourceView {
        try Validate.asciiID(agent, field: "resource.agent_id")
        guard try await catalog.agents.get(project: project, id: agent) != nil else {
            throw ServiceError(.agentNotFound, "resource.agent_id \(agent): no such agent in project \(project)")
        }
        func row(_ rid: String, type: ResourceType, name: String, path: String?, parent: String?, bootable: Bool = false, position: Int = 0) -> ResourceRecord {
            ResourceRecord(id: rid, projectID: project, type: type.rawValue, name: name, description: parent == nil ? input.description : "", path: path,
                           parentID: parent, bootable: bootable, position: position, createdAt: now, updatedAt: now,
                           restoreSpecialFiles: input.restoreSpecialFiles, agentID: agent)
        }
        var rows: [ResourceRecord] = []
        var fields: [String: String] = [:]
        switch input.type {
        case .volume, .fileSystem:
            guard input.disks.isEmpty else { throw ServiceError.validation("resource.disks is only for \(ResourceType.server.rawValue)") }
            guard let path = input.path else { throw ServiceError.validation("resource.path is required for \(input.type.rawValue)") }
            try Validate.absolutePath(path, field: "resource.path")
            fields[path] = "resource.path"
            rows.append(row(id, type: input.type, name: input.name, path: path, parent: nil))
        case .server:
            guard input.path == nil else { throw ServiceError.validation("resource.path is not used for \(ResourceType.server.rawValue); give resource.disks") }
            guard (1...64).contains(input.disks.count) else { throw ServiceError.validation("resource.disks must list 1 to 64 disks") }
            rows.append(row(id, type: .server, name: input.name, path: nil, parent: nil))
            for (i, disk) in input.disks.enumerated() {
                let field = "resource.disks[\(i)]"
                try Validate.resourceName(disk.name, field: field + ".name")
                try Validate.absolutePath(disk.path, field: field + ".path")
                guard fields[disk.path] == nil else { throw ServiceError(.listedTwice, "\(field).path \(disk.path) is listed twice") }
                fields[disk.path] = field + ".path"
                rows.append(row(UUID().uuidString.lowercased(), type: .volume, name: disk.name, path: disk.path, parent: id, bootable: disk.bootable, position: i))
            }
        case .database:
            throw ServiceError.validation("resource.agent_id is not used for database instances")
        }
        try await store.insert(rows) { existing in try ResourceService.refuseOverlap(rows, with: existing, fields: fields) }
        return try await view(project: project, id: id)
    }

    func view(_ r: ResourceRecord) async throws -> ResourceView {
        // What lies on an agent's host is never opened here: its size is what its backups read.
        if r.agentID != nil {
            let children = try await store.children(project: r.projectID, of: r.id).map { ResourceView(record: $0, children: [], sizeBytes: nil) }
            return ResourceView(record: r, children: children, sizeBytes: nil)
        }
        let children = try await store.children(project: r.projectID, of: r.id)
        var childViews: [ResourceView] = []
        for c in children { childViews.append(ResourceView(record: c, children: [], sizeBytes: c.path.flatMap(ResourceService.volumeSize))) }
        let size: Int64?
        switch ResourceType(rawValue: r.type) {
        case .volume: size = r.path.flatMap(ResourceService.volumeSize)
        case .server: size = childViews.reduce(Int64(0)) { $0 + ($1.sizeBytes ?? 0) }
        default: size = nil
        }
        return ResourceView(record: r, children: childViews, sizeBytes: size)
    }

    public func view(project: String, id: String) async throws -> ResourceView {
        guard let r = try await store.get(project: project, id: id) else { throw ResourceService.notFound(id) }
        return try await view(r)
    }

    public func list(project: String, filter: ResourceFilter, offset: Int, limit: Int) async throws -> (items: [ResourceView], total: Int) {
        let (rows, total) = try await store.list(project: project, filter: filter, offset: offset, limit: limit)
        var out: [ResourceView] = []
        for r in rows { out.append(try await view(r)) }
        return (out, total)
    }

    public func update(caller: Principal, id: String, name: String?, description: String?) async throws -> ResourceView {
        try ResourceService.requireAdmin(caller)
        guard let existing = try await store.get(project: caller.projectID, id: id) else { throw ResourceService.notFound(id) }
        if let name { try Validate.resourceName(name, field: "resource.name") }
        if let description, description.count > 255 { throw ServiceError.validation("resource.description must be at most 255 characters") }
        try await store.update(project: caller.projectID, id: existing.id, name: name, description: description, now: clock.now())
        return try await view(project: caller.projectID, id: id)
    }

    public func remove(caller: Principal, id: String) async throws {
        try ResourceService.requireAdmin(caller)
        guard let existing = try await store.get(project: caller.projectID, id: id) else { throw ResourceService.notFound(id) }
        if existing.parentID != nil {
            throw ServiceError.validation("resource \(id) is a disk of server \(existing.parentID!); remove the server instead")
        }
        try await store.delete(project: caller.projectID, id: id)
    }
}
