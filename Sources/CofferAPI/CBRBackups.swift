import Foundation

// MARK: checkpoints

extension CBR {
    /// `POST /v3/{project_id}/checkpoints`.
    public struct CheckpointCreateRequest: Codable, Sendable {
        public var checkpoint: CheckpointCreate
        public init(_ checkpoint: CheckpointCreate) { self.checkpoint = checkpoint }
    }

    public struct CheckpointCreate: Codable, Sendable {
        public var vaultID: String
        public var parameters: Parameters?
        public struct Parameters: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] { ["name": .string(maxLength: 255), "description": .string(maxLength: 255)] }
            public var resources: [String]?
            public var name: String?
            public var description: String?
            public var incremental: Bool?
            public var autoTrigger: Bool?
            public init() {}
            enum CodingKeys: String, CodingKey {
                case resources, name, description, incremental
                case autoTrigger = "auto_trigger"
            }
        }
        enum CodingKeys: String, CodingKey {
            case vaultID = "vault_id", parameters
        }
        public init(vaultID: String, parameters: Parameters?) {
            self.vaultID = vaultID
            self.parameters = parameters
        }
    }

    public struct Checkpoint: Codable, Sendable {
        public var id = ""
        public var projectID = ""
        public var status = ""
        public var createdAt = ""
        public var extraInfo = ExtraInfo()
        public var vault = Vault()
        public init() {}

        public struct ExtraInfo: Codable, Sendable {
            public var name = ""
            public var description = ""
            public var retentionDuration = -1
            enum CodingKeys: String, CodingKey { case name, description, retentionDuration = "retention_duration" }
        }

        public struct Vault: Codable, Sendable {
            public var id = ""
            public var name = ""
            public var resources: [Resource] = []
            public var skippedResources: [Skipped] = []
            enum CodingKeys: String, CodingKey { case id, name, resources, skippedResources = "skipped_resources" }
        }

        /// The cloud writes these sizes and counts as strings.
        public struct Resource: Codable, Sendable {
            public var id: String
            public var name: String
            public var type: String
            public var protectStatus: String
            public var resourceSize: String
            public var extraInfo = "{}"
            public var backupSize = "0"
            public var backupCount = "0"
            public init(id: String, name: String, type: String, protectStatus: String, resourceSize: String) {
                self.id = id
                self.name = name
                self.type = type
                self.protectStatus = protectStatus
                self.resourceSize = resourceSize
            }
            enum CodingKeys: String, CodingKey {
                case id, name, type
                case protectStatus = "protect_status", resourceSize = "resource_size", extraInfo = "extra_info", backupSize = "backup_size", backupCount = "backup_count"
            }
        }

        public struct Skipped: Codable, Sendable {
            public var id: String
            public var name: String
            public var type: String
            public var code: String
            public var reason: String
            public init(id: String, name: String, type: String, code: String, reason: String) {
                self.id = id
                self.name = name
                self.type = type
                self.code = code
                self.reason = reason
            }
        }

        enum CodingKeys: String, CodingKey {
            case id, status, vault
            case projectID = "project_id", createdAt = "created_at", extraInfo = "extra_info"
        }
    }

    public struct CheckpointResponse: Codable, Sendable {
        public var checkpoint: Checkpoint
        public init(_ checkpoint: Checkpoint) { self.checkpoint = checkpoint }
    }
}

// MARK: backups

extension CBR {
    /// CBR BackupResp (cbr-v3.md §6.2).
    public struct Backup: Codable, Sendable, SchemaComponent {
        public static let componentName = "Backup"
        public var id = ""
        public var checkpointID = ""
        public var projectID = ""
        public var vaultID = ""
        public var name = ""
        public var description = ""
        public var status = ""
        public var imageType = "backup"
        public var providerID = ""
        public var resourceID = ""
        public var resourceName = ""
        public var resourceType = ""
        /// GiB, rounded up.
        public var resourceSize: Int64 = 0
        public var resourceAZ = ""
        public var createdAt = ""
        public var updatedAt = ""
        @Nullable public var protectedAt: String?
        @Nullable public var expiredAt: String?
        @Nullable public var parentID: String?
        public var incremental = false
        public var version = 3
        public var enterpriseProjectID = "0"
        public var replicationRecords: [FreeObject] = []
        public var extendInfo = ExtendInfo()
        public var children: [Backup] = []
        public var failReason: String?
        /// The policy an automatic backup was made for.
        public var scheduledOperationID: String?
        public init() {}

        public struct ExtendInfo: Codable, Sendable {
            public var autoTrigger = false
            public var bootable = false
            public var snapshotID = ""
            public var supportLLD = false
            public var supportedRestoreMode = "backup"
            public var osImagesData: [FreeObject] = []
            public var containSystemDisk = false
            public var encrypted = true
            public var systemDisk = false
            public var isMultiAZ = false
            enum CodingKeys: String, CodingKey {
                case bootable, encrypted
                case autoTrigger = "auto_trigger", snapshotID = "snapshot_id", supportLLD = "support_lld", supportedRestoreMode = "supported_restore_mode"
                case osImagesData = "os_images_data", containSystemDisk = "contain_system_disk", systemDisk = "system_disk", isMultiAZ = "is_multi_az"
            }
        }

        enum CodingKeys: String, CodingKey {
            case id, name, description, status, incremental, version, children
            case checkpointID = "checkpoint_id", projectID = "project_id", vaultID = "vault_id", imageType = "image_type", providerID = "provider_id"
            case resourceID = "resource_id", resourceName = "resource_name", resourceType = "resource_type", resourceSize = "resource_size"
            case resourceAZ = "resource_az", createdAt = "created_at", updatedAt = "updated_at", protectedAt = "protected_at", expiredAt = "expired_at"
            case parentID = "parent_id", enterpriseProjectID = "enterprise_project_id", replicationRecords = "replication_records"
            case extendInfo = "extend_info", failReason = "fail_reason", scheduledOperationID = "scheduled_operation_id"
        }
    }

    public struct BackupResponse: Codable, Sendable {
        public var backup: Backup
        public init(_ backup: Backup) { self.backup = backup }
    }

    public struct BackupList: Codable, Sendable {
        public var backups: [Backup]
        public var count: Int
        public var offset: Int
        public var limit: Int
        public init(backups: [Backup], count: Int, offset: Int, limit: Int) {
            self.backups = backups
            self.count = count
            self.offset = offset
            self.limit = limit
        }
    }

    /// `PUT /v3/{project_id}/backups/{backup_id}` (the SDK makes the body optional).
    public struct BackupUpdateRequest: Codable, Sendable {
        public var backup: Update?
        public struct Update: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] { ["name": .string(minLength: 1, maxLength: 255)] }
            public var name: String?
        }
    }

    /// The answer to a restore (202): the operation log to poll, which Terraform requires.
    public struct RestoreAccepted: Codable, Sendable {
        public var jobID: String
        public init(_ id: String) { jobID = id }
        enum CodingKeys: String, CodingKey { case jobID = "job_id" }
    }

    /// `POST /v3/{project_id}/backups/{backup_id}/restore`.
    public struct RestoreRequest: Codable, Sendable {
        public var restore: Restore
        public init(_ restore: Restore) { self.restore = restore }
        public struct Restore: Codable, Sendable {
            public var volumeID: String?
            public var serverID: String?
            public var resourceID: String?
            public var powerOn: Bool?
            public var mappings: [Mapping]?
            /// Coffer: where a directory backup is restored to.
            public var details: Details?
            public init() {}
            enum CodingKeys: String, CodingKey {
                case mappings, details
                case volumeID = "volume_id", serverID = "server_id", resourceID = "resource_id", powerOn = "power_on"
            }
        }
        public struct Mapping: Codable, Sendable {
            public var backupID: String
            public var volumeID: String
            enum CodingKeys: String, CodingKey { case backupID = "backup_id", volumeID = "volume_id" }
            public init(backupID: String, volumeID: String) {
                self.backupID = backupID
                self.volumeID = volumeID
            }
        }
        public struct Details: Codable, Sendable {
            public var destinationPath: String
            enum CodingKeys: String, CodingKey { case destinationPath = "destination_path" }
            public init(destinationPath: String) { self.destinationPath = destinationPath }
        }
    }
}

// MARK: operation logs

extension CBR {
    public static let operationTypes = ["backup", "copy", "replication", "delete", "restore", "vault_delete", "remove_resource", "sync", "verify"]

    public struct OperationLog: Codable, Sendable {
        public var id = ""
        public var projectID = ""
        public var operationType = ""
        public var status = ""
        public var providerID = ""
        public var vaultID = ""
        public var vaultName = ""
        public var checkpointID = ""
        public var createdAt = ""
        @Nullable public var startedAt: String?
        @Nullable public var endedAt: String?
        public var updatedAt = ""
        public var errorInfo = ErrorInfo()
        public var extraInfo = ExtraInfo()
        public var enterpriseProjectID = "0"
        public init() {}

        public struct ErrorInfo: Codable, Sendable {
            public var code = ""
            public var message = ""
        }

        public struct ExtraInfo: Codable, Sendable {
            public var common = Common()
            public var backup = Backup()
            public var resource = Resource()
            /// Coffer extension: what a tenant restore left out (device nodes, setuid/setgid bits).
            public var restore: Restore?
            /// Coffer extension: what a verification read.
            public var verify: Verify?
            /// A vault deletion: how many backups went (both spellings clients read).
            public var vaultDelete: VaultDelete?
            enum CodingKeys: String, CodingKey { case common, backup, resource, restore, verify, vaultDelete = "vault_delete" }
        }

        public struct VaultDelete: Codable, Sendable {
            public var failCount: Int
            public var totalCount: Int
            public var failDeleteCount: Int
            public var totalDeleteCount: Int
            public init(failed: Int, total: Int) {
                failCount = failed
                totalCount = total
                failDeleteCount = failed
                totalDeleteCount = total
            }
            enum CodingKeys: String, CodingKey {
                case failCount = "fail_count", totalCount = "total_count", failDeleteCount = "fail_delete_count", totalDeleteCount = "total_delete_count"
            }
        }

        public struct Common: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] { ["progress": .integer(minimum: 0, maximum: 100)] }
            public var progress = 0
            public var requestID = ""
            public var taskID = ""
            /// Only when the operation failed.
            public var code: String?
            public var message: String?
            enum CodingKeys: String, CodingKey { case progress, code, message, requestID = "request_id", taskID = "task_id" }
        }

        public struct Backup: Codable, Sendable {
            public var backupID = ""
            public var backupName = ""
            public var incremental = ""
            enum CodingKeys: String, CodingKey { case incremental, backupID = "backup_id", backupName = "backup_name" }
        }

        public struct Resource: Codable, Sendable {
            public var id = ""
            public var name = ""
            public var type = ""
        }

        public struct Restore: Codable, Sendable {
            public var skipped: [String]
            public init(skipped: [String]) { self.skipped = skipped }
        }

        public struct Verify: Codable, Sendable {
            public var notes: [String]
            public init(notes: [String]) { self.notes = notes }
        }

        enum CodingKeys: String, CodingKey {
            case id, status
            case projectID = "project_id", operationType = "operation_type", providerID = "provider_id", vaultID = "vault_id", vaultName = "vault_name"
            case checkpointID = "checkpoint_id", createdAt = "created_at", startedAt = "started_at", endedAt = "ended_at", updatedAt = "updated_at"
            case errorInfo = "error_info", extraInfo = "extra_info", enterpriseProjectID = "enterprise_project_id"
        }
    }

    public struct OperationLogResponse: Codable, Sendable {
        public var operationLog: OperationLog
        enum CodingKeys: String, CodingKey { case operationLog = "operation_log" }
        public init(_ log: OperationLog) { operationLog = log }
    }

    public struct OperationLogList: Codable, Sendable {
        public var operationLogs: [OperationLog]
        public var count: Int
        public var offset: Int
        public var limit: Int
        enum CodingKeys: String, CodingKey { case count, offset, limit, operationLogs = "operation_logs" }
        public init(_ logs: [OperationLog], count: Int, offset: Int, limit: Int) {
            operationLogs = logs
            self.count = count
            self.offset = offset
            self.limit = limit
        }
    }
}
