import Foundation

/// Keystone v3 as keystoneauth and the SDKs use it (version discovery,
/// password and token authentication, the service catalog), and Coffer's
/// admin API for projects, users and access keys.
public enum Identity {
    // MARK: discovery

    public struct Version: Codable, Sendable {
        public var id = "v3.14"
        public var status = "stable"
        public var updated = "2026-01-01T00:00:00Z"
        public var links: [Link]
        public var mediaTypes = [MediaType()]
        public struct Link: Codable, Sendable {
            public var rel: String
            public var href: String
        }
        public struct MediaType: Codable, Sendable {
            public var base = "application/json"
            public var type = "application/vnd.openstack.identity-v3+json"
        }
        public init(selfURL: String) { links = [Link(rel: "self", href: selfURL)] }
        enum CodingKeys: String, CodingKey { case id, status, updated, links, mediaTypes = "media-types" }
    }

    public struct VersionResponse: Codable, Sendable {
        public var version: Version
        public init(_ version: Version) { self.version = version }
    }

    public struct Versions: Codable, Sendable {
        public var versions: Values
        public struct Values: Codable, Sendable { public var values: [Version] }
        public init(_ versions: [Version]) { self.versions = Values(values: versions) }
    }

    // MARK: tokens

    /// `POST /v3/auth/tokens`.
    public struct AuthRequest: Codable, Sendable {
        public var auth: Auth
        public struct Auth: Codable, Sendable {
            public var identity: IdentityMethods
            public var scope: Scope?
        }
        public struct IdentityMethods: Codable, Sendable {
            public var methods: [String]
            public var password: Password?
            public var token: TokenMethod?
        }
        public struct Password: Codable, Sendable {
            public var user: User
            public struct User: Codable, Sendable {
                public var name: String?
                public var id: String?
                public var password: String
                public var domain: FreeObject?
            }
        }
        public struct TokenMethod: Codable, Sendable {
            public var id: String
        }
        public struct Scope: Codable, Sendable {
            public var project: Project
            public struct Project: Codable, Sendable {
                public var id: String?
                public var name: String?
                public var domain: FreeObject?
            }
        }
    }

    public struct Named: Codable, Sendable {
        public var id: String
        public var name: String
        public init(id: String, name: String) {
            self.id = id
            self.name = name
        }
    }

    public struct Scoped: Codable, Sendable {
        public var id: String
        public var name: String
        public var domain: Named
        public init(id: String, name: String, domain: Named) {
            self.id = id
            self.name = name
            self.domain = domain
        }
    }

    public struct Service: Codable, Sendable {
        public var type: String
        public var name: String
        public var id: String
        public var endpoints: [Endpoint]
        public struct Endpoint: Codable, Sendable {
            public var id: String
            public var interface = "public"
            public var region: String
            public var regionID: String
            public var url: String
            enum CodingKeys: String, CodingKey { case id, interface, region, url, regionID = "region_id" }
        }
        /// One public endpoint, in one region.
        public init(type: String, name: String, region: String, url: String) {
            self.type = type
            self.name = name
            id = name
            endpoints = [Endpoint(id: "\(name)-public", region: region, regionID: region, url: url)]
        }
    }

    public struct Token: Codable, Sendable {
        public var expiresAt: String
        public var issuedAt: String
        public var methods: [String]
        public var user: Scoped
        public var project: Scoped
        public var roles: [Named]
        public var catalog: [Service]
        public init(expiresAt: String, issuedAt: String, methods: [String], user: Scoped, project: Scoped, roles: [Named], catalog: [Service]) {
            self.expiresAt = expiresAt
            self.issuedAt = issuedAt
            self.methods = methods
            self.user = user
            self.project = project
            self.roles = roles
            self.catalog = catalog
        }
        enum CodingKeys: String, CodingKey { case methods, user, project, roles, catalog, expiresAt = "expires_at", issuedAt = "issued_at" }
    }

    public struct TokenResponse: Codable, Sendable {
        public var token: Token
        public init(_ token: Token) { self.token = token }
    }
}

// MARK: admin API

extension Identity {
    public struct Project: Codable, Sendable {
        public var id: String
        public var name: String
        public var domainID: String
        public var description: String
        public var enabled = true
        public init(id: String, name: String, domainID: String, description: String) {
            self.id = id
            self.name = name
            self.domainID = domainID
            self.description = description
        }
        enum CodingKeys: String, CodingKey { case id, name, description, enabled, domainID = "domain_id" }
    }

    public struct ProjectList: Codable, Sendable {
        public var projects: [Project]
        public init(_ projects: [Project]) { self.projects = projects }
    }

    /// `POST /v3/projects` (service admin).
    public struct ProjectCreateRequest: Codable, Sendable {
        public var project: Create
        public struct Create: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] { ["name": .string(minLength: 1, maxLength: 64)] }
            public var name: String
            public var description: String?
        }
    }

    /// The new project, and the credentials of its admin user (shown once).
    public struct ProjectCreated: Codable, Sendable {
        public var project: Named
        public var credentials: Credentials
        public struct Credentials: Codable, Sendable {
            public var projectID: String
            public var userName: String
            public var password: String
            public var accessKey: String
            public var secretKey: String
            public init(projectID: String, userName: String, password: String, accessKey: String, secretKey: String) {
                self.projectID = projectID
                self.userName = userName
                self.password = password
                self.accessKey = accessKey
                self.secretKey = secretKey
            }
            enum CodingKeys: String, CodingKey {
                case password
                case projectID = "project_id", userName = "user_name", accessKey = "access_key", secretKey = "secret_key"
            }
        }
        public init(project: Named, credentials: Credentials) {
            self.project = project
            self.credentials = credentials
        }
    }

    public struct User: Codable, Sendable {
        public var id: String
        public var name: String
        public var role: String
        public var enabled: Bool
        public var domainID: String
        public init(id: String, name: String, role: String, enabled: Bool, domainID: String) {
            self.id = id
            self.name = name
            self.role = role
            self.enabled = enabled
            self.domainID = domainID
        }
        enum CodingKeys: String, CodingKey { case id, name, role, enabled, domainID = "domain_id" }
    }

    public struct UserList: Codable, Sendable {
        public var users: [User]
        public init(_ users: [User]) { self.users = users }
    }

    /// `POST /v3/users` (project admin).
    public struct UserCreateRequest: Codable, Sendable {
        public var user: Create
        public struct Create: Codable, Sendable, SchemaRefined {
            public static var refinements: [String: Schema] {
                ["name": .string(minLength: 1, maxLength: 64), "role": .string(values: ["admin", "member", "readonly"])]
            }
            public var role: String?
            public var name: String
        }
    }

    /// The new user and its password (shown once).
    public struct UserCreated: Codable, Sendable {
        public var user: Created
        public var password: String
        public struct Created: Codable, Sendable {
            public var id: String
            public var name: String
            public var role: String
        }
        public init(id: String, name: String, role: String, password: String) {
            user = Created(id: id, name: name, role: role)
            self.password = password
        }
    }

    public struct AccessKey: Codable, Sendable {
        public var access: String
        public var userID: String
        public var projectID: String
        public var description: String
        public var createTime: String
        public init(access: String, userID: String, projectID: String, description: String, createTime: String) {
            self.access = access
            self.userID = userID
            self.projectID = projectID
            self.description = description
            self.createTime = createTime
        }
        enum CodingKeys: String, CodingKey { case access, description, userID = "user_id", projectID = "project_id", createTime = "create_time" }
    }

    public struct AccessKeyList: Codable, Sendable {
        public var credentials: [AccessKey]
        public init(_ keys: [AccessKey]) { credentials = keys }
    }

    /// `POST /v3/credentials` (the body may be left out: a key for the caller).
    public struct AccessKeyCreateRequest: Codable, Sendable {
        public var credential: Create?
        public struct Create: Codable, Sendable {
            public var userID: String?
            public var description: String?
            enum CodingKeys: String, CodingKey { case description, userID = "user_id" }
        }
    }

    /// The new key with its secret (shown once).
    public struct AccessKeyCreated: Codable, Sendable {
        public var credential: Created
        public struct Created: Codable, Sendable {
            public var access: String
            public var secret: String
            public var userID: String
            public var projectID: String
            enum CodingKeys: String, CodingKey { case access, secret, userID = "user_id", projectID = "project_id" }
        }
        public init(access: String, secret: String, userID: String, projectID: String) {
            credential = Created(access: access, secret: secret, userID: userID, projectID: projectID)
        }
    }
}
