import Foundation

/// CSBS v1 (../shared/api/csbs-v1-and-rds-v3.md §3, seed 001): what the
/// otcextensions CSBS proxy and Terraform's csbs resources send and read.
public enum CSBS {
    public static let itemStatuses = ["waiting_protect", "protecting", "available", "waiting_restore", "restoring", "error", "waiting_delete", "deleting", "deleted"]

    public struct VolumeTarget: Codable, Sendable {
        public var backupID: String
        public var volumeID: String
        enum CodingKeys: String, CodingKey { case backupID = "backup_id", volumeID = "volume_id" }
    }

    // MARK: protect

    /// `POST /v1/{project_id}/providers/{provider_id}/resources/{resource_id}/action`.
    public struct ProtectRequest: Codable, Sendable {
        public var protect: Protect?
    }

    public struct Protect: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] {
            ["backup_name": .string(minLength: 1, maxLength: 255), "description": .string(maxLength: 255), "resource_type": .string(values: ["OS::Nova::Server"])]
        }
        public var resourceType: String?
        public var backupName: String?
        public var description: String?
        public var incremental: Bool?
        public var tags: [CBR.Tag]?
        public var extraInfo: JSONObject?
        enum CodingKeys: String, CodingKey {
            case description, incremental, tags
            case resourceType = "resource_type", backupName = "backup_name", extraInfo = "extra_info"
        }
    }

    public struct ProtectCheckpoint: Codable, Sendable {
        public var id = ""
        public var projectID = ""
        public var status = ""
        public var createdAt = ""
        @Nullable public var resourceGraph: String?
        @Nullable public var extraInfo: FreeObject?
        public var protectionPlan = Plan()
        public init() {}

        public struct Plan: Codable, Sendable {
            public var id = ""
            public var name = ""
            public var resources: [PlanResource] = []
        }

        public struct PlanResource: Codable, Sendable {
            public var id: String
            public var type: String
            public var name: String
            public var extraInfo = FreeObject()
            public init(id: String, type: String, name: String) {
                self.id = id
                self.type = type
                self.name = name
            }
            enum CodingKeys: String, CodingKey { case id, type, name, extraInfo = "extra_info" }
        }

        enum CodingKeys: String, CodingKey {
            case id, status
            case projectID = "project_id", createdAt = "created_at", resourceGraph = "resource_graph", extraInfo = "extra_info", protectionPlan = "protection_plan"
        }
    }

    public struct ProtectResponse: Codable, Sendable {
        public var checkpoint: ProtectCheckpoint
        public init(_ checkpoint: ProtectCheckpoint) { self.checkpoint = checkpoint }
    }

    // MARK: checks

    /// `POST /v1/{project_id}/providers/{provider_id}/resources/action`: one of the two lists.
    public struct CheckRequest: Codable, Sendable {
        public var checkProtectable: [ProtectableCheck]?
        public var checkRestorable: [RestorableCheck]?
        enum CodingKeys: String, CodingKey { case checkProtectable = "check_protectable", checkRestorable = "check_restorable" }
    }

    public struct ProtectableCheck: Codable, Sendable {
        public var resourceID: String
        public var resourceType: String?
        enum CodingKeys: String, CodingKey { case resourceID = "resource_id", resourceType = "resource_type" }
    }

    public struct RestorableCheck: Codable, Sendable {
        public var checkpointItemID: String
        public var target: Target
        public struct Target: Codable, Sendable {
            public var resourceID: String
            public var resourceType: String?
            public var volumes: [VolumeTarget]?
            enum CodingKeys: String, CodingKey { case resourceID = "resource_id", resourceType = "resource_type", volumes }
        }
        enum CodingKeys: String, CodingKey { case checkpointItemID = "checkpoint_item_id", target }
    }

    public struct Check: Codable, Sendable {
        public var resourceID: String
        public var resourceType: String
        public var result: Bool
        public var errorCode: String
        public var errorMessage: String
        public init(resourceID: String, resourceType: String, result: Bool, errorCode: String, errorMessage: String) {
            self.resourceID = resourceID
            self.resourceType = resourceType
            self.result = result
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
        enum CodingKeys: String, CodingKey {
            case result
            case resourceID = "resource_id", resourceType = "resource_type", errorCode = "error_code", errorMessage = "error_msg"
        }
    }

    /// Holds the list that was asked for.
    public struct CheckResponse: Codable, Sendable {
        public var protectable: [Check]?
        public var restorable: [Check]?
        public init(protectable: [Check]? = nil, restorable: [Check]? = nil) {
            self.protectable = protectable
            self.restorable = restorable
        }
    }

    // MARK: restore and quotas

    /// `POST /v1/{project_id}/restores`.
    public struct RestoreRequest: Codable, Sendable {
        public var restore: Restore
    }

    public struct Restore: Codable, Sendable {
        public var providerID: String?
        public var checkpointID: String
        public var parameters: Parameters
        public var restoreTarget: String?
        /// The parameters object as sent: the answer echoes it.
        public var parametersAsSent: JSONObject = [:]
        public struct Parameters: Codable, Sendable {
            public var checkpointItemID: String
            public var powerOn: Bool?
            public var targets: Targets?
            enum CodingKeys: String, CodingKey { case checkpointItemID = "checkpoint_item_id", powerOn = "power_on", targets }
        }
        public struct Targets: Codable, Sendable {
            public var serverID: String?
            public var volumes: [VolumeTarget]?
            enum CodingKeys: String, CodingKey { case serverID = "server_id", volumes }
        }
        enum CodingKeys: String, CodingKey {
            case providerID = "provider_id", checkpointID = "checkpoint_id", parameters, restoreTarget = "restore_target"
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            providerID = try c.decodeIfPresent(String.self, forKey: .providerID)
            checkpointID = try c.decode(String.self, forKey: .checkpointID)
            parameters = try c.decode(Parameters.self, forKey: .parameters)
            parametersAsSent = try c.decodeIfPresent(JSONObject.self, forKey: .parameters) ?? [:]
            restoreTarget = try c.decodeIfPresent(String.self, forKey: .restoreTarget)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(providerID, forKey: .providerID)
            try c.encode(checkpointID, forKey: .checkpointID)
            try c.encode(parameters, forKey: .parameters)
            try c.encodeIfPresent(restoreTarget, forKey: .restoreTarget)
        }
    }

    public struct Restoration: Codable, Sendable {
        public var id: String
        public var checkpointID: String
        public var parameters: JSONObject
        public var projectID: String
        public var providerID: String
        @Nullable public var restoreTarget: String?
        public var status = "in_progress"
        public var resourcesStatus = FreeObject()
        public var resourcesReason = FreeObject()
        public init(id: String, checkpointID: String, parameters: JSONObject, projectID: String, providerID: String, restoreTarget: String?) {
            self.id = id
            self.checkpointID = checkpointID
            self.parameters = parameters
            self.projectID = projectID
            self.providerID = providerID
            self.restoreTarget = restoreTarget
        }
        enum CodingKeys: String, CodingKey {
            case id, parameters, status
            case checkpointID = "checkpoint_id", projectID = "project_id", providerID = "provider_id", restoreTarget = "restore_target"
            case resourcesStatus = "resources_status", resourcesReason = "resources_reason"
        }
    }

    public struct RestoreResponse: Codable, Sendable {
        public var restore: Restoration
        public init(_ restore: Restoration) { self.restore = restore }
    }

    public struct Quotas: Codable, Sendable {
        public var quotas: Body
        public struct Body: Codable, Sendable {
            public var resources: [Quota]
        }
        public struct Quota: Codable, Sendable {
            public var type: String
            public var unit: String
            /// -1: unlimited.
            public var quota: Int
            public var used: Int
            public init(type: String, unit: String, quota: Int, used: Int) {
                self.type = type
                self.unit = unit
                self.quota = quota
                self.used = used
            }
        }
        public init(_ resources: [Quota]) { quotas = Body(resources: resources) }
    }

    public struct Count: Codable, Sendable {
        public var count: Int
        public init(_ count: Int) { self.count = count }
    }
}
