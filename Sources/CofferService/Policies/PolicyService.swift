import CofferModel
import CofferSystem
import Foundation

/// A policy's retention and full-backup rules (CBR's operation_definition),
/// stored as the client sent them: absent keys stay absent.
public struct PolicyDefinition: Codable, Sendable, Equatable {
    public var maxBackups: Int?
    public var retentionDurationDays: Int?
    public var dayBackups: Int?
    public var weekBackups: Int?
    public var monthBackups: Int?
    public var yearBackups: Int?
    public var timezone: String?
    public var fullBackupInterval: Int?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case timezone
        case maxBackups = "max_backups", retentionDurationDays = "retention_duration_days", dayBackups = "day_backups", weekBackups = "week_backups"
        case monthBackups = "month_backups", yearBackups = "year_backups", fullBackupInterval = "full_backup_interval"
    }

    /// Minutes east of UTC of `timezone` (`UTC+08:00` is 480), nil when unset.
    public var utcOffsetMinutes: Int? {
        guard let tz = timezone, tz.count == 9, tz.hasPrefix("UTC") else { return nil }
        let chars = Array(tz)
        guard chars[3] == "+" || chars[3] == "-", chars[6] == ":", let h = Int(String(chars[4...5])), let m = Int(String(chars[7...8])),
              chars[4...5].allSatisfy(\.isASCII), chars[7...8].allSatisfy(\.isASCII), h <= 14, m < 60 else { return nil }
        return (chars[3] == "-" ? -1 : 1) * (h * 60 + m)
    }
}

public struct PolicyInput: Sendable {
    public var name: String
    public var enabled = true
    public var operationType: String
    public var definition: PolicyDefinition
    public var patterns: [String]
    public var startWindowMinutes: Int?
    /// Keys of the operation definition this server does not act on yet (replication, advanced rules): refused, named.
    public var unsupported: [String] = []
    public init(name: String, operationType: String, definition: PolicyDefinition, patterns: [String]) {
        self.name = name
        self.operationType = operationType
        self.definition = definition
        self.patterns = patterns
    }
}

/// A partial update: nil keeps the stored value. A definition replaces the
/// stored one whole, keeping its timezone when it names none (Terraform's way).
public struct PolicyChange: Sendable {
    public var name: String?
    public var enabled: Bool?
    public var definition: PolicyDefinition?
    public var unsupported: [String] = []
    public var patterns: [String]?
    public var startWindowMinutes: Int?
    public init() {}
}

public struct PolicyView: Sendable {
    public var record: PolicyRecord
    public var definition: PolicyDefinition
    public var patterns: [String]
    public var vaultIDs: [String]
}

/// CBR backup policies and their binding to vaults (one backup policy per vault).
public struct PolicyService: Sendable {
    let catalog: any Catalog
    let clock: any Clock
    var store: any PolicyStore { catalog.policies }
    /// Policies one project may hold.
    public static let limit = 64

    public init(catalog: any Catalog, clock: any Clock) {
        self.catalog = catalog
        self.clock = clock
    }

    static func notFound(_ id: String) -> ServiceError { ServiceError(.policyNotFound, "policy \(id) does not exist") }

    static func check(_ d: PolicyDefinition, unsupported: [String]) throws {
        let field = "policy.operation_definition"
        if let key = unsupported.first {
            throw ServiceError.validation("\(field).\(key) is not supported by this server (no replication or advanced retention rules yet)")
        }
        for (key, value) in [("max_backups", d.maxBackups), ("retention_duration_days", d.retentionDurationDays)] {
            if let v = value, v != -1, !(1...99_999).contains(v) { throw ServiceError.validation("\(field).\(key) must be -1 or 1 to 99999") }
        }
        let longTerm = [("day_backups", d.dayBackups), ("week_backups", d.weekBackups), ("month_backups", d.monthBackups), ("year_backups", d.yearBackups)]
        for (key, value) in longTerm {
            if let v = value, !(0...100).contains(v) { throw ServiceError.validation("\(field).\(key) must be 0 to 100") }
        }
        if d.timezone != nil, d.utcOffsetMinutes == nil {
            throw ServiceError.validation("\(field).timezone must be UTC+hh:mm or UTC-hh:mm (at most 14 hours)")
        }
        if let (key, _) = longTerm.first(where: { ($0.1 ?? 0) > 0 }), d.timezone == nil {
            throw ServiceError.validation("\(field).\(key) needs \(field).timezone (the days, weeks, months and years it counts)")
        }
        // 0 in a long-term rule is "unset" (Terraform sends it so).
        let countBased = (d.maxBackups ?? -1) > 0 || longTerm.contains { ($0.1 ?? 0) > 0 }
        if countBased, (d.retentionDurationDays ?? -1) > 0 {
            throw ServiceError.validation("\(field): retention_duration_days cannot be combined with max_backups or day/week/month/year_backups")
        }
        if let v = d.fullBackupInterval, !(-1...100).contains(v) { throw ServiceError.validation("\(field).full_backup_interval must be -1 to 100") }
    }

    static func checkWindow(_ minutes: Int?) throws {
        if let m = minutes, !(60...480).contains(m) { throw ServiceError.validation("policy.trigger.properties.start_window_minutes must be 60 to 480") }
    }

    static func schedule(_ patterns: [String], anchor: Int64) throws -> Schedule {
        do { return try Schedule(patterns: patterns, anchor: anchor) } catch { throw ServiceError.validation("policy.\(error.description)") }
    }

    func text<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public func create(caller: Principal, _ input: PolicyInput) async throws -> PolicyView {
        try Validate.cbrName(input.name, field: "policy.name")
        switch input.operationType {
        case "backup": break
        case "replication": throw ServiceError.validation("policy.operation_type replication is not supported by this server (no replication yet)")
        default: throw ServiceError(.policyTypeUnknown, "policy.operation_type must be backup or replication")
        }
        try PolicyService.check(input.definition, unsupported: input.unsupported)
        try PolicyService.checkWindow(input.startWindowMinutes)
        let now = clock.now().epochMilliseconds
        _ = try PolicyService.schedule(input.patterns, anchor: now)
        let record = PolicyRecord(id: UUID().uuidString.lowercased(), projectID: caller.projectID, name: input.name, enabled: input.enabled,
                                  operationType: input.operationType, definition: try text(input.definition), patterns: try text(input.patterns),
                                  startWindowMinutes: input.startWindowMinutes, triggerID: UUID().uuidString.lowercased(), createdAt: now, updatedAt: now)
        do { try await store.insert(record, limit: PolicyService.limit) } catch let e as CatalogError where e.code == .quotaPolicies {
            throw ServiceError(.policyLimit, e.description)
        }
        return try await view(project: caller.projectID, id: record.id)
    }

    func decode(_ record: PolicyRecord, vaults: [String]) throws -> PolicyView {
        PolicyView(record: record, definition: try JSONDecoder().decode(PolicyDefinition.self, from: Data(record.definition.utf8)),
                   patterns: try JSONDecoder().decode([String].self, from: Data(record.patterns.utf8)), vaultIDs: vaults)
    }

    public func view(project: String, id: String) async throws -> PolicyView {
        guard let record = try await store.get(project: project, id: id) else { throw PolicyService.notFound(id) }
        return try decode(record, vaults: try await store.vaults(boundTo: [id])[id] ?? [])
    }

    /// Oldest first; `marker` (the last id of the previous page) continues a listing.
    public func list(project: String, filter: PolicyFilter, marker: String?, offset: Int, limit: Int) async throws -> (items: [PolicyView], total: Int) {
        var records = try await store.list(project: project, filter: filter)
        let total = records.count
        if let marker {
            guard let i = records.firstIndex(where: { $0.id == marker }) else { throw ServiceError.validation("marker \(marker) is not a policy id in this listing") }
            records = Array(records[(i + 1)...])
        }
        let page = Array(records.dropFirst(offset).prefix(limit))
        let vaults = try await store.vaults(boundTo: page.map(\.id))
        return (try page.map { try decode($0, vaults: vaults[$0.id] ?? []) }, total)
    }

    public func update(caller: Principal, id: String, _ change: PolicyChange) async throws -> PolicyView {
        var current = try await view(project: caller.projectID, id: id)
        if let name = change.name {
            try Validate.cbrName(name, field: "policy.name")
            current.record.name = name
        }
        if let enabled = change.enabled { current.record.enabled = enabled }
        if var definition = change.definition {
            if definition.timezone == nil { definition.timezone = current.definition.timezone }
            try PolicyService.check(definition, unsupported: change.unsupported)
            current.record.definition = try text(definition)
        }
        if let patterns = change.patterns {
            try PolicyService.checkWindow(change.startWindowMinutes)
            _ = try PolicyService.schedule(patterns, anchor: current.record.createdAt)
            current.record.patterns = try text(patterns)
            current.record.startWindowMinutes = change.startWindowMinutes
        }
        current.record.updatedAt = clock.now().epochMilliseconds
        try await store.update(current.record)
        return try await view(project: caller.projectID, id: id)
    }

    public func delete(caller: Principal, id: String) async throws {
        _ = try await view(project: caller.projectID, id: id)
        try await store.delete(project: caller.projectID, id: id)
    }

    /// Binds `policyID` as the vault's backup policy; a vault holds one.
    public func associate(caller: Principal, vaultID: String, policyID: String) async throws {
        guard let vault = try await catalog.vaults.get(project: caller.projectID, id: vaultID) else { throw VaultService.notFound(vaultID) }
        let policy = try await view(project: caller.projectID, id: policyID)
        guard policy.record.operationType == "backup" else { throw ServiceError(.policyNotApplicable, "policy \(policyID) is not a backup policy") }
        if let bound = vault.policyID, bound != policyID {
            throw ServiceError(.policyNotApplicable, "vault \(vaultID) already has backup policy \(bound); dissociate it first")
        }
        try await store.bind(vault: vaultID, project: caller.projectID, policy: policyID)
    }

    public func dissociate(caller: Principal, vaultID: String, policyID: String) async throws {
        guard let vault = try await catalog.vaults.get(project: caller.projectID, id: vaultID) else { throw VaultService.notFound(vaultID) }
        _ = try await view(project: caller.projectID, id: policyID)
        guard vault.policyID == policyID else { throw ServiceError(.policyNotBound, "vault \(vaultID) is not bound to policy \(policyID)") }
        try await store.bind(vault: vaultID, project: caller.projectID, policy: nil)
    }
}
