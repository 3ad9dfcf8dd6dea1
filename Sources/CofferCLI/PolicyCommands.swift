import ArgumentParser
import CofferAPI
import Foundation

/// `coffer policy`: CBR backup policies (when to back up, how long to keep) and their binding to vaults.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Backup policies: schedules and retention.",
                                                    subcommands: [Create.self, List.self, Show.self, Update.self, Delete.self, Bind.self, Unbind.self, Simulate.self])

    /// The retention options every command that writes a definition takes.
    struct Retention: ParsableArguments {
        @Option(parsing: .unconditional, help: "Keep at most this many automatic backups (-1: no count limit).") var maxBackups: Int?
        @Option(parsing: .unconditional, help: "Keep automatic backups this many days (-1: no time limit).") var retentionDays: Int?
        @Option(help: "Also keep the latest backup of each of the last N days (needs --timezone).") var dayBackups: Int?
        @Option(help: "... of each of the last N weeks.") var weekBackups: Int?
        @Option(help: "... of each of the last N months.") var monthBackups: Int?
        @Option(help: "... of each of the last N years.") var yearBackups: Int?
        @Option(help: "UTC+hh:mm: where days, weeks, months and years begin.") var timezone: String?
        @Option(parsing: .unconditional, help: "Every N+1-th automatic backup is full (-1: never).") var fullBackupInterval: Int?

        var isEmpty: Bool {
            [maxBackups, retentionDays, dayBackups, weekBackups, monthBackups, yearBackups, fullBackupInterval].allSatisfy { $0 == nil } && timezone == nil
        }

        var definition: CBR.OperationDefinition {
            var d = CBR.OperationDefinition()
            d.maxBackups = maxBackups
            d.retentionDurationDays = retentionDays
            d.dayBackups = dayBackups
            d.weekBackups = weekBackups
            d.monthBackups = monthBackups
            d.yearBackups = yearBackups
            d.timezone = timezone
            d.fullBackupInterval = fullBackupInterval
            return d
        }
    }

    static func line(_ p: CBR.Policy) -> String {
        let state = p.enabled ? "enabled" : "disabled"
        return "\(p.id)  \(p.name)  \(state)  \(p.trigger.properties.pattern.joined(separator: " | "))  vaults: \(p.associatedVaults.map(\.vaultID).joined(separator: ","))"
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a backup policy.")
        @OptionGroup var options: ClientOptions
        @Option var name: String
        @Option(help: "When to back up, UTC: FREQ=DAILY|WEEKLY;[INTERVAL=n;][BYDAY=MO,..;]BYHOUR=h;BYMINUTE=m (repeatable, at most 24).") var pattern: [String]
        @OptionGroup var retention: Retention
        @Flag(help: "Create it disabled.") var disabled = false
        func run() async throws {
            var policy = CBR.PolicyCreate(name: name, operationType: "backup", operationDefinition: retention.definition,
                                          trigger: .init(.init(pattern: pattern)))
            policy.enabled = !disabled
            let result = try await options.client().call("POST", "/policies", body: CBR.PolicyCreateRequest(policy), as: CBR.PolicyResponse.self)
            printResult(options, result) { [PolicyCommand.line(result.policy)] }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @OptionGroup var options: ClientOptions
        @Option(help: "Only the policy bound to this vault.") var vault: String?
        func run() async throws {
            let result = try await options.client().call("GET", "/policies", query: vault.map { "vault_id=\($0)" } ?? "", as: CBR.PolicyList.self)
            printResult(options, result) { result.policies.map(PolicyCommand.line) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws { printAnswer(try await options.client().call("GET", "/policies/\(id)", as: CBR.PolicyResponse.self)) }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a policy; what is not given keeps its value (a new retention replaces the old one whole).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option var name: String?
        @Option(help: "Replace the patterns (repeatable).") var pattern: [String] = []
        @OptionGroup var retention: Retention
        @Option(help: "true or false.") var enabled: Bool?
        func run() async throws {
            var change = CBR.PolicyUpdate()
            change.name = name
            change.enabled = enabled
            if !pattern.isEmpty { change.trigger = .init(.init(pattern: pattern)) }
            if !retention.isEmpty { change.operationDefinition = retention.definition }
            guard name != nil || enabled != nil || change.trigger != nil || change.operationDefinition != nil else {
                throw CLIError("nothing to change: give --name, --enabled, --pattern or a retention option")
            }
            let result = try await options.client().call("PUT", "/policies/\(id)", body: CBR.PolicyUpdateRequest(change), as: CBR.PolicyResponse.self)
            printResult(options, result) { [PolicyCommand.line(result.policy)] }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await options.client().send("DELETE", "/policies/\(id)")
            print("deleted policy \(id)")
        }
    }

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "simulate", abstract: "Play a policy (stored, or given by --pattern and retention options) over a span: what it backs up and what it keeps.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "A stored policy's id (or give --pattern).") var id: String?
        @Option(help: "Patterns of a policy to try (repeatable).") var pattern: [String] = []
        @OptionGroup var retention: Retention
        @Option(help: "Days to play (1-366, default 30).") var days: Int?
        @Option(help: "Start, like 2026-01-31T00:00:00Z (default now).") var start: String?
        func run() async throws {
            var body = PolicySimulation.Body()
            body.policyID = id
            if !pattern.isEmpty { body.policy = .init(operationDefinition: retention.definition, trigger: .init(.init(pattern: pattern))) }
            guard (id == nil) != pattern.isEmpty else { throw CLIError("give a policy id or --pattern (one of them)") }
            body.days = days
            body.start = start
            let result = try await options.client().call("POST", "/coffer/policies/simulate", body: PolicySimulation.Request(body), as: PolicySimulation.Response.self)
            printResult(options, result) {
                let s = result.simulation
                return s.backups.map { b in
                    "\(b.createdAt)  " + (b.kept ? "kept (\(b.keptBy.joined(separator: ", ")))" + (b.expiresAt.map { " until \($0)" } ?? "") : "deleted \(b.deletedAt ?? "")")
                } + ["\(s.created) backups from \(s.start) to \(s.end), \(s.kept) kept"]
            }
        }
    }

    struct Bind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bind", abstract: "Make a policy the vault's backup policy.")
        @OptionGroup var options: ClientOptions
        @Argument var policy: String
        @Option var vault: String
        func run() async throws {
            let result = try await options.client().call("POST", "/vaults/\(vault)/associatepolicy", body: CBR.AssociatePolicyRequest(policyID: policy),
                                                         as: CBR.AssociatePolicyResponse.self)
            printResult(options, result) { ["vault \(vault) follows policy \(policy)"] }
        }
    }

    struct Unbind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unbind", abstract: "Take the policy off the vault (its backups stay).")
        @OptionGroup var options: ClientOptions
        @Argument var policy: String
        @Option var vault: String
        func run() async throws {
            let result = try await options.client().call("POST", "/vaults/\(vault)/dissociatepolicy", body: CBR.DissociatePolicyRequest(policyID: policy),
                                                         as: CBR.DissociatePolicyResponse.self)
            printResult(options, result) { ["vault \(vault) no longer follows policy \(policy)"] }
        }
    }
}
