import CofferSystem
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Log lines for the server, buffered and written by one thread about ten
/// times a second (warnings and errors at once). swift-log's stream handler
/// formats the time with localtime and flushes a write per line: with one
/// access line per request that was a fifth of a small GET's cost.
final class LogSink: @unchecked Sendable {
    static let standardOutput = LogSink(fd: 1)

    private let fd: Int32
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var started = false

    init(fd: Int32) { self.fd = fd }

    func write(_ line: [UInt8], now: Bool) {
        let full: Bool = lock.withLock {
            buffer.append(contentsOf: line)
            if !started {
                started = true
                Thread.detachNewThread { [self] in
                    while true {
                        usleep(100_000)
                        flush()
                    }
                }
            }
            return buffer.count >= 1 << 16
        }
        if now || full { flush() }
    }

    /// Writes what is buffered; lines stay whole and in order.
    func flush() {
        lock.withLock {
            var offset = 0
            while offset < buffer.count {
                let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, buffer.count - offset) }
                if n < 0 { if errno == EINTR { continue }; break }
                offset += n
            }
            buffer.removeAll(keepingCapacity: true)
        }
    }
}

/// `2026-11-23T02:36:52.123456Z info coffer: key=value ... [Module] message`, one line.
struct SinkLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let explicit { all.merge(explicit) { $1 } }
        let millis = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        var text = UTCTimeFormat.cbrString(epochMilliseconds: millis) + "Z " + level.rawValue + " " + label + ":"
        for key in all.keys.sorted() { text += " " + key + "=" + "\(all[key]!)" }
        text += " [" + source + "] " + message.description + "\n"
        sink.write(Array(text.utf8), now: level >= .warning)
    }
}
