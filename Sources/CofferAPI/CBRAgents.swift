import Foundation

// CBR v3 agents (cbr-v3.md §5 "Agents", models Agent, Path, AgentRegister,
// AgentAddPathReq, ProtectableAgentReq): backup clients on data hosts.

extension CBR {
    public struct Agent: Codable, Sendable {
        public var agentID: String
        public var agentVersion: String
        public var agentType: String
        public var hostName: String
        public var hostNickname: String
        public var hostIP: String
        public var hostOS: String
        /// `online`, `offline` (no heartbeat for three minutes) or `uninstalled`.
        public var status: String
        public var createdAt: String
        public var updatedAt: String
        public var lastActiveTime: String
        public var paths: [Path]
        public init(agentID: String, agentVersion: String, agentType: String, hostName: String, hostNickname: String, hostIP: String, hostOS: String,
                    status: String, createdAt: String, updatedAt: String, lastActiveTime: String, paths: [Path]) {
            self.agentID = agentID
            self.agentVersion = agentVersion
            self.agentType = agentType
            self.hostName = hostName
            self.hostNickname = hostNickname
            self.hostIP = hostIP
            self.hostOS = hostOS
            self.status = status
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.lastActiveTime = lastActiveTime
            self.paths = paths
        }
        enum CodingKeys: String, CodingKey {
            case status, paths
            case agentID = "agent_id", agentVersion = "agent_version", agentType = "agent_type", hostName = "host_name", hostNickname = "host_nickname"
            case hostIP = "host_ip", hostOS = "host_os", createdAt = "created_at", updatedAt = "updated_at", lastActiveTime = "last_active_time"
        }

        public struct Path: Codable, Sendable {
            public var id: String
            public var status: String
            public var agentID: String
            public var dirPath: String
            /// The excluded paths below `dir_path`, comma-separated.
            public var excludePaths: String
            public init(id: String, status: String, agentID: String, dirPath: String, excludePaths: String) {
                self.id = id
                self.status = status
                self.agentID = agentID
                self.dirPath = dirPath
                self.excludePaths = excludePaths
            }
            enum CodingKeys: String, CodingKey { case id, status, agentID = "agent_id", dirPath = "dir_path", excludePaths = "exclude_paths" }
        }
    }

    /// `POST /v3/{project_id}/agents`: registers, or (the same id again) refreshes, an agent.
    public struct AgentRegisterRequest: Codable, Sendable {
        public var agent: Register
        public init(agent: Register) { self.agent = agent }
        public struct Register: Codable, Sendable {
            public var agentID: String
            public var hostName: String
            public var hostIP: String
            public var hostOS: String
            public var hostNickname: String?
            public var agentVersion: String?
            public var agentType: String?
            public init(agentID: String, hostName: String, hostIP: String, hostOS: String) {
                self.agentID = agentID
                self.hostName = hostName
                self.hostIP = hostIP
                self.hostOS = hostOS
            }
            enum CodingKeys: String, CodingKey {
                case agentID = "agent_id", hostName = "host_name", hostIP = "host_ip", hostOS = "host_os", hostNickname = "host_nickname"
                case agentVersion = "agent_version", agentType = "agent_type"
            }
        }
    }

    public struct AgentResponse: Codable, Sendable {
        public var agent: Agent
        public init(_ agent: Agent) { self.agent = agent }
    }

    public struct AgentList: Codable, Sendable {
        public var agents: [Agent]
        public var count: Int
        public var limit: Int
        public var offset: Int
        public init(_ agents: [Agent], count: Int, limit: Int, offset: Int) {
            self.agents = agents
            self.count = count
            self.limit = limit
            self.offset = offset
        }
    }

    /// `PUT /v3/{project_id}/agents/{agent_id}`: the agent reports `uninstalled`.
    public struct AgentUpdateRequest: Codable, Sendable {
        public var agent: Update
        public init(status: String) { agent = Update(status: status) }
        public struct Update: Codable, Sendable {
            public var status: String
        }
    }

    /// `POST /v3/{project_id}/agents/{agent_id}/add-path`.
    public struct AgentAddPathRequest: Codable, Sendable {
        public var addPath: [String]
        public var excludePath: [ExcludePath]?
        public init(addPath: [String]) { self.addPath = addPath }
        public struct ExcludePath: Codable, Sendable {
            public var pathName: String
            public var excludePathName: [String]?
            public init(pathName: String, excludePathName: [String]) {
                self.pathName = pathName
                self.excludePathName = excludePathName
            }
            enum CodingKeys: String, CodingKey { case pathName = "path_name", excludePathName = "exclude_path_name" }
        }
        enum CodingKeys: String, CodingKey { case addPath = "add_path", excludePath = "exclude_path" }
    }

    public struct AgentAddPathResponse: Codable, Sendable {
        public var added: [String]
        public var existed: [String]
        public init(added: [String], existed: [String]) {
            self.added = added
            self.existed = existed
        }
    }

    /// `POST /v3/{project_id}/agents/{agent_id}/remove-path`.
    public struct AgentRemovePathRequest: Codable, Sendable {
        public var removePath: [String]
        public init(removePath: [String]) { self.removePath = removePath }
        enum CodingKeys: String, CodingKey { case removePath = "remove_path" }
    }

    public struct AgentRemovePathResponse: Codable, Sendable {
        public var removed: [String]
        public var notExisted: [String]
        public init(removed: [String], notExisted: [String]) {
            self.removed = removed
            self.notExisted = notExisted
        }
        enum CodingKeys: String, CodingKey { case removed, notExisted = "not_existed" }
    }

    /// `POST /v3/{project_id}/agent/check`: whether an agent is installed for each resource.
    public struct AgentCheckRequest: Codable, Sendable {
        public var agentStatus: [Resource]
        public init(_ resources: [Resource]) { agentStatus = resources }
        public struct Resource: Codable, Sendable {
            public var resourceID: String
            public var resourceName: String?
            public var resourceType: String
            public init(resourceID: String, resourceType: String) {
                self.resourceID = resourceID
                self.resourceType = resourceType
            }
            enum CodingKeys: String, CodingKey { case resourceID = "resource_id", resourceName = "resource_name", resourceType = "resource_type" }
        }
        enum CodingKeys: String, CodingKey { case agentStatus = "agent_status" }
    }

    public struct AgentCheckResponse: Codable, Sendable {
        public var agentStatus: [Status]
        public init(_ statuses: [Status]) { agentStatus = statuses }
        public struct Status: Codable, Sendable {
            public var resourceID: String
            public var installed: Bool
            public var isOld: Bool
            public var version: String
            public var code: Int
            public var message: String
            public init(resourceID: String, installed: Bool, version: String, message: String) {
                self.resourceID = resourceID
                self.installed = installed
                isOld = false
                self.version = version
                code = installed ? 0 : 1
                self.message = message
            }
            enum CodingKeys: String, CodingKey {
                case installed, version, code, message
                case resourceID = "resource_id", isOld = "is_old"
            }
        }
        enum CodingKeys: String, CodingKey { case agentStatus = "agent_status" }
    }
}
