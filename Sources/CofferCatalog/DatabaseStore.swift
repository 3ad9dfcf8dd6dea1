import Foundation
import SQLKit

/// What the catalog keeps of a database instance beyond its resource row.
public struct DatabaseInstanceRecord: Codable, Sendable, Equatable {
    public var resourceId: String
    public var engine: String
    /// The connection URL sealed under the master key: it holds the password.
    public var connectionSealed: String
    /// The server version seen by the last backup ("" before the first).
    public var version: String
    /// RDS backup policy, JSON {keep_days, start_time, period}.
    public var policy: String

    enum CodingKeys: String, CodingKey {
        case resourceId = "resource_id"
        case engine
        case connectionSealed = "connection_sealed"
        case version
        case policy
    }

    public init(resourceId: String, engine: String, connectionSealed: String, version: String, policy: String) {
        self.resourceId = resourceId
        self.engine = engine
        self.connectionSealed = connectionSealed
        self.version = version
        self.policy = policy
    }
}

public struct DatabaseStore: Sendable {
    public let catalog: Catalog
    public init(catalog: Catalog) { self.catalog = catalog }

    public func insert(_ record: DatabaseInstanceRecord) async throws {
        try await catalog.sql.insert(into: "database_instances").model(record).run()
    }

    public func get(_ resourceID: String) async throws -> DatabaseInstanceRecord? {
        try await catalog.sql.select().column("*").from("database_instances").where("resource_id", .equal, SQLBind(resourceID))
            .first(decoding: DatabaseInstanceRecord.self)
    }

    public func setVersion(_ resourceID: String, _ version: String) async throws {
        try await catalog.sql.update("database_instances").set("version", to: SQLBind(version)).where("resource_id", .equal, SQLBind(resourceID)).run()
    }

    public func setPolicy(_ resourceID: String, _ policy: String) async throws {
        try await catalog.sql.update("database_instances").set("policy", to: SQLBind(policy)).where("resource_id", .equal, SQLBind(resourceID)).run()
    }
}
