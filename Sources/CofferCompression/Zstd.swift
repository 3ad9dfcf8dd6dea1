// CofferCompression: zstd over the system libzstd (CZstd), with pooled contexts.

import CZstd
import Foundation

public struct CompressionError: Error, CustomStringConvertible {
    public let description: String
}

/// zstd over the system library. Contexts are pooled: creating one per 1 MiB
/// chunk costs more than compressing the chunk at fast levels.
public enum Zstd {
    private static let pool = ContextPool(make: { ZSTD_createCCtx() })
    private static let decompressors = ContextPool(make: { ZSTD_createDCtx() })

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

    /// Decompresses one frame of exactly `expectedSize` bytes into new memory.
    public static func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws -> Data {
        // Not Data(count:): zeroing a buffer zstd overwrites cost a tenth of a restore's CPU.
        guard expectedSize >= 0, let buffer = malloc(max(1, expectedSize)) else {
            throw CompressionError(description: "zstd: cannot allocate \(expectedSize) bytes")
        }
        let output = Data(bytesNoCopy: buffer, count: expectedSize, deallocator: .free)
        // A pooled context: ZSTD_decompress makes and frees one per call.
        let ctx = decompressors.take()
        let n = ZSTD_decompressDCtx(ctx, buffer, expectedSize, input.baseAddress, input.count)
        decompressors.give(ctx)
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

/// Contexts kept for reuse: as many as were ever in use at once (a context serves one call at a time).
private final class ContextPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [OpaquePointer] = []
    private let make: () -> OpaquePointer?

    init(make: @escaping () -> OpaquePointer?) { self.make = make }

    func take() -> OpaquePointer {
        lock.lock()
        if let ctx = free.popLast() { lock.unlock(); return ctx }
        lock.unlock()
        // Fails only when memory is exhausted.
        guard let made = make() else { fatalError("zstd: cannot allocate a context") }
        return made
    }

    func give(_ ctx: OpaquePointer) {
        lock.lock(); free.append(ctx); lock.unlock()
    }
}
