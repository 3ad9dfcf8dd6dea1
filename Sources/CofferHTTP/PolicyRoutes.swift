import CofferAPI
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird

/// CBR v3 policies and their binding to vaults (cbr-v3.md "Policies";
/// client-expectations.md §2–3: echoed as sent, never null, 404 for a name in the id slot).
struct PolicyRoutes {
    let policies: PolicyService

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.post, "/v3/:project_id/policies", create)
        add(.get, "/v3/:project_id/policies", list)
        add(.get, "/v3/:project_id/policies/:policy_id", show)
        add(.put, "/v3/:project_id/policies/:policy_id", update)
        add(.delete, "/v3/:project_id/policies/:policy_id", delete)
        add(.post, "/v3/:project_id/vaults/:vault_id/associatepolicy", associate)
        add(.post, "/v3/:project_id/vaults/:vault_id/dissociatepolicy", dissociate)
        add(.post, "/v3/:project_id/coffer/policies/simulate", simulate)
    }

    /// The rules this server acts on, and the names of the keys it does not (refused by the service, named).
    static func definition(_ d: CBR.OperationDefinition) -> (PolicyDefinition, unsupported: [String]) {
        var out = PolicyDefinition()
        out.maxBackups = d.maxBackups
        out.retentionDurationDays = d.retentionDurationDays
        out.dayBackups = d.dayBackups
        out.weekBackups = d.weekBackups
        out.monthBackups = d.monthBackups
        out.yearBackups = d.yearBackups
        out.timezone = d.timezone
        out.fullBackupInterval = d.fullBackupInterval
        let unsupported: [(String, Bool)] = [
            ("destination_project_id", d.destinationProjectID != nil), ("destination_region", d.destinationRegion != nil),
            ("enable_acceleration", d.enableAcceleration != nil), ("cross_account_urn", d.crossAccountURN != nil),
            ("advanced_retention_rules", d.advancedRetentionRules.map { !$0.isEmpty } ?? false),
        ]
        return (out, unsupported.filter(\.1).map(\.0))
    }

    static func policy(_ v: PolicyView) -> CBR.Policy {
        var p = CBR.Policy()
        p.id = v.record.id
        p.name = v.record.name
        p.enabled = v.record.enabled
        p.operationType = v.record.operationType
        let d = v.definition
        var o = CBR.OperationDefinition()
        // Unset count and duration read back as -1 (what Terraform sends for "keep forever").
        o.maxBackups = d.maxBackups ?? -1
        o.retentionDurationDays = d.retentionDurationDays ?? -1
        o.dayBackups = d.dayBackups
        o.weekBackups = d.weekBackups
        o.monthBackups = d.monthBackups
        o.yearBackups = d.yearBackups
        o.timezone = d.timezone
        o.fullBackupInterval = d.fullBackupInterval
        p.operationDefinition = o
        p.trigger.id = v.record.triggerID
        p.trigger.properties.pattern = v.patterns
        p.trigger.properties.startTime = String(UTCTimeFormat.cbrString(epochMilliseconds: v.record.createdAt).prefix(19)).replacingOccurrences(of: "T", with: " ")
        p.trigger.properties.startWindowMinutes = v.record.startWindowMinutes
        p.associatedVaults = v.vaultIDs.map { CBR.Policy.AssociatedVault(vaultID: $0) }
        return p
    }

    @Sendable func create(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.PolicyCreateRequest.self, &request, context: context).policy
        let (definition, unsupported) = PolicyRoutes.definition(body.operationDefinition)
        var input = PolicyInput(name: body.name, operationType: body.operationType, definition: definition, patterns: body.trigger.properties.pattern)
        input.enabled = body.enabled ?? true
        input.startWindowMinutes = body.trigger.properties.startWindowMinutes
        input.unsupported = unsupported
        return try JSONBody.encoded(CBR.PolicyResponse(PolicyRoutes.policy(try await policies.create(caller: caller, input))))
    }

    @Sendable func list(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let q = try Query(request)
        let limit = try q.int("limit", range: 1...1000, default: 1000)
        let offset = try q.int("offset", range: 0...Int(Int32.max), default: 0)
        let filter = PolicyFilter(operationType: try q.oneOf("operation_type", ["backup", "replication"]), vaultID: q["vault_id"])
        let (items, total) = try await policies.list(project: caller.projectID, filter: filter, marker: q["marker"], offset: offset, limit: limit)
        return try JSONBody.encoded(CBR.PolicyList(items.map(PolicyRoutes.policy), count: total))
    }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let view = try await policies.view(project: caller.projectID, id: try context.parameters.require("policy_id"))
        return try JSONBody.encoded(CBR.PolicyResponse(PolicyRoutes.policy(view)))
    }

    @Sendable func update(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.PolicyUpdateRequest.self, &request, context: context).policy
        var change = PolicyChange()
        change.name = body.name
        change.enabled = body.enabled
        if let d = body.operationDefinition { (change.definition, change.unsupported) = PolicyRoutes.definition(d) }
        change.patterns = body.trigger?.properties.pattern
        change.startWindowMinutes = body.trigger?.properties.startWindowMinutes
        let view = try await policies.update(caller: caller, id: try context.parameters.require("policy_id"), change)
        return try JSONBody.encoded(CBR.PolicyResponse(PolicyRoutes.policy(view)))
    }

    @Sendable func delete(_ request: Request, _ context: CofferContext) async throws -> Response {
        try await policies.delete(caller: try context.caller(), id: try context.parameters.require("policy_id"))
        return Response(status: .noContent)
    }

    /// Coffer extension: the schedule and retention of a policy played over a span.
    @Sendable func simulate(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(PolicySimulation.Request.self, &request, context: context).simulate
        var inline: PolicyInput?
        if let p = body.policy {
            let (definition, unsupported) = PolicyRoutes.definition(p.operationDefinition ?? CBR.OperationDefinition())
            inline = PolicyInput(name: "simulated", operationType: "backup", definition: definition, patterns: p.trigger.properties.pattern)
            inline?.unsupported = unsupported
        }
        let result = try await policies.simulate(caller: caller, policyID: body.policyID, inline: inline,
                                                 start: try Query.parseTime(body.start, field: "simulate.start"),
                                                 end: try Query.parseTime(body.end, field: "simulate.end"), days: body.days)
        func time(_ ms: Int64) -> String { UTCTimeFormat.cbrString(epochMilliseconds: ms) }
        return try JSONBody.encoded(PolicySimulation.Response(.init(start: time(result.start), end: time(result.end), backups: result.backups.map {
            PolicySimulation.Backup(createdAt: time($0.createdAt), kept: $0.deletedAt == nil, keptBy: $0.keptBy, deletedAt: $0.deletedAt.map(time),
                                    expiresAt: $0.expiresAt.map(time))
        })))
    }

    @Sendable func associate(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.AssociatePolicyRequest.self, &request, context: context)
        guard body.destinationVaultID == nil else { throw APIError.validation("destination_vault_id is for replication policies, which this server does not run yet") }
        let ids = (body.policyID.map { [$0] } ?? []) + (body.addPolicyIDs ?? [])
        guard ids.count == 1, let policyID = ids.first else { throw APIError.validation("policy_id is required (one backup policy per vault)") }
        let vaultID = try context.parameters.require("vault_id")
        try await policies.associate(caller: caller, vaultID: vaultID, policyID: policyID)
        return try JSONBody.encoded(CBR.AssociatePolicyResponse(.init(vaultID: vaultID, policyID: policyID)))
    }

    @Sendable func dissociate(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(CBR.DissociatePolicyRequest.self, &request, context: context)
        let vaultID = try context.parameters.require("vault_id")
        try await policies.dissociate(caller: caller, vaultID: vaultID, policyID: body.policyID)
        return try JSONBody.encoded(CBR.DissociatePolicyResponse(.init(vaultID: vaultID, policyID: body.policyID)))
    }
}
