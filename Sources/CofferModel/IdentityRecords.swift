import Foundation

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
    /// What `coffer agent` runs as: it registers and looks after the agents it
    /// registered (heartbeat, paths, the uninstall report) and reaches nothing
    /// else of its project, so a credential taken from a data host reads,
    /// restores and deletes nothing.
    case agent
}

extension ProjectRecord {
    /// Coffer has one Keystone domain.
    public static let defaultDomainID = "default"
}
