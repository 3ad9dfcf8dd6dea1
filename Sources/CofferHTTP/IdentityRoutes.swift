import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Keystone-style identity: token issue/validation with a service catalog
/// pointing at this server, version discovery, and the admin API for
/// projects, users and access keys.
struct IdentityRoutes {
    let identity: IdentityService
    let region: String

    static func time(_ d: Date) -> String { UTCTimeFormat.keystone.string(d) }

    static func baseURL(_ request: Request) -> String {
        let host = request.head.authority ?? "127.0.0.1"
        return "http://\(host)"
    }

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.get, "/", versions)
        add(.get, "/v3", version)
        add(.post, "/v3/auth/tokens", issueToken)
        add(.get, "/v3/auth/tokens", validateToken)
        add(.delete, "/v3/auth/tokens", revokeToken)
        add(.get, "/v3/projects", listProjects)
        add(.post, "/v3/projects", createProject)
        add(.delete, "/v3/projects/:project_id", deleteProject)
        add(.get, "/v3/users", listUsers)
        add(.post, "/v3/users", createUser)
        add(.delete, "/v3/users/:user_id", deleteUser)
        add(.get, "/v3/credentials", listCredentials)
        add(.post, "/v3/credentials", createCredential)
        add(.delete, "/v3/credentials/:access_key", deleteCredential)
    }

    // MARK: discovery

    func versionObject(_ request: Request) -> [String: Any] {
        ["id": "v3.14", "status": "stable", "updated": "2026-01-01T00:00:00Z",
         "links": [["rel": "self", "href": IdentityRoutes.baseURL(request) + "/v3/"]],
         "media-types": [["base": "application/json", "type": "application/vnd.openstack.identity-v3+json"]]]
    }

    @Sendable func versions(_ request: Request, _ context: CofferContext) async throws -> Response {
        JSONBody.response(status: .multipleChoices, ["versions": ["values": [versionObject(request)]]])
    }

    @Sendable func version(_ request: Request, _ context: CofferContext) async throws -> Response {
        JSONBody.response(["version": versionObject(request)])
    }

    // MARK: tokens

    func tokenBody(_ issued: IssuedToken, request: Request) -> [String: Any] {
        let p = issued.principal
        let base = IdentityRoutes.baseURL(request)
        let domain: [String: Any] = ["id": p.domainID, "name": "Default"]
        func service(_ type: String, _ name: String, _ url: String) -> [String: Any] {
            ["type": type, "name": name, "id": name,
             "endpoints": [["id": "\(name)-public", "interface": "public", "region": region, "region_id": region, "url": url]]]
        }
        return ["token": [
            "expires_at": IdentityRoutes.time(issued.record.expiresAt),
            "issued_at": IdentityRoutes.time(issued.record.issuedAt),
            "methods": issued.record.methods,
            "user": ["id": p.userID, "name": p.userName, "domain": domain],
            "project": ["id": p.projectID, "name": p.projectName, "domain": domain],
            "roles": [["id": p.role.rawValue, "name": p.role.rawValue]],
            "catalog": [
                service("identity", "keystone", base + "/v3"),
                service("cbr", "cbr", base + "/v3/" + p.projectID),
                service("data-protect", "csbs", base + "/v1/" + p.projectID),
                service("rdsv3", "rdsv3", base + "/v3/" + p.projectID),
            ],
        ] as [String: Any]]
    }

    @Sendable func issueToken(_ request: Request, _ context: CofferContext) async throws -> Response {
        var request = request
        let body = Fields(try await JSONBody.object(&request, context: context))
        let auth = try body.object("auth")
        let identityFields = try auth.object("identity")
        let methods = try identityFields.stringArray("methods")
        var scope: IdentityService.Scope?
        if let s = try auth.optionalObject("scope") {
            let project = try s.object("project")
            if let id = try project.optionalString("id") {
                scope = .projectID(id)
            } else if let name = try project.optionalString("name") {
                scope = .projectName(name)
            } else {
                throw APIError.validation("auth.scope.project needs id or name")
            }
        }
        let issued: IssuedToken
        if methods.contains("password") {
            let user = try identityFields.object("password").object("user")
            let password = try user.string("password")
            if let name = try user.optionalString("name") {
                issued = try await identity.issueToken(userName: name, password: password, scope: scope, source: context.remoteAddress)
            } else if let id = try user.optionalString("id"), let record = try await identity.user(id: id) {
                issued = try await identity.issueToken(userName: record.name, password: password, scope: scope, source: context.remoteAddress)
            } else {
                throw APIError(status: .unauthorized, code: "APIGW.0301", message: "The request you have made requires authentication.", includeRequestID: true)
            }
        } else if methods.contains("token") {
            let token = try identityFields.object("token").string("id")
            issued = try await identity.issueToken(fromToken: token, scope: scope)
        } else {
            throw APIError.validation("auth.identity.methods must contain \"password\" or \"token\"")
        }
        var headers = HTTPFields()
        headers[.subjectToken] = issued.token
        return JSONBody.response(status: .created, tokenBody(issued, request: request), headers: headers)
    }

    @Sendable func validateToken(_ request: Request, _ context: CofferContext) async throws -> Response {
        guard let token = request.headers[.authToken], let caller = try await identity.validate(token: token) else {
            throw APIError(status: .unauthorized, code: "APIGW.0301", message: "X-Auth-Token is missing, invalid or expired", includeRequestID: true)
        }
        guard let subject = request.headers[.subjectToken] else { throw APIError.validation("X-Subject-Token header is required") }
        // Another user's token reads exactly like an invalid one: its existence is not disclosed.
        guard let record = try await identity.tokenRecord(subject), identity.mayIntrospect(record, caller: caller),
              let principal = try await identity.validate(token: subject) else {
            throw APIError(status: .notFound, code: "BackupService.9900", message: "the subject token is invalid or expired")
        }
        var headers = HTTPFields()
        headers[.subjectToken] = subject
        return JSONBody.response(tokenBody(IssuedToken(token: subject, record: record, principal: principal), request: request), headers: headers)
    }

    @Sendable func revokeToken(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        guard let subject = request.headers[.subjectToken] else { throw APIError.validation("X-Subject-Token header is required") }
        try await identity.revoke(token: subject, by: caller)
        return Response(status: .noContent)
    }

    // MARK: admin API

    func requireServiceAdmin(_ context: CofferContext) throws -> Principal {
        let p = try context.caller()
        guard p.isServiceAdmin else {
            throw APIError(status: .forbidden, code: "BackupService.8600", message: "only an admin of the admin project may manage projects")
        }
        return p
    }

    func requireProjectAdmin(_ context: CofferContext) throws -> Principal {
        let p = try context.caller()
        guard p.role == .admin else { throw APIError(status: .forbidden, code: "BackupService.8600", message: "role \(p.role.rawValue) cannot manage users and keys") }
        return p
    }

    func projectJSON(_ p: ProjectRecord) -> [String: Any] {
        ["id": p.id, "name": p.name, "domain_id": p.domainID, "description": p.description, "enabled": true]
    }

    @Sendable func listProjects(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let all = try await identity.projects()
        let visible = caller.projectName == "admin" && caller.role == .admin ? all : all.filter { $0.id == caller.projectID }
        return JSONBody.response(["projects": visible.map(projectJSON)])
    }

    @Sendable func createProject(_ request: Request, _ context: CofferContext) async throws -> Response {
        _ = try requireServiceAdmin(context)
        var request = request
        let project = try Fields(try await JSONBody.object(&request, context: context)).object("project")
        let created = try await identity.createProject(name: try project.string("name"), description: try project.optionalString("description") ?? "")
        return JSONBody.response(status: .created, [
            "project": ["id": created.project_id, "name": created.project_name],
            "credentials": ["project_id": created.project_id, "user_name": created.user_name, "password": created.password,
                            "access_key": created.access_key, "secret_key": created.secret_key],
        ])
    }

    @Sendable func deleteProject(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try requireServiceAdmin(context)
        let id = try context.parameters.require("project_id")
        guard id != caller.projectID else { throw APIError.validation("the admin project cannot delete itself") }
        try await identity.deleteProject(id: id)
        return Response(status: .noContent)
    }

    @Sendable func listUsers(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let users = try await identity.users(project: caller.projectID)
        return JSONBody.response(["users": users.map { u, role in ["id": u.id, "name": u.name, "role": role.rawValue, "enabled": u.enabled, "domain_id": u.domainID] }])
    }

    @Sendable func createUser(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try requireProjectAdmin(context)
        var request = request
        let user = try Fields(try await JSONBody.object(&request, context: context)).object("user")
        let roleText = try user.optionalString("role") ?? "member"
        guard let role = Role(rawValue: roleText) else { throw APIError.validation("user.role must be admin, member or readonly") }
        let (record, password) = try await identity.createUser(project: caller.projectID, name: try user.string("name"), role: role)
        return JSONBody.response(status: .created, ["user": ["id": record.id, "name": record.name, "role": role.rawValue], "password": password])
    }

    @Sendable func deleteUser(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try requireProjectAdmin(context)
        let id = try context.parameters.require("user_id")
        guard id != caller.userID else { throw APIError.validation("a user cannot delete itself") }
        try await identity.deleteUser(project: caller.projectID, id: id)
        return Response(status: .noContent)
    }

    @Sendable func listCredentials(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let keys = try await identity.accessKeys(project: caller.projectID)
        let visible = caller.role == .admin ? keys : keys.filter { $0.userID == caller.userID }
        return JSONBody.response(["credentials": visible.map { ["access": $0.accessKey, "user_id": $0.userID, "project_id": $0.projectID,
                                                                 "description": $0.description, "create_time": IdentityRoutes.time($0.createdAt)] }])
    }

    @Sendable func createCredential(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let fields = try Fields(try await JSONBody.object(&request, context: context)).optionalObject("credential")
        let userID = try fields?.optionalString("user_id") ?? caller.userID
        if userID != caller.userID && caller.role != .admin {
            throw APIError(status: .forbidden, code: "BackupService.8600", message: "only a project admin may create keys for other users")
        }
        let (ak, sk) = try await identity.createAccessKey(project: caller.projectID, user: userID, description: try fields?.optionalString("description") ?? "")
        return JSONBody.response(status: .created, ["credential": ["access": ak, "secret": sk, "user_id": userID, "project_id": caller.projectID]])
    }

    @Sendable func deleteCredential(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let ak = try context.parameters.require("access_key")
        let keys = try await identity.accessKeys(project: caller.projectID)
        guard let key = keys.first(where: { $0.accessKey == ak }) else {
            throw APIError(status: .notFound, code: "BackupService.9900", message: "access key \(ak) does not exist")
        }
        if key.userID != caller.userID && caller.role != .admin {
            throw APIError(status: .forbidden, code: "BackupService.8600", message: "only a project admin may delete other users' keys")
        }
        try await identity.deleteAccessKey(project: caller.projectID, accessKey: ak)
        return Response(status: .noContent)
    }
}
