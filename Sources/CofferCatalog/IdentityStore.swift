import Foundation
import SQLKit

public struct ProjectRecord: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var domainID: String
    public var description: String
    public var createdAt: Date

    public init(id: String, name: String, domainID: String, description: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.domainID = domainID
        self.description = description
        self.createdAt = createdAt
    }
}

public struct UserRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var domainID: String
    public var passwordHash: String
    public var defaultProjectID: String?
    public var enabled: Bool
    public var createdAt: Date

    public init(id: String, name: String, domainID: String, passwordHash: String, defaultProjectID: String?, enabled: Bool, createdAt: Date) {
        self.id = id
        self.name = name
        self.domainID = domainID
        self.passwordHash = passwordHash
        self.defaultProjectID = defaultProjectID
        self.enabled = enabled
        self.createdAt = createdAt
    }
}

public struct AccessKeyRecord: Sendable, Equatable {
    public var accessKey: String
    public var userID: String
    public var projectID: String
    public var secretSealed: String
    public var description: String
    public var createdAt: Date

    public init(accessKey: String, userID: String, projectID: String, secretSealed: String, description: String, createdAt: Date) {
        self.accessKey = accessKey
        self.userID = userID
        self.projectID = projectID
        self.secretSealed = secretSealed
        self.description = description
        self.createdAt = createdAt
    }
}

public struct TokenRecord: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var projectID: String
    public var methods: [String]
    public var issuedAt: Date
    public var expiresAt: Date

    public init(id: String, userID: String, projectID: String, methods: [String], issuedAt: Date, expiresAt: Date) {
        self.id = id
        self.userID = userID
        self.projectID = projectID
        self.methods = methods
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

public enum Role: String, Sendable, CaseIterable, Codable {
    case admin, member, readonly
}

/// Identity rows. Every lookup that serves a request names its project, so a
/// credential of one project can never read another's rows by id.
public struct IdentityStore: Sendable {
    public let catalog: Catalog
    public init(catalog: Catalog) { self.catalog = catalog }
    var sql: any SQLDatabase { catalog.sql }

    public static let defaultDomainID = "default"

    public func ensureDefaultDomain(now: Date) async throws {
        try await sql.raw("INSERT INTO domains (id, name, created_at) VALUES (\(bind: IdentityStore.defaultDomainID), 'Default', \(bind: now.epochMilliseconds)) ON CONFLICT (id) DO NOTHING").run()
    }

    // MARK: projects

    public func insertProject(_ p: ProjectRecord, on db: (any SQLDatabase)? = nil) async throws {
        do {
            try await (db ?? sql).insert(into: "projects").columns("id", "name", "domain_id", "description", "created_at")
                .values(SQLBind(p.id), SQLBind(p.name), SQLBind(p.domainID), SQLBind(p.description), SQLBind(p.createdAt.epochMilliseconds)).run()
        } catch {
            if try await project(named: p.name, on: db) != nil { throw CatalogError(.conflict, "a project named \(p.name) already exists") }
            throw error
        }
    }

    func decodeProject(_ row: any SQLRow) throws -> ProjectRecord {
        ProjectRecord(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                      domainID: try row.decode(column: "domain_id", as: String.self), description: try row.decode(column: "description", as: String.self),
                      createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    public func project(id: String) async throws -> ProjectRecord? {
        try await sql.select().column("*").from("projects").where("id", .equal, SQLBind(id)).first().map(decodeProject)
    }

    public func project(named name: String, on db: (any SQLDatabase)? = nil) async throws -> ProjectRecord? {
        try await (db ?? sql).select().column("*").from("projects").where("name", .equal, SQLBind(name)).first().map(decodeProject)
    }

    public func projects() async throws -> [ProjectRecord] {
        try await sql.select().column("*").from("projects").orderBy("name").all().map(decodeProject)
    }

    public func deleteProject(id: String) async throws -> Bool {
        try await catalog.transaction { db in
            guard try await db.select().column("id").from("projects").where("id", .equal, SQLBind(id)).first() != nil else { return false }
            try await db.delete(from: "projects").where("id", .equal, SQLBind(id)).run()
            return true
        }
    }

    // MARK: users

    public func insertUser(_ u: UserRecord, on db: (any SQLDatabase)? = nil) async throws {
        do {
            try await (db ?? sql).insert(into: "users").columns("id", "name", "domain_id", "password_hash", "default_project_id", "enabled", "created_at")
                .values(SQLBind(u.id), SQLBind(u.name), SQLBind(u.domainID), SQLBind(u.passwordHash), SQLBind(u.defaultProjectID), SQLBind(u.enabled), SQLBind(u.createdAt.epochMilliseconds)).run()
        } catch {
            if try await user(named: u.name, on: db) != nil { throw CatalogError(.conflict, "a user named \(u.name) already exists") }
            throw error
        }
    }

    func decodeUser(_ row: any SQLRow) throws -> UserRecord {
        UserRecord(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                   domainID: try row.decode(column: "domain_id", as: String.self), passwordHash: try row.decode(column: "password_hash", as: String.self),
                   defaultProjectID: try row.decode(column: "default_project_id", as: String?.self), enabled: try row.decode(column: "enabled", as: Bool.self),
                   createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    public func user(id: String) async throws -> UserRecord? {
        try await sql.select().column("*").from("users").where("id", .equal, SQLBind(id)).first().map(decodeUser)
    }

    public func user(named name: String, on db: (any SQLDatabase)? = nil) async throws -> UserRecord? {
        try await (db ?? sql).select().column("*").from("users").where("name", .equal, SQLBind(name)).first().map(decodeUser)
    }

    /// Users holding a role in the project.
    public func users(inProject projectID: String) async throws -> [(UserRecord, Role)] {
        try await sql.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("users"))).column("role").from("users")
            .join("role_assignments", on: SQLColumn("id", table: "users"), .equal, SQLColumn("user_id", table: "role_assignments"))
            .where(SQLColumn("project_id", table: "role_assignments"), .equal, SQLBind(projectID))
            .orderBy("name").all().map { row in (try decodeUser(row), Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .readonly) }
    }

    public func deleteUser(id: String) async throws {
        try await sql.delete(from: "users").where("id", .equal, SQLBind(id)).run()
    }

    public func assign(role: Role, user: String, project: String, on db: (any SQLDatabase)? = nil) async throws {
        try await (db ?? sql).insert(into: "role_assignments").columns("user_id", "project_id", "role")
            .values(SQLBind(user), SQLBind(project), SQLBind(role.rawValue)).run()
    }

    public func role(user: String, project: String) async throws -> Role? {
        guard let row = try await sql.select().column("role").from("role_assignments")
            .where("user_id", .equal, SQLBind(user)).where("project_id", .equal, SQLBind(project)).first() else { return nil }
        return Role(rawValue: try row.decode(column: "role", as: String.self))
    }

    public func projects(ofUser userID: String) async throws -> [ProjectRecord] {
        try await sql.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("projects"))).from("projects")
            .join("role_assignments", on: SQLColumn("id", table: "projects"), .equal, SQLColumn("project_id", table: "role_assignments"))
            .where(SQLColumn("user_id", table: "role_assignments"), .equal, SQLBind(userID)).orderBy("name").all().map(decodeProject)
    }

    // MARK: access keys

    public func insertAccessKey(_ k: AccessKeyRecord, on db: (any SQLDatabase)? = nil) async throws {
        try await (db ?? sql).insert(into: "access_keys").columns("access_key", "user_id", "project_id", "secret_sealed", "description", "created_at")
            .values(SQLBind(k.accessKey), SQLBind(k.userID), SQLBind(k.projectID), SQLBind(k.secretSealed), SQLBind(k.description), SQLBind(k.createdAt.epochMilliseconds)).run()
    }

    func decodeKey(_ row: any SQLRow) throws -> AccessKeyRecord {
        AccessKeyRecord(accessKey: try row.decode(column: "access_key", as: String.self), userID: try row.decode(column: "user_id", as: String.self),
                        projectID: try row.decode(column: "project_id", as: String.self), secretSealed: try row.decode(column: "secret_sealed", as: String.self),
                        description: try row.decode(column: "description", as: String.self),
                        createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    public func accessKey(_ ak: String) async throws -> AccessKeyRecord? {
        try await sql.select().column("*").from("access_keys").where("access_key", .equal, SQLBind(ak)).first().map(decodeKey)
    }

    public func accessKeys(project: String) async throws -> [AccessKeyRecord] {
        try await sql.select().column("*").from("access_keys").where("project_id", .equal, SQLBind(project)).orderBy("created_at").all().map(decodeKey)
    }

    public func deleteAccessKey(_ ak: String, project: String) async throws -> Bool {
        try await catalog.transaction { db in
            guard try await db.select().column("access_key").from("access_keys").where("access_key", .equal, SQLBind(ak))
                .where("project_id", .equal, SQLBind(project)).first() != nil else { return false }
            try await db.delete(from: "access_keys").where("access_key", .equal, SQLBind(ak)).run()
            return true
        }
    }

    // MARK: tokens

    public func insertToken(_ t: TokenRecord) async throws {
        try await sql.insert(into: "tokens").columns("id", "user_id", "project_id", "methods", "issued_at", "expires_at")
            .values(SQLBind(t.id), SQLBind(t.userID), SQLBind(t.projectID), SQLBind(t.methods.joined(separator: ",")),
                    SQLBind(t.issuedAt.epochMilliseconds), SQLBind(t.expiresAt.epochMilliseconds)).run()
    }

    public func token(id: String) async throws -> TokenRecord? {
        guard let row = try await sql.select().column("*").from("tokens").where("id", .equal, SQLBind(id)).first() else { return nil }
        return TokenRecord(id: try row.decode(column: "id", as: String.self), userID: try row.decode(column: "user_id", as: String.self),
                           projectID: try row.decode(column: "project_id", as: String.self),
                           methods: try row.decode(column: "methods", as: String.self).split(separator: ",").map(String.init),
                           issuedAt: Date(epochMilliseconds: try row.decode(column: "issued_at", as: Int64.self)),
                           expiresAt: Date(epochMilliseconds: try row.decode(column: "expires_at", as: Int64.self)))
    }

    public func deleteToken(id: String) async throws {
        try await sql.delete(from: "tokens").where("id", .equal, SQLBind(id)).run()
    }

    public func deleteExpiredTokens(now: Date) async throws {
        try await sql.delete(from: "tokens").where("expires_at", .lessThan, SQLBind(now.epochMilliseconds)).run()
    }
}
