import CofferModel
import CofferService
import CofferSystem
import Foundation
import Hummingbird

/// Database instances and their backups; for the service admin, every project's
/// resource inventory and agents.
struct ConsoleInventoryPages {
    let console: ConsoleRoutes
    var services: APIServices { console.services }

    @Sendable func rds(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let project = session.caller.projectID
        let instances = try await services.resources.list(project: project, filter: ResourceFilter(type: ResourceType.database.rawValue), offset: 0, limit: 200).items
        var filter = BackupFilter()
        filter.resourceType = ResourceType.database.rawValue
        let backups = try await services.backups.listBackups(project: project, filter: filter, sort: [("created_at", false)], offset: 0, limit: 50).items
        var page = session.header(title: "Databases")
        page["instances"] = instances.map { i -> [String: Any] in
            let newest = backups.first { $0.resourceId == i.record.id }
            return ["id": i.record.id, "name": i.record.name, "description": i.record.description, "csrf": session.formToken,
                    "newest": newest.map { "\(ConsoleInput.time($0.createdAt)) (\($0.status.rawValue))" } ?? "none"]
        }
        page["backups"] = backups.map(ConsoleVaultPages.backupFields)
        return ConsolePage.render("rds", page)
    }

    @Sendable func backupInstance(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let id = try ConsoleInput.parameter(context, "instance_id")
        let name = "console-" + String(UTCTimeFormat.sdkDate.string(Date()).filter { $0.isNumber })
        _ = try await services.databases.createBackup(caller: session.caller, instanceID: id, name: name, description: "made from the console")
        return ConsolePage.redirect("/console/operations")
    }

    @Sendable func admin(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        guard session.caller.isServiceAdmin else { throw ConsoleFailure(.forbidden, "The inventory is for the service admin.") }
        let projects = try await services.identity.projects()
        let names = Dictionary(projects.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var resources: [[String: Any]] = []
        for p in projects {
            for r in try await services.resources.list(project: p.id, filter: ResourceFilter(), offset: 0, limit: 200).items {
                var row = ConsoleVaultPages.resourceFields(r.record)
                row["project"] = p.name
                row["host"] = r.record.agentID.map { "agent \($0)" } ?? "this server"
                resources.append(row)
            }
        }
        var agents: [[String: Any]] = []
        for (project, views) in try await services.agents.inventory(caller: session.caller, projects: projects.map(\.id)) {
            for a in views {
                agents.append(["project": names[project] ?? project, "host": a.record.hostNickname.isEmpty ? a.record.hostName : a.record.hostNickname,
                               "address": a.record.hostIP, "status": a.status.rawValue, "version": a.record.version,
                               "lastSeen": ConsoleInput.time(a.record.lastActiveAt), "paths": a.paths.count])
            }
        }
        var page = session.header(title: "Inventory")
        page["resources"] = resources
        page["agents"] = agents
        return ConsolePage.render("admin", page)
    }
}
