import CofferModel
import CofferCrypto
import CofferSystem
import Foundation
import Logging

/// Who is calling: a user acting in exactly one project.
public struct Principal: Sendable, Equatable {
    public var userID: String
    public var userName: String
    public var projectID: String
    public var projectName: String
    public var role: Role
    public var domainID: String
    public var canMutate: Bool { role != .readonly }
    /// An admin of the admin project manages projects and sees every project's data where an API allows.
    public var isServiceAdmin: Bool { projectName == "admin" && role == .admin }

    /// The service acting for a project on its own (the scheduler's backups, retention's deletions).
    static func system(project: String) -> Principal {
        Principal(userID: "coffer-scheduler", userName: "coffer-scheduler", projectID: project, projectName: "", role: .admin, domainID: ProjectRecord.defaultDomainID)
    }
}

public struct NewProjectCredentials: Sendable, Codable, Equatable {
    public var project_id: String
    public var project_name: String
    public var user_name: String
    public var password: String
    public var access_key: String
    public var secret_key: String
}

public struct IssuedToken: Sendable {
    public var token: String
    public var record: TokenRecord
    public var principal: Principal

    public init(token: String, record: TokenRecord, principal: Principal) {
        self.token = token
        self.record = record
        self.principal = principal
    }
}

/// Who a token or access key stands for, remembered for a few seconds: every
/// request authenticates, and the four catalog reads that takes were most of
/// the cost of a small GET. Identity changes made through this process clear
/// it at once; another process sharing the catalog sees a revocation within
/// `ttl` (keystonemiddleware caches tokens for minutes).
final class CredentialCache: @unchecked Sendable {
    struct Entry {
        var principal: Principal
        var secret: String?
        var expires: Date
    }
    let ttl: TimeInterval
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    init(ttl: TimeInterval) { self.ttl = ttl }

    func get(_ key: String, now: Date) -> Entry? {
        lock.withLock {
            guard let e = entries[key] else { return nil }
            if e.expires > now { return e }
            entries[key] = nil
            return nil
        }
    }

    func put(_ key: String, _ entry: Entry) {
        guard ttl > 0 else { return }
        lock.withLock {
            if entries.count >= 10_000 { entries.removeAll(keepingCapacity: true) }  // bounded: a flood of distinct tokens cannot grow it
            entries[key] = entry
        }
    }

    func clear() { lock.withLock { entries.removeAll() } }
}

public final class IdentityService: @unchecked Sendable {
    let catalog: any Catalog
    var store: any IdentityStore { catalog.identity }
    let cache: CredentialCache
    let secrets: SecretBox
    let clock: any Clock
    public let tokenLifetime: TimeInterval
    let passwordCost: Int
    let replays = ReplayGuard()
    let logins = LoginThrottle()
    /// Password hashes are slow on purpose: at most two at a time, off the request threads.
    let hashing = AsyncBudget(capacity: 2)
    /// Verified against when the user does not exist, so an unknown name costs what a known one does.
    private lazy var decoyHash = PasswordHash.make(IdentityService.newPassword(), n: passwordCost)
    private let decoyLock = NSLock()

    public init(catalog: any Catalog, secrets: SecretBox, clock: any Clock = SystemClock(), tokenLifetime: TimeInterval = 86400, passwordCost: Int = 1 << 14,
                credentialCacheSeconds: TimeInterval = 5) {
        self.catalog = catalog
        self.cache = CredentialCache(ttl: credentialCacheSeconds)
        self.secrets = secrets
        self.clock = clock
        self.tokenLifetime = tokenLifetime
        self.passwordCost = passwordCost
    }

    // MARK: generators

    static func hexID() -> String { HexString.encode(randomBytes(16)) }

    static func randomString(_ count: Int, alphabet: String) -> String {
        let chars = Array(alphabet)
        // Rejection sampling keeps the distribution uniform.
        var out = ""
        while out.count < count {
            for b in randomBytes(count * 2) where Int(b) < 256 - 256 % chars.count && out.count < count {
                out.append(chars[Int(b) % chars.count])
            }
        }
        return out
    }

    static func newAccessKey() -> String { randomString(20, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") }
    static func newSecret() -> String { randomString(40, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") }
    static func newPassword() -> String { randomString(24, alphabet: "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") }

    // MARK: bootstrap and projects

    /// On an empty catalog, creates the `admin` project with an admin user and
    /// an access key; returns their credentials (shown once). Nil when done before.
    public func bootstrapIfEmpty() async throws -> NewProjectCredentials? {
        try await store.ensureDefaultDomain(now: clock.now())
        guard try await store.projects().isEmpty else { return nil }
        return try await createProject(name: "admin", description: "Coffer administration", userName: "admin", role: .admin)
    }

    /// Creates a project with one user of `role` and an access key for it.
    /// `id`: keep a known id (a project rebuilt from the repositories).
    public func createProject(name: String, description: String = "", userName: String? = nil, role: Role = .member, id: String? = nil) async throws -> NewProjectCredentials {
        try Validate.identityName(name, field: "project name")
        let user = userName ?? "\(name)-\(role.rawValue)"
        try Validate.identityName(user, field: "user name")
        try await store.ensureDefaultDomain(now: clock.now())
        let now = clock.now()
        let project = ProjectRecord(id: id ?? IdentityService.hexID(), name: name, domainID: ProjectRecord.defaultDomainID, description: description, createdAt: now)
        let password = IdentityService.newPassword()
        let userRecord = UserRecord(id: IdentityService.hexID(), name: user, domainID: ProjectRecord.defaultDomainID,
                                    passwordHash: PasswordHash.make(password, n: passwordCost), defaultProjectID: project.id, enabled: true, createdAt: now)
        let ak = IdentityService.newAccessKey(), sk = IdentityService.newSecret()
        do {
            try await catalog.transaction {
                if try await store.project(named: name) != nil { throw ServiceError(.alreadyExists, "a project named \(name) already exists") }
                if try await store.user(named: user) != nil { throw ServiceError(.alreadyExists, "a user named \(user) already exists") }
                try await store.insertProject(project)
                try await store.insertUser(userRecord)
                try await store.assign(role: role, user: userRecord.id, project: project.id)
                try await store.insertAccessKey(AccessKeyRecord(accessKey: ak, userID: userRecord.id, projectID: project.id,
                                                                secretSealed: secrets.seal(sk, context: "access-key:\(ak)"), description: "created with the project", createdAt: now))
            }
        } catch let e as CatalogError where e.code == .conflict {
            throw ServiceError(.alreadyExists, e.description)
        }
        return NewProjectCredentials(project_id: project.id, project_name: name, user_name: user, password: password, access_key: ak, secret_key: sk)
    }

    public func projects() async throws -> [ProjectRecord] { try await store.projects() }

    public func user(id: String) async throws -> UserRecord? { try await store.user(id: id) }

    public func deleteProject(id: String) async throws {
        guard let project = try await store.project(id: id) else { throw ServiceError(.notFound, "project \(id) does not exist") }
        guard project.name != "admin" else { throw ServiceError(.invalidRequest, "the admin project cannot be deleted") }
        _ = try await store.deleteProject(id: id)
        cache.clear()
    }

    public func resolveProject(_ nameOrID: String) async throws -> ProjectRecord {
        if let p = try await store.project(id: nameOrID) { return p }
        if let p = try await store.project(named: nameOrID) { return p }
        throw ServiceError(.notFound, "project \(nameOrID) does not exist")
    }

    // MARK: users

    public func createUser(project: String, name: String, role: Role) async throws -> (UserRecord, String) {
        try Validate.identityName(name, field: "user name")
        let password = IdentityService.newPassword()
        let user = UserRecord(id: IdentityService.hexID(), name: name, domainID: ProjectRecord.defaultDomainID,
                              passwordHash: PasswordHash.make(password, n: passwordCost), defaultProjectID: project, enabled: true, createdAt: clock.now())
        try await catalog.transaction {
            if try await store.user(named: name) != nil { throw ServiceError(.alreadyExists, "a user named \(name) already exists") }
            try await store.insertUser(user)
            try await store.assign(role: role, user: user.id, project: project)
        }
        return (user, password)
    }

    public func users(project: String) async throws -> [(UserRecord, Role)] { try await store.users(inProject: project) }

    public func deleteUser(project: String, id: String) async throws {
        guard try await store.role(user: id, project: project) != nil else {
            throw ServiceError(.notFound, "user \(id) does not exist in this project")
        }
        try await store.deleteUser(id: id)
        cache.clear()
    }

    // MARK: access keys

    public func createAccessKey(project: String, user: String, description: String = "") async throws -> (String, String) {
        guard try await store.role(user: user, project: project) != nil else {
            throw ServiceError(.notFound, "user \(user) does not exist in this project")
        }
        let ak = IdentityService.newAccessKey(), sk = IdentityService.newSecret()
        try await store.insertAccessKey(AccessKeyRecord(accessKey: ak, userID: user, projectID: project, secretSealed: secrets.seal(sk, context: "access-key:\(ak)"),
                                                        description: description, createdAt: clock.now()))
        return (ak, sk)
    }

    public func accessKeys(project: String) async throws -> [AccessKeyRecord] { try await store.accessKeys(project: project) }

    public func deleteAccessKey(project: String, accessKey: String) async throws {
        defer { cache.clear() }
        guard try await store.deleteAccessKey(accessKey, project: project) else {
            throw ServiceError(.notFound, "access key \(accessKey) does not exist in this project")
        }
    }

    // MARK: authentication

    func principal(userID: String, projectID: String) async throws -> Principal? {
        guard let user = try await store.user(id: userID), user.enabled, let project = try await store.project(id: projectID),
              let role = try await store.role(user: userID, project: projectID) else { return nil }
        return Principal(userID: user.id, userName: user.name, projectID: project.id, projectName: project.name, role: role, domainID: user.domainID)
    }

    static func tokenID(_ token: String) -> String { Digest.sha256Hex(Array(token.utf8)) }

    /// The console's anti-forgery value for a session: bound to the token, useless without it,
    /// and not the token's catalog id (a different input to the hash).
    public static func formToken(for token: String) -> String { Digest.sha256Hex(Array(("coffer-console-form\u{0}" + token).utf8)) }

    /// Whether a submitted anti-forgery value is the session's, compared in constant time.
    public static func formTokenMatches(_ submitted: String, token: String) -> Bool {
        Digest.constantTimeEqual(Array(submitted.utf8), Array(formToken(for: token).utf8))
    }

    /// The login form's anti-forgery value (no session exists yet): random, kept in a cookie and in the form.
    public static func newLoginFormToken() -> String { HexString.encode(randomBytes(16)) }

    /// Whether the login form came back with the value its cookie holds, compared in constant time.
    public static func loginFormTokenMatches(cookie: String, submitted: String) -> Bool {
        !cookie.isEmpty && Digest.constantTimeEqual(Array(cookie.utf8), Array(submitted.utf8))
    }

    public enum Scope: Sendable { case projectID(String), projectName(String) }

    /// Password authentication scoped to a project (the user's default when no scope is given).
    /// `source`: the client's address, for the per-source failure limit.
    public func issueToken(userName: String, password: String, scope: Scope?, source: String = "") async throws -> IssuedToken {
        let unauthorized = ServiceError(.notAuthenticated, "The request you have made requires authentication.")
        let keys = ["user:" + userName] + (source.isEmpty ? [] : ["source:" + source])
        if let wait = logins.retryAfter(keys, now: clock.now()) {
            var e = ServiceError(.throttled, "too many failed logins; retry after \(wait) seconds")
            e.retryAfter = wait
            throw e
        }
        let user = try await store.user(named: userName)
        let stored = user?.passwordHash ?? decoyLock.withLock { decoyHash }
        await hashing.acquire(1)
        let matches = await BlockingPool.shared.run { PasswordHash.verify(password, against: stored) }
        hashing.release(1)
        guard let user, user.enabled, matches else {
            logins.failed(keys, now: clock.now())
            throw unauthorized
        }
        logins.succeeded("user:" + userName)
        return try await issue(userID: user.id, scope: scope ?? user.defaultProjectID.map { .projectID($0) }, methods: ["password"])
    }

    /// Token authentication (re-scoping): a valid token yields a new one that
    /// expires no later than the one it came from.
    public func issueToken(fromToken token: String, scope: Scope?) async throws -> IssuedToken {
        guard let current = try await validate(token: token), let record = try await tokenRecord(token) else {
            throw ServiceError(.notAuthenticated, "The request you have made requires authentication.")
        }
        return try await issue(userID: current.userID, scope: scope ?? .projectID(current.projectID), methods: ["token"], expiresAt: record.expiresAt)
    }

    /// Keystone's DELETE /v3/auth/tokens: the token's own user or the service admin revokes it; from then on it answers 401.
    public func revoke(token subject: String, by caller: Principal) async throws {
        guard let record = try await tokenRecord(subject) else {
            throw ServiceError(.notFound, "the subject token is invalid or expired")
        }
        guard record.userID == caller.userID || caller.isServiceAdmin else {
            throw ServiceError(.forbidden, "only the token's own user or the service admin may revoke it")
        }
        try await store.deleteToken(id: record.id)
        cache.clear()
    }

    /// Who may read a token's details: its own user, or the service admin.
    public func mayIntrospect(_ subject: TokenRecord, caller: Principal) -> Bool {
        subject.userID == caller.userID || caller.isServiceAdmin
    }

    func issue(userID: String, scope: Scope?, methods: [String], expiresAt: Date? = nil) async throws -> IssuedToken {
        guard let scope else { throw ServiceError.validation("auth.scope.project is required (id, or name with domain)") }
        let project: ProjectRecord?
        switch scope {
        case let .projectID(id): project = try await store.project(id: id)
        case let .projectName(name): project = try await store.project(named: name)
        }
        guard let project, let principal = try await principal(userID: userID, projectID: project.id) else {
            throw ServiceError(.notAuthenticated, "The request you have made requires authentication (no role in the requested project).")
        }
        let token = "cft-" + randomBytes(32).map { String(format: "%02x", $0) }.joined()
        let now = clock.now()
        let record = TokenRecord(id: IdentityService.tokenID(token), userID: userID, projectID: project.id, methods: methods,
                                 issuedAt: now, expiresAt: min(expiresAt ?? .distantFuture, now.addingTimeInterval(tokenLifetime)))
        try await store.insertToken(record)
        return IssuedToken(token: token, record: record, principal: principal)
    }

    /// The principal a token stands for, if it is valid now (not expired, user and project still there).
    public func validate(token: String) async throws -> Principal? {
        let id = IdentityService.tokenID(token), now = clock.now()
        if let hit = cache.get("t:" + id, now: now) { return hit.principal }
        guard let record = try await store.token(id: id), record.expiresAt > now,
              let principal = try await principal(userID: record.userID, projectID: record.projectID) else { return nil }
        cache.put("t:" + id, .init(principal: principal, secret: nil, expires: min(record.expiresAt, now.addingTimeInterval(cache.ttl))))
        return principal
    }

    public func tokenRecord(_ token: String) async throws -> TokenRecord? {
        guard let record = try await store.token(id: IdentityService.tokenID(token)), record.expiresAt > clock.now() else { return nil }
        return record
    }

    public enum SignatureFailure: Error, Sendable { case invalid(String) }

    /// Verifies an AK/SK-signed request; the failure text is safe to return to the caller.
    public func authenticate(signed request: SignableRequest) async throws -> Result<Principal, ServiceError> {
        guard let header = request.header("authorization").flatMap(AKSKSignature.parseAuthorization) else {
            return .failure(ServiceError(.notAuthenticated, "Incorrect IAM authentication information: malformed Authorization header"))
        }
        let now = clock.now()
        var secret: String?, principal: Principal?
        if let hit = cache.get("k:" + header.accessKey, now: now) {
            (secret, principal) = (hit.secret, hit.principal)
        } else if let record = try await store.accessKey(header.accessKey) {
            secret = try? secrets.open(record.secretSealed, context: "access-key:\(record.accessKey)")
            principal = try await self.principal(userID: record.userID, projectID: record.projectID)
            if let principal, secret != nil { cache.put("k:" + header.accessKey, .init(principal: principal, secret: secret, expires: now.addingTimeInterval(cache.ttl))) }
        }
        let result = AKSKSignature.verify(request, now: now) { $0 == header.accessKey ? secret : nil }
        switch result {
        case .success:
            guard let principal else {
                return .failure(ServiceError(.notAuthenticated, "Incorrect IAM authentication information: ak \(header.accessKey) not exist"))
            }
            if !["GET", "HEAD"].contains(request.method.uppercased()),
               !replays.firstUse(accessKey: header.accessKey, signature: header.signature, now: now) {
                return .failure(ServiceError(.notAuthenticated, "Incorrect IAM authentication information: this signed request was already used (replay); sign each change anew"))
            }
            return .success(principal)
        case let .failure(f):
            let why: String
            switch f {
            case .malformedAuthorization: why = "malformed Authorization header"
            case .missingDate: why = "X-Sdk-Date is missing or malformed (yyyyMMddTHHmmssZ)"
            case .dateOutOfRange: why = "X-Sdk-Date differs from server time by more than 15 minutes"
            case .hostNotSigned: why = "the Host header must be signed"
            case let .unknownAccessKey(ak): why = "ak \(ak) not exist"
            case .signatureMismatch: why = "verify aksk signature fail"
            case .payloadHashMismatch: why = "X-Sdk-Content-Sha256 must be signed and equal the SHA-256 of the body (UNSIGNED-PAYLOAD is refused)"
            }
            return .failure(ServiceError(.notAuthenticated, "Incorrect IAM authentication information: \(why)"))
        }
    }
}
