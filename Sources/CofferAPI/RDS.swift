import Foundation

/// RDS v3 (../shared/api/csbs-v1-and-rds-v3.md §5): the shapes the
/// otcextensions and Terraform RDS clients read.
public enum RDS {
    public enum BackupStatus: String, Codable, Sendable, CaseIterable, SchemaDescribed {
        case building = "BUILDING", completed = "COMPLETED", failed = "FAILED", deleting = "DELETING"
    }

    public enum BackupType: String, Codable, Sendable, CaseIterable, SchemaDescribed {
        case auto, manual, fragment, incremental
    }

    public struct Datastore: Codable, Sendable, Equatable {
        public var type: String
        public var version: String
        public init(type: String, version: String) {
            self.type = type
            self.version = version
        }
    }

    /// A backup as listed (`GET /v3/{project_id}/backups?instance_id=`).
    public struct Backup: Codable, Sendable {
        public var id: String
        public var instanceID: String
        public var name: String
        public var description: String
        public var type: BackupType
        public var status: BackupStatus
        /// `2018-08-06T12:41:14+0000`.
        public var beginTime: String
        @Nullable public var endTime: String?
        /// Kilobytes.
        public var size: Int64
        public var databases: [FreeObject]
        public var datastore: Datastore
        public var associatedWithDDM: Bool
        @Nullable public var failReason: String?

        enum CodingKeys: String, CodingKey {
            case id, name, description, type, status, size, databases, datastore
            case instanceID = "instance_id", beginTime = "begin_time", endTime = "end_time", associatedWithDDM = "associated_with_ddm", failReason = "fail_reason"
        }

        public init(id: String, instanceID: String, name: String, description: String, type: BackupType, status: BackupStatus, beginTime: String,
                    endTime: String?, size: Int64, datastore: Datastore, failReason: String?) {
            self.id = id
            self.instanceID = instanceID
            self.name = name
            self.description = description
            self.type = type
            self.status = status
            self.beginTime = beginTime
            self.endTime = endTime
            self.size = size
            databases = []
            self.datastore = datastore
            associatedWithDDM = false
            self.failReason = failReason
        }
    }

    public struct BackupList: Codable, Sendable {
        public var backups: [Backup]
        public var totalCount: Int
        enum CodingKeys: String, CodingKey {
            case backups
            case totalCount = "total_count"
        }
        public init(backups: [Backup], totalCount: Int) {
            self.backups = backups
            self.totalCount = totalCount
        }
    }
}
