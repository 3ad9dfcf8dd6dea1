import Foundation

/// A protectable thing registered by an operator: a volume (disk image or
/// block device), a server (a named set of volumes), or a file system (a
/// directory). A server's disks are volume rows whose `parentID` is the server.
public struct ResourceRecord: Sendable, Equatable, Codable {
    public var id: String
    public var projectID: String
    public var type: String
    public var name: String
    public var description: String
    public var path: String?
    public var parentID: String?
    public var bootable: Bool
    public var position: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// The file's identity when registered: st_dev and st_ino (st_rdev for a block device).
    public var device: Int64?
    public var inode: Int64?
    /// Tenant restores into it may create device nodes and keep setuid/setgid bits.
    public var restoreSpecialFiles = false
    /// The agent on whose host `path` lies (nil: the Coffer host). Only that agent reads or writes it.
    public var agentID: String?

    public init(id: String, projectID: String, type: String, name: String, description: String, path: String?, parentID: String?,
                bootable: Bool, position: Int, createdAt: Date, updatedAt: Date, device: Int64? = nil, inode: Int64? = nil, restoreSpecialFiles: Bool = false,
                agentID: String? = nil) {
        self.agentID = agentID
        self.device = device
        self.inode = inode
        self.restoreSpecialFiles = restoreSpecialFiles
        self.id = id
        self.projectID = projectID
        self.type = type
        self.name = name
        self.description = description
        self.path = path
        self.parentID = parentID
        self.bootable = bootable
        self.position = position
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct ResourceFilter: Sendable {
    public var type: String?
    public var name: String?
    public var id: String?
    public var parentID: String?
    public var topLevelOnly = true
    public init(type: String? = nil, name: String? = nil, id: String? = nil, parentID: String? = nil, topLevelOnly: Bool = true) {
        self.type = type
        self.name = name
        self.id = id
        self.parentID = parentID
        self.topLevelOnly = topLevelOnly
    }
}
