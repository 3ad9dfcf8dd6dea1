import ArgumentParser
import CofferModel
import CofferService
import CofferSystem
import Foundation

/// What `coffer serve` does on its own, run once by hand: to see why a policy
/// did or did not fire, or to drive schedules from outside (the backups it
/// starts are queued in the catalog and run by the serving processes).
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scheduler", abstract: "Run one scheduler pass, or one vault's retention, now.",
                                                    subcommands: [Pass.self, Retention.self])

    struct Pass: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pass",
            abstract: "One pass over every bound policy and database backup policy: due occurrences claimed and their backups queued, as serve does every interval.")
        @ParentCommand var admin: Admin
        @Option(help: "Passes to run one after another (the first after a start looks at every schedule; later ones only at those due).")
        var passes = 1
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard (1...100).contains(passes) else { throw ValidationError("--passes must be between 1 and 100") }
        }

        func run() async throws {
            let (fired, seconds, schedules) = try await withServices(admin.options) { s in
                var fired: [Scheduler.Fired] = [], seconds: [Double] = []
                for _ in 0..<passes {
                    let started = DispatchTime.now().uptimeNanoseconds
                    fired += try await s.scheduler.pass()
                    seconds.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                }
                return (fired, seconds, try await s.catalog.policies.schedules().count)
            }
            let rows: [[String: Any]] = fired.map {
                ["policy_id": $0.policyID, "vault_id": $0.vaultID, "occurrence": UTCTimeFormat.cbrString(epochMilliseconds: $0.occurrence), "outcome": $0.outcome,
                 "checkpoint_id": $0.checkpointID ?? NSNull()]
            }
            output(json, ["schedules": schedules, "fired": rows, "seconds": seconds, "memory": residentMemory()],
                   text: "\(schedules) schedules, \(fired.count) occurrences; passes took " + seconds.map { String(format: "%.3f s", $0) }.joined(separator: ", ")
                       + fired.map { "\n\($0.outcome) \($0.policyID) \($0.vaultID) \(UTCTimeFormat.cbrString(epochMilliseconds: $0.occurrence))" }.joined())
        }
    }

    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "retention",
            abstract: "Apply the bound policy to a vault's automatic backups now (expired ones are deleted); --all: every bound vault, what an hour of passes does.")
        @ParentCommand var admin: Admin
        @Argument(help: "The vault.") var vaultID: String?
        @Flag(help: "Every vault bound to an enabled backup policy.") var all = false
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard (vaultID == nil) == all else { throw ValidationError("name one vault, or --all") }
        }

        func run() async throws {
            let (vaults, deleted, seconds) = try await withServices(admin.options) { s in
                let bindings = try await s.catalog.policies.schedules().filter { all || $0.vaultID == vaultID }
                guard !bindings.isEmpty else { throw ValidationError("vault \(vaultID ?? "") has no enabled backup policy bound") }
                let started = DispatchTime.now().uptimeNanoseconds
                var deleted: [String] = []
                for binding in bindings { deleted += try await s.scheduler.applyRetention(binding, now: Int64(Date().timeIntervalSince1970 * 1000)) }
                return (bindings.count, deleted, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            }
            output(json, ["vaults": vaults, "deleted": deleted, "seconds": seconds, "memory": residentMemory()],
                   text: "\(vaults) vaults: \(deleted.count) backups expired in \(String(format: "%.3f", seconds)) s")
        }
    }
}

/// This process's resident memory now, in MiB, from /proc (Linux; empty
/// elsewhere): `anonymous` is the heap, `file` mostly the mapped catalog
/// (SQLite reads it through mmap), `peak` both at their highest.
func residentMemory() -> [String: Int] {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return [:] }
    var out: [String: Int] = [:]
    for line in status.split(separator: "\n") {
        let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
        guard parts.count >= 2, let kb = Int(parts[1]) else { continue }
        switch parts[0] {
        case "VmHWM": out["peak"] = kb / 1024
        case "RssAnon": out["anonymous"] = kb / 1024
        case "RssFile": out["file"] = kb / 1024
        default: break
        }
    }
    return out
}
