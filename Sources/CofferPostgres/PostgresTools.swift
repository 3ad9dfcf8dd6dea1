import CofferService
import CofferSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `postgresql://user:password@host:port/database`, parsed for libpq tools.
/// Its description never shows the password.
public struct PostgresConnection: Sendable, CustomStringConvertible {
    public var user: String
    public var password: String
    public var host: String
    public var port: Int
    public var database: String

    public init(url: String, field: String) throws {
        guard let c = URLComponents(string: url), ["postgresql", "postgres"].contains(c.scheme ?? "") else {
            throw ServiceError.validation("\(field) must be a postgresql://user:password@host:port/database URL")
        }
        guard let user = c.user, !user.isEmpty else { throw ServiceError.validation("\(field) must name a user") }
        guard let host = c.host, !host.isEmpty else { throw ServiceError.validation("\(field) must name a host") }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw ServiceError.validation("\(field) must name a database") }
        let port = c.port ?? 5432
        guard (1...65535).contains(port) else { throw ServiceError.validation("\(field) port must be 1 to 65535") }
        self.user = user.removingPercentEncoding ?? user
        password = (c.password ?? "").removingPercentEncoding ?? (c.password ?? "")
        self.host = host
        self.port = port
        self.database = database.removingPercentEncoding ?? database
    }

    public var description: String { "postgresql://\(user)@\(host):\(port)/\(database)" }

    /// For pg_basebackup, psql, pg_isready: the password through the environment, never argv.
    public var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["PGPASSWORD"] = password
        env["PGCONNECT_TIMEOUT"] = "10"
        return env
    }

    public var arguments: [String] { ["-h", host, "-p", String(port), "-U", user] }
}

/// The PostgreSQL client and server programs Coffer drives: pg_basebackup
/// for backups, pg_ctl and psql for restoring in place. Each runs as a
/// child process with the password in its environment only.
enum PostgresTools {
    /// The newest installed version's binary (Debian layout), else PATH.
    static func binary(_ name: String, version: String? = nil) -> String {
        let base = "/usr/lib/postgresql"
        if let version, FileManager.default.isExecutableFile(atPath: "\(base)/\(version)/bin/\(name)") { return "\(base)/\(version)/bin/\(name)" }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted(by: >)
        for v in versions where FileManager.default.isExecutableFile(atPath: "\(base)/\(v)/bin/\(name)") { return "\(base)/\(v)/bin/\(name)" }
        for dir in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        return name
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a program to the end (on the blocking pool); as `user` when we are root and it is another user.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, user: String? = nil) async throws -> String {
        try await BlockingPool.shared.run {
            var program = executable, args = arguments
            if let user, getuid() == 0, user != "root" {
                (program, args) = ("/usr/sbin/runuser", ["-u", user, "--", executable] + arguments)
            } else if !executable.hasPrefix("/") {
                (program, args) = ("/usr/bin/env", [executable] + arguments)
            }
            let result: Subprocess.Result
            do { result = try Subprocess.run(program, args, environment: environment) } catch {
                throw Failure(description: "cannot run \(executable): \(error)")
            }
            let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard result.status == 0 else {
                throw Failure(description: "\((executable as NSString).lastPathComponent) exited with \(result.status): \(String(text.suffix(600)))")
            }
            return text
        }
    }

    /// A physical, consistent copy of the cluster with the WAL it needs to start (pg_basebackup -X stream).
    static func baseBackup(_ c: PostgresConnection, into directory: String) async throws {
        try? FileManager.default.removeItem(atPath: directory)
        _ = try await run(binary("pg_basebackup"), ["-D", directory, "-X", "stream", "-F", "p", "-c", "fast", "--no-sync", "-w"] + c.arguments,
                          environment: c.environment)
    }

    /// Whether the instance answers a query.
    /// Whether the connection's role may take base backups (REPLICATION or
    /// superuser); nil when the instance cannot be asked (down, wrong password).
    static func mayReplicate(_ c: PostgresConnection) async -> Bool? {
        let answer = try? await run(binary("psql"), ["-X", "-q", "-At", "-d", c.database,
                                                     "-c", "select rolreplication or rolsuper from pg_roles where rolname = current_user"] + c.arguments,
                                    environment: c.environment)
        switch answer {
        case "t": return true
        case "f": return false
        default: return nil
        }
    }

    static func accepts(_ c: PostgresConnection) async -> Bool {
        (try? await run(binary("psql"), ["-X", "-q", "-At", "-d", c.database, "-c", "select 1"] + c.arguments, environment: c.environment)) == "1"
    }

    static func owner(of path: String) -> (name: String, uid: uid_t, gid: gid_t)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let name = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? String(st.st_uid)
        return (name, st.st_uid, st.st_gid)
    }

    static func version(of dataDirectory: String) -> String? {
        (try? String(contentsOfFile: dataDirectory + "/PG_VERSION", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func isRunning(_ dataDirectory: String) -> Bool {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
              let pid = Int32(text.split(separator: "\n").first ?? "") else { return false }
        return kill(pid, 0) == 0
    }

    static func stop(_ dataDirectory: String, owner: String) async throws {
        guard isRunning(dataDirectory) else { return }
        _ = try await run(binary("pg_ctl", version: version(of: dataDirectory)), ["-D", dataDirectory, "-m", "fast", "-w", "-t", "120", "stop"], user: owner)
    }

    static func start(_ dataDirectory: String, owner: String, log: String) async throws {
        _ = try await run(binary("pg_ctl", version: version(of: dataDirectory)), ["-D", dataDirectory, "-l", log, "-w", "-t", "300", "start"], user: owner)
    }

    /// Gives a restored tree to the cluster's owner with the modes PostgreSQL insists on.
    static func prepare(_ dataDirectory: String, uid: uid_t, gid: gid_t) throws {
        try? FileManager.default.removeItem(atPath: dataDirectory + "/postmaster.pid")
        func walk(_ path: String) {
            _ = lchown(path, uid, gid)
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
            for e in entries {
                let child = path + "/" + e
                var st = stat()
                guard lstat(child, &st) == 0 else { continue }
                if st.st_mode & S_IFMT == S_IFDIR { walk(child) } else { _ = lchown(child, uid, gid) }
            }
        }
        walk(dataDirectory)
        guard chmod(dataDirectory, 0o700) == 0 else { throw Failure(description: "cannot chmod \(dataDirectory)") }
    }
}

