import CofferService
import HTTPTypes
import Hummingbird

/// How one API family shows the errors the shared services raise with
/// `BackupService.NNNN` codes: CSBS clients expect `CSBS.xxxx`, RDS clients
/// `DBS.xxxxxx`. Codes already of the family pass through.
struct ErrorFamily: Sendable {
    let prefix: String
    /// For a request that fails validation (BackupService.9900).
    let validation: String
    /// Specific BackupService codes and what they become.
    let mapped: [String: (HTTPResponse.Status, String)]
    /// Any other BackupService code (its status kept).
    let fallback: String
    /// RDS answers 409 for busy instances and backups; CSBS documents 400.
    let conflict: HTTPResponse.Status

    static let csbs = ErrorFamily(prefix: "CSBS.", validation: "CSBS.1000", mapped: [
        "BackupService.6200": (.notFound, "CSBS.3001"), "BackupService.6302": (.notFound, "CSBS.6000"), "BackupService.6114": (.badRequest, "CSBS.9006"),
        "BackupService.2005": (.badRequest, "CSBS.2003"), "BackupService.2010": (.badRequest, "CSBS.2003"), "BackupService.6201": (.badRequest, "CSBS.2003"),
        "BackupService.6202": (.badRequest, "CSBS.2003"), "BackupService.0001": (.badRequest, "CSBS.2003"), "BackupService.0002": (.badRequest, "CSBS.2003"),
    ], fallback: "CSBS.9999", conflict: .badRequest)

    static let rds = ErrorFamily(prefix: "DBS.", validation: "DBS.200001", mapped: ["BackupService.6200": (.notFound, "DBS.201010")],
                                 fallback: "DBS.200001", conflict: .conflict)

    func translate(_ error: Error) -> Error {
        switch error {
        case let e as ServiceError:
            let status = e.code == .conflict ? conflict : APIError(e).status
            if e.apiCode.hasPrefix(prefix) { return APIError(status: status, code: e.apiCode, message: e.description) }
            guard e.apiCode.hasPrefix("BackupService.") else { return e }  // gateway (authentication) errors stay as they are
            if e.apiCode == "BackupService.9900" { return APIError(status: .badRequest, code: validation, message: e.description) }
            let (mappedStatus, code) = mapped[e.apiCode] ?? (status, fallback)
            return APIError(status: mappedStatus, code: code, message: e.description)
        case let e as APIError where e.code == "BackupService.9900":
            return APIError(status: e.status, code: validation, message: e.message)
        default:
            return error
        }
    }

    func translating(_ body: () async throws -> Response) async throws -> Response {
        do { return try await body() } catch { throw translate(error) }
    }
}

/// Registers one family's routes: `let add = routes.registrar(on: router, family: .rds)`, then `add(.get, "/path", handler)`.
struct RouteRegistrar {
    let router: Router<CofferContext>
    let routes: RouteTable
    /// How the family shows errors; nil: as they are (CBR, identity, Coffer extensions).
    let family: ErrorFamily?

    func callAsFunction(_ method: HTTPRequest.Method, _ path: RouterPath, _ handler: @escaping @Sendable (Request, CofferContext) async throws -> Response) {
        if let family { routes.on(router, method, path, family: family, handler) } else { routes.on(router, method, path, handler) }
    }
}

extension RouteTable {
    func registrar(on router: Router<CofferContext>, family: ErrorFamily? = nil) -> RouteRegistrar {
        RouteRegistrar(router: router, routes: self, family: family)
    }

    /// Registers a handler whose errors are shown in `family`'s codes.
    func on(_ router: Router<CofferContext>, _ method: HTTPRequest.Method, _ path: RouterPath, family: ErrorFamily,
            _ handler: @escaping @Sendable (Request, CofferContext) async throws -> Response) {
        on(router, method, path) { request, context in try await family.translating { try await handler(request, context) } }
    }
}
