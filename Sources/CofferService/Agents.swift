import CofferModel
import CofferSystem
import Foundation

/// What a registering agent says about itself (CBR AgentRegister).
public struct AgentRegistration: Sendable {
    public var id: String
    public var hostName: String
    public var hostIP: String
    public var hostOS: String
    public var hostNickname = ""
    public var version = ""
    public var type = ""
    public init(id: String, hostName: String, hostIP: String, hostOS: String) {
        self.id = id
        self.hostName = hostName
        self.hostIP = hostIP
        self.hostOS = hostOS
    }
}

public struct AgentView: Sendable {
    public var record: AgentRecord
    public var status: AgentFilter.Status
    public var paths: [AgentPathRecord]
}

/// One answer of CBR's agent check: whether an agent is installed for a resource.
public struct AgentCheck: Sendable, Equatable {
    public var resourceID: String
    public var installed: Bool
    public var version: String
    public var message: String
}

/// CBR's agents (cbr-v3.md §5 "Agents"): agents on data hosts register
/// themselves under a project, heartbeat by registering again, and list the
/// directories their host backs up. An agent silent for `offlineAfter` is
/// shown offline. Ids are the agent's own, scoped by project.
public struct AgentService: Sendable {
    let catalog: any Catalog
    let clock: any Clock
    var store: any AgentStore { catalog.agents }
    /// Three missed heartbeats of `coffer agent` (one a minute).
    public var offlineAfter: TimeInterval = 180
    public static let agentLimit = 1_000
    public static let pathLimit = 64

    public init(catalog: any Catalog, clock: any Clock) {
        self.catalog = catalog
        self.clock = clock
    }

    static func notFound(_ id: String) -> ServiceError { ServiceError(.agentNotFound, "agent \(id) does not exist") }

    var nowMS: Int64 { clock.now().epochMilliseconds }
    var onlineSince: Int64 { nowMS - Int64(offlineAfter * 1000) }

    func status(_ agent: AgentRecord) -> AgentFilter.Status {
        if agent.uninstalled { return .uninstalled }
        return agent.lastActiveAt >= onlineSince ? .online : .offline
    }

    /// Registers the agent, or refreshes a registered one (its heartbeat).
    public func register(caller: Principal, _ r: AgentRegistration) async throws -> AgentView {
        try AgentService.checkID(r.id, field: "agent.agent_id")
        try Validate.printableText(r.hostName, field: "agent.host_name", range: 1...255)
        try Validate.printableText(r.hostOS, field: "agent.host_os", range: 1...128)
        try Validate.printableText(r.hostNickname, field: "agent.host_nickname", range: 0...64)
        try Validate.printableText(r.version, field: "agent.agent_version", range: 0...64)
        try Validate.printableText(r.type, field: "agent.agent_type", range: 0...64)
        try Validate.ipAddress(r.hostIP, field: "agent.host_ip")
        let now = nowMS
        let record = AgentRecord(id: r.id, projectID: caller.projectID, hostName: r.hostName, hostNickname: r.hostNickname, hostIP: r.hostIP,
                                 hostOS: r.hostOS, version: r.version, type: r.type, createdAt: now, updatedAt: now, lastActiveAt: now, registeredBy: caller.userID)
        let stored: AgentRecord
        do {
            stored = try await store.register(record, limit: AgentService.agentLimit, ownerOnly: caller.role == .agent)
        } catch let e as CatalogError where e.code == .quotaAgents {
            throw ServiceError(.quotaAgents, "a project may register at most \(AgentService.agentLimit) agents")
        } catch let e as CatalogError where e.code == .conflict {
            throw ServiceError(.forbidden, "agent \(r.id) was registered with another credential; an agent credential looks after only the agents it registered")
        }
        return try await view(stored)
    }

    func view(_ record: AgentRecord) async throws -> AgentView {
        let paths = try await store.paths(project: record.projectID, agents: [record.id])[record.id] ?? []
        return AgentView(record: record, status: status(record), paths: paths)
    }

    /// The agent, if the caller may see it: people see every agent of their
    /// project, a caller of role agent only those it registered (the others
    /// are not found, as in another project).
    func agent(_ id: String, for caller: Principal) async throws -> AgentRecord {
        guard let record = try await store.get(project: caller.projectID, id: id), caller.role != .agent || record.registeredBy == caller.userID else {
            throw AgentService.notFound(id)
        }
        return record
    }

    public func show(caller: Principal, id: String) async throws -> AgentView {
        try await view(try await agent(id, for: caller))
    }

    public func list(caller: Principal, ids: [String]?, status wanted: AgentFilter.Status?, offset: Int, limit: Int) async throws -> (items: [AgentView], total: Int) {
        for id in ids ?? [] { try AgentService.checkID(id, field: "agent_id") }
        let project = caller.projectID
        var filter = AgentFilter(ids: ids, status: wanted, onlineSince: onlineSince)
        if caller.role == .agent { filter.registeredBy = caller.userID }
        let (records, total) = try await store.list(project: project, filter: filter, offset: offset, limit: limit)
        let paths = try await store.paths(project: project, agents: records.map(\.id))
        return (records.map { AgentView(record: $0, status: status($0), paths: paths[$0.id] ?? []) }, total)
    }

    /// Every project's agents, for the service admin's inventory (the console), by project.
    public func inventory(caller: Principal, projects: [String], limitPerProject: Int = 200) async throws -> [(project: String, agents: [AgentView])] {
        guard caller.isServiceAdmin else { throw ServiceError(.forbidden, "only the service admin sees every project's agents") }
        var out: [(project: String, agents: [AgentView])] = []
        for project in projects {
            let (records, _) = try await store.list(project: project, filter: AgentFilter(ids: nil, status: nil, onlineSince: onlineSince), offset: 0, limit: limitPerProject)
            let paths = try await store.paths(project: project, agents: records.map(\.id))
            out.append((project, records.map { AgentView(record: $0, status: status($0), paths: paths[$0.id] ?? []) }))
        }
        return out
    }

    /// CBR's only update: the agent reports that it was uninstalled (it stays
    /// listed, `uninstalled`, until unregistered or registered again).
    public func update(caller: Principal, id: String, status: String) async throws -> AgentView {
        guard ["uninstall", "uninstalled"].contains(status) else {
            throw ServiceError.validation("agent.status must be uninstalled (the only change an agent reports)")
        }
        var record = try await agent(id, for: caller)
        record.uninstalled = true
        record.updatedAt = nowMS
        try await store.update(record)
        return try await view(record)
    }

    public func unregister(caller: Principal, id: String) async throws {
        guard caller.role != .agent else { throw ServiceError(.forbidden, "an agent credential cannot unregister agents; a user of the project does") }
        guard try await store.delete(project: caller.projectID, id: id) else { throw AgentService.notFound(id) }
    }

    /// Directories on the agent's host to back up; each absolute and plain
    /// (no `.` or `..` components), excludes below the path they belong to.
    public func addPaths(caller: Principal, id: String, paths: [String], excludes: [String: [String]]) async throws -> (added: [String], existed: [String]) {
        guard (1...AgentService.pathLimit).contains(paths.count) else {
            throw ServiceError.validation("add_path must list 1 to \(AgentService.pathLimit) paths")
        }
        for (i, path) in paths.enumerated() { try Validate.absolutePath(path, field: "add_path[\(i)]") }
        for (path, below) in excludes {
            guard paths.contains(path) else { throw ServiceError.validation("exclude_path names \(String(path.debugDescription.prefix(80))), which add_path does not list") }
            guard below.count <= 64 else { throw ServiceError.validation("exclude_path for \(path) may list at most 64 paths") }
            for (i, excluded) in below.enumerated() {
                let field = "exclude_path[\(path)].exclude_path_name[\(i)]"
                try Validate.absolutePath(excluded, field: field)
                guard excluded.hasPrefix(path == "/" ? "/" : path + "/") else { throw ServiceError.validation("\(field) must lie below \(path)") }
            }
        }
        _ = try await agent(id, for: caller)
        let now = nowMS
        let records = paths.map { AgentPathRecord(id: UUID().uuidString.lowercased(), agentID: id, projectID: caller.projectID, path: $0,
                                                  excludes: excludes[$0] ?? [], createdAt: now) }
        // Each new path is also a file-system resource of the project, on this agent (same id), so it can be bound to a vault.
        let had = Set((try await store.paths(project: caller.projectID, agents: [id])[id] ?? []).map(\.path))
        let date = Date(epochMilliseconds: now)
        let rows = records.filter { !had.contains($0.path) }.map {
            ResourceRecord(id: $0.id, projectID: caller.projectID, type: ResourceType.fileSystem.rawValue, name: String($0.path.prefix(255)), description: "",
                           path: $0.path, parentID: nil, bootable: false, position: 0, createdAt: date, updatedAt: date, agentID: id)
        }
        var fields: [String: String] = [:]
        for (i, path) in paths.enumerated() { fields[path] = "add_path[\(i)]" }
        try await catalog.resources.insert(rows) { existing in try ResourceService.refuseOverlap(rows, with: existing, fields: fields) }
        do { return try await store.addPaths(records, project: caller.projectID, agent: id, limit: AgentService.pathLimit) } catch {
            for row in rows { try? await catalog.resources.delete(project: caller.projectID, id: row.id) }
            if let e = error as? CatalogError, e.code == .quotaAgents { throw ServiceError(.quotaAgents, "an agent may back up at most \(AgentService.pathLimit) paths") }
            throw error
        }
    }

    public func removePaths(caller: Principal, id: String, paths: [String]) async throws -> (removed: [String], notExisted: [String]) {
        guard (1...AgentService.pathLimit).contains(paths.count) else {
            throw ServiceError.validation("remove_path must list 1 to \(AgentService.pathLimit) paths")
        }
        for (i, path) in paths.enumerated() { try Validate.absolutePath(path, field: "remove_path[\(i)]") }
        _ = try await agent(id, for: caller)
        let had = try await store.paths(project: caller.projectID, agents: [id])[id] ?? []
        let result = try await store.removePaths(paths, project: caller.projectID, agent: id)
        // Its resource goes too (backups of it stay until deleted).
        for record in had where result.removed.contains(record.path) {
            if let resource = try await catalog.resources.get(project: caller.projectID, id: record.id), resource.agentID == id {
                try await catalog.resources.delete(project: caller.projectID, id: record.id)
            }
        }
        return result
    }

    /// Whether an agent is installed for each resource: an agent registered
    /// with the resource's id (as CBR's agents take the id of the server they
    /// run on), and not uninstalled.
    public func check(project: String, resources: [String]) async throws -> [AgentCheck] {
        guard (1...100).contains(resources.count) else { throw ServiceError.validation("agent_status must list 1 to 100 resources") }
        for (i, id) in resources.enumerated() { try AgentService.checkID(id, field: "agent_status[\(i)].resource_id") }
        let (found, _) = try await store.list(project: project, filter: AgentFilter(ids: resources, onlineSince: onlineSince), offset: 0, limit: resources.count)
        return resources.map { id in
            guard let agent = found.first(where: { $0.id == id }), !agent.uninstalled else {
                return AgentCheck(resourceID: id, installed: false, version: "", message: "no agent is registered for \(id)")
            }
            return AgentCheck(resourceID: id, installed: true, version: agent.version, message: "agent \(status(agent).rawValue)")
        }
    }

    /// An agent's id, as the server takes it (`coffer agent` checks its state file with it).
    public static func checkID(_ id: String, field: String) throws { try Validate.asciiID(id, field: field) }
}
