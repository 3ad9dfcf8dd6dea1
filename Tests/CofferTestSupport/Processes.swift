import Foundation
#if canImport(Glibc)
import Glibc
#endif

// CofferTestSupport: what the unit and integration test targets share to
// start servers, run the binary and build fixtures.

public struct SupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The `coffer` binary built next to the test runner.
public func cofferBinary() -> String {
    if let env = ProcessInfo.processInfo.environment["COFFER_BIN"] { return env }
    let besideRunner = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for dir in [besideRunner, besideRunner.deletingLastPathComponent(), besideRunner.deletingLastPathComponent().deletingLastPathComponent()] {
        let candidate = dir.appendingPathComponent("coffer").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/coffer").path
}

public struct Run {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

public final class Temp {
    public let path: String
    public init(_ label: String) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-cli-\(label)-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

public func environment(repo: String, password: String? = "pw", extra: [String: String] = [:]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["COFFER_REPOSITORY"] = "file://" + repo
    env["COFFER_PASSWORD"] = password
    if password == nil { env.removeValue(forKey: "COFFER_PASSWORD") }
    for (k, v) in extra { env[k] = v }
    return env
}

public func makeProcess(_ args: [String], env: [String: String]) -> (Process, Pipe, Pipe) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: cofferBinary())
    p.arguments = args
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    return (p, out, err)
}

public func coffer(_ args: [String], env: [String: String]) throws -> Run {
    let (p, out, err) = makeProcess(args, env: env)
    try p.run()
    // Read both pipes before waiting so a full pipe cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Run(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

public struct SplitMix {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func bytes(_ n: Int) -> Data {
        var d = Data(count: n)
        d.withUnsafeMutableBytes { raw in
            let p = raw.bindMemory(to: UInt8.self)
            var i = 0
            while i < n {
                let v = next()
                for k in 0..<8 where i + k < n { p[i + k] = UInt8(truncatingIfNeeded: v >> UInt64(8 * k)) }
                i += 8
            }
        }
        return d
    }
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Relative path -> content for every regular file below root (symlinks as "-> target").
public func contents(of root: String) -> [String: Data] {
    var out: [String: Data] = [:]
    guard let e = FileManager.default.enumerator(atPath: root) else { return out }
    while let rel = e.nextObject() as? String {
        let full = root + "/" + rel
        var st = stat()
        lstat(full, &st)
        if (st.st_mode & S_IFMT) == S_IFREG { out[rel] = FileManager.default.contents(atPath: full) ?? Data() }
        if (st.st_mode & S_IFMT) == S_IFLNK { out[rel] = Data(("-> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? "")).utf8) }
    }
    return out
}

/// A free loopback port (bound, then released for the server to take).
/// A port on 127.0.0.1 that nothing listens on, below the kernel's ephemeral
/// range (32768-60999): a port handed out from that range can be taken as
/// the local port of some outgoing connection before the server binds it (an
/// object server started by a parallel test once failed so).
public func freePort() -> Int { freePorts(1) }

/// The first of `count` consecutive free ports (the object store takes four).
public func freePorts(_ count: Int) -> Int {
    for _ in 0..<1_000 {
        let base = Int.random(in: 20_000...(32_000 - count))
        if (base..<(base + count)).allSatisfy({ onLoopback($0, bind) }) { return base }
    }
    preconditionFailure("no \(count) free consecutive ports in 20000-32000 on 127.0.0.1")
}

/// Whether `call` (bind or connect) succeeds on a new TCP socket with 127.0.0.1:port.
public func onLoopback(_ port: Int, _ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
}

public func packageRoot() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

public func run(_ executable: String, _ args: [String], environment: [String: String]? = nil) throws -> Run {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// The interoperability scripts' Python (Tests/interop/requirements.txt).
public func interopPython() throws -> String {
    let env = try run("/bin/bash", [packageRoot() + "/scripts/python-env.sh"])
    guard env.status == 0 else { throw SupportError("python environment: \(env.stderr)") }
    return env.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// `coffer serve` on a free loopback port with one resource root, its log
/// collected; killed when dropped if still running.
public final class ServedCoffer {
    public let temp = Temp("serve")
    public let port = freePort()
    public let process = Process()
    public let log = Pipe()
    public let logData = LockedData()
    public let logEnded = DispatchSemaphore(value: 0)
    public let dataDirectory: String
    public var resourceRoot: String { temp.path + "/resources" }
    public let host: String
    public var endpoint: String { "http://\(host):\(port)" }
    public var credentialsPath: String { dataDirectory + "/admin-credentials.json" }

    /// `arguments`: more options for `coffer serve`; `dataDirectory`: another server's, to serve it again;
    /// `environment`: added to this process's; `waitForCredentials`: false for a process joining a catalog another bootstrapped;
    /// `launcher`: a command the server runs under (nsenter into a network namespace the test made), listening on `host` there.
    public init(arguments: [String] = [], dataDirectory: String? = nil, environment: [String: String] = [:], waitForCredentials: Bool = true,
                launcher: [String] = [], host: String = "127.0.0.1") throws {
        self.dataDirectory = dataDirectory ?? temp.path + "/data"
        self.host = host
        try FileManager.default.createDirectory(atPath: resourceRoot + "/share", withIntermediateDirectories: true)
        let serve = ["serve", "--data-dir", self.dataDirectory, "--listen", "\(host):\(port)", "--resource-root", resourceRoot] + arguments
        process.executableURL = URL(fileURLWithPath: launcher.first ?? cofferBinary())
        process.arguments = launcher.isEmpty ? serve : Array(launcher.dropFirst()) + [cofferBinary()] + serve
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        // A thread reads the log until the server exits (EOF). Not readabilityHandler:
        // its dispatch source can outlive the descriptor, which libdispatch does not survive.
        let (logData, logEnded) = (self.logData, self.logEnded)
        let reader = log.fileHandleForReading
        try process.run()
        try? log.fileHandleForWriting.close()
        Thread.detachNewThread {
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                logData.append(chunk)
            }
            logEnded.signal()
        }
        // Bootstrap writes the credentials once the catalog is ready.
        for _ in 0..<200 where waitForCredentials && !FileManager.default.fileExists(atPath: credentialsPath) { usleep(50_000) }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }
}

public final class LockedData: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var data = Data()
    public func append(_ d: Data) { lock.withLock { data.append(d) } }
    public var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
