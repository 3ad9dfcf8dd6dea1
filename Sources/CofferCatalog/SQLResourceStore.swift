import Foundation
import SQLKit
import CofferModel

/// Resource rows; every query is scoped by project.
struct SQLResourceStore: ResourceStore {
    let catalog: SQLCatalog

    static let columns = ["id", "project_id", "type", "name", "description", "path", "parent_id", "bootable", "position", "created_at", "updated_at",
                          "device", "inode", "restore_special_files", "agent_id"]

    func decode(_ row: any SQLRow) throws -> ResourceRecord {
        ResourceRecord(id: try row.decode(column: "id", as: String.self), projectID: try row.decode(column: "project_id", as: String.self),
                       type: try row.decode(column: "type", as: String.self), name: try row.decode(column: "name", as: String.self),
                       description: try row.decode(column: "description", as: String.self), path: try row.decode(column: "path", as: String?.self),
                       parentID: try row.decode(column: "parent_id", as: String?.self), bootable: try row.decode(column: "bootable", as: Bool.self),
                       position: try row.decode(column: "position", as: Int.self),
                       createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
                       updatedAt: Date(epochMilliseconds: try row.decode(column: "updated_at", as: Int64.self)),
                       device: try row.decode(column: "device", as: Int64?.self), inode: try row.decode(column: "inode", as: Int64?.self),
                       restoreSpecialFiles: try row.decode(column: "restore_special_files", as: Bool.self),
                       agentID: try row.decode(column: "agent_id", as: String?.self))
    }

    /// Inserts a resource and its children in one transaction, after `check`
    /// has seen every resource with a path inside the same transaction (so two
    /// registrations cannot both pass it).
    func insert(_ records: [ResourceRecord], check: ([ResourceRecord]) throws -> Void = { _ in }) async throws {
        try await catalog.withTransaction { db in
            let existing = try await db.select().columns(SQLResourceStore.columns.map { SQLColumn($0) }).from("resources")
                .where("path", .isNot, SQLLiteral.null).all().map(decode)
            try check(existing)
            for r in records {
                try await db.insert(into: "resources").columns(SQLResourceStore.columns)
                    .values(SQLBind(r.id), SQLBind(r.projectID), SQLBind(r.type), SQLBind(r.name), SQLBind(r.description), SQLBind(r.path),
                            SQLBind(r.parentID), SQLBind(r.bootable), SQLBind(r.position), SQLBind(r.createdAt.epochMilliseconds), SQLBind(r.updatedAt.epochMilliseconds),
                            SQLBind(r.device), SQLBind(r.inode), SQLBind(r.restoreSpecialFiles), SQLBind(r.agentID))
                    .run()
            }
        }
    }

    func get(project: String, id: String) async throws -> ResourceRecord? {
        try await catalog.sql.select().columns(SQLResourceStore.columns.map { SQLColumn($0) }).from("resources")
            .where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).first().map(decode)
    }

    func children(project: String, of parent: String) async throws -> [ResourceRecord] {
        try await catalog.sql.select().columns(SQLResourceStore.columns.map { SQLColumn($0) }).from("resources")
            .where("project_id", .equal, SQLBind(project)).where("parent_id", .equal, SQLBind(parent)).orderBy("position").all().map(decode)
    }

    /// Matching resources, ordered by creation then id, with the total count before paging.
    func list(project: String, filter: ResourceFilter, offset: Int, limit: Int) async throws -> (items: [ResourceRecord], total: Int) {
        func apply(_ q: SQLSelectBuilder) -> SQLSelectBuilder {
            var q = q.where("project_id", .equal, SQLBind(project))
            if let t = filter.type { q = q.where("type", .equal, SQLBind(t)) }
            if let n = filter.name { q = q.where("name", .like, SQLBind("%" + n.replacingOccurrences(of: "%", with: "") + "%")) }
            if let i = filter.id { q = q.where("id", .equal, SQLBind(i)) }
            if let p = filter.parentID { q = q.where("parent_id", .equal, SQLBind(p)) } else if filter.topLevelOnly { q = q.where("parent_id", .is, SQLLiteral.null) }
            return q
        }
        let countRow = try await apply(catalog.sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("resources")).first()
        let total = try countRow?.decode(column: "n", as: Int.self) ?? 0
        let items = try await apply(catalog.sql.select().columns(SQLResourceStore.columns.map { SQLColumn($0) }).from("resources"))
            .orderBy("created_at").orderBy("id").offset(offset).limit(limit).all().map(decode)
        return (items, total)
    }

    func update(project: String, id: String, name: String?, description: String?, now: Date) async throws {
        var q = catalog.sql.update("resources").set("updated_at", to: SQLBind(now.epochMilliseconds))
        if let name { q = q.set("name", to: SQLBind(name)) }
        if let description { q = q.set("description", to: SQLBind(description)) }
        try await q.where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).run()
    }

    func delete(project: String, id: String) async throws {
        try await catalog.sql.delete(from: "resources").where("project_id", .equal, SQLBind(project)).where("id", .equal, SQLBind(id)).run()
    }

    /// A project's resources of these types that have a path (restore targets are chosen among them).
    func withPaths(project: String, types: [String]) async throws -> [ResourceRecord] {
        try await catalog.sql.select().columns(SQLResourceStore.columns.map { SQLColumn($0) }).from("resources")
            .where("project_id", .equal, SQLBind(project)).where("type", .in, SQLBind.group(types)).where("path", .isNot, SQLLiteral.null).all().map(decode)
    }
}
