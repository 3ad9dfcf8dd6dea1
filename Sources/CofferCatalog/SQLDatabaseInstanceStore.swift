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

    func setPolicy(_ resourceID: String, _ policy: String) async throws {
        try await catalog.sql.update("database_instances").set("policy", to: SQLBind(policy)).where("resource_id", .equal, SQLBind(resourceID)).run()
    }
}
