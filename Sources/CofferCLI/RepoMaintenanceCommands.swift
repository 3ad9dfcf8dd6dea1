import CofferSystem
import ArgumentParser
import CofferBlobStore
import CofferCrypto
import CofferEngine
import CofferRepository
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// `coffer repo check|forget|prune|key`: keeping a repository healthy and small.

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check",
        abstract: "Verify the repository's structure; with --read-data, every byte; with --read-data-subset, a part of the packs (rotating with next/T).")
    @OptionGroup var repo: RepoOptions
    @Flag(help: "Read every pack: its hash, its header and every blob's authentication tag.") var readData = false
    @Flag(help: "As --read-data, and also decompress every blob and recompute its keyed id (slower; catches a writer that sealed wrong content).")
    var readDataFull = false
    @Option(help: "Read only group N of T (N/T), or the 1/T of the packs verified longest ago (next/T: T daily runs read every pack).")
    var readDataSubset: String?
    @Option(help: "Start no new pack reads after this long (e.g. 30m, 2h); the next next/T run resumes.") var maxDuration: String?
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws {
        if let readDataSubset, DataSubset(readDataSubset) == nil { throw ValidationError("--read-data-subset must be N/T (1 <= N <= T) or next/T") }
        if let maxDuration, parseDuration(maxDuration) == nil { throw ValidationError("--max-duration: '\(maxDuration)' is not a duration like 30m, 12h, 7d") }
        if maxDuration != nil && !readData && !readDataFull && readDataSubset == nil { throw ValidationError("--max-duration limits data reading: add --read-data or --read-data-subset") }
    }

    func run() async throws {
        let repository = try await repo.open()
        var data: DataCheckOptions?
        if readData || readDataFull || readDataSubset != nil {
            // Every data read is recorded in the repository, so rotating checks know what is due.
            data = DataCheckOptions(subset: readDataSubset.flatMap(DataSubset.init) ?? .all, maxDuration: maxDuration.flatMap(parseDuration), record: true,
                                    verifyContent: readDataFull)
        }
        let report = try await Checker(repository: repository).run(readData: data)
        if json {
            printJSON(["ok": report.ok, "errors": report.errors, "warnings": report.warnings, "snapshots": report.snapshotsChecked,
                       "packs_read": report.packsChecked, "blobs_read": report.blobsChecked, "bytes_read": report.bytesRead,
                       "packs_total": report.packsTotal, "packs_left_for_later": report.packsLeftForLater])
        } else {
            for w in report.warnings { print("warning: \(w)") }
            for e in report.errors { print("error: \(e)") }
            let read = data.map { ", \(report.packsChecked) of \(report.packsTotal) packs (\($0.subset)), \(report.blobsChecked) blobs read" } ?? ""
            let left = report.packsLeftForLater > 0 ? "; \(report.packsLeftForLater) packs left for the next run (--max-duration)" : ""
            print(report.ok ? "no errors found (\(report.snapshotsChecked) snapshots\(read))\(left)" : "\(report.errors.count) errors found")
        }
        if !report.ok { throw ExitCode(1) }
    }
}

struct Forget: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "forget", abstract: "Remove snapshots by id or by a keep policy (data is freed by prune).")
    @OptionGroup var repo: RepoOptions
    @Argument(help: "Snapshot ids (or unique prefixes) to remove.") var ids: [String] = []
    @Option var keepLast = 0
    @Option var keepHourly = 0
    @Option var keepDaily = 0
    @Option var keepWeekly = 0
    @Option var keepMonthly = 0
    @Option var keepYearly = 0
    @Option(help: "Keep snapshots newer than this duration (e.g. 7d, 12h).") var keepWithin: String?
    @Option(help: "Keep snapshots with this tag (repeatable).") var keepTag: [String] = []
    @Flag(help: "Only say what would be removed.") var dryRun = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        for (name, v) in [("keep-last", keepLast), ("keep-hourly", keepHourly), ("keep-daily", keepDaily), ("keep-weekly", keepWeekly), ("keep-monthly", keepMonthly), ("keep-yearly", keepYearly)] where v < 0 {
            throw ValidationError("--\(name) must not be negative")
        }
        if let w = keepWithin, parseDuration(w) == nil { throw ValidationError("--keep-within: '\(w)' is not a duration like 30m, 12h, 7d") }
    }

    func run() async throws {
        let repository = try await repo.open()
        var policy = ForgetPolicy()
        policy.keepLast = keepLast; policy.keepHourly = keepHourly; policy.keepDaily = keepDaily
        policy.keepWeekly = keepWeekly; policy.keepMonthly = keepMonthly; policy.keepYearly = keepYearly
        policy.keepWithin = keepWithin.flatMap(parseDuration) ?? 0
        policy.keepTags = keepTag
        var remove: [Hash256] = []
        if !ids.isEmpty {
            guard policy.isEmpty else { throw CLIError("give snapshot ids or a keep policy, not both") }
            for i in ids { remove.append(try await repository.resolveSnapshot(i)) }
        } else {
            guard !policy.isEmpty else { throw CLIError("nothing to forget: give snapshot ids or a --keep-* policy") }
            let all = try await repository.listSnapshots().snapshots
            remove = policy.apply(all, now: Date()).remove
        }
        if !dryRun { for id in remove { try await repository.deleteSnapshot(id) } }
        if json { printJSON(["removed": remove.map(\.hex), "dry_run": dryRun]) } else {
            for id in remove { print("\(dryRun ? "would remove" : "removed") snapshot \(id.short)") }
            print("\(remove.count) snapshots \(dryRun ? "would be " : "")removed")
        }
    }
}

func parseDuration(_ s: String) -> TimeInterval? {
    if s == "0" { return 0 }
    guard let unit = s.last, let n = Double(s.dropLast()), n >= 0 else { return nil }
    switch unit {
    case "s": return n
    case "m": return n * 60
    case "h": return n * 3600
    case "d": return n * 86400
    default: return nil
    }
}

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Free space no snapshot uses (two-phase: unused packs are deleted after a grace period).")
    @OptionGroup var repo: RepoOptions
    @Flag(help: "Only say what would be freed.") var dryRun = false
    @Option(help: "Grace period before unused packs are deleted (e.g. 1h; 0 deletes now: only when no backup can be running).") var grace = "1h"
    @Option(help: "Repack packs with more than this percentage unused.") var maxUnused = 25
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard parseDuration(grace) != nil else { throw ValidationError("--grace: '\(grace)' is not a duration like 0, 30m, 1h") }
        guard (0...100).contains(maxUnused) else { throw ValidationError("--max-unused must be a percentage from 0 to 100") }
    }

    func run() async throws {
        let repository = try await repo.open()
        var options = PruneOptions()
        options.dryRun = dryRun
        options.grace = parseDuration(grace)!
        options.maxUnusedFraction = Double(maxUnused) / 100
        let r = try await Pruner(repository: repository).run(options)
        if json {
            var o: [String: Any] = ["dry_run": dryRun, "packs_deleted": r.packsDeleted + r.unindexedDeleted, "bytes_freed": r.bytesDeleted,
                                    "packs_repacked": r.packsRepacked, "blobs_repacked": r.blobsRepacked,
                                    "packs_scheduled": r.packsScheduled, "bytes_scheduled": r.bytesScheduled]
            if let next = r.earliestNextDeletion { o["next_deletion_after"] = ModelCoding.formatDate(next) }
            printJSON(o)
        } else {
            let verb = dryRun ? "would " : ""
            print("\(r.snapshots) snapshots, \(r.packsTotal) packs")
            print("\(verb)repack \(r.packsRepacked) packs (\(r.blobsRepacked) blobs, \(formatBytes(r.bytesRepacked)))")
            print("\(verb)delete \(r.packsDeleted + r.unindexedDeleted) packs, freeing \(formatBytes(r.bytesDeleted))")
            if r.packsScheduled > 0 { print("\(verb)schedule \(r.packsScheduled) packs (\(formatBytes(r.bytesScheduled))) for deletion after the grace period") }
            if let next = r.earliestNextDeletion { print("run prune again after \(ModelCoding.formatDate(next)) to delete scheduled packs") }
        }
    }
}

struct Key: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key", abstract: "Manage the keys that open the repository.", subcommands: [List.self, Add.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list")
        @OptionGroup var repo: RepoOptions
        @Flag var json = false
        func run() async throws {
            let keys = try await repo.open().listKeys()
            printList(json, keys.map { ["id": $0.id.hex, "created": ModelCoding.formatDate($0.created), "hostname": $0.hostname, "kind": $0.kind] },
                      lines: keys.map { "\($0.id.short)  \($0.kind.padding(toLength: 10, withPad: " ", startingAt: 0))  \(ModelCoding.formatDate($0.created))  \($0.hostname)" })
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a key: a new passphrase from COFFER_NEW_PASSWORD, or --new-key-file (created if missing).")
        @OptionGroup var repo: RepoOptions
        @Option var newKeyFile: String?
        func run() async throws {
            let repository = try await repo.open()
            let secret: MasterSecret
            if let newKeyFile {
                secret = try RepoOptions(repository: nil, keyFile: newKeyFile).secret(creating: true)
            } else if let p = ProcessInfo.processInfo.environment["COFFER_NEW_PASSWORD"], !p.isEmpty {
                secret = .passphrase(p)
            } else {
                throw CLIError("give the new key: set COFFER_NEW_PASSWORD or pass --new-key-file FILE")
            }
            let id = try await repository.addKey(secret)
            print("added key \(id.short)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove")
        @OptionGroup var repo: RepoOptions
        @Argument var id: String
        func run() async throws {
            let repository = try await repo.open()
            let matches = try await repository.listKeys().filter { $0.id.hex.hasPrefix(id.lowercased()) }
            guard matches.count == 1 else { throw CLIError(matches.isEmpty ? "no key \(id)" : "key prefix \(id) is ambiguous") }
            try await repository.removeKey(matches[0].id)
            print("removed key \(matches[0].id.short)")
        }
    }
}
