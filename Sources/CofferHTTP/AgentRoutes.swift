import CofferAPI
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird

/// CBR agents (cbr-v3.md §5 "Agents"): registration (and heartbeat, by
/// registering again), listing, the uninstall report, unregistering, the
/// directories an agent backs up, and the installed check.
struct AgentRoutes {
    let agents: AgentService

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.post, "/v3/:project_id/agents", registerAgent)
        add(.get, "/v3/:project_id/agents", list)
        add(.get, "/v3/:project_id/agents/:agent_id", show)
        add(.put, "/v3/:project_id/agents/:agent_id", update)
        add(.delete, "/v3/:project_id/agents/:agent_id", unregister)
        add(.post, "/v3/:project_id/agents/:agent_id/add-path", addPath)
        add(.post, "/v3/:project_id/agents/:agent_id/remove-path", removePath)
        add(.post, "/v3/:project_id/agent/check", check)
    }

    static func agent(_ v: AgentView) -> CBR.Agent {
        let r = v.record
        func time(_ ms: Int64) -> String { UTCTimeFormat.cbrString(epochMilliseconds: ms) }
        return CBR.Agent(agentID: r.id, agentVersion: r.version, agentType: r.type, hostName: r.hostName, hostNickname: r.hostNickname, hostIP: r.hostIP,
                         hostOS: r.hostOS, status: v.status.rawValue, createdAt: time(r.createdAt), updatedAt: time(r.updatedAt),
                         lastActiveTime: time(r.lastActiveAt),
                         paths: v.paths.map { CBR.Agent.Path(id: $0.id, status: "available", agentID: $0.agentID, dirPath: $0.path, excludePaths: $0.excludes.joined(separator: ",")) })
    }

    @Sendable func registerAgent(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.AgentRegisterRequest.self, &request, context: context).agent
        var registration = AgentRegistration(id: body.agentID, hostName: body.hostName, hostIP: body.hostIP, hostOS: body.hostOS)
        registration.hostNickname = body.hostNickname ?? ""
        registration.version = body.agentVersion ?? ""
        registration.type = body.agentType ?? ""
        return try JSONBody.encoded(CBR.AgentResponse(AgentRoutes.agent(try await agents.register(caller: caller, registration))))
    }

    @Sendable func list(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        let limit = try q.int("limit", range: 1...1000, default: 1000)
        let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
        guard q.all("status").count <= 1 else { throw APIError.validation("status may be given once for agents") }
        let status = try q.oneOf("status", AgentFilter.Status.allCases.map(\.rawValue)).flatMap(AgentFilter.Status.init(rawValue:))
        let ids = q.all("agent_id")
        guard ids.count <= 100 else { throw APIError.validation("agent_id may be given at most 100 times") }
        let (items, total) = try await agents.list(caller: caller, ids: ids.isEmpty ? nil : ids, status: status, offset: offset, limit: limit)
        return try JSONBody.encoded(CBR.AgentList(items.map(AgentRoutes.agent), count: total, limit: limit, offset: offset))
    }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let view = try await agents.show(caller: caller, id: try context.parameters.require("agent_id"))
        return try JSONBody.encoded(CBR.AgentResponse(AgentRoutes.agent(view)))
    }

    @Sendable func update(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.AgentUpdateRequest.self, &request, context: context)
        let view = try await agents.update(caller: caller, id: try context.parameters.require("agent_id"), status: body.agent.status)
        return try JSONBody.encoded(CBR.AgentResponse(AgentRoutes.agent(view)))
    }

    @Sendable func unregister(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        try await agents.unregister(caller: caller, id: try context.parameters.require("agent_id"))
        return Response(status: .ok)
    }

    @Sendable func addPath(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.AgentAddPathRequest.self, &request, context: context)
        var excludes: [String: [String]] = [:]
        for e in body.excludePath ?? [] {
            guard excludes[e.pathName] == nil else { throw APIError.validation("exclude_path names \(Query.printable(e.pathName)) twice") }
            excludes[e.pathName] = e.excludePathName ?? []
        }
        let (added, existed) = try await agents.addPaths(caller: caller, id: try context.parameters.require("agent_id"), paths: body.addPath, excludes: excludes)
        return try JSONBody.encoded(CBR.AgentAddPathResponse(added: added, existed: existed))
    }

    @Sendable func removePath(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.AgentRemovePathRequest.self, &request, context: context)
        let (removed, notExisted) = try await agents.removePaths(caller: caller, id: try context.parameters.require("agent_id"), paths: body.removePath)
        return try JSONBody.encoded(CBR.AgentRemovePathResponse(removed: removed, notExisted: notExisted))
    }

    @Sendable func check(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.AgentCheckRequest.self, &request, context: context)
        let answers = try await agents.check(project: caller.projectID, resources: body.agentStatus.map(\.resourceID))
        return try JSONBody.encoded(CBR.AgentCheckResponse(answers.map { .init(resourceID: $0.resourceID, installed: $0.installed, version: $0.version, message: $0.message) }))
    }
}
