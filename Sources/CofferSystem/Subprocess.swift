import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to its end and collects its output. Waits with waitpid:
/// Foundation's `waitUntilExit` never returns, off the main thread, for a
/// program that leaves a daemon behind (pg_ctl start).
public enum Subprocess {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
    }

    /// Blocking: call it from a thread that may block (BlockingPool, a test).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, mergeStandardError: Bool = true) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = mergeStandardError ? out : err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Drain both pipes before waiting, so a full pipe cannot block the child.
        let errorReader = mergeStandardError ? nil : Thread.detachNewThreadReading(err.fileHandleForReading)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errorData = errorReader?.wait() ?? Data()
        var status: Int32 = 0
        while waitpid(p.processIdentifier, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, output: String(decoding: data + errorData, as: UTF8.self))
    }
}

extension Thread {
    /// Reads a handle to its end on a thread of its own.
    final class Reader: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var data = Data()
        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }
        }
        func wait() -> Data {
            done.wait()
            return data
        }
    }

    static func detachNewThreadReading(_ handle: FileHandle) -> Reader { Reader(handle) }
}
