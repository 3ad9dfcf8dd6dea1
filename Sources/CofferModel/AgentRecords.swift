import Foundation

/// A backup agent on a data host (CBR "agents"). The agent registers itself
/// under a project with an id it keeps in its state directory; ids are scoped
/// by project, so one project cannot learn another's ids.
public struct AgentRecord: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var hostName: String
    public var hostNickname: String
    public var hostIP: String
    public var hostOS: String
    public var version: String
    public var type: String
    /// Set when the agent reports that it was uninstalled (CBR's only update).
    public var uninstalled: Bool
    public var createdAt: Int64
    public var updatedAt: Int64
    /// The last registration or heartbeat; an agent silent for longer than the
    /// service's offline interval is shown `offline`.
    public var lastActiveAt: Int64
    /// The user whose credential first registered it: a caller of role agent looks after only its own.
    public var registeredBy: String

    public init(id: String, projectID: String, hostName: String, hostNickname: String, hostIP: String, hostOS: String, version: String, type: String,
                uninstalled: Bool = false, createdAt: Int64, updatedAt: Int64, lastActiveAt: Int64, registeredBy: String) {
        self.id = id
        self.projectID = projectID
        self.hostName = hostName
        self.hostNickname = hostNickname
        self.hostIP = hostIP
        self.hostOS = hostOS
        self.version = version
        self.type = type
        self.uninstalled = uninstalled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastActiveAt = lastActiveAt
        self.registeredBy = registeredBy
    }
}

/// A directory on an agent's host to back up, with what to leave out below it.
public struct AgentPathRecord: Sendable, Equatable {
    public var id: String
    public var agentID: String
    public var projectID: String
    public var path: String
    public var excludes: [String]
    public var createdAt: Int64

    public init(id: String, agentID: String, projectID: String, path: String, excludes: [String], createdAt: Int64) {
        self.id = id
        self.agentID = agentID
        self.projectID = projectID
        self.path = path
        self.excludes = excludes
        self.createdAt = createdAt
    }
}

public struct AgentFilter: Sendable {
    public enum Status: String, Sendable, CaseIterable { case online, offline, uninstalled }
    public var ids: [String]?
    public var status: Status?
    /// Only agents this user registered.
    public var registeredBy: String?
    /// Agents active at or after this time are online.
    public var onlineSince: Int64
    public init(ids: [String]? = nil, status: Status? = nil, onlineSince: Int64) {
        self.ids = ids
        self.status = status
        self.onlineSince = onlineSince
    }
}

public protocol AgentStore: Sendable {
    /// Inserts the agent, or for an id the project already has, replaces its
    /// host fields and activity (keeping `createdAt` and `registeredBy`); returns what is stored.
    /// A new agent beyond `limit` in the project is `.quotaAgents`; with
    /// `ownerOnly`, an id registered by another user is `.conflict` and unchanged.
    func register(_ agent: AgentRecord, limit: Int, ownerOnly: Bool) async throws -> AgentRecord
    func get(project: String, id: String) async throws -> AgentRecord?
    /// Oldest first, with the total before paging.
    func list(project: String, filter: AgentFilter, offset: Int, limit: Int) async throws -> (items: [AgentRecord], total: Int)
    func update(_ agent: AgentRecord) async throws
    /// Whether it existed; its paths go with it.
    func delete(project: String, id: String) async throws -> Bool
    /// Each agent's paths, oldest first.
    func paths(project: String, agents: [String]) async throws -> [String: [AgentPathRecord]]
    /// Adds the paths the agent lacks (beyond `limit` paths in all: `.quotaAgents`); which were added and which it had.
    func addPaths(_ paths: [AgentPathRecord], project: String, agent: String, limit: Int) async throws -> (added: [String], existed: [String])
    func removePaths(_ paths: [String], project: String, agent: String) async throws -> (removed: [String], notExisted: [String])
}
