import Foundation

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
