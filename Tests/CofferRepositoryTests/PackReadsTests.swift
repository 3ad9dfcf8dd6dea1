import CofferBlobStore
import CofferCrypto
import CofferSystem
import Foundation
import Testing
@testable import CofferRepository

/// Which ranges of a pack are read for a set of its blobs, and what a reader
/// gets when the pack is gone or cut short.
@Suite struct PackReads {
    func entry(_ n: UInt8, _ offset: UInt32, _ length: UInt32) -> PackEntry {
        PackEntry(type: .data, id: Hash256(bytes: [UInt8](repeating: n, count: 32)), offset: offset, length: length, rawLength: length)
    }

    @Test func neighboursShareAReadWhileTheGapIsSmallAndTheReadStaysBounded() {
        let spans = PackSpans(maxGap: 10, maxSpan: 100, readsAtOnce: 1)
        // Unordered input; gap 5 joins, gap 11 splits, 100 bytes is the most one read covers.
        let plan = spans.plan([entry(3, 50, 20), entry(1, 0, 20), entry(2, 25, 20), entry(4, 81, 10), entry(5, 91, 19)])
        #expect(plan.map(\.range) == [0..<70, 81..<110])
        #expect(plan.map { $0.entries.map(\.offset) } == [[0, 25, 50], [81, 91]])
        // A record larger than the bound is a read of its own; the same record twice is read once.
        let big = spans.plan([entry(1, 0, 10), entry(2, 10, 500), entry(2, 10, 500), entry(3, 510, 10)])
        #expect(big.map(\.range) == [0..<10, 10..<510, 510..<520])
        // Two ids claiming the same bytes (a damaged index) are both planned.
        #expect(spans.plan([entry(1, 0, 10), entry(2, 0, 10)]).first?.entries.map(\.id) == [entry(1, 0, 10).id, entry(2, 0, 10).id])
        // No gap allowed: only touching records join.
        #expect(PackSpans(maxGap: 0, maxSpan: 100, readsAtOnce: 1).plan([entry(1, 0, 10), entry(2, 10, 10), entry(3, 21, 1)]).map(\.range) == [0..<20, 21..<22])
    }

    /// From an object store, the records of a whole pack, even the largest a default repository
    /// writes (16 MiB, then the 8 MiB chunk that closed it), come in one read; from local disk, in 4 MiB reads.
    @Test func aWholePackIsOneReadFromAnObjectStore() {
        var entries: [PackEntry] = []
        var offset: UInt32 = 0
        for n in 0..<16 {  // 1 MiB records with small gaps between them (blobs nobody asked for)
            entries.append(entry(UInt8(n), offset, 1 << 20))
            offset += (1 << 20) + 4_096
        }
        entries.append(entry(99, offset, 8 << 20))
        let remote = PackSpans.remote.plan(entries)
        #expect(remote.count == 1 && remote[0].entries.count == 17 && remote[0].range == 0..<Int(offset + (8 << 20)))
        #expect(PackSpans.local.plan(entries).count == 7)
        #expect(PackSpans.remote.readsAtOnce * PackSpans.remote.maxSpan <= 100 << 20, "a restore's reads stay within 100 MiB")
    }

    /// Read whole from a local store, and streamed in small pieces from a remote one.
    @Test(arguments: [false, true]) func everyEntryIsAnsweredWithItsBytesOrWhyNot(streamed: Bool) async throws {
        let memory = MemoryBlobStore()
        let store: BlobStore = streamed ? PiecewiseStore(memory, piece: 777) : memory
        let repository = try await Repository.initialize(store: store, secret: .passphrase("p"), options: cheapOptions(packSize: 1 << 20))
        let writer = repository.makePackWriter()
        var plain: [Hash256: Data] = [:]
        var random = SystemRandomNumberGenerator()
        for i in 0..<20 {
            // Odd ones random: stored as they are (handed out as slices of the read), even ones compressed.
            let data = i % 2 == 1 ? Data((0..<(1_000 + i * 100)).map { _ in UInt8.random(in: 0...255, using: &random) })
                                  : Data((0..<(1_000 + i * 100)).map { UInt8(truncatingIfNeeded: $0 &* (i + 3)) })
            let id = repository.keys.blobID(data)
            plain[id] = data
            #expect(writer.claim(id))
            try await writer.store(id: id, type: .data, sealed: repository.sealBlob(data, type: .data, id: id), rawLength: data.count)
        }
        try await writer.finish()
        let pack = repository.index.allPacks[0]
        let entries = plain.keys.map { repository.locate($0)!.entry }
        var seen: [Hash256: Data] = [:]
        try await repository.readBlobs(pack: pack, entries: entries) { e, result in seen[e.id] = try? result.get() }
        #expect(seen == plain)
        // Records are opened where they lie in the bytes read: the store's own copy stays sealed.
        let key = ObjectKey.pack(pack)
        let full = try await store.get(key)
        try await repository.readBlobs(pack: pack, entries: entries) { _, _ in }
        #expect(try await store.get(key) == full)

        // One record damaged in the middle of a read: it fails by name, its neighbours in the same read open.
        let sorted = entries.sorted { $0.offset < $1.offset }
        for victim in [sorted[9], sorted[10]] {  // one stored, one compressed
            var damaged = full
            damaged[Int(victim.offset) + Int(victim.length) / 2] ^= 0x20
            try await store.put(key, data: damaged)
            var good = 0
            var bad: [String] = []
            try await repository.readBlobs(pack: pack, entries: entries) { e, result in
                switch result {
                case .success(let data): if data == plain[e.id] { good += 1 }
                case .failure(let error): bad.append("\(error)")
                }
            }
            #expect(good == 19 && bad.count == 1 && bad[0].contains(victim.id.short) && bad[0].contains("authentication failed"))
        }
        try await store.put(key, data: full)

        // Cut short: the blobs past the end fail by name, the ones before still read.
        let last = entries.max { $0.offset < $1.offset }!
        try await store.put(key, data: full.prefix(Int(last.offset) + 1))
        var failures: [String] = []
        var read = 0
        try await repository.readBlobs(pack: pack, entries: entries) { _, result in
            switch result {
            case .success: read += 1
            case .failure(let error): failures.append("\(error)")
            }
        }
        #expect(read == 19 && failures.count == 1 && failures[0].contains("truncated"))

        try await store.delete(key)
        failures = []
        try await repository.readBlobs(pack: pack, entries: entries) { _, result in if case .failure(let e) = result { failures.append("\(e)") } }
        #expect(failures.count == 20 && failures.allSatisfy { $0.contains("pack \(key) is missing") })

        // What the reader's body throws ends the read and comes out as it was thrown.
        try await store.put(key, data: full)
        struct Stop: Error {}
        var answered = 0
        await #expect(throws: Stop.self) {
            try await repository.readBlobs(pack: pack, entries: entries) { _, _ in
                answered += 1
                if answered == 3 { throw Stop() }
            }
        }
        #expect(answered == 3)
    }

    /// Records put together from pieces of any size: each handed out once, whole, in pack order,
    /// as soon as its last byte is in; overlapping records (a damaged index) each get their bytes;
    /// what never arrived is left unfinished and its buffer goes back.
    @Test func recordsArePutTogetherFromPiecesOfAnySize() {
        let pack = Data((0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 8) })
        let entries = [entry(1, 100, 400), entry(2, 500, 60), entry(3, 600, 1_000), entry(4, 1_200, 300), entry(5, 2_000, 2_500)]
        let span = PackSpans.Span(range: 100..<4_500, entries: entries)
        let pool = BufferPool(bufferSize: 2_048, maxRetained: 4, residentLimit: 2_048)
        for piece in [1, 7, 99, 400, 4_400] {
            var assembler = RecordAssembler(span, buffers: pool)
            var got: [(PackEntry, Data)] = []
            var offset = 100
            while offset < 4_500 {
                let end = min(offset + piece, 4_500)
                let before = got.count
                got += assembler.append(pack.subdata(in: offset..<end))
                // Handed out the moment its last byte came, not later.
                for (e, _) in got[before...] { #expect(Int(e.offset + e.length) <= end && Int(e.offset + e.length) > offset) }
                offset = end
            }
            #expect(got.map(\.0.id) == [1, 2, 4, 3, 5].map { entry($0, 0, 0).id } || got.map(\.0.id) == [1, 2, 3, 4, 5].map { entry($0, 0, 0).id })
            for (e, data) in got { #expect(data == pack.subdata(in: Int(e.offset)..<Int(e.offset + e.length)), "record \(e.offset)") }
            #expect(assembler.unfinished.isEmpty)
        }
        // Cut short: the record that did not finish is left out, its pooled buffer given back.
        do {
            var assembler = RecordAssembler(span, buffers: pool)
            let got = assembler.append(pack.subdata(in: 100..<2_100))
            #expect(got.map(\.0.offset) == [100, 500, 600, 1_200])
            #expect(assembler.unfinished.map(\.offset) == [2_000])
            assembler.release()
            withExtendedLifetime(got) { #expect(pool.outstandingCount == 4, "the four finished records' buffers are theirs") }
        }
        #expect(pool.outstandingCount == 0, "every buffer back once its Data is gone")
    }
}

/// A remote store that hands every read over in pieces of `piece` bytes.
final class PiecewiseStore: BlobStore, @unchecked Sendable {
    let inner: BlobStore
    let piece: Int
    init(_ inner: BlobStore, piece: Int) { self.inner = inner; self.piece = piece }
    var location: String { inner.location }
    var isRemote: Bool { true }
    func put(_ key: String, data: Data) async throws { try await inner.put(key, data: data) }
    func get(_ key: String, range: Range<Int>?) async throws -> Data { try await inner.get(key, range: range) }
    func read(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws {
        let data = try await inner.get(key, range: range)
        for start in stride(from: 0, to: data.count, by: piece) {
            try await consume(data.subdata(in: start..<min(start + piece, data.count)))
        }
    }
    func head(_ key: String) async throws -> BlobInfo { try await inner.head(key) }
    func list(prefix: String) async throws -> [BlobInfo] { try await inner.list(prefix: prefix) }
    func delete(_ key: String) async throws { try await inner.delete(key) }
}
