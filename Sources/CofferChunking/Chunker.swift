// CofferChunking: content-defined chunking, nothing else (no I/O, no deps).

/// Content-defined chunking (FastCDC-style gear hash with normalized chunking).
///
/// Cut points depend only on the bytes near them, so an insertion early in a
/// file moves the boundaries of one or two chunks and the rest dedup again.
/// The gear table is derived from a per-repository seed, so chunk boundaries
/// (and therefore chunk sizes) do not fingerprint known files across repositories.
public struct ChunkerParameters: Sendable, Equatable, Codable {
    public var minSize: Int
    public var averageSize: Int
    public var maxSize: Int

    public init(minSize: Int, averageSize: Int, maxSize: Int) {
        precondition(minSize > 0 && minSize <= averageSize && averageSize <= maxSize)
        precondition(averageSize.nonzeroBitCount == 1, "average size must be a power of two")
        self.minSize = minSize
        self.averageSize = averageSize
        self.maxSize = maxSize
    }

    /// ~1 MiB average, 512 KiB .. 8 MiB.
    public static let files = ChunkerParameters(minSize: 512 << 10, averageSize: 1 << 20, maxSize: 8 << 20)
}

public final class Chunker: @unchecked Sendable {
    public let parameters: ChunkerParameters
    private let gear: UnsafeMutablePointer<UInt64>
    private let maskSmall: UInt64
    private let maskLarge: UInt64

    public init(parameters: ChunkerParameters = .files, seed: UInt64) {
        self.parameters = parameters
        gear = .allocate(capacity: 256)
        var state = seed
        for i in 0..<256 { gear[i] = Chunker.splitMix64(&state) }
        let bits = parameters.averageSize.trailingZeroBitCount
        // Normalization level 2: harder to cut before the average, easier after,
        // which narrows the size distribution around the average.
        maskSmall = Chunker.highMask(bits: bits + 2)
        maskLarge = Chunker.highMask(bits: max(bits - 2, 1))
    }

    deinit { gear.deallocate() }

    /// Length of the chunk that starts at the beginning of `buffer`.
    /// The caller passes at least `maxSize` bytes unless the data ends sooner;
    /// when it ends sooner, every byte is taken (`atEnd` true).
    public func cutPoint(_ buffer: UnsafeRawBufferPointer, atEnd: Bool) -> Int {
        let count = buffer.count
        if count <= parameters.minSize { return count }
        let limit = min(count, parameters.maxSize)
        let normal = min(limit, parameters.averageSize)
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return count }
        var hash: UInt64 = 0
        var i = parameters.minSize
        let gear = self.gear
        while i < normal {
            hash = (hash << 1) &+ gear[Int(base[i])]
            if hash & maskSmall == 0 { return i + 1 }
            i += 1
        }
        while i < limit {
            hash = (hash << 1) &+ gear[Int(base[i])]
            if hash & maskLarge == 0 { return i + 1 }
            i += 1
        }
        _ = atEnd
        return limit
    }

    /// Splits a whole in-memory buffer; used by tests and small inputs.
    public func split(_ bytes: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                let rest = UnsafeRawBufferPointer(rebasing: raw[start...])
                let n = cutPoint(rest, atEnd: true)
                ranges.append(start..<(start + n))
                start += n
            }
        }
        return ranges
    }

    static func highMask(bits: Int) -> UInt64 {
        bits >= 64 ? ~0 : ~((~UInt64(0)) >> UInt64(bits))
    }

    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
