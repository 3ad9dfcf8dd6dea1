import ArgumentParser
import CofferCatalog
import Foundation
import Logging

/// Disaster recovery: the catalog rebuilt from the repositories, and consistent catalog copies.
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "catalog", abstract: "Back up the catalog, or rebuild it from the vault repositories.",
                                                    subcommands: [Rebuild.self, BackupCatalog.self, Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "copy",
            abstract: "Copy the whole catalog into an empty one, e.g. from SQLite to PostgreSQL (stop the servers first; keep the same master key and data directory).")
        @ParentCommand var admin: Admin
        @Option(help: "The catalog to read (default: the data directory's, as serve would open it).") var from: String?
        @Option(help: "The empty catalog to fill: postgres://USER:PASSWORD@HOST:PORT/DATABASE or sqlite://PATH (migrated first).") var to: String

        func run() async throws {
            var logger = Logger(label: "coffer-admin")
            logger.logLevel = .warning
            let source = try await SQLCatalog.open(url: try from ?? admin.options.resolve().catalogURL, logger: logger)
            let target: SQLCatalog
            do { target = try await SQLCatalog.open(url: to, logger: logger) } catch {
                await source.close()
                throw error
            }
            let copied: [(table: String, rows: Int)]
            do { copied = try await source.copy(to: target) } catch {
                await target.close()
                await source.close()
                throw error
            }
            await target.close()
            await source.close()
            print(copied.map { "\($0.table): \($0.rows)" }.joined(separator: "\n"))
            // The URL's password stays out of the output.
            print("copied \(copied.map(\.rows).reduce(0, +)) rows into \(to.split(separator: "@").last.map(String.init) ?? to)")
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rebuild",
            abstract: "Rebuild an empty catalog from the repositories under --store (default DATA_DIR/vaults) with the master key: projects (each with a new admin user and access key), vaults, resources and backups with their ids.")
        @ParentCommand var admin: Admin
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            let configuration = try admin.options.resolve()
            let report = try await withServices(admin.options, bootstrap: false) { s in try await s.recovery.rebuild() }
            // New credentials go to a 0600 file, never to stdout.
            let path = configuration.dataDirectory + "/recovered-credentials.json"
            let credentials = report.projects.map { ["project_id": $0.project_id, "project_name": $0.project_name, "user_name": $0.user_name,
                                                     "password": $0.password, "access_key": $0.access_key, "secret_key": $0.secret_key] }
            try CofferServices.writePrivateFile(path, try JSONSerialization.data(withJSONObject: credentials, options: [.sortedKeys, .prettyPrinted]))
            if let admin = report.projects.first(where: { $0.project_name == "admin" }) {
                let adminPath = configuration.dataDirectory + "/admin-credentials.json"
                try? FileManager.default.removeItem(atPath: adminPath)
                try CofferServices.writePrivateFile(adminPath, try JSONSerialization.data(withJSONObject: [
                    "project_id": admin.project_id, "project_name": admin.project_name, "user_name": admin.user_name,
                    "password": admin.password, "access_key": admin.access_key, "secret_key": admin.secret_key], options: [.sortedKeys, .prettyPrinted]))
            }
            output(json, ["projects": report.projects.map(\.project_name), "vaults": report.vaults, "backups": report.backups, "problems": report.problems,
                          "credentials": path],
                   text: "rebuilt \(report.projects.count) projects, \(report.vaults) vaults, \(report.backups) backups; new credentials in \(path) (0600)"
                       + report.problems.map { "\nproblem: " + $0 }.joined())
        }
    }

    struct BackupCatalog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "backup", abstract: "Write a consistent copy of the catalog to FILE (SQLite online copy; safe while serving).")
        @ParentCommand var admin: Admin
        @Argument(help: "The new file (never overwritten).") var file: String

        func run() async throws {
            try await withServices(admin.options) { s in try await s.catalog.backup(to: URL(fileURLWithPath: file).standardizedFileURL.path) }
            print("catalog copied to \(file)")
        }
    }
}
