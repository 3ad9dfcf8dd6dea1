import Foundation

extension CSBS {
    /// A checkpoint_item (§3.2 model): a server backup, its disks as
    /// `volume_backups`, progress and failure from its newest operation log.
    public struct CheckpointItem: Codable, Sendable {
        public var id = ""
        public var checkpointID = ""
        public var name = ""
        public var description = ""
        public var resourceID = ""
        public var resourceType = ""
        public var status = ""
        public var createdAt = ""
        public var updatedAt = ""
        @Nullable public var protectedAt: String?
        public var backupData = BackupData()
        public var tags: [CBR.Tag] = []
        public var replicationRecords: [FreeObject] = []
        public var extendInfo = ExtendInfo()
        public init() {}

        public struct BackupData: Codable, Sendable {
            public var regionName = ""
            public var cloudServiceType = "QEMU"
            /// GiB, rounded up.
            public var disk: Int64 = 0
            public var imageType = "private"
            public var ram = 0
            public var vcpus = 0
            public var eip = ""
            public var privateIP = ""
            enum CodingKeys: String, CodingKey {
                case disk, ram, vcpus, eip
                case regionName = "__openstack_region_name", cloudServiceType = "cloudservicetype", imageType = "imagetype", privateIP = "private_ip"
            }
        }

        public struct ExtendInfo: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] { ["progress": .integer(minimum: 0, maximum: 100)] }
            public var autoTrigger = false
            public var averageSpeed = 0
            public var copyFrom = ""
            public var copyStatus = "na"
            public var failCode = FailCode()
            public var failOperation = ""
            public var failReason = ""
            public var imageType = "backup"
            public var incremental = false
            public var progress = 0
            public var resourceAZ = ""
            public var resourceName = ""
            public var resourceType = ""
            /// MiB, rounded up.
            public var size: Int64 = 0
            public var spaceSavingRatio = 0
            public var volumeBackups: [VolumeBackup] = []
            public var finishedAt = ""
            public var supportedRestoreMode = "backup"
            public var osImagesData: [FreeObject] = []
            public var supportLLD = false
            public var taskID = ""
            public var hypervisorType = "QEMU"
            public init() {}
            enum CodingKeys: String, CodingKey {
                case incremental, progress, size
                case autoTrigger = "auto_trigger", averageSpeed = "average_speed", copyFrom = "copy_from", copyStatus = "copy_status"
                case failCode = "fail_code", failOperation = "fail_op", failReason = "fail_reason", imageType = "image_type", resourceAZ = "resource_az"
                case resourceName = "resource_name", resourceType = "resource_type", spaceSavingRatio = "space_saving_ratio", volumeBackups = "volume_backups"
                case finishedAt = "finished_at", supportedRestoreMode = "supported_restore_mode", osImagesData = "os_images_data", supportLLD = "support_lld"
                case taskID = "taskid", hypervisorType = "hypervisor_type"
            }
        }

        /// Empty unless the item failed.
        public struct FailCode: Codable, Sendable {
            public var code: String?
            public var description: String?
            enum CodingKeys: String, CodingKey { case code = "Code", description = "Description" }
        }

        public struct VolumeBackup: Codable, Sendable {
            public var id = ""
            public var name = ""
            public var status = ""
            public var bootable = false
            public var incremental = false
            public var imageType = "backup"
            public var averageSpeed = 0
            /// MiB, rounded up.
            public var size: Int64 = 0
            public var sourceVolumeID = ""
            /// GiB, rounded up.
            public var sourceVolumeSize: Int64 = 0
            public var sourceVolumeName = ""
            public var spaceSavingRatio = 0
            public var snapshotID = ""
            public init() {}
            enum CodingKeys: String, CodingKey {
                case id, name, status, bootable, incremental, size
                case imageType = "image_type", averageSpeed = "average_speed", sourceVolumeID = "source_volume_id", sourceVolumeSize = "source_volume_size"
                case sourceVolumeName = "source_volume_name", spaceSavingRatio = "space_saving_ratio", snapshotID = "snapshot_id"
            }
        }

        enum CodingKeys: String, CodingKey {
            case id, name, description, status, tags
            case checkpointID = "checkpoint_id", resourceID = "resource_id", resourceType = "resource_type", createdAt = "created_at", updatedAt = "updated_at"
            case protectedAt = "protected_at", backupData = "backup_data", replicationRecords = "replication_records", extendInfo = "extend_info"
        }
    }

    public struct CheckpointItemList: Codable, Sendable {
        public var checkpointItems: [CheckpointItem]
        enum CodingKeys: String, CodingKey { case checkpointItems = "checkpoint_items" }
        public init(_ items: [CheckpointItem]) { checkpointItems = items }
    }

    public struct CheckpointItemResponse: Codable, Sendable {
        public var checkpointItem: CheckpointItem
        enum CodingKeys: String, CodingKey { case checkpointItem = "checkpoint_item" }
        public init(_ item: CheckpointItem) { checkpointItem = item }
    }
}
