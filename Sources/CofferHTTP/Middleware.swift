import CofferModel
import CofferService
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let authToken = HTTPField.Name("X-Auth-Token")!
    static let subjectToken = HTTPField.Name("X-Subject-Token")!
}

/// Outermost: gives every request an id (response header, log metadata) and
/// turns every error into the API's JSON error body. Nothing a client sends
/// becomes a 500 unless the server itself failed.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = CofferContext
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorResponse(error, request: request, context: context)
        }
        response.headers[.requestID] = context.requestID
        // Method, path and status only: headers, queries and bodies may carry credentials.
        context.logger.info("request", metadata: ["method": .string(request.method.rawValue), "path": .string(request.uri.path),
                                                  "status": .stringConvertible(response.status.code)])
        return response
    }

    func errorResponse(_ error: Error, request: Request, context: Context) -> Response {
        let apiError: APIError
        switch error {
        case let e as APIError: apiError = e
        case let e as ServiceError: apiError = APIError(e)
        case let e as HTTPError where e.status == .notFound:
            if routes.allowsOtherMethod(path: request.uri.path, than: request.method) {
                apiError = APIError(status: .methodNotAllowed, code: "BackupService.9900", message: "method \(request.method.rawValue) is not allowed on \(request.uri.path)")
            } else {
                apiError = APIError(status: .notFound, code: "BackupService.9900", message: "no such resource: \(request.method.rawValue) \(request.uri.path)")
            }
        case is NIOTooManyBytesError:
            apiError = APIError(status: .contentTooLarge, code: "BackupService.9900", message: "request body exceeds \(context.maxUploadSize) bytes")
        case let e as HTTPResponseError where e.status.code < 500:
            apiError = APIError(status: e.status, code: "BackupService.9900", message: "\(e.status.reasonPhrase)")
        default:
            context.logger.error("request failed: \(String(describing: error))")
            apiError = APIError(status: .internalServerError, code: "BackupService.9910", message: "internal error; quote request id \(context.requestID)")
        }
        return (try? apiError.response(from: request, context: context)) ?? Response(status: .internalServerError)
    }
}

/// Authenticates every request except the public ones (health, version
/// discovery, token issue and validation): `X-Auth-Token`, or an
/// `SDK-HMAC-SHA256` signature over the raw request. Then enforces scope: a
/// path naming a project must name the caller's, and readonly callers cannot
/// change anything.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = CofferContext
    let identity: IdentityService

    static func isPublic(_ request: Request) -> Bool {
        let path = request.uri.path
        // The console authenticates its own way (a session cookie, ConsoleRoutes).
        if path == "/console" || path.hasPrefix("/console/") { return true }
        switch (request.method, path) {
        case (.get, "/health"), (.get, "/openapi.json"), (.get, "/"), (.get, "/v3"), (.get, "/v3/"), (.post, "/v3/auth/tokens"), (.get, "/v3/auth/tokens"), (.head, "/v3/auth/tokens"):
            return true
        default:
            return false
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if AuthMiddleware.isPublic(request) { return try await next(request, context) }
        var request = request
        var context = context
        if request.method == .put && AgentJobRoutes.isObjectUpload(request.uri.path) { context.maxUploadSize = AgentJobRoutes.objectLimit }
        let principal: Principal
        if let token = request.headers[.authToken] {
            guard let p = try await identity.validate(token: token) else {
                throw APIError(status: .unauthorized, code: "APIGW.0301", message: "Incorrect IAM authentication information: token is invalid or expired", includeRequestID: true)
            }
            principal = p
        } else if let authorization = request.headers[.authorization], authorization.hasPrefix(AKSKSignature.algorithm) {
            let body = try await request.collectBody(upTo: context.maxUploadSize)
            let headers = request.headers
            let authority = request.head.authority
            let signable = SignableRequest(method: request.method.rawValue, rawPath: request.uri.path, rawQuery: request.uri.query ?? "",
                                           body: Data(buffer: body, byteTransferStrategy: .noCopy)) { name in
                if name == "host" { return authority }
                return HTTPField.Name(name).flatMap { headers[$0] }
            }
            switch try await identity.authenticate(signed: signable) {
            case let .success(p):
                principal = p
                context.verifiedBodySHA256 = signable.header("x-sdk-content-sha256")?.lowercased()
            case let .failure(e): throw APIError(e)
            }
        } else {
            throw APIError(status: .unauthorized, code: "APIGW.0301", message: "Incorrect IAM authentication information: no X-Auth-Token or SDK-HMAC-SHA256 Authorization header", includeRequestID: true)
        }
        if let pathProject = AuthMiddleware.projectInPath(request.uri.path), pathProject != principal.projectID {
            throw APIError(status: .forbidden, code: "BackupService.8600", message: "the credential is scoped to another project than the one in the path")
        }
        if !principal.canMutate && request.method != .get && request.method != .head {
            throw APIError(status: .forbidden, code: "BackupService.8600", message: "role readonly cannot \(request.method.rawValue) \(request.uri.path)")
        }
        if principal.role == .agent && !AuthMiddleware.agentMayCall(request.method, request.uri.path) {
            throw APIError(status: .forbidden, code: "BackupService.8600",
                           message: "role agent may only register and look after its own agents, not \(request.method.rawValue) \(Query.printable(String(request.uri.path.prefix(200))))")
        }
        context.principal = principal
        context.logger[metadataKey: "project_id"] = .string(principal.projectID)
        return try await next(request, context)
    }

    /// What a caller of role agent may do (`coffer agent`): register and list
    /// its agents, show one, report it uninstalled, change its paths. Nothing
    /// else: no vault, backup, restore, identity or other route.
    static func agentMayCall(_ method: HTTPRequest.Method, _ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard parts.count >= 3, parts.first == "v3", projectInPath(path) != nil, parts.dropFirst(2).first == "agents" else { return false }
        let rest = Array(parts.dropFirst(3))
        guard !rest.contains(where: \.isEmpty) else { return false }
        switch (method, rest.count) {
        case (.post, 0), (.get, 0): return true
        case (.get, 1), (.put, 1): return true
        case (.post, 2): return rest[1] == "add-path" || rest[1] == "remove-path"
        // Running its jobs (AgentJobRoutes): claim, ask what is held, upload new objects, report.
        case (.post, 3): return rest[1] == "jobs" && rest[2] == "claim"
        case (.post, 4): return rest[1] == "jobs" && ["held", "progress", "complete", "fail", "blobs"].contains(rest[3])
        case (.get, 5): return rest[1] == "jobs" && rest[3] == "snapshots"
        case (.put, 6): return rest[1] == "jobs" && rest[3] == "objects"
        default: return false
        }
    }

    /// `/v3/<32 hex>/...` or `/v1/<32 hex>/...` (CBR, RDS, CSBS): the project the path is about.
    static func projectInPath(_ path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "v3" || parts[0] == "v1" else { return nil }
        let candidate = parts[1]
        guard candidate.utf8.count == 32, candidate.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        return String(candidate)
    }
}

/// The routes that exist, for telling 405 from 404 (the router answers
/// "not found" for both).
final class RouteTable: @unchecked Sendable {
    private var routes: [(HTTPRequest.Method, [Substring])] = []

    func add(_ method: HTTPRequest.Method, _ pattern: String) {
        routes.append((method, pattern.split(separator: "/")))
    }

    /// Registers a handler on the router and records the route for 405 answers.
    func on(_ router: Router<CofferContext>, _ method: HTTPRequest.Method, _ path: RouterPath,
            _ handler: @escaping @Sendable (Request, CofferContext) async throws -> Response) {
        router.on(path, method: method, use: handler)
        add(method, path.description)
    }

    func allowsOtherMethod(path: String, than method: HTTPRequest.Method) -> Bool {
        let parts = path.split(separator: "/")
        return routes.contains { m, pattern in
            m != method && pattern.count == parts.count && zip(pattern, parts).allSatisfy { p, s in p.hasPrefix("{") || p.hasPrefix(":") || p == s }
        }
    }
}

/// Counts every request by route template, method and status, and times it
/// (outermost, so refusals and errors are counted with the status sent).
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = CofferContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let response = try await next(request, context)
        // Unmatched paths share one label (Hummingbird's "NotFound"): a client must not mint series.
        metrics.request(route: context.endpointPath ?? "NotFound", method: request.method.rawValue, status: Int(response.status.code),
                        nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        return response
    }
}
