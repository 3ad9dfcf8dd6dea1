import CofferService
import HTTPTypes
import Hummingbird

/// How each API family shows the service's reasons: one table per family.
/// CBR's codes are the service's native vocabulary (the catalog's operation
/// logs were written in them before reasons existed); CSBS clients expect
/// `CSBS.xxxx`, RDS clients `DBS.xxxxxx` and 409 for busy instances and backups.
enum ErrorFamily: Sendable {
    case cbr, csbs, rds

    /// The family's code for a reason, and its status where it is not the reason's class.
    func show(_ reason: Reason) -> (code: String, status: HTTPResponse.Status?) {
        switch self {
        // The agent-job routes are Coffer's own: an agent stops a job it no longer holds on 409.
        case .cbr: return (ErrorFamily.cbrCode(reason), reason == .agentJobGone ? .conflict : nil)
        case .csbs: return ErrorFamily.csbs(reason)
        case .rds: return ErrorFamily.rds(reason)
        }
    }

    static func cbrCode(_ reason: Reason) -> String {
        switch reason {
        case .invalidRequest, .notFound, .alreadyExists: "BackupService.9900"
        case .notAuthenticated: "APIGW.0301"
        case .throttled: "APIGW.0308"
        case .forbidden: "BackupService.8600"
        case .vaultNotFound: "BackupService.6105"
        case .resourceNotFound: "BackupService.6302"
        case .backupNotFound: "BackupService.6200"
        case .checkpointNotFound: "BackupService.6217"
        case .operationLogNotFound: "BackupService.6500"
        case .policyNotFound: "BackupService.6000"
        case .policyLimit: "BackupService.6001"
        case .policyNotBound: "BackupService.6002"
        case .policyTypeUnknown: "BackupService.6117"
        case .policyNotApplicable: "BackupService.6127"
        case .resourceTypeMismatch: "BackupService.6102"
        case .resourceAlreadyBound: "BackupService.6103"
        case .listedTwice: "BackupService.6104"
        case .tooManyResources: "BackupService.6100"
        case .capacityOutOfRange, .quotaCapacity: "BackupService.6101"
        case .resourceNotInVault: "BackupService.6135"
        case .vaultLocked: "BackupService.6110"
        case .vaultNotDeletable: "BackupService.6112"
        case .vaultUnavailable: "BackupService.6113"
        case .vaultFull: "BackupService.6114"
        case .vaultBusy: "BackupService.6203"
        case .vaultDamaged: "Coffer.0001"
        case .scheduleMissed: "Coffer.0002"
        case .webhookNotFound: "Coffer.0003"
        case .quotaWebhooks: "Coffer.0004"
        case .quotaVaults: "BackupService.6133"
        case .quotaJobs: "BackupService.6125"
        case .agentNotFound, .quotaAgents, .agentOffline, .agentJobGone: "BackupService.9900"
        case .nothingToBackUp: "BackupService.0001"
        case .backupBusy: "BackupService.0002"
        case .sourceUnreadable, .backupFailed: "BackupService.6215"
        case .backupNotDeletable: "BackupService.6201"
        case .backupLocked: "BackupService.6220"
        case .backupNotRestorable, .restoreIncomplete: "BackupService.2005"
        case .restoreVaultUnavailable: "BackupService.6202"
        case .restoreRunning: "BackupService.2010"
        case .internalFailure: "BackupService.9910"
        // Only the CSBS and RDS services raise these; a failed job's log keeps their codes wherever it is read.
        case .providerInvalid, .notAServer, .serverHasNoDisks, .serverBeingBackedUp, .itemNotAvailable, .backupNotOfItem, .volumeNotOfServer:
            csbs(reason).code
        case .instanceNotFound, .instanceBusy, .jobNotFound, .descriptionInvalid, .databaseFailure:
            rds(reason).code
        }
    }

    static func csbs(_ reason: Reason) -> (code: String, status: HTTPResponse.Status?) {
        switch reason {
        case .invalidRequest: ("CSBS.1000", .badRequest)
        case .backupNotFound, .checkpointNotFound: ("CSBS.3001", .notFound)
        case .resourceNotFound: ("CSBS.6000", .notFound)
        case .vaultFull: ("CSBS.9006", .badRequest)
        case .backupNotRestorable, .restoreIncomplete, .restoreRunning, .backupNotDeletable, .backupLocked, .restoreVaultUnavailable, .nothingToBackUp, .backupBusy:
            ("CSBS.2003", .badRequest)
        case .providerInvalid: ("CSBS.9001", nil)
        case .notAServer: ("CSBS.6003", nil)
        case .serverHasNoDisks: ("CSBS.6007", nil)
        case .serverBeingBackedUp: ("CSBS.1002", nil)
        case .itemNotAvailable: ("CSBS.4000", nil)
        case .backupNotOfItem: ("CSBS.6013", nil)
        case .volumeNotOfServer: ("CSBS.6014", nil)
        case .notAuthenticated, .throttled: (cbrCode(reason), nil)
        case .instanceNotFound, .instanceBusy, .jobNotFound, .descriptionInvalid, .databaseFailure: rds(reason)
        default: ("CSBS.9999", reason.code == .conflict ? .badRequest : nil)
        }
    }

    static func rds(_ reason: Reason) -> (code: String, status: HTTPResponse.Status?) {
        switch reason {
        case .invalidRequest: ("DBS.200001", .badRequest)
        case .backupNotFound: ("DBS.201010", .notFound)
        case .instanceNotFound: ("DBS.200002", nil)
        case .jobNotFound, .databaseFailure: ("DBS.200001", nil)
        case .descriptionInvalid: ("DBS.280127", nil)
        case .instanceBusy, .backupNotDeletable, .backupNotRestorable: ("DBS.201205", .conflict)
        case .restoreRunning: ("DBS.200011", .conflict)
        case .notAuthenticated, .throttled: (cbrCode(reason), nil)
        case .providerInvalid, .notAServer, .serverHasNoDisks, .serverBeingBackedUp, .itemNotAvailable, .backupNotOfItem, .volumeNotOfServer: csbs(reason)
        default: ("DBS.200001", reason.code == .conflict ? .conflict : nil)
        }
    }

    /// A reason's status where the family does not set one (CBR documents 400 for conflicts).
    static func status(_ code: ServiceError.Code) -> HTTPResponse.Status {
        switch code {
        case .badRequest, .conflict: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .tooManyRequests: .tooManyRequests
        case .internalFailure: .internalServerError
        }
    }

    func error(_ e: ServiceError) -> APIError {
        let (code, status) = show(e.reason)
        var error = APIError(status: status ?? ErrorFamily.status(e.code), code: code, message: e.description,
                             includeRequestID: e.reason == .notAuthenticated || e.reason == .throttled)
        error.retryAfter = e.retryAfter
        return error
    }

    /// The service's errors in this family's codes; the edge's own validation errors in its validation code.
    func translate(_ error: Error) -> Error {
        switch error {
        case let e as ServiceError: return self.error(e)
        case let e as APIError where e.code == "BackupService.9900" && self != .cbr:
            return APIError(status: e.status, code: show(.invalidRequest).code, message: e.message)
        default: return error
        }
    }

    func translating(_ body: () async throws -> Response) async throws -> Response {
        do { return try await body() } catch { throw translate(error) }
    }

    /// A code the service stored (a failed job's reason, a skipped resource's),
    /// as this family shows it; codes stored before reasons existed are shown as they are.
    func stored(_ text: String) -> String {
        Reason(rawValue: text).map { show($0).code } ?? text
    }
}

/// Registers one family's routes: `let add = routes.registrar(on: router, family: .rds)`, then `add(.get, "/path", handler)`.
struct RouteRegistrar {
    let router: Router<CofferContext>
    let routes: RouteTable
    /// How the family shows errors; nil: CBR's codes (CBR, identity, Coffer extensions).
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
