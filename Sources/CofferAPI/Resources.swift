import Foundation

/// Coffer's resource inventory (`/v3/{project_id}/coffer/resources`, docs/api.md)
/// and the CBR protectables built on it.
public enum Inventory {
    /// `POST /v3/{project_id}/coffer/resources`.
    public struct RegisterRequest: Codable, Sendable {
        public var resource: Register
        public init(_ resource: Register) { self.resource = resource }
    }

    public struct Register: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] {
            ["type": .string(values: CBR.resourceTypes + ["rds"]), "name": .string(minLength: 1, maxLength: 255), "engine": .string(values: ["PostgreSQL"])]
        }
        public var type: String
        public var disks: [Disk]?
        public var name: String
        public var description: String?
        public var path: String?
        public var projectID: String?
        public var restoreSpecialFiles: Bool?
        /// On this agent's host (its paths are the host's; only the agent reads them).
        public var agentID: String?
        /// Database instances: the engine, how to reach it (never shown back) and its data directory.
        public var engine: String?
        public var connection: String?
        public var dataDirectory: String?

        public struct Disk: Codable, Sendable {
            public var name: String
            public var path: String
            public var bootable: Bool?
            public init(name: String, path: String, bootable: Bool) {
                self.name = name
                self.path = path
                self.bootable = bootable
            }
        }

        public init(type: String, name: String) {
            self.type = type
            self.name = name
        }

        enum CodingKeys: String, CodingKey {
            case type, disks, name, description, path, engine, connection
            case projectID = "project_id", restoreSpecialFiles = "restore_special_files", dataDirectory = "data_dir", agentID = "agent_id"
        }
    }

    /// `PUT …/coffer/resources/{resource_id}`: only the name and description change.
    public struct UpdateRequest: Codable, Sendable {
        public var resource: Update
    }

    public struct Update: Codable, Sendable, SchemaRefined {
        public static var refinements: [String: Schema] { ["name": .string(minLength: 1, maxLength: 255)] }
        public var name: String?
        public var description: String?
        /// Fields sent that cannot be changed (refused by the edge, naming them).
        public var unchangeable: [String] = []
        enum CodingKeys: String, CodingKey { case name, description }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            unchangeable = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
                .filter { CodingKeys(stringValue: $0) == nil }.sorted()
            name = try c.decodeIfPresent(String.self, forKey: .name)
            description = try c.decodeIfPresent(String.self, forKey: .description)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(name, forKey: .name)
            try c.encodeIfPresent(description, forKey: .description)
        }
    }

    public struct Resource: Codable, Sendable {
        public var id = ""
        public var name = ""
        public var type = ""
        public var description = ""
        public var projectID = ""
        public var createdAt = ""
        public var updatedAt = ""
        /// Directories, volumes and disk images.
        public var path: String?
        /// Database instances (the connection, with its password, is never shown).
        public var dataDirectory: String?
        public var engine: String?
        public var restoreSpecialFiles = false
        /// The agent whose host holds it (absent: the Coffer host).
        public var agentID: String?
        /// GiB, rounded up, and bytes, when the size can be read.
        public var size: Int?
        public var sizeBytes: Int64?
        /// A server's disks.
        public var disks: [Disk]?
        public init() {}

        public struct Disk: Codable, Sendable {
            public var id: String
            public var name: String
            public var path: String
            public var bootable: Bool
            public var sizeBytes: Int64?
            public init(id: String, name: String, path: String, bootable: Bool, sizeBytes: Int64?) {
                self.id = id
                self.name = name
                self.path = path
                self.bootable = bootable
                self.sizeBytes = sizeBytes
            }
            enum CodingKeys: String, CodingKey { case id, name, path, bootable, sizeBytes = "size_bytes" }
        }

        enum CodingKeys: String, CodingKey {
            case id, name, type, description, path, engine, size, disks
            case projectID = "project_id", createdAt = "created_at", updatedAt = "updated_at", dataDirectory = "data_dir"
            case restoreSpecialFiles = "restore_special_files", sizeBytes = "size_bytes", agentID = "agent_id"
        }
    }

    public struct ResourceResponse: Codable, Sendable {
        public var resource: Resource
        public init(_ resource: Resource) { self.resource = resource }
    }

    public struct ResourceList: Codable, Sendable {
        public var resources: [Resource]
        public var count: Int
        public var offset: Int
        public var limit: Int
        public init(_ resources: [Resource], count: Int, offset: Int, limit: Int) {
            self.resources = resources
            self.count = count
            self.offset = offset
            self.limit = limit
        }
    }
}

extension CBR {
    /// CBR ProtectablesResp; `protectable.vault` is the vault the resource is bound to, if any.
    public struct Protectable: Codable, Sendable, SchemaComponent {
        public static let componentName = "Protectable"
        public var id = ""
        public var name = ""
        public var type = ""
        public var status = "available"
        public var detail = Detail()
        public var protectable = Result()
        /// GiB, rounded up.
        public var size = 0
        public var children: [Protectable] = []
        public init() {}

        public struct Detail: Codable, Sendable {
            public var path = ""
        }

        public struct Result: Codable, Sendable {
            public var result = true
            public var code = ""
            public var reason = ""
            public var message = ""
            public var vault: Vault?
        }
    }

    public struct ProtectableList: Codable, Sendable {
        public var instances: [Protectable]
        public init(_ instances: [Protectable]) { self.instances = instances }
    }

    public struct ProtectableResponse: Codable, Sendable {
        public var instance: Protectable
        public init(_ instance: Protectable) { self.instance = instance }
    }
}
