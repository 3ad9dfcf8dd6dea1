import Foundation

/// A database restore: which snapshot, which data directory, in place or new.
public struct DatabaseRestorePlan: Codable, Sendable {
    public var instanceID: String
    public var snapshotID: String
    public var dataDirectory: String
    public var inPlace: Bool
    /// A new directory: the caller's file-system resource it is created in.
    public var beneathResourceID: String?
}

/// Where a restore writes: one (backup, target path) per disk or tree.
public struct RestorePlan: Codable, Sendable, Equatable {
    public struct Item: Codable, Sendable, Equatable {
        public var backupID: String
        public var snapshotID: String
        public var targetPath: String
        public var targetResourceID: String
    }
    public var items: [Item]
}

public struct RestoreInput: Sendable {
    public var volumeID: String?
    public var serverID: String?
    public var resourceID: String?
    public var mappings: [(backupID: String, volumeID: String)] = []
    public var destinationPath: String?
    public var powerOn = true
    public init() {}
}
