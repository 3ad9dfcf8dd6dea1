// CofferService: the use cases (identity, inventory, vaults, checkpoints,
// backups, restores, databases, disaster recovery), the job runtime
// (Jobs/) and the resource drivers (Drivers/), over the catalog protocols
// of CofferModel and the engine. No HTTP, no SQL.

import CofferEngine
import CofferModel
import Foundation

/// The service layer's one error type: a `Reason` (the edge shows it in the
/// family's codes) and a message for the client.
public struct ServiceError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        case badRequest, unauthorized, forbidden, notFound, conflict, tooManyRequests, internalFailure
    }
    public let reason: Reason
    public var code: Code { reason.code }
    public let description: String
    /// With `throttled`: seconds until a retry can succeed.
    public var retryAfter: Int?
    /// What went wrong underneath (a program's output, an I/O error naming
    /// server paths): for the server's log only, never shown to a client.
    public var detail: String?

    /// `description` is what the client reads: it never carries an underlying error; `detail` does, for the log.
    public init(_ reason: Reason, _ description: String, detail: String? = nil) {
        self.reason = reason
        self.description = description
        self.detail = detail
    }

    /// What a client may be told of any error: a ServiceError's own message;
    /// the engine's account of the source or target (paths inside what the
    /// caller backs up or restores into: "…/x is a symbolic link"); for
    /// anything else a generic one that points at the server log.
    public static func publicFailure(_ error: any Error, reference: String) -> (reason: Reason, message: String) {
        if let e = error as? ServiceError { return (e.reason, e.description) }
        if let e = error as? EngineError, e.code == .source || e.code == .target { return (.internalFailure, e.description) }
        return (.internalFailure, "internal error; the server log has the cause (quote \(reference))")
    }

    /// Everything known of an error, for the server's log.
    public static func logText(_ error: any Error) -> String {
        if let e = error as? ServiceError, let detail = e.detail { return "\(e.description): \(detail)" }
        return "\(error)"
    }

    public static func validation(_ message: String) -> ServiceError { .init(.invalidRequest, message) }

    /// An operator quota the catalog refused, as the API answers it (docs/api.md, quotas).
    init?(quota e: CatalogError) {
        switch e.code {
        case .quotaVaults: self.init(.quotaVaults, e.description)
        case .quotaCapacity: self.init(.quotaCapacity, e.description)
        case .quotaJobs: self.init(.quotaJobs, e.description)
        default: return nil
        }
    }
}

/// Runs a catalog write that may meet an operator quota; the refusal becomes the API's error.
func withinQuota<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let e as CatalogError {
        throw ServiceError(quota: e) ?? e
    }
}
