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

extension RDS {
    /// `POST /v3/{project_id}/backups` (seed 003).
    public struct CreateBackupRequest: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] { ["name": .string(minLength: 4, maxLength: 64), "description": .string(maxLength: 256)] }
        public var instanceID: String
        public var name: String
        public var description: String?
        public var databases: [FreeObject]?
        public var backupDatabaseIndividually: Bool?
        enum CodingKeys: String, CodingKey {
            case instanceID = "instance_id", name, description, databases, backupDatabaseIndividually = "backup_database_individually"
        }
        public init(instanceID: String, name: String, description: String?) {
            self.instanceID = instanceID
            self.name = name
            self.description = description
        }
    }

    /// The answer to a manual backup: begin_time with a Z, status BUILDING, type manual (seed 003).
    public struct CreatedBackup: Codable, Sendable {
        public var backup: Body
        public struct Body: Codable, Sendable {
            public var id: String
            public var instanceID: String
            public var name: String
            public var description: String
            public var beginTime: String
            public var status: BackupStatus
            public var type: BackupType
            public var databases: [FreeObject]
            enum CodingKeys: String, CodingKey {
                case id, name, description, status, type, databases
                case instanceID = "instance_id", beginTime = "begin_time"
            }
        }
        public init(id: String, instanceID: String, name: String, description: String, beginTime: String) {
            backup = Body(id: id, instanceID: instanceID, name: name, description: description, beginTime: beginTime, status: .building, type: .manual, databases: [])
        }
    }

    public struct BackupPolicy: Codable, Sendable {
        public var keepDays: Int
        @Nullable public var startTime: String?
        @Nullable public var period: String?
        enum CodingKeys: String, CodingKey {
            case keepDays = "keep_days", startTime = "start_time", period
        }
        public init(keepDays: Int, startTime: String?, period: String?) {
            self.keepDays = keepDays
            self.startTime = startTime
            self.period = period
        }
    }

    /// `GET …/backups/policy`.
    public struct BackupPolicyResponse: Codable, Sendable {
        public var backupPolicy: BackupPolicy
        enum CodingKeys: String, CodingKey { case backupPolicy = "backup_policy" }
        public init(_ policy: BackupPolicy) { backupPolicy = policy }
    }

    /// `PUT …/backups/policy`.
    public struct SetBackupPolicyRequest: Codable, Sendable {
        public var backupPolicy: Policy
        public var reserveBackups: Bool?
        public struct Policy: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] { ["keep_days": .integer(minimum: 0, maximum: 732)] }
            public var keepDays: Int
            public var startTime: String?
            public var period: String?
            enum CodingKeys: String, CodingKey {
                case keepDays = "keep_days", startTime = "start_time", period
            }
        }
        enum CodingKeys: String, CodingKey {
            case backupPolicy = "backup_policy", reserveBackups = "reserve_backups"
        }
    }

    /// `POST /v3/{project_id}/instances/recovery` (target.data_dir is Coffer's: a new data directory).
    public struct RecoveryRequest: Codable, Sendable {
        public var source: Source
        public var target: Target
        public init(source: Source, target: Target) {
            self.source = source
            self.target = target
        }
        public struct Source: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] { ["type": .string(values: ["backup", "timestamp"])] }
            public var instanceID: String?
            public var type: String?
            public var backupID: String
            enum CodingKeys: String, CodingKey {
                case instanceID = "instance_id", type, backupID = "backup_id"
            }
            public init(backupID: String) {
                type = "backup"
                self.backupID = backupID
            }
        }
        public struct Target: Codable, Sendable {
            public var instanceID: String?
            public var dataDirectory: String?
            enum CodingKeys: String, CodingKey {
                case instanceID = "instance_id", dataDirectory = "data_dir"
            }
            public init(instanceID: String?, dataDirectory: String?) {
                self.instanceID = instanceID
                self.dataDirectory = dataDirectory
            }
        }
    }

    public struct JobID: Codable, Sendable {
        public var jobID: String
        enum CodingKeys: String, CodingKey { case jobID = "job_id" }
        public init(_ id: String) { jobID = id }
    }
}

extension RDS {
    public enum JobStatus: String, Codable, Sendable, CaseIterable, SchemaDescribed {
        case running = "Running", completed = "Completed", failed = "Failed"
    }

    /// `GET /v3/{project_id}/jobs?id=`: a manual backup or a restore.
    public struct Job: Codable, Sendable {
        public var id: String
        /// `CreateManualSnapshot` or `RestoreInstance`.
        public var name: String
        public var status: JobStatus
        public var created: String
        @Nullable public var ended: String?
        /// `40%`.
        public var process: String
        public var instance: Instance
        public var entities: Entities
        /// Only when it failed.
        public var failReason: String?

        public struct Instance: Codable, Sendable {
            public var id: String
            public var name: String
        }

        public struct Entities: Codable, Sendable {
            public var backupID: String
            enum CodingKeys: String, CodingKey { case backupID = "backup_id" }
        }

        enum CodingKeys: String, CodingKey {
            case id, name, status, created, ended, process, instance, entities
            case failReason = "fail_reason"
        }

        public init(id: String, name: String, status: JobStatus, created: String, ended: String?, progress: Int, instanceID: String, instanceName: String,
                    backupID: String, failReason: String?) {
            self.id = id
            self.name = name
            self.status = status
            self.created = created
            self.ended = ended
            process = "\(progress)%"
            instance = Instance(id: instanceID, name: instanceName)
            entities = Entities(backupID: backupID)
            self.failReason = failReason
        }
    }

    public struct JobResponse: Codable, Sendable {
        public var job: Job
        public init(_ job: Job) { self.job = job }
    }
}
