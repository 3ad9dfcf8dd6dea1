import CofferAPI
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

    func versionObject(_ request: Request) -> Identity.Version {
        Identity.Version(selfURL: IdentityRoutes.baseURL(request) + "/v3/")
    }

    @Sendable func versions(_ request: Request, _ context: CofferContext) async throws -> Response {
        try JSONBody.encoded(status: .multipleChoices, Identity.Versions([versionObject(request)]))
    }

    @Sendable func version(_ request: Request, _ context: CofferContext) async throws -> Response {
        try JSONBody.encoded(Identity.VersionResponse(versionObject(request)))
    }

    // MARK: tokens

    func tokenBody(_ issued: IssuedToken, request: Request) -> Identity.TokenResponse {
        let p = issued.principal
        let base = IdentityRoutes.baseURL(request)
        let domain = Identity.Named(id: p.domainID, name: "Default")
        return Identity.TokenResponse(Identity.Token(
            expiresAt: IdentityRoutes.time(issued.record.expiresAt),
            issuedAt: IdentityRoutes.time(issued.record.issuedAt),
            methods: issued.record.methods,
            user: .init(id: p.userID, name: p.userName, domain: domain),
            project: .init(id: p.projectID, name: p.projectName, domain: domain),
            roles: [.init(id: p.role.rawValue, name: p.role.rawValue)],
            catalog: [
                .init(type: "identity", name: "keystone", region: region, url: base + "/v3"),
                .init(type: "cbr", name: "cbr", region: region, url: base + "/v3/" + p.projectID),
                .init(type: "data-protect", name: "csbs", region: region, url: base + "/v1/" + p.projectID),
                .init(type: "rdsv3", name: "rdsv3", region: region, url: base + "/v3/" + p.projectID),
            ]))
    }

    @Sendable func issueToken(_ request: Request, _ context: CofferContext) async throws -> Response {
        var request = request
        let auth = try await JSONBody.decode(Identity.AuthRequest.self, &request, context: context).auth
        let methods = auth.identity.methods
        var scope: IdentityService.Scope?
        if let project = auth.scope?.project {
            if let id = project.id {
                scope = .projectID(id)
            } else if let name = project.name {
                scope = .projectName(name)
            } else {
                throw APIError.validation("auth.scope.project needs id or name")
            }
        }
        let issued: IssuedToken
        if methods.contains("password") {
            guard let user = auth.identity.password?.user else { throw APIError.validation("auth.identity.password is required") }
            if let name = user.name {
                issued = try await identity.issueToken(userName: name, password: user.password, scope: scope, source: context.remoteAddress)
            } else if let id = user.id, let record = try await identity.user(id: id) {
                issued = try await identity.issueToken(userName: record.name, password: user.password, scope: scope, source: context.remoteAddress)
            } else {
                throw APIError(status: .unauthorized, code: "APIGW.0301", message: "The request you have made requires authentication.", includeRequestID: true)
            }
        } else if methods.contains("token") {
            guard let token = auth.identity.token?.id else { throw APIError.validation("auth.identity.token is required") }
            issued = try await identity.issueToken(fromToken: token, scope: scope)
        } else {
            throw APIError.validation("auth.identity.methods must contain \"password\" or \"token\"")
        }
        var headers = HTTPFields()
        headers[.subjectToken] = issued.token
        return try JSONBody.encoded(status: .created, tokenBody(issued, request: request), headers: headers)
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
        return try JSONBody.encoded(tokenBody(IssuedToken(token: subject, record: record, principal: principal), request: request), headers: headers)
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

    func project(_ p: ProjectRecord) -> Identity.Project {
        Identity.Project(id: p.id, name: p.name, domainID: p.domainID, description: p.description)
    }

    @Sendable func listProjects(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let all = try await identity.projects()
        let visible = caller.projectName == "admin" && caller.role == .admin ? all : all.filter { $0.id == caller.projectID }
        return try JSONBody.encoded(Identity.ProjectList(visible.map(project)))
    }

    @Sendable func createProject(_ request: Request, _ context: CofferContext) async throws -> Response {
        _ = try requireServiceAdmin(context)
        var request = request
        let project = try await JSONBody.decode(Identity.ProjectCreateRequest.self, &request, context: context).project
        let created = try await identity.createProject(name: project.name, description: project.description ?? "")
        return try JSONBody.encoded(status: .created, Identity.ProjectCreated(
            project: .init(id: created.project_id, name: created.project_name),
            credentials: .init(projectID: created.project_id, userName: created.user_name, password: created.password,
                               accessKey: created.access_key, secretKey: created.secret_key)))
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
        return try JSONBody.encoded(Identity.UserList(users.map { u, role in
            Identity.User(id: u.id, name: u.name, role: role.rawValue, enabled: u.enabled, domainID: u.domainID)
        }))
    }

    @Sendable func createUser(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try requireProjectAdmin(context)
        var request = request
        let user = try await JSONBody.decode(Identity.UserCreateRequest.self, &request, context: context).user
        guard let role = Role(rawValue: user.role ?? "member") else { throw APIError.validation("user.role must be admin, member, readonly or agent") }
        let (record, password) = try await identity.createUser(project: caller.projectID, name: user.name, role: role)
        return try JSONBody.encoded(status: .created, Identity.UserCreated(id: record.id, name: record.name, role: role.rawValue, password: password))
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
        return try JSONBody.encoded(Identity.AccessKeyList(visible.map {
            Identity.AccessKey(access: $0.accessKey, userID: $0.userID, projectID: $0.projectID, description: $0.description, createTime: IdentityRoutes.time($0.createdAt))
        }))
    }

    @Sendable func createCredential(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let fields = try await JSONBody.decode(Identity.AccessKeyCreateRequest.self, &request, context: context).credential
        let userID = fields?.userID ?? caller.userID
        if userID != caller.userID && caller.role != .admin {
            throw APIError(status: .forbidden, code: "BackupService.8600", message: "only a project admin may create keys for other users")
        }
        let (ak, sk) = try await identity.createAccessKey(project: caller.projectID, user: userID, description: fields?.description ?? "")
        return try JSONBody.encoded(status: .created, Identity.AccessKeyCreated(access: ak, secret: sk, userID: userID, projectID: caller.projectID))
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
