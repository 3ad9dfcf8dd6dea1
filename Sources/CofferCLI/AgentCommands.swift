import ArgumentParser
import CofferAPI
import CofferRepository
import CofferService
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `coffer agent`: runs on a data host, registers it with a Coffer server
/// under the credentials' project and keeps it online by registering again
/// every interval (CBR's agents API). The host's operator decides what may be
/// protected there (`--resource-root`); paths outside those roots are
/// refused when added here and flagged when listed.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Run a backup agent on this host, or look after it.",
                                                    subcommands: [Run.self, Status.self, AddPath.self, RemovePath.self, Uninstall.self])

    /// Blocks of 1 MiB and more are mapped and unmapped, never kept in the heap. glibc's default
    /// threshold rises to each freed block's size (up to 32 MiB), after which chunk- and pack-sized
    /// buffers stay in per-thread arenas: measured on the bench dataset, the agent's peak RSS was
    /// 231 MiB with it and 151 MiB without (bench/agent.sh; docs/benchmarks.md), for ~2 s more
    /// system time. MALLOC_MMAP_THRESHOLD_ in the environment still decides.
    static func boundMemory() {
        #if canImport(Glibc)
        guard ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil else { return }
        // mallopt is in <malloc.h>, which the Glibc module does not bring in.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(mmapThreshold, 1 << 20)
        #endif
    }

    struct StateOptions: ParsableArguments {
        @Option(help: "Where the agent keeps its id (env COFFER_AGENT_STATE; default $XDG_STATE_HOME/coffer-agent or ~/.local/state/coffer-agent).")
        var stateDir: String?

        var directory: String {
            let env = ProcessInfo.processInfo.environment
            if let dir = stateDir ?? env["COFFER_AGENT_STATE"] { return dir }
            let base = env["XDG_STATE_HOME"] ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.local/state")
            return base + "/coffer-agent"
        }

        var statePath: String { directory + "/agent.json" }

        /// The agent's id, made (and kept, 0600) the first time.
        func agentID(create: Bool) throws -> String {
            if let data = FileManager.default.contents(atPath: statePath) {
                guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let id = object["agent_id"] as? String,
                      (try? AgentService.checkID(id, field: "agent_id")) != nil else {
                    throw CLIError("\(statePath) is damaged (no valid agent_id); remove it to register this host as a new agent")
                }
                return id
            }
            guard create else { throw CLIError("this host has no agent yet (\(statePath) is missing): run `coffer agent run` first") }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let id = UUID().uuidString.lowercased()
            try CofferServices.writePrivateFile(statePath, try JSONSerialization.data(withJSONObject: ["agent_id": id], options: [.sortedKeys]))
            return id
        }
    }

    struct RootOptions: ParsableArguments {
        @Option(name: .customLong("resource-root"), help: "A directory this host lets Coffer protect (repeat for several).") var roots: [String] = []

        func validated() throws -> [String] {
            guard !roots.isEmpty else { throw ValidationError("give at least one --resource-root: what this host lets Coffer protect") }
            return try roots.map { root in
                var isDirectory: ObjCBool = false
                guard root.hasPrefix("/"), FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ValidationError("--resource-root \(root) must be an existing directory given by its absolute path")
                }
                return URL(fileURLWithPath: root).resolvingSymlinksInPath().path
            }
        }

        static func covers(_ roots: [String], _ path: String) -> Bool {
            roots.contains { $0 == "/" || path == $0 || path.hasPrefix($0 + "/") }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Register this host and keep it online (a heartbeat every --interval seconds) until stopped.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var state: StateOptions
        @OptionGroup var roots: RootOptions
        @Option(help: "A nickname shown for this host.") var name: String?
        @Option(help: "Seconds between heartbeats (5-600; the server shows the agent offline after 180 s without one).") var interval = 60
        @Flag(help: "Register (or heartbeat) once, run the jobs waiting for this agent, and exit.") var once = false
        @Option(help: "Jobs run at once, each a backup or restore of another resource (1-8; each has its own pipeline, so memory grows with it).")
        var jobs = 1

        func validate() throws {
            guard (5...600).contains(interval) else { throw ValidationError("--interval must be 5 to 600 seconds") }
            guard (1...8).contains(jobs) else { throw ValidationError("--jobs must be 1 to 8") }
            _ = try roots.validated()
        }

        func run() async throws {
            AgentCommand.boundMemory()
            let client = try options.client()
            _ = try roots.validated()
            let id = try state.agentID(create: true)
            var request = CBR.AgentRegisterRequest(agent: .init(agentID: id, hostName: HostFacts.name(), hostIP: HostFacts.address(), hostOS: HostFacts.system()))
            request.agent.hostNickname = name
            request.agent.agentVersion = CofferVersion.string
            request.agent.agentType = "coffer"
            let runner = AgentJobRunner(client: client, agentID: id, roots: try roots.validated(), stateDirectory: state.directory)
            let jobs = self.jobs
            if once {
                let answer = try await client.call("POST", "/agents", body: request, as: CBR.AgentResponse.self)
                // Each lane claims and runs jobs until none is waiting. The server never hands one resource's
                // jobs out side by side, so lanes share no resource's state.
                try await withThrowingTaskGroup(of: Void.self) { lanes in
                    for _ in 0..<jobs { lanes.addTask { while try await runner.runNext(wait: 0) {} } }
                    try await lanes.waitForAll()
                }
                printResult(options, answer) { ["agent \(answer.agent.agentID) registered: \(answer.agent.status)"] }
                return
            }
            // Heartbeats on their own task, so a long job never makes the agent look offline.
            let interval = self.interval
            let heartbeat = Task {
                while !Task.isCancelled {
                    do { _ = try await client.call("POST", "/agents", body: request, as: CBR.AgentResponse.self) } catch {
                        stderrLine("coffer agent: heartbeat failed (\(error)); retrying in \(interval) s")
                    }
                    try? await Task.sleep(nanoseconds: UInt64(interval) * 1_000_000_000)
                }
            }
            defer { heartbeat.cancel() }
            try await withThrowingTaskGroup(of: Void.self) { lanes in
                for _ in 0..<jobs {
                    lanes.addTask {
                        while true {
                            do { _ = try await runner.runNext(wait: 25) } catch {
                                stderrLine("coffer agent: asking for jobs failed (\(error)); retrying in 5 s")
                                try await Task.sleep(nanoseconds: 5_000_000_000)
                            }
                        }
                    }
                }
                try await lanes.waitForAll()
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Show this host's agent as the server sees it, and whether each of its paths lies under a --resource-root.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var state: StateOptions
        @Option(name: .customLong("resource-root"), help: "The roots `run` was given, to check the paths against.") var roots: [String] = []

        func run() async throws {
            let id = try state.agentID(create: false)
            let answer = try await options.client().call("GET", "/agents/\(id)", as: CBR.AgentResponse.self)
            let a = answer.agent
            printResult(options, answer) {
                ["agent \(a.agentID) on \(a.hostName) (\(a.hostIP)): \(a.status), last active \(a.lastActiveTime)"]
                    + a.paths.map { p in
                        let place = roots.isEmpty ? "" : (RootOptions.covers(roots, p.dirPath) ? "" : "  (outside every --resource-root: not protected)")
                        return "  \(p.dirPath)\(p.excludePaths.isEmpty ? "" : "  excluding \(p.excludePaths)")\(place)"
                    }
            }
        }
    }

    struct AddPath: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-path", abstract: "Back up a directory of this host (it must lie under a --resource-root).")
        @OptionGroup var options: ClientOptions
        @OptionGroup var state: StateOptions
        @OptionGroup var roots: RootOptions
        @Argument(help: "Absolute paths of directories to back up.") var paths: [String]
        @Option(help: "A path below one of them to leave out (repeat for several).") var exclude: [String] = []

        func run() async throws {
            let allowed = try roots.validated()
            for path in paths + exclude where !RootOptions.covers(allowed, path) {
                throw CLIError("\(path) is outside every --resource-root (\(allowed.joined(separator: ", "))): this host does not let Coffer protect it")
            }
            let id = try state.agentID(create: false)
            var request = CBR.AgentAddPathRequest(addPath: paths)
            let byPath = Dictionary(grouping: exclude) { ex in paths.filter { ex.hasPrefix($0 == "/" ? "/" : $0 + "/") }.max { $0.count < $1.count } ?? "" }
            if let orphan = byPath[""]?.first { throw CLIError("--exclude \(orphan) lies below none of the paths given") }
            request.excludePath = byPath.map { .init(pathName: $0.key, excludePathName: $0.value) }
            let answer = try await options.client().call("POST", "/agents/\(id)/add-path", body: request, as: CBR.AgentAddPathResponse.self)
            printResult(options, answer) { answer.added.map { "added \($0)" } + answer.existed.map { "already there: \($0)" } }
        }
    }

    struct RemovePath: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-path", abstract: "Stop backing up directories of this host.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var state: StateOptions
        @Argument var paths: [String]

        func run() async throws {
            let id = try state.agentID(create: false)
            let answer = try await options.client().call("POST", "/agents/\(id)/remove-path", body: CBR.AgentRemovePathRequest(removePath: paths),
                                                         as: CBR.AgentRemovePathResponse.self)
            printResult(options, answer) { answer.removed.map { "removed \($0)" } + answer.notExisted.map { "not there: \($0)" } }
        }
    }

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "uninstall", abstract: "Report this agent uninstalled and forget its id (its backups stay in their vaults).")
        @OptionGroup var options: ClientOptions
        @OptionGroup var state: StateOptions

        func run() async throws {
            let id = try state.agentID(create: false)
            let answer = try await options.client().call("PUT", "/agents/\(id)", body: CBR.AgentUpdateRequest(status: "uninstalled"), as: CBR.AgentResponse.self)
            try FileManager.default.removeItem(atPath: state.statePath)
            printResult(options, answer) { ["agent \(id) reported uninstalled; \(state.statePath) removed"] }
        }
    }
}

/// What an agent says about its host when it registers.
enum HostFacts {
    static func name() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(cString: buffer)
        return name.isEmpty ? "localhost" : String(name.prefix(255))
    }

    /// The first IPv4 address of an interface that is up and not loopback (else 127.0.0.1).
    static func address() -> String {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return "127.0.0.1" }
        defer { freeifaddrs(list) }
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let e = entry {
            defer { entry = e.pointee.ifa_next }
            let flags = Int32(e.pointee.ifa_flags)
            guard let addr = e.pointee.ifa_addr, addr.pointee.sa_family == UInt16(AF_INET), flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0 else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let ok = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                return inet_ntop(AF_INET, &a, &text, socklen_t(text.count)) != nil
            }
            if ok { return String(cString: text) }
        }
        return "127.0.0.1"
    }

    /// PRETTY_NAME from /etc/os-release, else the kernel's name and release.
    static func system() -> String {
        if let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            let value = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            if !value.isEmpty { return String(value.prefix(128)) }
        }
        var u = utsname()
        uname(&u)
        let sys = withUnsafePointer(to: &u.sysname) { $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) } }
        let rel = withUnsafePointer(to: &u.release) { $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) } }
        return "\(sys) \(rel)"
    }
}
