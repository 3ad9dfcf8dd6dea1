import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `coffer` binary built next to the test runner.
func cofferBinary() -> String {
    if let env = ProcessInfo.processInfo.environment["COFFER_BIN"] { return env }
    let besideRunner = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for dir in [besideRunner, besideRunner.deletingLastPathComponent(), besideRunner.deletingLastPathComponent().deletingLastPathComponent()] {
        let candidate = dir.appendingPathComponent("coffer").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/coffer").path
}

struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

final class Temp {
    let path: String
    init(_ label: String) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-cli-\(label)-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func environment(repo: String, password: String? = "pw", extra: [String: String] = [:]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["COFFER_REPOSITORY"] = "file://" + repo
    env["COFFER_PASSWORD"] = password
    if password == nil { env.removeValue(forKey: "COFFER_PASSWORD") }
    for (k, v) in extra { env[k] = v }
    return env
}

func makeProcess(_ args: [String], env: [String: String]) -> (Process, Pipe, Pipe) {
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

func coffer(_ args: [String], env: [String: String]) throws -> Run {
    let (p, out, err) = makeProcess(args, env: env)
    try p.run()
    // Read both pipes before waiting so a full pipe cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Run(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> Data {
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
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Relative path -> content for every regular file below root (symlinks as "-> target").
func contents(of root: String) -> [String: Data] {
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
