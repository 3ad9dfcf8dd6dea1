import CofferBlobStore
import CofferCrypto
import CofferSystem
import Foundation

/// Which byte ranges of one pack to fetch for a set of its blobs. Records are
/// taken in pack order and a neighbour joins the current read when the bytes
/// between them are at most `maxGap` and the read stays within `maxSpan` (a
/// record larger than that is a read of its own). On a remote store each
/// read is a round trip, so small gaps are fetched and dropped; on a local
/// disk reading a gap only costs bandwidth. `readsAtOnce`: how many packs a
/// restore reads at once (a local read holds up to `maxSpan` bytes).
public struct PackSpans: Sendable, Equatable {
    public var maxGap: Int
    public var maxSpan: Int
    public var readsAtOnce: Int

    public init(maxGap: Int, maxSpan: Int, readsAtOnce: Int) {
        self.maxGap = maxGap
        self.maxSpan = maxSpan
        self.readsAtOnce = readsAtOnce
    }

    /// A whole pack (16 MiB, plus the chunk that closed it) in one request: each request costs
    /// an object store as much as megabytes of body (Swift's proxy looks the account and the
    /// container up for every GET), and 8 MiB reads made three GETs of most packs, the last a
    /// few hundred kilobytes (docs/benchmarks.md, session 22). The read is streamed
    /// (`readStreamed`): it holds a few records at a time, not the span.
    public static let remote = PackSpans(maxGap: 1 << 20, maxSpan: 25 << 20, readsAtOnce: 4)
    /// Reads of a local file cost little each: small ones keep a restore's memory down.
    public static let local = PackSpans(maxGap: 64 << 10, maxSpan: 4 << 20, readsAtOnce: 6)

    public struct Span: Sendable, Equatable {
        public var range: Range<Int>
        /// In pack order; every record lies inside `range`.
        public var entries: [PackEntry]
    }

    /// The reads that cover every entry once (an entry listed twice is read
    /// once; two ids claiming the same bytes, in a damaged index, are both kept
    /// and the wrong one fails to open).
    public func plan(_ entries: [PackEntry]) -> [Span] {
        var spans: [Span] = []
        var seen = Set<Hash256>()
        for e in entries.sorted(by: { ($0.offset, $0.length) < ($1.offset, $1.length) }) where seen.insert(e.id).inserted {
            let range = Int(e.offset)..<(Int(e.offset) + Int(e.length))
            if var last = spans.last, range.lowerBound - last.range.upperBound <= maxGap,
               max(range.upperBound, last.range.upperBound) - last.range.lowerBound <= maxSpan {
                last.range = last.range.lowerBound..<max(range.upperBound, last.range.upperBound)
                last.entries.append(e)
                spans[spans.count - 1] = last
            } else {
                spans.append(Span(range: range, entries: [e]))
            }
        }
        return spans
    }
}

extension Repository {
    /// How this repository's store is best read (see `PackSpans`).
    public var packSpans: PackSpans { store.isRemote ? .remote : .local }
    public var packReadsAtOnce: Int { packSpans.readsAtOnce }

    /// Reads and unseals `entries` of `pack` in pack order with as few reads
    /// as `packSpans` allows; `body` gets every entry once, with its plaintext
    /// or the reason it could not be read (the pack missing or cut short, the
    /// record damaged). Errors thrown by `body` end the reading.
    public func readBlobs(pack: Hash256, entries: [PackEntry],
                          _ body: (PackEntry, Result<Data, Error>) async throws -> Void) async throws {
        let key = ObjectKey.pack(pack)
        let keys = Result { try loadedKeys(forSession: index.session(ofPack: pack)) }
        for span in packSpans.plan(entries) {
            if store.isRemote {
                try await readStreamed(span, of: pack, keys: keys, body)
                continue
            }
            var bytes: Data
            do {
                bytes = try await store.get(key, range: span.range)
            } catch {
                for e in span.entries { try await body(e, .failure(reason(error, key))) }
                continue
            }
            let opened = openAll(in: &bytes, from: span.range.lowerBound, entries: span.entries, keys: keys, pack: pack)
            for (e, blob) in zip(span.entries, opened) {
                try await body(e, blob.flatMap { blob in Result { try plaintext(of: blob, in: bytes, what: "blob \(e.id.short) in pack \(pack.short)") } })
            }
        }
    }

    /// A span as a remote store streams it: each record is opened and handed to `body` as soon
    /// as its last byte is in, while the rest is still arriving (a whole pack is one request).
    /// What the store could not deliver fails by reason; an error `body` throws ends the read.
    func readStreamed(_ span: PackSpans.Span, of pack: Hash256, keys: Result<RepositoryKeys, Error>,
                      _ body: (PackEntry, Result<Data, Error>) async throws -> Void) async throws {
        let key = ObjectKey.pack(pack)
        var assembler = RecordAssembler(span, buffers: streamedRecords)
        defer { assembler.release() }
        var bodyFailure: Error?
        var storeFailure: Error?
        do {
            try await store.read(key, range: span.range) { piece in
                var done = assembler.append(piece)
                for i in done.indices {
                    let e = done[i].entry
                    // Moved out, not copied: opening in place needs the only reference (a shared one is copied first).
                    var bytes = Data()
                    swap(&bytes, &done[i].record)
                    let opened = openAll(in: &bytes, from: Int(e.offset), entries: [e], keys: keys, pack: pack)[0]
                    let plain = opened.flatMap { blob in Result { try plaintext(of: blob, in: bytes, what: "blob \(e.id.short) in pack \(pack.short)") } }
                    do { try await body(e, plain) } catch { bodyFailure = error; throw error }
                }
            }
        } catch {
            if let bodyFailure { throw bodyFailure }
            storeFailure = reason(error, key)
        }
        for e in assembler.unfinished {
            try await body(e, .failure(storeFailure ?? RepositoryError(.damaged, "pack \(key) is truncated (blob \(e.id.short))")))
        }
    }

    /// Why a pack's bytes could not be read, for every blob that needed them.
    func reason(_ error: Error, _ key: String) -> Error {
        if let e = error as? BlobStoreError, e.isNotFound { return RepositoryError(.missing, "pack \(key) is missing") }
        return error
    }

    /// Opens every record of `entries` where it lies in `bytes` (which hold the pack from offset
    /// `base`), all before any plaintext is taken from them (see `openBlob`).
    func openAll(in bytes: inout Data, from base: Int, entries: [PackEntry], keys: Result<RepositoryKeys, Error>,
                 pack: Hash256) -> [Result<OpenedBlob, Error>] {
        entries.map { e in
            let start = bytes.startIndex + Int(e.offset) - base
            let end = start + Int(e.length)
            guard start >= bytes.startIndex, end <= bytes.endIndex else {
                return .failure(RepositoryError(.damaged, "pack \(ObjectKey.pack(pack)) is truncated (blob \(e.id.short))"))
            }
            return Result { try openBlob(in: &bytes, at: start..<end, entry: e, keys: keys.get(), what: "blob \(e.id.short) in pack \(pack.short)") }
        }
    }
}

/// Puts the records of one span together from the pieces a streamed read delivers, each
/// record in a buffer of its own (pooled when it fits), handed out once its last byte is in.
/// Records that overlap (a damaged index) are each given their bytes.
struct RecordAssembler {
    private let entries: [PackEntry]
    private let buffers: BufferPool
    private var filling: [Int: UnsafeMutableRawPointer] = [:]
    private var complete: [Bool]
    /// Entries before this one are all complete.
    private var first = 0
    /// Pack offset of the next byte to arrive.
    private var position: Int

    init(_ span: PackSpans.Span, buffers: BufferPool) {
        entries = span.entries
        self.buffers = buffers
        complete = Array(repeating: false, count: span.entries.count)
        position = span.range.lowerBound
    }

    /// Takes the next bytes of the span; returns the records they completed, in pack order.
    mutating func append(_ piece: Data) -> [(entry: PackEntry, record: Data)] {
        let start = position, end = position + piece.count
        position = end
        var done: [(entry: PackEntry, record: Data)] = []
        piece.withUnsafeBytes { bytes in
            var i = first
            while i < entries.count, Int(entries[i].offset) < end {
                defer { i += 1 }
                guard !complete[i] else { continue }
                let from = Int(entries[i].offset), to = from + Int(entries[i].length)
                let lower = max(from, start), upper = min(to, end)
                if lower < upper, let source = bytes.baseAddress {
                    (buffer(i) + (lower - from)).copyMemory(from: source + (lower - start), byteCount: upper - lower)
                }
                if to <= end {
                    complete[i] = true
                    done.append((entries[i], take(i)))
                }
            }
        }
        while first < entries.count && complete[first] { first += 1 }
        return done
    }

    /// The entries whose bytes did not all arrive.
    var unfinished: [PackEntry] { entries.indices.filter { !complete[$0] }.map { entries[$0] } }

    /// Gives back the buffers of records that never completed.
    mutating func release() {
        for (i, buffer) in filling { give(buffer, length: Int(entries[i].length)) }
        filling.removeAll()
    }

    private func fits(_ length: Int) -> Bool { length <= buffers.bufferSize }

    private mutating func buffer(_ i: Int) -> UnsafeMutableRawPointer {
        if let buffer = filling[i] { return buffer }
        let length = Int(entries[i].length)
        let buffer = fits(length) ? buffers.take() : UnsafeMutableRawPointer.allocate(byteCount: max(1, length), alignment: 16)
        filling[i] = buffer
        return buffer
    }

    private mutating func take(_ i: Int) -> Data {
        let length = Int(entries[i].length)
        let buffer = buffer(i)
        filling[i] = nil
        guard length > 0 else { give(buffer, length: 0); return Data() }
        let pool = buffers
        if fits(length) { return Data(bytesNoCopy: buffer, count: length, deallocator: .custom { p, n in pool.give(p, used: n) }) }
        return Data(bytesNoCopy: buffer, count: length, deallocator: .custom { p, _ in p.deallocate() })
    }

    private func give(_ buffer: UnsafeMutableRawPointer, length: Int) {
        if fits(length) { buffers.give(buffer, used: length) } else { buffer.deallocate() }
    }
}
