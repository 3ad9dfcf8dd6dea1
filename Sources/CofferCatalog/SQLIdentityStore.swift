import Foundation
import SQLKit
import CofferModel

/// Identity rows. Every lookup that serves a request names its project, so a
/// credential of one project can never read another's rows by id.
struct SQLIdentityStore: IdentityStore {
    let catalog: SQLCatalog
    var sql: any SQLDatabase { catalog.sql }

    func ensureDefaultDomain(now: Date) async throws {
        try await sql.raw("INSERT INTO domains (id, name, created_at) VALUES (\(bind: ProjectRecord.defaultDomainID), 'Default', \(bind: now.epochMilliseconds)) ON CONFLICT (id) DO NOTHING").run()
    }

    // MARK: projects

    func insertProject(_ p: ProjectRecord) async throws {
        do {
            try await sql.insert(into: "projects").columns("id", "name", "domain_id", "description", "created_at")
                .values(SQLBind(p.id), SQLBind(p.name), SQLBind(p.domainID), SQLBind(p.description), SQLBind(p.createdAt.epochMilliseconds)).run()
        } catch {
            if try await project(named: p.name) != nil { throw CatalogError(.conflict, "a project named \(p.name) already exists") }
            throw error
        }
    }

    func decodeProject(_ row: any SQLRow) throws -> ProjectRecord {
        ProjectRecord(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                      domainID: try row.decode(column: "domain_id", as: String.self), description: try row.decode(column: "description", as: String.self),
                      createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    func project(id: String) async throws -> ProjectRecord? {
        try await sql.select().column("*").from("projects").where("id", .equal, SQLBind(id)).first().map(decodeProject)
    }

    func project(named name: String) async throws -> ProjectRecord? {
        try await sql.select().column("*").from("projects").where("name", .equal, SQLBind(name)).first().map(decodeProject)
    }

    func projects() async throws -> [ProjectRecord] {
        try await sql.select().column("*").from("projects").orderBy("name").all().map(decodeProject)
    }

    func deleteProject(id: String) async throws -> Bool {
        try await catalog.withTransaction { db in
            guard try await db.select().column("id").from("projects").where("id", .equal, SQLBind(id)).first() != nil else { return false }
            try await db.delete(from: "projects").where("id", .equal, SQLBind(id)).run()
            try await BackupCounts.backupsChanged(on: db)  // its backups went with it
            return true
        }
    }

    // MARK: users

    func insertUser(_ u: UserRecord) async throws {
        do {
            try await sql.insert(into: "users").columns("id", "name", "domain_id", "password_hash", "default_project_id", "enabled", "created_at")
                .values(SQLBind(u.id), SQLBind(u.name), SQLBind(u.domainID), SQLBind(u.passwordHash), SQLBind(u.defaultProjectID), SQLBind(u.enabled), SQLBind(u.createdAt.epochMilliseconds)).run()
        } catch {
            if try await user(named: u.name) != nil { throw CatalogError(.conflict, "a user named \(u.name) already exists") }
            throw error
        }
    }

    func decodeUser(_ row: any SQLRow) throws -> UserRecord {
        UserRecord(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                   domainID: try row.decode(column: "domain_id", as: String.self), passwordHash: try row.decode(column: "password_hash", as: String.self),
                   defaultProjectID: try row.decode(column: "default_project_id", as: String?.self), enabled: try row.decode(column: "enabled", as: Bool.self),
                   createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    func user(id: String) async throws -> UserRecord? {
        try await sql.select().column("*").from("users").where("id", .equal, SQLBind(id)).first().map(decodeUser)
    }

    func user(named name: String) async throws -> UserRecord? {
        try await sql.select().column("*").from("users").where("name", .equal, SQLBind(name)).first().map(decodeUser)
    }

    /// Users holding a role in the project.
    func users(inProject projectID: String) async throws -> [(UserRecord, Role)] {
        try await sql.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("users"))).column("role").from("users")
            .join("role_assignments", on: SQLColumn("id", table: "users"), .equal, SQLColumn("user_id", table: "role_assignments"))
            .where(SQLColumn("project_id", table: "role_assignments"), .equal, SQLBind(projectID))
            .orderBy("name").all().map { row in (try decodeUser(row), Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .readonly) }
    }

    func deleteUser(id: String) async throws {
        try await sql.delete(from: "users").where("id", .equal, SQLBind(id)).run()
    }

    func assign(role: Role, user: String, project: String) async throws {
        try await sql.raw("""
            INSERT INTO role_assignments (user_id, project_id, role) VALUES (\(bind: user), \(bind: project), \(bind: role.rawValue))
            ON CONFLICT (user_id, project_id) DO UPDATE SET role = excluded.role
            """).run()
    }

    func role(user: String, project: String) async throws -> Role? {
        guard let row = try await sql.select().column("role").from("role_assignments")
            .where("user_id", .equal, SQLBind(user)).where("project_id", .equal, SQLBind(project)).first() else { return nil }
        return Role(rawValue: try row.decode(column: "role", as: String.self))
    }

    func projects(ofUser userID: String) async throws -> [ProjectRecord] {
        try await sql.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("projects"))).from("projects")
            .join("role_assignments", on: SQLColumn("id", table: "projects"), .equal, SQLColumn("project_id", table: "role_assignments"))
            .where(SQLColumn("user_id", table: "role_assignments"), .equal, SQLBind(userID)).orderBy("name").all().map(decodeProject)
    }

    // MARK: access keys

    func insertAccessKey(_ k: AccessKeyRecord) async throws {
        try await sql.insert(into: "access_keys").columns("access_key", "user_id", "project_id", "secret_sealed", "description", "created_at")
            .values(SQLBind(k.accessKey), SQLBind(k.userID), SQLBind(k.projectID), SQLBind(k.secretSealed), SQLBind(k.description), SQLBind(k.createdAt.epochMilliseconds)).run()
    }

    func decodeKey(_ row: any SQLRow) throws -> AccessKeyRecord {
        AccessKeyRecord(accessKey: try row.decode(column: "access_key", as: String.self), userID: try row.decode(column: "user_id", as: String.self),
                        projectID: try row.decode(column: "project_id", as: String.self), secretSealed: try row.decode(column: "secret_sealed", as: String.self),
                        description: try row.decode(column: "description", as: String.self),
                        createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    func accessKey(_ ak: String) async throws -> AccessKeyRecord? {
        try await sql.select().column("*").from("access_keys").where("access_key", .equal, SQLBind(ak)).first().map(decodeKey)
    }

    func accessKeys(project: String) async throws -> [AccessKeyRecord] {
        try await sql.select().column("*").from("access_keys").where("project_id", .equal, SQLBind(project)).orderBy("created_at").all().map(decodeKey)
    }

    func deleteAccessKey(_ ak: String, project: String) async throws -> Bool {
        try await catalog.withTransaction { db in
            guard try await db.select().column("access_key").from("access_keys").where("access_key", .equal, SQLBind(ak))
                .where("project_id", .equal, SQLBind(project)).first() != nil else { return false }
            try await db.delete(from: "access_keys").where("access_key", .equal, SQLBind(ak)).run()
            return true
        }
    }

    // MARK: tokens

    func insertToken(_ t: TokenRecord) async throws {
        try await sql.insert(into: "tokens").columns("id", "user_id", "project_id", "methods", "issued_at", "expires_at")
            .values(SQLBind(t.id), SQLBind(t.userID), SQLBind(t.projectID), SQLBind(t.methods.joined(separator: ",")),
                    SQLBind(t.issuedAt.epochMilliseconds), SQLBind(t.expiresAt.epochMilliseconds)).run()
    }

    func token(id: String) async throws -> TokenRecord? {
        guard let row = try await sql.select().column("*").from("tokens").where("id", .equal, SQLBind(id)).first() else { return nil }
        return TokenRecord(id: try row.decode(column: "id", as: String.self), userID: try row.decode(column: "user_id", as: String.self),
                           projectID: try row.decode(column: "project_id", as: String.self),
                           methods: try row.decode(column: "methods", as: String.self).split(separator: ",").map(String.init),
                           issuedAt: Date(epochMilliseconds: try row.decode(column: "issued_at", as: Int64.self)),
                           expiresAt: Date(epochMilliseconds: try row.decode(column: "expires_at", as: Int64.self)))
    }

    func deleteToken(id: String) async throws {
        try await sql.delete(from: "tokens").where("id", .equal, SQLBind(id)).run()
    }

    func deleteExpiredTokens(now: Date) async throws {
        try await sql.delete(from: "tokens").where("expires_at", .lessThan, SQLBind(now.epochMilliseconds)).run()
    }
}
