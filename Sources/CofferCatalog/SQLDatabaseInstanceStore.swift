import Foundation
import SQLKit
import CofferModel

struct SQLDatabaseInstanceStore: DatabaseInstanceStore {
    let catalog: SQLCatalog

    func insert(_ record: DatabaseInstanceRecord) async throws {
        try await catalog.sql.insert(into: "database_instances").model(record).run()
    }

    func get(_ resourceID: String) async throws -> DatabaseInstanceRecord? {
        try await catalog.sql.select().column("*").from("database_instances").where("resource_id", .equal, SQLBind(resourceID))
            .first(decoding: DatabaseInstanceRecord.self)
    }

    func setVersion(_ resourceID: String, _ version: String) async throws {
        try await catalog.sql.update("database_instances").set("version", to: SQLBind(version)).where("resource_id", .equal, SQLBind(resourceID)).run()
    }

    func all() async throws -> [(record: DatabaseInstanceRecord, projectID: String)] {
        let rows = try await catalog.sql.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("database_instances")))
            .column(SQLColumn("project_id", table: "resources")).from("database_instances")
            .join("resources", on: SQLColumn("id", table: "resources"), .equal, SQLColumn("resource_id", table: "database_instances"))
            .orderBy(SQLColumn("resource_id", table: "database_instances")).all()
        return try rows.map { (try $0.decode(model: DatabaseInstanceRecord.self), try $0.decode(column: "project_id", as: String.self)) }
    }

    func setPolicy(_ resourceID: String, _ policy: String) async throws {
        try await catalog.sql.update("database_instances").set("policy", to: SQLBind(policy)).where("resource_id", .equal, SQLBind(resourceID)).run()
    }
}
