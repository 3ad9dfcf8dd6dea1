// CofferCompression: zstd over the system libzstd (CZstd), with pooled contexts.

import CZstd
import Foundation

public struct CompressionError: Error, CustomStringConvertible {
    public let description: String
}

/// zstd over the system library. Contexts are pooled: creating one per 1 MiB
/// chunk costs more than compressing the chunk at fast levels.
public enum Zstd {
    private static let pool = ContextPool()

    /// Compresses `input` into `output`; returns the compressed length, or nil
    /// when the frame would not be smaller than the input (or does not fit).
    public static func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, level: Int32) -> Int? {
        guard input.count > 0, let out = output.baseAddress else { return nil }
        let capacity = min(output.count, input.count - 1)
        guard capacity > 0 else { return nil }
        let ctx = pool.take()
        defer { pool.give(ctx) }
        let written = ZSTD_compressCCtx(ctx, out, capacity, input.baseAddress, input.count, level)
        if ZSTD_isError(written) != 0 || written >= input.count { return nil }
        return written
    }

    public static func decompress(_ input: Data, expectedSize: Int) throws -> Data {
        // Not Data(count:): zeroing a buffer zstd overwrites cost a tenth of a restore's CPU.
        guard expectedSize >= 0, let buffer = malloc(max(1, expectedSize)) else {
            throw CompressionError(description: "zstd: cannot allocate \(expectedSize) bytes")
        }
        let n: Int = input.withUnsafeBytes { inp in ZSTD_decompress(buffer, expectedSize, inp.baseAddress, inp.count) }
        let output = Data(bytesNoCopy: buffer, count: expectedSize, deallocator: .free)
        if ZSTD_isError(n) != 0 {
            throw CompressionError(description: "zstd: " + String(cString: ZSTD_getErrorName(n)))
        }
        if n != expectedSize {
            throw CompressionError(description: "zstd: decompressed \(n) bytes, expected \(expectedSize)")
        }
        return output
    }

    /// Size recorded in a frame header, when the frame carries it.
    public static func frameContentSize(_ input: Data) -> Int? {
        let size = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        if size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN { return nil }
        return size > UInt64(Int.max) ? nil : Int(size)
    }
}

private final class ContextPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [OpaquePointer] = []

    func take() -> OpaquePointer {
        lock.lock()
        if let ctx = free.popLast() { lock.unlock(); return ctx }
        lock.unlock()
        return ZSTD_createCCtx()
    }

    func give(_ ctx: OpaquePointer) {
        lock.lock(); free.append(ctx); lock.unlock()
    }
}
