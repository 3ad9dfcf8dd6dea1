import Foundation

// CofferModel: what the catalog keeps (records, filters) and the protocols
// through which the service reads and changes it. It imports nothing of SQL:
// CofferCatalog implements these protocols over SQLKit (SQLite now,
// PostgreSQL with the scale-out issue) and the service sees only this module.
//
// Contract shared by every store:
// - Reads that serve a tenant's request name its project; the unscoped ones
//   (`backup(id:)`, `operationLog(id:)`, ...) are for the worker and recovery.
// - Every method may be called inside `Catalog.transaction`; it then runs in
//   that transaction (the implementation finds it from the calling task), so
//   no store method takes a connection or transaction argument.
// - Failures are `CatalogError`.

/// The catalog: one store per kind of record and the unit of work over them.
public protocol Catalog: AnyObject, Sendable {
    var identity: any IdentityStore { get }
    var resources: any ResourceStore { get }
    var databases: any DatabaseInstanceStore { get }
    var vaults: any VaultStore { get }
    var backups: any BackupStore { get }
    var jobs: any JobStore { get }
    var operationLogs: any OperationLogStore { get }
    var quotas: any QuotaStore { get }
    var policies: any PolicyStore { get }
    var agents: any AgentStore { get }
    var webhooks: any WebhookStore { get }

    /// Runs `body` as one transaction: every store call the body makes (from
    /// this task or its child tasks) commits together or not at all. A nested
    /// call joins the open transaction. Other callers' statements wait.
    func transaction<T>(_ body: () async throws -> T) async throws -> T
    /// Whether the catalog answers (for /health).
    func ping() async -> Bool
    /// A consistent copy of the whole catalog in a new file, never overwriting one.
    func backup(to path: String) async throws
    func close() async
}

public protocol IdentityStore: Sendable {
    func ensureDefaultDomain(now: Date) async throws
    /// A name already taken is `.conflict`.
    func insertProject(_ project: ProjectRecord) async throws
    func project(id: String) async throws -> ProjectRecord?
    func project(named name: String) async throws -> ProjectRecord?
    func projects() async throws -> [ProjectRecord]
    /// Whether it existed; its users' roles, keys, tokens and records go with it.
    func deleteProject(id: String) async throws -> Bool
    /// A name already taken is `.conflict`.
    func insertUser(_ user: UserRecord) async throws
    func user(id: String) async throws -> UserRecord?
    func user(named name: String) async throws -> UserRecord?
    func users(inProject projectID: String) async throws -> [(UserRecord, Role)]
    func deleteUser(id: String) async throws
    /// Replaces the user's role in that project.
    func assign(role: Role, user: String, project: String) async throws
    func role(user: String, project: String) async throws -> Role?
    func projects(ofUser userID: String) async throws -> [ProjectRecord]
    func insertAccessKey(_ key: AccessKeyRecord) async throws
    func accessKey(_ ak: String) async throws -> AccessKeyRecord?
    func accessKeys(project: String) async throws -> [AccessKeyRecord]
    /// Whether the key existed in that project.
    func deleteAccessKey(_ ak: String, project: String) async throws -> Bool
    func insertToken(_ token: TokenRecord) async throws
    func token(id: String) async throws -> TokenRecord?
    func deleteToken(id: String) async throws
    func deleteExpiredTokens(now: Date) async throws
}

public protocol ResourceStore: Sendable {
    /// Inserts resources (a server and its disks) in one transaction, after
    /// `check` has seen every registered resource with a path inside it.
    func insert(_ records: [ResourceRecord], check: ([ResourceRecord]) throws -> Void) async throws
    func get(project: String, id: String) async throws -> ResourceRecord?
    func children(project: String, of parent: String) async throws -> [ResourceRecord]
    func list(project: String, filter: ResourceFilter, offset: Int, limit: Int) async throws -> (items: [ResourceRecord], total: Int)
    func update(project: String, id: String, name: String?, description: String?, now: Date) async throws
    func delete(project: String, id: String) async throws
    /// Resources of these types that have a path.
    func withPaths(project: String, types: [String]) async throws -> [ResourceRecord]
}

public protocol DatabaseInstanceStore: Sendable {
    func insert(_ record: DatabaseInstanceRecord) async throws
    func get(_ resourceID: String) async throws -> DatabaseInstanceRecord?
    func setVersion(_ resourceID: String, _ version: String) async throws
    func setPolicy(_ resourceID: String, _ policy: String) async throws
    /// Every instance with its project (the scheduler reads their backup policies).
    func all() async throws -> [(record: DatabaseInstanceRecord, projectID: String)]
}

public protocol PolicyStore: Sendable {
    /// Fails with `.quotaPolicies` when the project already holds `limit` policies.
    func insert(_ policy: PolicyRecord, limit: Int) async throws
    func get(project: String, id: String) async throws -> PolicyRecord?
    /// Oldest first.
    func list(project: String, filter: PolicyFilter) async throws -> [PolicyRecord]
    func update(_ policy: PolicyRecord) async throws
    /// The policy goes; vaults bound to it are left without one.
    func delete(project: String, id: String) async throws
    /// The vaults bound to each of these policies.
    func vaults(boundTo policies: [String]) async throws -> [String: [String]]
    /// Binds (or with nil unbinds) a vault's backup policy.
    func bind(vault: String, project: String, policy: String?) async throws

    // The scheduler's side: one claim per (policy, vault, occurrence), across processes.
    /// Every enabled backup policy with each vault bound to it, in every project.
    func schedules() async throws -> [ScheduleBinding]
    /// The latest occurrence claimed for this pair (the scheduler's progress).
    func lastClaim(policy: String, vault: String) async throws -> Int64?
    /// Every pair's latest claim, keyed `policy/vault`.
    func lastClaims() async throws -> [String: Int64]
    /// Claims an occurrence; false when it was already claimed (by this or another process).
    func claim(_ claim: ScheduleClaim) async throws -> Bool
    /// Records how a claimed occurrence ended.
    func settle(policy: String, vault: String, occurrence: Int64, outcome: String, checkpoint: String?) async throws
    func claims(policy: String, vault: String) async throws -> [ScheduleClaim]
    /// Claims in this state made before `before` (every schedule's).
    func claims(outcome: String, before: Int64) async throws -> [ScheduleClaim]
    /// Moves a claim's outcome only while it is `from`; whether this call moved it (one process wins).
    func resolve(_ claim: ScheduleClaim, from: String, to: String) async throws -> Bool
    /// Forgets settled claims made before `before`, except each schedule's latest (its progress). How many went.
    func forgetClaims(before: Int64) async throws -> Int
    /// Claims of occurrences before `before` not yet checked for a successful backup (baselines never are).
    func unaudited(before: Int64) async throws -> [ScheduleClaim]
    /// Marks a claim checked; whether this call did (one process wins, and only it reports a miss).
    func markAudited(_ claim: ScheduleClaim, at: Int64) async throws -> Bool
}

public protocol VaultStore: Sendable {
    /// A vault with its bindings; a resource bound elsewhere fails the whole insert (`.conflict`).
    func insert(_ vault: VaultRecord, resources: [VaultResourceRecord]) async throws
    func addResources(_ resources: [VaultResourceRecord]) async throws
    func removeResources(vault: String, ids: [String]) async throws
    func get(project: String, id: String) async throws -> VaultRecord?
    func get(id: String) async throws -> VaultRecord?
    func all() async throws -> [VaultRecord]
    /// Every vault's capacity and use, ordered by id (what /metrics reads at each scrape: four columns, not the whole record).
    func capacities() async throws -> [VaultCapacity]
    /// Sets the vault's used bytes and, when `at` is given, keeps a sample of its use and of the
    /// bytes its available backups protect then (the console's growth and dedup charts).
    func setUsage(vault: String, bytes: Int64, at: Int64?) async throws
    /// The vault's newest `limit` usage samples, oldest first.
    func usageHistory(vault: String, limit: Int) async throws -> [VaultUsageSample]
    func resources(vault: String) async throws -> [VaultResourceRecord]
    /// The vault a resource is bound to.
    func vault(ofResource id: String) async throws -> String?
    func list(project: String, filter: VaultFilter, offset: Int, limit: Int) async throws -> (items: [VaultRecord], total: Int)
    func update(_ vault: VaultRecord) async throws
    func delete(project: String, id: String) async throws
    func summary(project: String) async throws -> (sizeGB: Int, usedBytes: Int64)
    /// The vault's repository needs a prune at `at` (kept if one is due earlier).
    func prunePlanned(vault: String, at: Int64) async throws
    /// The vaults whose prune is due by `now`, each handed to one caller only (its plan is cleared).
    func takePrunesDue(now: Int64) async throws -> [VaultRecord]
}

/// Checkpoints (backup runs) and their backups.
public protocol BackupStore: Sendable {
    func insertCheckpoint(_ checkpoint: CheckpointRecord) async throws
    func insertBackups(_ backups: [BackupRecord]) async throws
    func checkpoint(project: String, id: String) async throws -> CheckpointRecord?
    func updateCheckpoint(_ checkpoint: CheckpointRecord) async throws
    func backup(project: String, id: String) async throws -> BackupRecord?
    func backup(id: String) async throws -> BackupRecord?
    func children(of parent: String) async throws -> [BackupRecord]
    /// The disk backups of several server backups at once, by parent id.
    func children(of parents: [String]) async throws -> [String: [BackupRecord]]
    func backups(checkpoint: String) async throws -> [BackupRecord]
    /// Writes the whole record; with `expected`, only while the stored backup is in that state. Whether it wrote.
    @discardableResult
    func updateBackup(_ backup: BackupRecord, expected: BackupStatus?) async throws -> Bool
    /// The vault's available automatic backups (any project: the caller holds the vault).
    func expiryCandidates(vault: String) async throws -> [ExpiryCandidate]
    /// Sets when available backups expire (nil: never), in one transaction; others are left as they are.
    func setExpiry(_ expiries: [(id: String, expiresAt: Int64?)]) async throws
    /// Moves backups to `status`; with `expected`, only those now in that state
    /// (the conditional update a lifecycle transition is applied as). Returns how many moved.
    @discardableResult
    func setStatus(backups ids: [String], to status: BackupStatus, expected: BackupStatus?, now: Int64) async throws -> Int
    /// Whether any backup of the vault is being made, restored or deleted.
    func vaultBusy(_ vault: String) async throws -> Bool
    func deleteBackups(vault: String) async throws
    func deleteBackups(_ ids: [String]) async throws
    /// The newest available top-level backup of a resource (the parent for an incremental one).
    func latestAvailable(resource: String) async throws -> BackupRecord?
    /// Whether a resource already has a backup of this name.
    func nameTaken(resource: String, name: String) async throws -> Bool
    /// Whether a resource has a backup still being made.
    func hasActiveBackup(resource: String) async throws -> Bool
    /// `project` nil: every project's (the service admin's all_tenants).
    func countBackups(project: String?, filter: BackupFilter) async throws -> Int
    /// `sort`: (column, ascending) pairs; ties are broken by id.
    func listBackups(project: String?, filter: BackupFilter, sort: [(String, Bool)], offset: Int, limit: Int) async throws -> (items: [BackupRecord], total: Int)
    /// Where `id` stands in the listing (for marker paging), or nil when it is not in it.
    func position(of id: String, project: String?, filter: BackupFilter, sort: [(String, Bool)]) async throws -> Int?
    /// Per vault and resource: its last successful backup and how its newest finished one ended (what /metrics shows);
    /// `project` nil: every project's.
    func resourceStatistics(project: String?) async throws -> [ResourceBackupStatistics]
}

extension BackupStore {
    public func resourceStatistics() async throws -> [ResourceBackupStatistics] { try await resourceStatistics(project: nil) }
}

/// A vault's capacity and use (/metrics).
/// A vault's use at one moment: bytes its repository stored and bytes its available backups protected.
public struct VaultUsageSample: Sendable, Equatable {
    public var at: Int64
    public var usedBytes: Int64
    public var protectedBytes: Int64
    public init(at: Int64, usedBytes: Int64, protectedBytes: Int64) {
        self.at = at
        self.usedBytes = usedBytes
        self.protectedBytes = protectedBytes
    }
}

public struct VaultCapacity: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var sizeGB: Int
    public var usedBytes: Int64
    public init(id: String, projectID: String, sizeGB: Int, usedBytes: Int64) {
        self.id = id
        self.projectID = projectID
        self.sizeGB = sizeGB
        self.usedBytes = usedBytes
    }
}

/// A protected resource's backups in one vault, as the metrics report them (top-level backups only).
public struct ResourceBackupStatistics: Sendable, Equatable {
    public var projectId: String
    public var vaultId: String
    public var resourceId: String
    public var resourceType: String
    /// When its newest available backup was made (ms); nil: none is available.
    public var lastSuccessAt: Int64?
    /// Whether its newest finished (available or error) backup is available.
    public var lastSucceeded: Bool
    /// What its available backups protect (the sum of their resource sizes).
    public var protectedBytes: Int64

    public init(projectId: String, vaultId: String, resourceId: String, resourceType: String, lastSuccessAt: Int64?, lastSucceeded: Bool, protectedBytes: Int64) {
        self.projectId = projectId
        self.vaultId = vaultId
        self.resourceId = resourceId
        self.resourceType = resourceType
        self.lastSuccessAt = lastSuccessAt
        self.lastSucceeded = lastSucceeded
        self.protectedBytes = protectedBytes
    }
}

/// Queued work, leased to one worker at a time.
public protocol JobStore: Sendable {
    func insert(_ job: JobRecord) async throws
    func job(id: String) async throws -> JobRecord?
    /// Takes a queued job, leasing it to `owner` until `leaseUntil`: the oldest
    /// job of the project whose turn is longest ago (fairness between tenants).
    func claim(owner: String, now: Int64, leaseUntil: Int64) async throws -> JobRecord?
    /// Takes the oldest queued job of `project` that only `agent` may run (its resource is on the agent's host).
    /// `claim(owner:…)` never takes such a job.
    func claim(agent: String, project: String, owner: String, now: Int64, leaseUntil: Int64) async throws -> JobRecord?
    /// Agents' jobs queued (made, or handed back after a lost lease) before `queuedBefore` and queued since:
    /// their agent has not come for them.
    func waitingForAgents(queuedBefore: Int64) async throws -> [JobRecord]
    /// Sets a running job's payload while `owner` holds it; whether it does.
    func setPayload(job: String, owner: String, payload: String) async throws -> Bool
    /// Only while `owner` still holds the job; whether it does.
    @discardableResult
    func extendLease(job: String, owner: String, until: Int64) async throws -> Bool
    /// How many jobs are in each state (what /metrics shows as queued and running).
    func countByStatus() async throws -> [JobStatus: Int]
    /// Running jobs whose lease ran out (their worker died).
    func expired(now: Int64) async throws -> [JobRecord]
    /// Applies a transition decided from `job` as it was read: only if the job
    /// is still in that state and held by the same owner. A move to `.queued`
    /// releases it (no owner, no lease); a final state records `error`.
    /// Returns whether it moved.
    @discardableResult
    func transition(_ job: JobRecord, to status: JobStatus, error: String?, now: Int64) async throws -> Bool
    /// Queues a running job again for another worker, as `transition` to `.queued` does, and
    /// takes back the attempt its claim counted (a shutdown is not a failure). Whether it applied.
    @discardableResult
    func handBack(_ job: JobRecord, now: Int64) async throws -> Bool
}

public protocol OperationLogStore: Sendable {
    func insert(_ log: OperationLogRecord) async throws
    func get(project: String, id: String) async throws -> OperationLogRecord?
    func get(id: String) async throws -> OperationLogRecord?
    /// The newest operation log of each backup, by backup id.
    func latest(backups ids: [String]) async throws -> [String: OperationLogRecord]
    /// Writes the whole record; with `expected`, only while the stored log is in that state. Whether it wrote.
    @discardableResult
    func update(_ log: OperationLogRecord, expected: OperationStatus?) async throws -> Bool
    /// Progress of a running operation only: one that ended keeps its final state.
    func setProgress(log id: String, percent: Int, now: Int64) async throws
    /// Whether a restore onto one of these resources is queued or running.
    func restoreActive(resources: [String]) async throws -> Bool
    func list(project: String, filter: OperationLogFilter, offset: Int, limit: Int) async throws -> (items: [OperationLogRecord], total: Int)
}

/// Operator-set limits. The checks are meant to run inside the transaction
/// that would exceed them, so two requests racing for the last slot cannot both get it.
public protocol QuotaStore: Sendable {
    func get(project: String) async throws -> ProjectQuota
    func set(project: String, _ quota: ProjectQuota) async throws
    /// `.quotaVaults` / `.quotaCapacity` when one more vault of this size is too many.
    func checkNewVault(project: String, sizeGB: Int) async throws
    /// `.quotaCapacity` when growing a vault exceeds the project's capacity.
    func checkResize(project: String, from: Int, to: Int) async throws
    /// `.quotaJobs` when `adding` more queued jobs are too many.
    func checkJobs(project: String, adding: Int) async throws
}
