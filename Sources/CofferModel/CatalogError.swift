import Foundation

/// The catalog's one error type: every implementation of the catalog protocols throws it.
public struct CatalogError: Error, CustomStringConvertible {
    public enum Code: Sendable { case unsupportedURL, migration, conflict, notFound, storage, quotaVaults, quotaCapacity, quotaJobs, quotaPolicies, quotaAgents, quotaWebhooks }
    public let code: Code
    public let description: String
    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// Catalog times are epoch milliseconds (portable across SQLite and PostgreSQL).
public extension Date {
    var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
    init(epochMilliseconds: Int64) { self.init(timeIntervalSince1970: Double(epochMilliseconds) / 1000) }
}
