import CofferModel
import Foundation
import SQLKit

/// Backup agents and their paths; every query is scoped by project.
struct SQLAgentStore: AgentStore {
    let catalog: SQLCatalog
    var sql: any SQLDatabase { catalog.sql }

    static let columns = ["project_id", "id", "host_name", "host_nickname", "host_ip", "host_os", "version", "type", "uninstalled",
                          "created_at", "updated_at", "last_active_at", "registered_by"]

    func values(_ a: AgentRecord) -> [any SQLExpression] {
        [SQLBind(a.projectID), SQLBind(a.id), SQLBind(a.hostName), SQLBind(a.hostNickname), SQLBind(a.hostIP), SQLBind(a.hostOS), SQLBind(a.version),
         SQLBind(a.type), SQLBind(a.uninstalled), SQLBind(a.createdAt), SQLBind(a.updatedAt), SQLBind(a.lastActiveAt), SQLBind(a.registeredBy)]
    }

    func decode(_ row: any SQLRow) throws -> AgentRecord {
        AgentRecord(id: try row.decode(column: "id", as: String.self), projectID: try row.decode(column: "project_id", as: String.self),
                    hostName: try row.decode(column: "host_name", as: String.self), hostNickname: try row.decode(column: "host_nickname", as: String.self),
                    hostIP: try row.decode(column: "host_ip", as: String.self), hostOS: try row.decode(column: "host_os", as: String.self),
                    version: try row.decode(column: "version", as: String.self), type: try row.decode(column: "type", as: String.self),
                    uninstalled: try row.decode(column: "uninstalled", as: Bool.self), createdAt: try row.decode(column: "created_at", as: Int64.self),
                    updatedAt: try row.decode(column: "updated_at", as: Int64.self), lastActiveAt: try row.decode(column: "last_active_at", as: Int64.self),
                    registeredBy: try row.decode(column: "registered_by", as: String.self))
    }

    func select(_ db: any SQLDatabase) -> SQLSelectBuilder {
        db.select().columns(SQLAgentStore.columns.map { SQLColumn($0) }).from("agents")
    }

    /// Counted and written in one transaction, so two registrations cannot both take the last place.
    func register(_ agent: AgentRecord, limit: Int, ownerOnly: Bool) async throws -> AgentRecord {
        try await catalog.withTransaction { db in
            if var known = try await select(db).where("project_id", .equal, SQLBind(agent.projectID)).where("id", .equal, SQLBind(agent.id)).first().map(decode) {
                if ownerOnly && known.registeredBy != agent.registeredBy {
                    throw CatalogError(.conflict, "agent \(agent.id) was registered by another user")
                }
                known.hostName = agent.hostName
                known.hostNickname = agent.hostNickname
                known.hostIP = agent.hostIP
                known.hostOS = agent.hostOS
                known.version = agent.version
                known.type = agent.type
                known.uninstalled = false
                known.updatedAt = agent.updatedAt
                known.lastActiveAt = agent.lastActiveAt
                try await update(known, in: db)
                return known
            }
            let row = try await db.raw("SELECT COUNT(*) AS n FROM agents WHERE project_id = \(bind: agent.projectID)").first()
            guard try row?.decode(column: "n", as: Int.self) ?? 0 < limit else {
                throw CatalogError(.quotaAgents, "project \(agent.projectID) may register at most \(limit) agents")
            }
            try await db.insert(into: "agents").columns(SQLAgentStore.columns).values(values(agent)).run()
            return agent
        }
    }

    func get(project: String, id: String) async throws -> AgentRecord? {
        try await select(sql).where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).first().map(decode)
    }

    func list(project: String, filter: AgentFilter, offset: Int, limit: Int) async throws -> (items: [AgentRecord], total: Int) {
        func apply(_ q: SQLSelectBuilder) -> SQLSelectBuilder {
            var q = q.where("project_id", .equal, SQLBind(project))
            if let ids = filter.ids { q = q.where("id", .in, SQLBind.group(ids)) }
            if let user = filter.registeredBy { q = q.where("registered_by", .equal, SQLBind(user)) }
            switch filter.status {
            case .online: q = q.where("uninstalled", .equal, SQLBind(false)).where("last_active_at", .greaterThanOrEqual, SQLBind(filter.onlineSince))
            case .offline: q = q.where("uninstalled", .equal, SQLBind(false)).where("last_active_at", .lessThan, SQLBind(filter.onlineSince))
            case .uninstalled: q = q.where("uninstalled", .equal, SQLBind(true))
            case nil: break
            }
            return q
        }
        let total = try await apply(sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("agents")).first()?
            .decode(column: "n", as: Int.self) ?? 0
        let items = try await apply(select(sql)).orderBy("created_at").orderBy("id").offset(offset).limit(limit).all().map(decode)
        return (items, total)
    }

    func update(_ agent: AgentRecord) async throws {
        try await update(agent, in: sql)
    }

    private func update(_ agent: AgentRecord, in db: any SQLDatabase) async throws {
        var q = db.update("agents")
        for (column, value) in zip(SQLAgentStore.columns, values(agent)) where column != "id" && column != "project_id" {
            q = q.set(SQLIdentifier(column), to: value)
        }
        try await q.where("project_id", .equal, SQLBind(agent.projectID)).where("id", .equal, SQLBind(agent.id)).run()
    }

    func delete(project: String, id: String) async throws -> Bool {
        try await catalog.withTransaction { db in
            guard try await db.select().column("id").from("agents").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).first() != nil else {
                return false
            }
            try await db.delete(from: "agent_paths").where("project_id", .equal, SQLBind(project)).where("agent_id", .equal, SQLBind(id)).run()
            try await db.delete(from: "agents").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).run()
            return true
        }
    }

    static let pathColumns = ["id", "project_id", "agent_id", "path", "excludes", "created_at"]

    func decodePath(_ row: any SQLRow) throws -> AgentPathRecord {
        let excludes = try row.decode(column: "excludes", as: String.self)
        return AgentPathRecord(id: try row.decode(column: "id", as: String.self), agentID: try row.decode(column: "agent_id", as: String.self),
                               projectID: try row.decode(column: "project_id", as: String.self), path: try row.decode(column: "path", as: String.self),
                               excludes: (try? JSONDecoder().decode([String].self, from: Data(excludes.utf8))) ?? [],
                               createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    func paths(project: String, agents: [String]) async throws -> [String: [AgentPathRecord]] {
        guard !agents.isEmpty else { return [:] }
        let rows = try await sql.select().columns(SQLAgentStore.pathColumns.map { SQLColumn($0) }).from("agent_paths")
            .where("project_id", .equal, SQLBind(project)).where("agent_id", .in, SQLBind.group(agents))
            .orderBy("created_at").orderBy("path").all().map(decodePath)
        return Dictionary(grouping: rows, by: \.agentID)
    }

    func addPaths(_ paths: [AgentPathRecord], project: String, agent: String, limit: Int) async throws -> (added: [String], existed: [String]) {
        try await catalog.withTransaction { db in
            let known = Set(try await db.select().column("path").from("agent_paths")
                .where("project_id", .equal, SQLBind(project)).where("agent_id", .equal, SQLBind(agent)).all()
                .map { try $0.decode(column: "path", as: String.self) })
            var added: [String] = [], existed: [String] = []
            var count = known.count
            for p in paths {
                if known.contains(p.path) || added.contains(p.path) { existed.append(p.path); continue }
                count += 1
                guard count <= limit else { throw CatalogError(.quotaAgents, "agent \(agent) may back up at most \(limit) paths") }
                let excludes = String(decoding: try JSONEncoder().encode(p.excludes), as: UTF8.self)
                try await db.insert(into: "agent_paths").columns(SQLAgentStore.pathColumns)
                    .values(SQLBind(p.id), SQLBind(project), SQLBind(agent), SQLBind(p.path), SQLBind(excludes), SQLBind(p.createdAt)).run()
                added.append(p.path)
            }
            return (added, existed)
        }
    }

    func removePaths(_ paths: [String], project: String, agent: String) async throws -> (removed: [String], notExisted: [String]) {
        try await catalog.withTransaction { db in
            var removed: [String] = [], notExisted: [String] = []
            for path in paths {
                let found = try await db.select().column("id").from("agent_paths").where("project_id", .equal, SQLBind(project))
                    .where("agent_id", .equal, SQLBind(agent)).where("path", .equal, SQLBind(path)).first() != nil
                guard found, !removed.contains(path) else { notExisted.append(path); continue }
                try await db.delete(from: "agent_paths").where("project_id", .equal, SQLBind(project)).where("agent_id", .equal, SQLBind(agent))
                    .where("path", .equal, SQLBind(path)).run()
                removed.append(path)
            }
            return (removed, notExisted)
        }
    }
}
