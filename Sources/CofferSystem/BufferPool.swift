import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reusable fixed-size buffers for the chunk-sized work of a backup or a
/// restore (a chunk's bytes, a compressed payload). A fresh megabyte-sized
/// allocation per chunk is a fresh mapping: the kernel zeroes and maps every
/// page on first touch and unmaps it on free, which cost a third of an
/// initial backup's CPU (docs/benchmarks.md). Buffers taken here come back
/// when released and are handed out again with their pages still mapped.
///
/// Bounded both ways: at most `maxRetained` idle buffers are kept (more are
/// unmapped on return), and an idle buffer keeps at most `residentLimit`
/// bytes of touched pages (the rest is given back to the kernel with
/// MADV_DONTNEED), so one rare 8 MiB chunk does not keep 8 MiB resident per
/// buffer for the rest of the process.
public final class BufferPool: @unchecked Sendable {
    public let bufferSize: Int
    public let maxRetained: Int
    public let residentLimit: Int
    private let lock = NSLock()
    private var idle: [UnsafeMutableRawPointer] = []
    private var outstanding = 0

    public init(bufferSize: Int, maxRetained: Int, residentLimit: Int) {
        precondition(bufferSize > 0 && maxRetained >= 0)
        let page = BufferPool.pageSize
        self.bufferSize = (bufferSize + page - 1) / page * page
        self.maxRetained = maxRetained
        self.residentLimit = min(self.bufferSize, (max(0, residentLimit) + page - 1) / page * page)
    }

    deinit {
        for buffer in idle { munmap(buffer, bufferSize) }
    }

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Buffers handed out and not yet returned (tests: nothing leaks).
    public var outstandingCount: Int { lock.withLock { outstanding } }
    public var idleCount: Int { lock.withLock { idle.count } }

    /// A buffer of `bufferSize` bytes; its contents are whatever the last user left.
    public func take() -> UnsafeMutableRawPointer {
        let reused: UnsafeMutableRawPointer? = lock.withLock {
            outstanding += 1
            return idle.popLast()
        }
        if let reused { return reused }
        // mmap, not malloc: the buffer is page-aligned, so giving its tail back is exact.
        guard let p = mmap(nil, bufferSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            fatalError("BufferPool: cannot map \(bufferSize) bytes: errno \(errno)")
        }
        return p
    }

    /// Returns a buffer from `take`; `used` is how many bytes from its start may have been written.
    public func give(_ buffer: UnsafeMutableRawPointer, used: Int) {
        let keep: Bool = lock.withLock {
            outstanding -= 1
            guard idle.count < maxRetained else { return false }
            return true
        }
        guard keep else {
            munmap(buffer, bufferSize)
            return
        }
        if used > residentLimit {
            _ = madvise(buffer + residentLimit, bufferSize - residentLimit, MADV_DONTNEED)
        }
        lock.withLock { idle.append(buffer) }
    }

    /// A copy of `count` bytes at `source` in a pooled buffer, returned to
    /// the pool when the last copy of the Data is released.
    public func data(copying source: UnsafeRawPointer, count: Int) -> Data {
        precondition(count <= bufferSize, "BufferPool: \(count) bytes do not fit a \(bufferSize)-byte buffer")
        if count == 0 { return Data() }
        let buffer = take()
        buffer.copyMemory(from: source, byteCount: count)
        return Data(bytesNoCopy: buffer, count: count, deallocator: .custom { [self] p, n in give(p, used: n) })
    }

    /// Runs `body` with a buffer taken for its duration.
    public func withBuffer<T>(_ body: (UnsafeMutableRawBufferPointer) throws -> (result: T, used: Int)) rethrows -> T {
        let buffer = take()
        var used = bufferSize
        defer { give(buffer, used: used) }
        let out = try body(UnsafeMutableRawBufferPointer(start: buffer, count: bufferSize))
        used = out.used
        return out.result
    }
}

/// Process-wide allocator settings, applied once at start (before threads allocate).
public enum ProcessMemory {
    /// glibc gives every thread that meets contention an arena of its own, up to 8 per core;
    /// the engine's 14 I/O and worker threads then spread freed memory over as many heaps
    /// and the peak RSS of a backup varied 130-163 MiB from run to run. One arena per core
    /// (at least two) held it at 128 MiB with the same speed (docs/benchmarks.md).
    public static func limitArenas() {
        #if canImport(Glibc)
        // mallopt is in <malloc.h>, which Swift's Glibc module leaves out; M_ARENA_MAX is -8 there.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(-8, Int32(max(2, ProcessInfo.processInfo.activeProcessorCount)))
        #endif
    }
}
