import CofferBlobStore
import CofferCrypto
import Foundation

/// Which byte ranges of one pack to fetch for a set of its blobs. Records are
/// taken in pack order and a neighbour joins the current read when the bytes
/// between them are at most `maxGap` and the read stays within `maxSpan` (a
/// record larger than that is a read of its own). On a remote store each
/// read is a round trip, so small gaps are fetched and dropped; on a local
/// disk reading a gap only costs bandwidth. `readsAtOnce`: how many packs a
/// restore reads at once, so that its reads hold at most about
/// `readsAtOnce * maxSpan` bytes.
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
    /// few hundred kilobytes. Four at once hold no more than six 8 MiB reads did
    /// (docs/benchmarks.md, "S3 restore: a pack per GET").
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
                          _ body: (PackEntry, Result<Data, Error>) async throws -> Void) async rethrows {
        let key = ObjectKey.pack(pack)
        let keys = Result { try loadedKeys(forSession: index.session(ofPack: pack)) }
        for span in packSpans.plan(entries) {
            var bytes: Data
            do {
                bytes = try await store.get(key, range: span.range)
            } catch {
                let reason: Error
                if let e = error as? BlobStoreError, e.isNotFound {
                    reason = RepositoryError(.missing, "pack \(key) is missing")
                } else {
                    reason = error
                }
                for e in span.entries { try await body(e, .failure(reason)) }
                continue
            }
            let opened = openAll(in: &bytes, from: span.range.lowerBound, entries: span.entries, keys: keys, pack: pack)
            for (e, blob) in zip(span.entries, opened) {
                try await body(e, blob.flatMap { blob in Result { try plaintext(of: blob, in: bytes, what: "blob \(e.id.short) in pack \(pack.short)") } })
            }
        }
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
