import ArgumentParser
import CofferAPI
import CofferService
import Foundation

// `coffer checkpoint|backup|oplog|rds`: the client side of backups, restores and their operation logs.

/// Polls the backups of a listing until none is in a transient state; on a
/// terminal, a progress bar of their operations (percent, rate, ETA).
func waitForBackups(_ client: APIClient, json: Bool, operation: String = "backup", fetch: () async throws -> [CBR.Backup]) async throws -> [CBR.Backup] {
    let transient: Set<String> = ["protecting", "restoring", "deleting", "waiting_protect", "waiting_restore", "waiting_delete"]
    let ticker = ProgressTicker(json: json)
    let started = Date()
    var estimate = ProgressEstimate()
    while true {
        let list = try await fetch()
        let busy = list.filter { transient.contains($0.status) }
        if busy.isEmpty {
            ticker.clear()
            return list
        }
        if ticker.enabled {
            // Done ones count 100, waiting ones 0, running ones their operation log's percentage.
            let running = try await client.call("GET", "/operation-logs", query: "status=running&operation_type=\(operation)", as: CBR.OperationLogList.self).operationLogs
            var percents: [String: Int] = [:]
            for log in running { percents[log.extraInfo.backup.backupID] = log.extraInfo.common.progress }
            let total = list.reduce(0) { $0 + (transient.contains($1.status) ? (percents[$1.id] ?? 0) : 100) }
            estimate.observe(percent: Double(total) / Double(max(1, list.count)), at: Date().timeIntervalSince(started))
            let bytes = list.reduce(Int64(0)) { $0 + Int64($1.resourceSize) } * 1_073_741_824
            ticker.show(progressLine("\(busy.count) of \(list.count) backups \(operation == "restore" ? "restoring" : "running")", estimate, totalBytes: bytes > 0 ? bytes : nil))
        }
        try await Task.sleep(for: .milliseconds(500))
    }
}

/// What `coffer checkpoint create --wait --json` prints: the checkpoint and how its backups ended.
struct CheckpointOutcome: Encodable {
    let checkpointID: String
    let backups: [CBR.Backup]
    enum CodingKeys: String, CodingKey { case checkpointID = "checkpoint_id", backups }
}

struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkpoint", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Back up a vault's resources now.")
        @OptionGroup var options: ClientOptions
        @Option var vault: String
        @Option var name: String?
        @Flag(help: "Wait until every backup of the checkpoint is available or failed.") var wait = false
        func run() async throws {
            let client = try options.client()
            var parameters = CBR.CheckpointCreate.Parameters()
            parameters.name = name
            let result = try await client.call("POST", "/checkpoints", body: CBR.CheckpointCreateRequest(.init(vaultID: vault, parameters: parameters)),
                                               as: CBR.CheckpointResponse.self)
            let id = result.checkpoint.id
            guard wait else { return printResult(options, result) { ["checkpoint \(id) protecting"] } }
            let backups = try await waitForBackups(client, json: options.json) {
                try await client.call("GET", "/backups", query: "checkpoint_id=\(id)", as: CBR.BackupList.self).backups
            }
            printResult(options, CheckpointOutcome(checkpointID: id, backups: backups)) { backups.map { "\($0.id)  \($0.status)  \($0.resourceName)" } }
            if backups.contains(where: { $0.status == "error" }) { throw ExitCode(1) }
        }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup", subcommands: [List.self, Show.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @OptionGroup var options: ClientOptions
        @Option var vault: String?
        func run() async throws {
            let result = try await options.client().call("GET", "/backups", query: vault.map { "vault_id=\($0)" } ?? "", as: CBR.BackupList.self)
            printResult(options, result) { result.backups.map { "\($0.id)  \($0.status)  \($0.resourceName)  \($0.createdAt)" } }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws { printAnswer(try await options.client().call("GET", "/backups/\(id)", as: CBR.BackupResponse.self)) }
    }

    /// Top level as `coffer restore BACKUP_ID`.
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "restore",
                                                        abstract: "Restore a backup (in place, onto --volume, into --destination or --resource, or a server's disks onto --server).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Option(help: "Target volume id (volume backups).") var volume: String?
        @Option(help: "Restore a file-system backup into this directory instead of in place.") var destination: String?
        @Option(help: "Restore a file-system backup into this registered directory (on another agent's host: a migration).") var resource: String?
        @Option(help: "Server backups: the server restored onto (default: the one backed up).") var server: String?
        @Option(help: "Server backups: DISK_BACKUP_ID=VOLUME_ID, once per disk (default: each disk onto the disk it was read from).") var mapping: [String] = []
        @Flag var wait = false

        func validate() throws {
            for m in mapping where m.split(separator: "=", omittingEmptySubsequences: false).count != 2 || m.hasPrefix("=") || m.hasSuffix("=") {
                throw ValidationError("--mapping '\(m)' must be DISK_BACKUP_ID=VOLUME_ID")
            }
        }

        func run() async throws {
            let client = try options.client()
            var restore = CBR.RestoreRequest.Restore()
            restore.volumeID = volume
            restore.resourceID = resource
            restore.details = destination.map { CBR.RestoreRequest.Details(destinationPath: $0) }
            if server != nil || !mapping.isEmpty {
                let backup = try await client.call("GET", "/backups/\(id)", as: CBR.BackupResponse.self).backup
                restore.serverID = server ?? backup.resourceID
                restore.mappings = mapping.isEmpty
                    ? backup.children.map { CBR.RestoreRequest.Mapping(backupID: $0.id, volumeID: $0.resourceID) }
                    : mapping.map { m in
                        let parts = m.split(separator: "=", maxSplits: 1).map(String.init)
                        return CBR.RestoreRequest.Mapping(backupID: parts[0], volumeID: parts[1])
                    }
            }
            try await client.send("POST", "/backups/\(id)/restore", body: CBR.RestoreRequest(restore))
            if wait {
                _ = try await waitForBackups(client, json: options.json, operation: "restore") {
                    [try await client.call("GET", "/backups/\(id)", as: CBR.BackupResponse.self).backup]
                }
            }
            print("restore of \(id) \(wait ? "finished" : "started")")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await options.client().send("DELETE", "/backups/\(id)")
            print("deleting backup \(id)")
        }
    }
}

struct OplogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "oplog", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let result = try await options.client().call("GET", "/operation-logs", as: CBR.OperationLogList.self)
            printResult(options, result) {
                result.operationLogs.map { "\($0.id)  \($0.operationType)  \($0.status)  \($0.extraInfo.resource.name)" }
            }
        }
    }
}

/// RDS v3 database backups of a registered PostgreSQL instance.
struct RDSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rds", abstract: "Back up, list and restore PostgreSQL instances (RDS v3 API).",
                                                    subcommands: [Backup.self, List.self, Restore.self])

    /// Polls a list until the backup leaves BUILDING; on a terminal, a progress bar from its
    /// operation log (an RDS backup is a CBR backup in the project's rds_backups vault).
    static func waitForBackup(_ client: APIClient, json: Bool, instance: String, id: String) async throws -> RDS.Backup {
        let ticker = ProgressTicker(json: json)
        let started = Date()
        var estimate = ProgressEstimate()
        while true {
            let list = try await client.call("GET", "/backups", query: "instance_id=\(instance)&backup_id=\(id)", as: RDS.BackupList.self)
            if let b = list.backups.first, b.status != .building {
                ticker.clear()
                return b
            }
            if ticker.enabled {
                let running = try await client.call("GET", "/operation-logs", query: "status=running&operation_type=backup", as: CBR.OperationLogList.self).operationLogs
                let percent = running.first { $0.extraInfo.backup.backupID == id }?.extraInfo.common.progress ?? 0
                estimate.observe(percent: Double(percent), at: Date().timeIntervalSince(started))
                ticker.show(progressLine("backing up \(instance)", estimate))
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Polls an RDS job until it ends, with a progress bar from its `process` (`40%`) on a terminal.
    static func waitForJob(_ client: APIClient, json: Bool, id: String) async throws -> RDS.JobResponse {
        let ticker = ProgressTicker(json: json)
        let started = Date()
        var estimate = ProgressEstimate()
        while true {
            let answer = try await client.call("GET", "/jobs", query: "id=\(id)", as: RDS.JobResponse.self)
            guard answer.job.status == .running else {
                ticker.clear()
                return answer
            }
            estimate.observe(percent: Double(answer.job.process.filter(\.isNumber)) ?? 0, at: Date().timeIntervalSince(started))
            ticker.show(progressLine("restoring \(answer.job.instance.name)", estimate))
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "backup", abstract: "Take a manual backup (a physical base backup).")
        @OptionGroup var options: ClientOptions
        @Argument var instance: String
        @Option(help: "4-64 characters: a letter, then letters, digits, _ or -.") var name: String
        @Option var description: String?
        @Flag var wait = false
        func run() async throws {
            let client = try options.client()
            let body = RDS.CreateBackupRequest(instanceID: instance, name: name, description: description)
            let created = try await client.call("POST", "/backups", body: body, as: RDS.CreatedBackup.self)
            let id = created.backup.id
            guard wait else { return printResult(options, created) { ["backup \(id) \(created.backup.status.rawValue)"] } }
            let done = try await RDSCommand.waitForBackup(client, json: options.json, instance: instance, id: id)
            printResult(options, ["backup": done]) { ["backup \(id) \(done.status.rawValue)  \(done.size) KB"] }
            if done.status != .completed { throw ExitCode(1) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @OptionGroup var options: ClientOptions
        @Argument var instance: String
        func run() async throws {
            let list = try await options.client().call("GET", "/backups", query: "instance_id=\(instance)", as: RDS.BackupList.self)
            printResult(options, list) {
                list.backups.map { "\($0.id)  \($0.status.rawValue)  \($0.name)  \($0.beginTime)  \($0.size) KB" }
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore a backup onto its instance (in place: stop, swap, start, check) or into a new data directory.")
        @OptionGroup var options: ClientOptions
        @Argument var backup: String
        @Option(help: "Restore in place onto this instance (it needs a registered data_dir).") var instance: String?
        @Option(help: "Restore into this new, empty data directory under a resource root, left stopped.") var dataDir: String?
        @Flag var wait = false
        func run() async throws {
            guard (instance == nil) != (dataDir == nil) else { throw CLIError("give exactly one of --instance or --data-dir") }
            let client = try options.client()
            let body = RDS.RecoveryRequest(source: .init(backupID: backup), target: .init(instanceID: instance, dataDirectory: dataDir))
            let started = try await client.call("POST", "/instances/recovery", body: body, as: RDS.JobID.self)
            let job = started.jobID
            guard wait else { return printResult(options, started) { ["restore job \(job) running"] } }
            let answer = try await RDSCommand.waitForJob(client, json: options.json, id: job)
            printResult(options, answer) {
                ["restore job \(job) \(answer.job.status.rawValue)" + (answer.job.failReason.map { ": \($0)" } ?? "")]
            }
            if answer.job.status != .completed { throw ExitCode(1) }
        }
    }
}
