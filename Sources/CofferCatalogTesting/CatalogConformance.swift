import CofferModel
import Foundation

// CofferCatalogTesting: the contract of CofferModel's catalog protocols as
// executable checks. Every implementation (SQLite now, PostgreSQL with the
// scale-out issue) runs the same list; a test target gives each check a fresh,
// empty, migrated catalog. Failures throw, so the checks need no test framework.

/// A broken promise of the catalog contract, naming the check and what differed.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String
}

func require(_ condition: Bool, _ what: @autoclosure () -> String, line: Int = #line) throws {
    if !condition { throw ConformanceFailure(description: "line \(line): \(what())") }
}

func requireThrows(_ code: CatalogError.Code, _ what: String, line: Int = #line, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as CatalogError where e.code == code {
        return
    } catch {
        throw ConformanceFailure(description: "line \(line): \(what): expected CatalogError.\(code), got \(error)")
    }
    throw ConformanceFailure(description: "line \(line): \(what): expected CatalogError.\(code), nothing was thrown")
}

public enum CatalogConformance {
    public typealias Check = @Sendable (any Catalog) async throws -> Void

    /// Every check by name.
    public static let checks: [(name: String, run: Check)] = [
        ("transactions commit together or not at all", transactions),
        ("identity: unique names, roles, keys scoped by project, tokens", identity),
        ("resources: scoped by project, overlap check inside the insert", resources),
        ("vaults: bindings exclusive, quota inside the insert", vaults),
        ("backups: listing order, paging, markers, filters", backups),
        ("backup statistics: last success and newest outcome per vault and resource", statistics),
        ("jobs: fair claiming, leases, expiry, requeue", jobs),
        ("prunes: planned per vault, taken once, alone in their vault", prunes),
        ("operation logs: scoped, progress only while running, latest per backup", operationLogs),
        ("quotas: limits counted inside the writing transaction", quotas),
        ("policies: scoped by project, limit inside the insert, bindings, delete unbinds", policies),
        ("agents: ids scoped by project, re-registration keeps creation, status filters, paths", agents),
        ("webhooks: scoped by project, limit inside the insert, an outbox claimed once per delivery and once per webhook, attempts, cascades", webhooks),
        ("schedule claims: audited once, baselines never", scheduleAudit),
    ]

    // MARK: fixtures

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Two catalogs open on one database (two processes): a count one keeps
    /// follows the other's writes, and a deleted project takes its backups' counts with it.
    public static func countsFollowAnotherProcess(_ a: any Catalog, _ b: any Catalog) async throws {
        try await project("pc", a)
        try await a.backups.insertCheckpoint(CheckpointRecord(id: "c1", projectId: "pc", vaultId: "v1", vaultName: "vault", status: .protecting, name: "c",
                                                              description: "", resources: "[]", skipped: "[]", createdAt: 1, updatedAt: 1))
        func total(_ catalog: any Catalog) async throws -> Int {
            try await catalog.backups.listBackups(project: "pc", filter: BackupFilter(), sort: [("created_at", false)], offset: 0, limit: 1).total
        }
        try require(try await total(b) == 0, "nothing yet")
        try await a.backups.insertBackups([backup("m1", project: "pc", at: 1), backup("m2", project: "pc", at: 2)])
        try require(try await total(b) == 2, "the other process's inserts are counted")
        try await a.backups.deleteBackups(["m1"])
        try require(try await total(b) == 1, "and its deletes")
        try require(try await a.identity.deleteProject(id: "pc"), "project deleted")
        try require(try await total(b) == 0, "a deleted project's backups are not counted")
    }

    static func project(_ id: String, _ catalog: any Catalog) async throws {
        try await catalog.identity.ensureDefaultDomain(now: t0)
        try await catalog.identity.insertProject(ProjectRecord(id: id, name: "name-" + id, domainID: ProjectRecord.defaultDomainID, description: "", createdAt: t0))
    }

    static func resource(_ id: String, project: String, type: String = "OS::Cinder::Volume", withPath: Bool = true, parent: String? = nil, at: Int = 0) -> ResourceRecord {
        ResourceRecord(id: id, projectID: project, type: type, name: "res-" + id, description: "", path: withPath ? "/srv/" + id : nil, parentID: parent, bootable: false,
                       position: at, createdAt: t0.addingTimeInterval(Double(at)), updatedAt: t0, device: 1, inode: Int64(at))
    }

    static func vault(_ id: String, project: String, sizeGB: Int = 10) -> VaultRecord {
        VaultRecord(id: id, projectID: project, userID: "u", name: "vault-" + id, description: "", objectType: "disk", protectType: "backup",
                    consistentLevel: "crash_consistent", cloudType: "public", chargingMode: "post_paid", sizeGB: sizeGB, status: "available",
                    autoBind: false, autoExpand: false, smnNotify: true, threshold: 80, locked: false, availabilityZone: "", enterpriseProjectID: "0",
                    backupNamePrefix: "", policyID: nil, tags: "[]", bindRules: "{}", usedBytes: 0, keySealed: "k", createdAt: t0, updatedAt: t0, repositoryURL: "memory://" + id)
    }

    static func backup(_ id: String, project: String, vault: String = "v1", resource: String = "r1", parent: String? = nil, status: BackupStatus = .available,
                       type: String = "OS::Cinder::Volume", name: String? = nil, at: Int64) -> BackupRecord {
        BackupRecord(id: id, projectId: project, vaultId: vault, checkpointId: "c1", parentId: parent, resourceId: resource, resourceType: type,
                     resourceName: "res", resourceSize: 1, name: name ?? "bk-" + id, description: "", status: status, imageType: "backup", providerId: "p",
                     incremental: false, autoTrigger: false, bootable: false, snapshotId: nil, failReason: nil, createdAt: at, protectedAt: nil,
                     updatedAt: at, expiredAt: nil)
    }

    static func log(_ id: String, project: String, type: String = "backup", status: OperationStatus = .waiting, resource: String = "r1", backup: String? = nil,
                    at: Int64) -> OperationLogRecord {
        OperationLogRecord(id: id, projectId: project, operationType: type, status: status, vaultId: "v1", vaultName: "vault", providerId: "p",
                           resourceId: resource, resourceName: "res", resourceType: "OS::Cinder::Volume", checkpointId: nil, backupId: backup, progress: 0,
                           errorCode: nil, errorMsg: nil, createdAt: at, startedAt: nil, endedAt: nil, updatedAt: at)
    }

    static func job(_ id: String, project: String, at: Int64) -> JobRecord {
        JobRecord(id: id, projectId: project, kind: .backup, targetId: "b-" + id, operationLogId: "l-" + id, status: .queued, owner: nil, leaseUntil: nil,
                  attempts: 0, lastError: nil, createdAt: at, updatedAt: at)
    }

    // MARK: checks

    static let transactions: Check = { catalog in
        try await project("p1", catalog)
        struct Abort: Error {}
        do {
            try await catalog.transaction {
                try await catalog.resources.insert([resource("gone", project: "p1")]) { _ in }
                try await catalog.transaction {  // nested: joins the open one
                    try await catalog.vaults.insert(vault("vgone", project: "p1"), resources: [])
                }
                throw Abort()
            }
        } catch is Abort {}
        try require(try await catalog.resources.get(project: "p1", id: "gone") == nil, "a rolled-back resource insert is gone")
        try require(try await catalog.vaults.get(id: "vgone") == nil, "a nested insert rolls back with the outer transaction")
        let kept: Int = try await catalog.transaction {
            try await catalog.resources.insert([resource("kept", project: "p1")]) { _ in }
            return 7
        }
        try require(kept == 7, "the body's value is returned")
        try require(try await catalog.resources.get(project: "p1", id: "kept") != nil, "a committed insert stays")
        try require(await catalog.ping(), "ping answers")
    }

    static let identity: Check = { catalog in
        let store = catalog.identity
        try await project("p1", catalog)
        try await project("p2", catalog)
        try await requireThrows(.conflict, "a second project of the same name") {
            try await store.insertProject(ProjectRecord(id: "p3", name: "name-p1", domainID: ProjectRecord.defaultDomainID, description: "", createdAt: t0))
        }
        try require(try await store.project(named: "name-p2")?.id == "p2", "project by name")
        try require(try await store.projects().map(\.id) == ["p1", "p2"], "projects ordered by name")
        let user = UserRecord(id: "u1", name: "alice", domainID: ProjectRecord.defaultDomainID, passwordHash: "h", defaultProjectID: "p1", enabled: true, createdAt: t0)
        try await store.insertUser(user)
        try await requireThrows(.conflict, "a second user of the same name") {
            try await store.insertUser(UserRecord(id: "u2", name: "alice", domainID: ProjectRecord.defaultDomainID, passwordHash: "h", defaultProjectID: nil,
                                                  enabled: true, createdAt: t0))
        }
        try await store.assign(role: .member, user: "u1", project: "p1")
        try await store.assign(role: .admin, user: "u1", project: "p1")
        try require(try await store.role(user: "u1", project: "p1") == .admin, "assign replaces the role")
        try require(try await store.role(user: "u1", project: "p2") == nil, "no role where none was given")
        try require(try await store.projects(ofUser: "u1").map(\.id) == ["p1"], "the user's projects")
        try require(try await store.users(inProject: "p1").map { $0.0.id } == ["u1"], "the project's users")
        try await store.insertAccessKey(AccessKeyRecord(accessKey: "AK1", userID: "u1", projectID: "p1", secretSealed: "s", description: "", createdAt: t0))
        try require(try await store.deleteAccessKey("AK1", project: "p2") == false, "another project cannot delete the key")
        try require(try await store.accessKey("AK1")?.projectID == "p1", "the key survives a foreign delete")
        try require(try await store.accessKeys(project: "p1").map(\.accessKey) == ["AK1"], "keys by project")
        try await store.insertToken(TokenRecord(id: "t1", userID: "u1", projectID: "p1", methods: ["password"], issuedAt: t0, expiresAt: t0.addingTimeInterval(60)))
        try await store.insertToken(TokenRecord(id: "t2", userID: "u1", projectID: "p1", methods: ["password"], issuedAt: t0, expiresAt: t0.addingTimeInterval(600)))
        try require(try await store.token(id: "t1")?.methods == ["password"], "token round trip")
        try await store.deleteExpiredTokens(now: t0.addingTimeInterval(120))
        let t1Left = try await store.token(id: "t1"), t2Left = try await store.token(id: "t2")
        try require(t1Left == nil && t2Left != nil, "only expired tokens go")
        try require(try await store.deleteProject(id: "p1"), "delete reports an existing project")
        let key = try await store.accessKey("AK1"), token = try await store.token(id: "t2"), role = try await store.role(user: "u1", project: "p1")
        try require(key == nil && token == nil && role == nil, "a project's keys, tokens and roles go with it")
        try require(try await store.deleteProject(id: "p1") == false, "a second delete finds nothing")
    }

    static let resources: Check = { catalog in
        let store = catalog.resources
        try await project("p1", catalog)
        try await project("p2", catalog)
        try await store.insert([resource("srv", project: "p1", type: "OS::Nova::Server", withPath: false, at: 0),
                                resource("d1", project: "p1", parent: "srv", at: 2), resource("d0", project: "p1", parent: "srv", at: 1)]) { _ in }
        var seen: [String] = []
        try await store.insert([resource("fs", project: "p2", type: "OS::Coffer::Directory", at: 3)]) { existing in seen = existing.map(\.id).sorted() }
        try require(seen == ["d0", "d1"], "the check sees every resource with a path, of every project: \(seen)")
        struct Overlap: Error {}
        do {
            try await store.insert([resource("refused", project: "p1", at: 4)]) { _ in throw Overlap() }
        } catch is Overlap {}
        try require(try await store.get(project: "p1", id: "refused") == nil, "a refused check inserts nothing")
        try require(try await store.get(project: "p2", id: "srv") == nil, "another project's resource is invisible")
        try require(try await store.children(project: "p1", of: "srv").map(\.id) == ["d0", "d1"], "children by position")
        let (top, total) = try await store.list(project: "p1", filter: ResourceFilter(), offset: 0, limit: 10)
        try require(top.map(\.id) == ["srv"] && total == 1, "top level only by default")
        let (disks, count) = try await store.list(project: "p1", filter: ResourceFilter(parentID: "srv"), offset: 1, limit: 1)
        try require(disks.map(\.id) == ["d1"] && count == 2, "paging counts before the page: \(disks.map(\.id)) \(count)")
        try await store.update(project: "p2", id: "srv", name: "stolen", description: nil, now: t0)
        try require(try await store.get(project: "p1", id: "srv")?.name == "res-srv", "an update names its project")
        try await store.update(project: "p1", id: "srv", name: "renamed", description: "d", now: t0)
        let renamed = try await store.get(project: "p1", id: "srv")
        try require(renamed?.name == "renamed" && renamed?.description == "d", "update")
        try require(try await store.get(project: "p1", id: "d0")?.inode == 1, "identity fields round-trip")
        try require(try await store.withPaths(project: "p1", types: ["OS::Cinder::Volume"]).count == 2, "resources with paths by type")
        try await store.delete(project: "p2", id: "srv")
        try require(try await store.get(project: "p1", id: "srv") != nil, "a delete names its project")
        try await store.delete(project: "p1", id: "srv")
        try require(try await store.get(project: "p1", id: "d0") == nil, "a server's disks go with it")
    }

    static let vaults: Check = { catalog in
        let store = catalog.vaults
        try await project("p1", catalog)
        try await project("p2", catalog)
        try await catalog.resources.insert([resource("r1", project: "p1", at: 1), resource("r2", project: "p1", at: 2)]) { _ in }
        try await store.insert(vault("v1", project: "p1"), resources: [VaultResourceRecord(resourceID: "r1", vaultID: "v1", projectID: "p1", extraInfo: "{}", position: 0)])
        try await requireThrows(.conflict, "a resource bound twice") {
            try await store.insert(vault("v2", project: "p1"), resources: [VaultResourceRecord(resourceID: "r1", vaultID: "v2", projectID: "p1", extraInfo: "{}", position: 0)])
        }
        try require(try await store.get(id: "v2") == nil, "the refused vault is not inserted")
        try require(try await store.get(project: "p2", id: "v1") == nil, "another project's vault is invisible")
        try require(try await store.vault(ofResource: "r1") == "v1", "the vault of a resource")
        try await store.addResources([VaultResourceRecord(resourceID: "r2", vaultID: "v1", projectID: "p1", extraInfo: "{}", position: 1)])
        try require(try await store.resources(vault: "v1").map(\.resourceID) == ["r1", "r2"], "bindings by position")
        try await store.removeResources(vault: "v1", ids: ["r1"])
        try require(try await store.vault(ofResource: "r1") == nil, "an unbound resource")
        try await store.setUsage(vault: "v1", bytes: 1 << 20, at: 10)
        try await store.setUsage(vault: "v1", bytes: 1 << 21, at: 10)
        try await store.setUsage(vault: "v1", bytes: 1 << 30, at: 20)
        try await store.setUsage(vault: "v1", bytes: 1 << 30, at: nil)
        try await store.setUsage(vault: "nowhere", bytes: 1, at: 30)
        try require(try await store.usageHistory(vault: "v1", limit: 10) == [VaultUsageSample(at: 10, usedBytes: 1 << 20, protectedBytes: 0),
                                                                           VaultUsageSample(at: 20, usedBytes: 1 << 30, protectedBytes: 0)],
                    "usage samples oldest first, one per millisecond, none without a time")
        try require(try await store.usageHistory(vault: "v1", limit: 1).map(\.at) == [20], "the newest samples")
        try require(try await store.usageHistory(vault: "nowhere", limit: 10).isEmpty, "no sample for a vault that does not exist")
        try await store.insert(vault("v3", project: "p1", sizeGB: 5), resources: [])
        let summary = try await store.summary(project: "p1")
        try require(summary.sizeGB == 15 && summary.usedBytes == 1 << 30, "summary \(summary)")
        var filter = VaultFilter()
        filter.name = "vault-v3"
        let (listed, total) = try await store.list(project: "p1", filter: filter, offset: 0, limit: 10)
        try require(listed.map(\.id) == ["v3"] && total == 1, "list by name")
        var changed = try await store.get(project: "p1", id: "v3")!
        changed.description = "new"
        try await store.update(changed)
        try require(try await store.get(id: "v3")?.description == "new", "update")
        try require(try await store.get(id: "v3")?.repositoryURL == "memory://v3", "the repository URL round-trips")
        try require(try await store.all().count == 2, "all vaults")
        let capacities = try await store.capacities(), all = try await store.all().sorted { $0.id < $1.id }
        try require(capacities == all.map { VaultCapacity(id: $0.id, projectID: $0.projectID, sizeGB: $0.sizeGB, usedBytes: $0.usedBytes) },
                    "capacities: every vault's size and use, by id: \(capacities)")
        try await store.delete(project: "p2", id: "v3")
        try require(try await store.get(id: "v3") != nil, "a delete names its project")
        try await store.delete(project: "p1", id: "v3")
        try require(try await store.get(id: "v3") == nil, "delete")
    }

    static let backups: Check = { catalog in
        let store = catalog.backups
        try await project("p1", catalog)
        try await project("p2", catalog)
        try await store.insertCheckpoint(CheckpointRecord(id: "c1", projectId: "p1", vaultId: "v1", vaultName: "vault", status: .protecting, name: "c",
                                                          description: "", resources: "[]", skipped: "[]", createdAt: 1, updatedAt: 1))
        // Children listed before their parent: the store orders the insert.
        try await store.insertBackups([backup("d1", project: "p1", resource: "disk", parent: "srv", at: 5), backup("srv", project: "p1", resource: "s", type: "OS::Nova::Server", at: 5),
                                       backup("b1", project: "p1", at: 1), backup("b2", project: "p1", status: .protecting, at: 2),
                                       backup("b3", project: "p1", at: 3), backup("x1", project: "p2", resource: "r-other", at: 4)])
        try require(try await store.checkpoint(project: "p2", id: "c1") == nil, "another project's checkpoint is invisible")
        try require(try await store.backup(project: "p2", id: "b1") == nil, "another project's backup is invisible")
        try require(try await store.backup(id: "x1")?.projectId == "p2", "the worker reads by id alone")
        try require(try await store.children(of: "srv").map(\.id) == ["d1"], "children")
        // Every field comes back as stored, optionals set and unset, text with quotes and non-ASCII.
        var full = backup("full", project: "p1", parent: "srv", status: .error, name: "naïve 'quoted' ☃", at: 9)
        (full.resourceSize, full.description, full.incremental, full.autoTrigger, full.bootable) = (Int64(1) << 40, "d\"e", true, true, true)
        (full.snapshotId, full.failReason, full.protectedAt, full.expiredAt) = ("snap", "why", 11, 12)
        (full.resourceAz, full.tags, full.policyId, full.updatedAt) = ("az1", #"[{"key":"k","value":"v"}]"#, "pol", 10)
        try await store.insertBackups([full])
        let read = try await store.backup(id: "full"), readInProject = try await store.backup(project: "p1", id: "full")
        try require(read == full && readInProject == full, "a backup reads back field for field: \(String(describing: read))")
        try require(try await store.children(of: "srv") == [full, try await store.backup(id: "d1")!].sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) },
                    "children read back whole")
        try await store.deleteBackups(["full"])
        // Counts follow every kind of write (they are kept between writes).
        func total(_ filter: BackupFilter = BackupFilter()) async throws -> Int {
            try await store.listBackups(project: "p1", filter: filter, sort: [("created_at", false)], offset: 0, limit: 1).total
        }
        var protecting = BackupFilter()
        protecting.statuses = [.protecting]
        let (before, protectingBefore) = (try await total(), try await total(protecting))
        try await store.insertBackups([backup("cnt", project: "p1", at: 20)])
        try require(try await total() == before + 1, "a count after an insert")
        try require(try await store.setStatus(backups: ["cnt"], to: .protecting, expected: .available, now: 21) == 1, "status set")
        try require(try await total(protecting) == protectingBefore + 1, "a count after a status change")
        var changed = try await store.backup(id: "cnt")!
        changed.status = .available
        try require(try await store.updateBackup(changed, expected: .protecting), "updated")
        try require(try await total(protecting) == protectingBefore, "a count after an update")
        try require(try await total() == before + 1, "counted (and kept) before the delete")
        try await store.deleteBackups(["cnt"])
        try require(try await total() == before, "a count after a delete")
        try require(try await store.children(of: ["srv", "b1"])["srv"]?.map(\.id) == ["d1"], "children of several")
        let newestFirst = [("created_at", false)]
        let all = try await store.listBackups(project: "p1", filter: BackupFilter(), sort: newestFirst, offset: 0, limit: 10)
        try require(all.items.map(\.id) == ["srv", "b3", "b2", "b1"] && all.total == 4, "top-level, newest first: \(all.items.map(\.id))")
        let page = try await store.listBackups(project: "p1", filter: BackupFilter(), sort: newestFirst, offset: 1, limit: 2)
        try require(page.items.map(\.id) == ["b3", "b2"] && page.total == 4, "a page")
        try require(try await store.position(of: "b2", project: "p1", filter: BackupFilter(), sort: newestFirst) == 2, "marker position")
        try require(try await store.position(of: "x1", project: "p1", filter: BackupFilter(), sort: newestFirst) == nil, "a foreign marker is not in the listing")
        try require(try await store.countBackups(project: nil, filter: BackupFilter()) == 5, "all projects")
        try require(try await store.expiryCandidates(vault: "v1").isEmpty, "no automatic backups yet")
        var automatic = backup("a1", project: "p1", at: 7)
        automatic.autoTrigger = true
        try await store.insertBackups([automatic])
        try require(try await store.expiryCandidates(vault: "v1") == [ExpiryCandidate(id: "a1", resourceID: "r1", createdAt: 7, expiredAt: nil)],
                    "retention sees the available automatic backups")
        try await store.deleteBackups(["a1"])
        try await store.setExpiry([("b1", 99), ("b2", 99), ("b3", nil)])
        let expiries = [try await store.backup(id: "b1")?.expiredAt, try await store.backup(id: "b2")?.expiredAt, try await store.backup(id: "b3")?.expiredAt]
        try require(expiries == [99, nil, nil], "expiries are set on available backups only: \(expiries)")
        try await store.setExpiry([("b1", nil)])
        try require(try await store.backup(id: "b1")?.expiredAt == nil, "and cleared")
        var filter = BackupFilter()
        filter.statuses = [.protecting]
        try require(try await store.listBackups(project: "p1", filter: filter, sort: [], offset: 0, limit: 10).items.map(\.id) == ["b2"], "by status")
        filter = BackupFilter()
        filter.matchesNothing = true
        try require(try await store.countBackups(project: "p1", filter: filter) == 0, "matchesNothing")
        filter = BackupFilter()
        filter.parentID = "srv"
        try require(try await store.countBackups(project: "p1", filter: filter) == 1, "by parent")
        try require(try await store.hasActiveBackup(resource: "r1"), "a backup being made")
        try require(try await store.vaultBusy("v1"), "a busy vault")
        try require(try await store.latestAvailable(resource: "r1")?.id == "b3", "latest available")
        try require(try await store.nameTaken(resource: "r1", name: "bk-b1"), "a taken name")
        try require(try await store.setStatus(backups: ["b2", "b3"], to: .deleting, expected: .protecting, now: 9) == 1, "a conditional update moves only rows in the expected state")
        try require(try await store.backup(id: "b3")?.status == .available, "b3 was not protecting")
        try await store.setStatus(backups: ["b2"], to: .available, expected: nil, now: 9)
        try require(try await store.hasActiveBackup(resource: "r1") == false, "status set")
        var b1 = try await store.backup(id: "b1")!
        b1.snapshotId = "abc"
        try require(try await store.updateBackup(b1, expected: .error) == false, "a conditional update of a backup in another state writes nothing")
        try require(try await store.updateBackup(b1, expected: .available), "a conditional update")
        try require(try await store.backup(id: "b1")?.snapshotId == "abc", "update")
        try await store.deleteBackups(["b1"])
        try require(try await store.backup(id: "b1") == nil, "delete by id")
        try await store.deleteBackups(vault: "v1")
        try require(try await store.countBackups(project: nil, filter: BackupFilter()) == 0, "delete by vault")
    }

    static let statistics: Check = { catalog in
        let store = catalog.backups
        try await project("p1", catalog)
        try await project("p2", catalog)
        func made(_ id: String, project: String = "p1", vault: String, resource: String, status: BackupStatus, at: Int64, size: Int64 = 1, parent: String? = nil) -> BackupRecord {
            var b = backup(id, project: project, vault: vault, resource: resource, parent: parent, status: status, at: at)
            b.protectedAt = status == .available ? at * 10 : nil
            b.resourceSize = size
            return b
        }
        try await store.insertBackups([
            made("a1", vault: "v1", resource: "r1", status: .available, at: 1, size: 100), made("a2", vault: "v1", resource: "r1", status: .error, at: 2),
            made("a3", vault: "v1", resource: "r1", status: .protecting, at: 3),
            made("b1", vault: "v1", resource: "r2", status: .available, at: 3, size: 5), made("b2", vault: "v1", resource: "r2", status: .available, at: 4, size: 7),
            made("d1", vault: "v1", resource: "r2-disk", status: .available, at: 4, size: 1_000, parent: "b2"),
            made("c1", project: "p2", vault: "v2", resource: "r3", status: .error, at: 5),
        ])
        let stats = try await store.resourceStatistics()
        let expected = [
            ResourceBackupStatistics(projectId: "p1", vaultId: "v1", resourceId: "r1", resourceType: "OS::Cinder::Volume", lastSuccessAt: 10, lastSucceeded: false, protectedBytes: 100),
            ResourceBackupStatistics(projectId: "p1", vaultId: "v1", resourceId: "r2", resourceType: "OS::Cinder::Volume", lastSuccessAt: 40, lastSucceeded: true, protectedBytes: 12),
            ResourceBackupStatistics(projectId: "p2", vaultId: "v2", resourceId: "r3", resourceType: "OS::Cinder::Volume", lastSuccessAt: nil, lastSucceeded: false, protectedBytes: 0),
        ]
        try require(stats == expected, "top-level only, newest finished outcome, sizes of available backups: \(stats)")
        try require(try await store.resourceStatistics(project: "p2") == [expected[2]], "one project's only")
    }

    static let jobs: Check = { catalog in
        let store = catalog.jobs
        try await project("p1", catalog)
        try await project("p2", catalog)
        try await store.insert(job("a1", project: "p1", at: 1))
        try await store.insert(job("a2", project: "p1", at: 2))
        try await store.insert(job("b1", project: "p2", at: 3))
        let first = try await store.claim(owner: "w1", now: 10, leaseUntil: 100)
        try require(first?.id == "a1" && first?.status == .running && first?.attempts == 1 && first?.owner == "w1", "oldest job first: \(String(describing: first))")
        // p1 just had a turn: p2's job goes before p1's older one.
        try require(try await store.claim(owner: "w1", now: 11, leaseUntil: 100)?.id == "b1", "the project waiting longest goes next")
        guard let a2 = try await store.claim(owner: "w2", now: 12, leaseUntil: 50) else { throw ConformanceFailure(description: "a2 was not claimed") }
        try require(a2.id == "a2", "then the rest")
        try require(try await store.claim(owner: "w1", now: 13, leaseUntil: 100) == nil, "nothing left")
        try require(try await store.extendLease(job: "a2", owner: "w1", until: 1000) == false, "another owner cannot extend a lease")
        try require(try await store.expired(now: 60).map(\.id) == ["a2"], "the lease still runs out")
        try require(try await store.extendLease(job: "a2", owner: "w2", until: 1000), "the owner extends its lease")
        try require(try await store.expired(now: 60).isEmpty, "an extended lease has not run out")
        var stale = a2
        stale.owner = "w9"
        try require(try await store.transition(stale, to: .queued, error: nil, now: 70) == false, "a transition decided for another owner does not apply")
        try require(try await store.transition(a2, to: .queued, error: nil, now: 70), "requeue")
        try require(try await store.transition(a2, to: .queued, error: nil, now: 70) == false, "a transition applies once")
        let again = try await store.claim(owner: "w3", now: 71, leaseUntil: 200)
        try require(again?.id == "a2" && again?.attempts == 2 && again?.owner == "w3", "a requeued job is claimed again, attempts counted")
        try require(try await store.transition(again!, to: .failed, error: "boom", now: 80), "finish")
        let ended = try await store.job(id: "a2")
        try require(ended?.status == .failed && ended?.lastError == "boom" && ended?.leaseUntil == nil, "a final state records the error and drops the lease")
        try require(try await store.expired(now: 10_000).map(\.id).sorted() == ["a1", "b1"], "a finished job never expires")
        // A worker shutting down hands its job back: queued, unowned, the attempt not counted.
        guard let b1 = try await store.job(id: "b1") else { throw ConformanceFailure(description: "b1 vanished") }
        var notMine = b1
        notMine.owner = "w9"
        try require(try await store.handBack(notMine, now: 90) == false, "only the owner hands a job back")
        try require(try await store.handBack(b1, now: 90), "hand back")
        let back = try await store.job(id: "b1")
        try require(back?.status == .queued && back?.owner == nil && back?.leaseUntil == nil && back?.attempts == 0, "handed back: \(String(describing: back))")
        try require(try await store.handBack(b1, now: 91) == false, "a hand-back applies once")
        try require(try await store.claim(owner: "w4", now: 92, leaseUntil: 300)?.attempts == 1, "claimed again as a first attempt")

        // An agent's job: never a worker's, only its own agent's, in its own project.
        var forAgent = job("g1", project: "p1", at: 100)
        forAgent.agentId = "host-1"
        try await store.insert(forAgent)
        try require(try await store.claim(owner: "w5", now: 101, leaseUntil: 300) == nil, "a server worker never claims an agent's job")
        try require(try await store.claim(agent: "host-2", project: "p1", owner: "agent:host-2", now: 101, leaseUntil: 300) == nil, "nor another agent")
        try require(try await store.claim(agent: "host-1", project: "p2", owner: "agent:host-1", now: 101, leaseUntil: 300) == nil, "nor the same id in another project")
        try require(try await store.waitingForAgents(queuedBefore: 100).isEmpty, "not waiting before it was queued")
        try require(try await store.waitingForAgents(queuedBefore: 101).map(\.id) == ["g1"], "waiting since it was queued")
        let taken = try await store.claim(agent: "host-1", project: "p1", owner: "agent:host-1", now: 102, leaseUntil: 300)
        try require(taken?.id == "g1" && taken?.owner == "agent:host-1" && taken?.attempts == 1, "its agent claims it: \(String(describing: taken))")
        try require(try await store.waitingForAgents(queuedBefore: 1_000).isEmpty, "a claimed job waits no more")
        // Its lease lost (the agent died) long after it was made: it waits again from then, not from its making.
        guard let lost = try await store.expired(now: 301).first(where: { $0.id == "g1" }) else { throw ConformanceFailure(description: "g1's lease ran out") }
        try require(try await store.transition(lost, to: .queued, error: nil, now: 5_000), "requeued after its lease ran out")
        try require(try await store.waitingForAgents(queuedBefore: 5_000).isEmpty, "waiting since it was queued again")
        try require(try await store.waitingForAgents(queuedBefore: 5_001).map(\.id) == ["g1"], "and then waiting for its agent")
        try require(try await store.claim(agent: "host-1", project: "p1", owner: "agent:host-1", now: 5_002, leaseUntil: 6_000)?.attempts == 2, "its agent claims it again")
        try require(try await store.setPayload(job: "g1", owner: "agent:host-1", payload: "{}"), "the holder sets the payload")
        let counts = try await store.countByStatus()
        try require(counts[.running] == 3 && counts[.queued] == nil, "counts by status: \(counts)")
        try require(try await store.setPayload(job: "g1", owner: "w5", payload: "{}") == false, "another owner does not")
    }

    static let prunes: Check = { catalog in
        try await project("p1", catalog)
        for id in ["v1", "v2"] { try await catalog.vaults.insert(vault(id, project: "p1"), resources: []) }
        try await catalog.vaults.prunePlanned(vault: "v1", at: 50)
        try await catalog.vaults.prunePlanned(vault: "v1", at: 90)
        try require(try await catalog.vaults.takePrunesDue(now: 49).isEmpty, "nothing is due before its time")
        try require(try await catalog.vaults.takePrunesDue(now: 50).map(\.id) == ["v1"], "the earlier plan stands")
        try require(try await catalog.vaults.takePrunesDue(now: 1_000).isEmpty, "a due prune is handed out once")

        // A prune runs alone in its vault: not beside a running job there, and nothing there starts beside it.
        func job(_ id: String, _ kind: JobKind, vault: String, at: Int64) -> JobRecord {
            JobRecord(id: id, projectId: "p1", kind: kind, targetId: "t-" + id, operationLogId: "", status: .queued, owner: nil, leaseUntil: nil, attempts: 0,
                      lastError: nil, createdAt: at, updatedAt: at, vaultId: vault)
        }
        let store = catalog.jobs
        try await store.insert(job("backup1", .backup, vault: "v1", at: 1))
        try await store.insert(job("prune1", .prune, vault: "v1", at: 2))
        try await store.insert(job("backup2", .backup, vault: "v1", at: 3))
        try await store.insert(job("other", .backup, vault: "v2", at: 4))
        try require(try await store.claim(owner: "w1", now: 10, leaseUntil: 100)?.id == "backup1", "oldest first")
        try require(try await store.claim(owner: "w2", now: 11, leaseUntil: 100)?.id == "backup2", "the prune waits for the running backup; a backup may run beside it")
        try require(try await store.claim(owner: "w3", now: 12, leaseUntil: 100)?.id == "other", "another vault's job goes on")
        try require(try await store.claim(owner: "w4", now: 13, leaseUntil: 100) == nil, "the prune still waits")
        for id in ["backup1", "backup2"] {
            guard let running = try await store.job(id: id) else { throw ConformanceFailure(description: "\(id) vanished") }
            try require(try await store.transition(running, to: .succeeded, error: nil, now: 14), "\(id) ends")
        }
        try await store.insert(job("backup3", .backup, vault: "v1", at: 15))
        try require(try await store.claim(owner: "w1", now: 16, leaseUntil: 100)?.id == "prune1", "the vault is quiet: the prune runs")
        try require(try await store.claim(owner: "w2", now: 17, leaseUntil: 100) == nil, "and nothing of its vault starts beside it")
    }

    static let operationLogs: Check = { catalog in
        let store = catalog.operationLogs
        try await project("p1", catalog)
        try await project("p2", catalog)
        try await store.insert(log("l1", project: "p1", backup: "b1", at: 1))
        try await store.insert(log("l2", project: "p1", type: "restore", status: .running, resource: "r9", backup: "b1", at: 2))
        try await store.insert(log("l3", project: "p2", at: 3))
        try require(try await store.get(project: "p2", id: "l1") == nil, "another project's log is invisible")
        try require(try await store.get(id: "l3")?.projectId == "p2", "the worker reads by id alone")
        try require(try await store.latest(backups: ["b1"])["b1"]?.id == "l2", "the newest log of a backup")
        try await store.setProgress(log: "l1", percent: 50, now: 5)
        try require(try await store.get(id: "l1")?.progress == 0, "no progress on a log that is not running")
        try await store.setProgress(log: "l2", percent: 50, now: 5)
        try require(try await store.get(id: "l2")?.progress == 50, "progress while running")
        try require(try await store.restoreActive(resources: ["r9"]), "a running restore onto r9")
        try require(try await store.restoreActive(resources: ["r1"]) == false, "no restore onto r1")
        var l2 = try await store.get(id: "l2")!
        l2.status = .success
        try require(try await store.update(l2, expected: .waiting) == false, "a conditional update of a log in another state writes nothing")
        try require(try await store.update(l2, expected: .running), "a conditional update")
        try require(try await store.restoreActive(resources: ["r9"]) == false, "a finished restore is not active")
        var filter = OperationLogFilter()
        filter.operationType = "restore"
        let (items, total) = try await store.list(project: "p1", filter: filter, offset: 0, limit: 10)
        try require(items.map(\.id) == ["l2"] && total == 1, "list by type")
        let (all, count) = try await store.list(project: "p1", filter: OperationLogFilter(), offset: 0, limit: 1)
        try require(all.map(\.id) == ["l2"] && count == 2, "newest first, counted before paging")
    }

    static let quotas: Check = { catalog in
        let store = catalog.quotas
        try await project("p1", catalog)
        try require(try await store.get(project: "p1") == ProjectQuota(), "no quota by default")
        try await store.set(project: "p1", ProjectQuota(maxVaults: 1, maxCapacityGB: 15, maxQueuedJobs: 1))
        try require(try await store.get(project: "p1") == ProjectQuota(maxVaults: 1, maxCapacityGB: 15, maxQueuedJobs: 1), "set")
        try await store.checkNewVault(project: "p1", sizeGB: 10)
        try await catalog.vaults.insert(vault("v1", project: "p1", sizeGB: 10), resources: [])
        try await requireThrows(.quotaVaults, "a second vault") { try await store.checkNewVault(project: "p1", sizeGB: 1) }
        try await requireThrows(.quotaVaults, "the vault insert checks too") { try await catalog.vaults.insert(vault("v2", project: "p1", sizeGB: 1), resources: []) }
        try await requireThrows(.quotaCapacity, "growing past the capacity") { try await store.checkResize(project: "p1", from: 10, to: 16) }
        try await store.checkResize(project: "p1", from: 10, to: 15)
        try await store.checkJobs(project: "p1", adding: 1)
        try await catalog.jobs.insert(job("j1", project: "p1", at: 1))
        try await requireThrows(.quotaJobs, "a second queued job") { try await store.checkJobs(project: "p1", adding: 1) }
        try await store.set(project: "p1", ProjectQuota())
        try await store.checkJobs(project: "p1", adding: 100)
    }

    static func policy(_ id: String, project: String, type: String = "backup", at: Int64) -> PolicyRecord {
        PolicyRecord(id: id, projectID: project, name: "policy-" + id, enabled: true, operationType: type, definition: "{}", patterns: "[]",
                     startWindowMinutes: nil, triggerID: "t-" + id, createdAt: at, updatedAt: at)
    }

    static let policies: Check = { catalog in
        let store = catalog.policies
        try await project("p1", catalog)
        try await project("p2", catalog)
        try await store.insert(policy("b", project: "p1", at: 2), limit: 2)
        try await store.insert(policy("a", project: "p1", type: "replication", at: 1), limit: 2)
        try await store.insert(policy("x", project: "p2", at: 1), limit: 2)
        try await requireThrows(.quotaPolicies, "a third policy past the limit") { try await store.insert(policy("c", project: "p1", at: 3), limit: 2) }
        try require(try await store.list(project: "p1", filter: PolicyFilter()).map(\.id) == ["a", "b"], "oldest first, own project only")
        try require(try await store.list(project: "p1", filter: PolicyFilter(operationType: "backup")).map(\.id) == ["b"], "by operation type")
        try require(try await store.get(project: "p2", id: "b") == nil, "another project's policy is not found")
        var changed = try await store.get(project: "p1", id: "b")!
        changed.name = "renamed"
        changed.patterns = "[\"FREQ=DAILY;BYHOUR=1;BYMINUTE=0\"]"
        try await store.update(changed)
        try require(try await store.get(project: "p1", id: "b") == changed, "update writes every field")
        var foreign = try await store.get(project: "p2", id: "x")!
        foreign.projectID = "p1"
        foreign.name = "stolen"
        try await store.update(foreign)
        try require(try await store.get(project: "p2", id: "x")?.name == "policy-x", "an update names its project")
        try await catalog.vaults.insert(vault("v1", project: "p1"), resources: [])
        try await catalog.vaults.insert(vault("v2", project: "p2"), resources: [])
        try await store.bind(vault: "v1", project: "p1", policy: "b")
        try await store.bind(vault: "v2", project: "p1", policy: "b")
        try require(try await store.vaults(boundTo: ["b", "a"]) == ["b": ["v1"]], "bound vaults by policy; a foreign vault is not bound")
        try require(try await store.list(project: "p1", filter: PolicyFilter(vaultID: "v1")).map(\.id) == ["b"], "the policy of a vault")
        try require(try await store.list(project: "p2", filter: PolicyFilter(vaultID: "v1")).isEmpty, "not through another project's vault")
        try await store.delete(project: "p2", id: "b")
        try require(try await store.get(project: "p1", id: "b") != nil, "another project cannot delete it")
        try await store.delete(project: "p1", id: "b")
        try require(try await store.get(project: "p1", id: "b") == nil, "deleted")
        try require(try await catalog.vaults.get(id: "v1")?.policyID == nil, "its vaults are unbound")

        // The scheduler's claims: one per (policy, vault, occurrence), whoever asks.
        let claim = ScheduleClaim(policyID: "a", vaultID: "v1", projectID: "p1", occurrence: 100, outcome: "running", claimedAt: 5)
        try require(try await store.claim(claim), "a first claim wins")
        var again = claim
        again.outcome = "baseline"
        try require(try await store.claim(again) == false, "a second claim of the same occurrence loses")
        try require(try await store.claim(ScheduleClaim(policyID: "a", vaultID: "v1", projectID: "p1", occurrence: 50, outcome: "started", claimedAt: 6)), "another occurrence")
        try require(try await store.lastClaim(policy: "a", vault: "v1") == 100, "the latest occurrence claimed")
        try require(try await store.lastClaim(policy: "a", vault: "v2") == nil, "nothing claimed for another vault")
        try require(try await store.lastClaims() == ["a/v1": 100], "every pair's latest at once")
        try require(try await store.claims(outcome: "running", before: 6).map(\.occurrence) == [100], "claims in a state, made before a time")
        try require(try await store.resolve(claim, from: "running", to: "failed"), "a resolve moves it once")
        try require(try await store.resolve(claim, from: "running", to: "failed") == false, "and only once")
        try await store.settle(policy: "a", vault: "v1", occurrence: 50, outcome: "started", checkpoint: "c9")
        try require(try await store.claims(policy: "a", vault: "v1").map { "\($0.occurrence) \($0.outcome) \($0.checkpointID ?? "-")" } == ["50 started c9", "100 failed -"],
                    "claims in occurrence order, settled")
        try require(try await store.claim(ScheduleClaim(policyID: "a", vaultID: "v2", projectID: "p1", occurrence: 10, outcome: "started", claimedAt: 1)), "a lone claim")
        try require(try await store.forgetClaims(before: 7) == 1, "settled claims behind a later one are forgotten")
        let lone = try await store.lastClaim(policy: "a", vault: "v2")
        try require(try await store.claims(policy: "a", vault: "v1").map(\.occurrence) == [100] && lone == 10, "each schedule's latest claim stays")
    }

    static func agent(_ id: String, project: String, at: Int64, ip: String = "10.0.0.1") -> AgentRecord {
        AgentRecord(id: id, projectID: project, hostName: "host-" + id, hostNickname: "", hostIP: ip, hostOS: "Linux", version: "1", type: "coffer",
                    createdAt: at, updatedAt: at, lastActiveAt: at, registeredBy: "u-" + id)
    }

    static let agents: Check = { catalog in
        let store = catalog.agents
        try await project("p1", catalog)
        try await project("p2", catalog)
        _ = try await store.register(agent("a", project: "p1", at: 1), limit: 2, ownerOnly: true)
        _ = try await store.register(agent("b", project: "p1", at: 2), limit: 2, ownerOnly: true)
        _ = try await store.register(agent("a", project: "p2", at: 3), limit: 2, ownerOnly: true)
        try await requireThrows(.quotaAgents, "a third agent past the limit") { _ = try await store.register(agent("c", project: "p1", at: 4), limit: 2, ownerOnly: true) }
        var gone = try await store.get(project: "p1", id: "b")!
        gone.uninstalled = true
        try await store.update(gone)
        var other = agent("b", project: "p1", at: 50, ip: "10.0.0.2")
        other.registeredBy = "someone-else"
        try await requireThrows(.conflict, "another user's agent, owner only") { _ = try await store.register(other, limit: 2, ownerOnly: true) }
        try require(try await store.get(project: "p1", id: "b")?.hostIP == "10.0.0.1", "left unchanged")
        let again = try await store.register(other, limit: 2, ownerOnly: false)
        try require(again.createdAt == 2 && again.lastActiveAt == 50 && again.hostIP == "10.0.0.2" && !again.uninstalled && again.registeredBy == "u-b",
                    "registering again refreshes the host and activity, keeps creation and who registered it, undoes uninstalled")
        try require(try await store.get(project: "p2", id: "a")?.createdAt == 3, "the same id in another project is another agent")
        let all = try await store.list(project: "p1", filter: AgentFilter(onlineSince: 10), offset: 0, limit: 10)
        try require(all.items.map(\.id) == ["a", "b"] && all.total == 2, "oldest first, own project only")
        try require(try await store.list(project: "p1", filter: AgentFilter(status: .online, onlineSince: 10), offset: 0, limit: 10).items.map(\.id) == ["b"], "online")
        try require(try await store.list(project: "p1", filter: AgentFilter(status: .offline, onlineSince: 10), offset: 0, limit: 10).items.map(\.id) == ["a"], "offline")
        try require(try await store.list(project: "p1", filter: AgentFilter(ids: ["b", "zz"], onlineSince: 10), offset: 0, limit: 10).items.map(\.id) == ["b"], "by ids")
        try require(try await store.list(project: "p1", filter: AgentFilter(onlineSince: 10), offset: 1, limit: 1).items.map(\.id) == ["b"], "paged")
        var mine = AgentFilter(onlineSince: 10)
        mine.registeredBy = "u-a"
        try require(try await store.list(project: "p1", filter: mine, offset: 0, limit: 10).items.map(\.id) == ["a"], "by who registered it")

        func path(_ p: String, agent: String, project: String = "p1") -> AgentPathRecord {
            AgentPathRecord(id: UUID().uuidString, agentID: agent, projectID: project, path: p, excludes: p == "/srv" ? ["/srv/tmp"] : [], createdAt: 5)
        }
        let added = try await store.addPaths([path("/srv", agent: "a"), path("/etc", agent: "a"), path("/srv", agent: "a")], project: "p1", agent: "a", limit: 3)
        try require(added.added == ["/srv", "/etc"] && added.existed == ["/srv"], "a path listed twice is added once")
        try await requireThrows(.quotaAgents, "paths past the limit") {
            _ = try await store.addPaths([path("/a", agent: "a"), path("/b", agent: "a")], project: "p1", agent: "a", limit: 3)
        }
        _ = try await store.addPaths([path("/srv", agent: "a", project: "p2")], project: "p2", agent: "a", limit: 3)
        let paths = try await store.paths(project: "p1", agents: ["a", "b"])
        try require(paths["a"]?.map(\.path).sorted() == ["/etc", "/srv"] && paths["b"] == nil, "paths by agent, the failed batch left nothing")
        try require(paths["a"]?.first { $0.path == "/srv" }?.excludes == ["/srv/tmp"], "excludes kept")
        let removed = try await store.removePaths(["/etc", "/nope", "/etc"], project: "p1", agent: "a")
        try require(removed.removed == ["/etc"] && removed.notExisted == ["/nope", "/etc"], "removed once, missing named")
        try require(try await store.delete(project: "p2", id: "b") == false, "another project's agent is not deleted")
        try require(try await store.delete(project: "p1", id: "a"), "deleted")
        let afterDelete = try await store.paths(project: "p1", agents: ["a"])
        try require(try await store.get(project: "p1", id: "a") == nil && afterDelete.isEmpty, "its paths went with it")
        try require(try await store.paths(project: "p2", agents: ["a"])["a"]?.count == 1, "the other project's agent and paths stay")
    }
}
