import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// glibc's pipe2, which the Glibc module does not export (it needs _GNU_SOURCE).
@_silgen_name("pipe2")
private func linuxPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

/// Runs a program to its end and collects its output, with posix_spawn and
/// waitpid. Not Foundation's Process: its `waitUntilExit` never returns, off
/// the main thread, for a program that leaves a daemon behind (pg_ctl start),
/// and its own reaper races any waitpid of ours.
public enum Subprocess {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Blocking: call it from a thread that may block (BlockingPool, a test).
    /// `mergeStandardError` false: standard error follows standard output in `output`.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, mergeStandardError: Bool = true) throws -> Result {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        // Close-on-exec: a program spawned at the same moment from another thread must not inherit
        // these pipes (a daemon it leaves behind would hold them open, and this read would never end).
        // The child's own copies, made by dup2 onto 1 and 2, stay open.
        guard linuxPipe2(&outPipe, O_CLOEXEC) == 0, linuxPipe2(&errPipe, O_CLOEXEC) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, mergeStandardError ? outPipe[1] : errPipe[1], 2)
        for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw Failure(description: "cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        // Drain both pipes before waiting, so a full pipe cannot block the child.
        let errorReader = Reader(fd: errPipe[0])
        let output = readAll(outPipe[0])
        let errorOutput = errorReader.wait()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw Failure(description: "waitpid: \(String(cString: strerror(errno)))") }
        }
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, output: String(decoding: output + errorOutput, as: UTF8.self))
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: chunk[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(fd)
        return data
    }

    /// Reads a descriptor to its end on a thread of its own.
    final class Reader: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var data: [UInt8] = []
        init(fd: Int32) {
            Thread.detachNewThread { [self] in
                data = Subprocess.readAll(fd)
                done.signal()
            }
        }
        func wait() -> [UInt8] {
            done.wait()
            return data
        }
    }
}
