import CofferCrypto
import Foundation

/// The in-memory index: blob id -> where it is stored. Dedup consults it for
/// every chunk of every backup, and a repository of a million small files
/// holds a million entries, so it is laid out by hand: 48 bytes per blob in
/// fixed-size segments (no array doubling past one segment) plus a 4-byte
/// open-addressing slot table at most 70 % full (a `Dictionary` of the same
/// entries took twice as much: power-of-two buckets of 52-byte key/value pairs).
public final class BlobIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var table = Table()
    /// Blobs a writer was told the repository holds, without where (it cannot read them).
    private var known: Set<Hash256> = []

    public init() {}

    public func reset() {
        lock.withLock {
            table = Table()
            known = []
        }
    }

    /// Replaces everything indexed by a table built elsewhere (`Repository.loadIndex` builds one
    /// without taking the lock per entry, and readers never see a half-loaded index).
    func install(_ built: Table) {
        lock.withLock {
            table = built
            known = []
        }
    }

    /// The only blob type indexed, when the index was loaded for one (`Repository.loadIndex(only:)`).
    public var onlyType: BlobType? { lock.withLock { table.onlyType } }

    public var count: Int { lock.withLock { table.count } }
    public var packCount: Int { lock.withLock { table.packs.count } }

    public func add(pack: Hash256, entries: [PackEntry], session: Hash256? = nil) {
        lock.withLock { table.add(pack: pack, entries: entries, session: session) }
    }

    public func lookup(_ id: Hash256) -> (pack: Hash256, entry: PackEntry)? {
        lock.withLock { table.lookup(id) }
    }

    /// True when the blob is stored in a pack that is not scheduled for deletion,
    /// so a new backup may reference it without storing it again.
    public func hasLive(_ id: Hash256) -> Bool {
        lock.withLock {
            guard let n = table.find(id) else { return known.contains(id) }
            return !table.pendingDeletion.contains(table[n].pack)
        }
    }

    public func containsPack(_ pack: Hash256) -> Bool { lock.withLock { table.packNumbers[pack] != nil } }

    public func setPendingDeletion(_ doomed: Set<Hash256>) {
        lock.withLock { table.setPendingDeletion(doomed) }
    }

    public func isPendingDeletion(pack: Hash256) -> Bool { lock.withLock { table.doomedPacks.contains(pack) } }

    public var allPacks: [Hash256] { lock.withLock { table.packs } }

    /// The blobs indexed in the given packs (a backup's rescue from a concurrent prune).
    public func entries(inPacks packs: Set<Hash256>) -> [(pack: Hash256, entry: PackEntry)] {
        lock.withLock {
            let numbers = Set(packs.compactMap { table.packNumbers[$0] })
            guard !numbers.isEmpty else { return [] }
            return (0..<table.count).compactMap { n in numbers.contains(table[n].pack) ? table.location(n) : nil }
        }
    }

    /// The writer session that sealed a pack (nil: the data key).
    public func session(ofPack pack: Hash256) -> Hash256? {
        lock.withLock { table.packNumbers[pack].flatMap { table.packSessions[$0] } }
    }

    /// Every pack a writer session sealed, with its session (what prune's consolidated index keeps).
    public var packSessionMap: [Hash256: Hash256] {
        lock.withLock { Dictionary(uniqueKeysWithValues: table.packSessions.map { (table.packs[Int($0.key)], $0.value) }) }
    }

    /// Records blobs the repository holds where this writer cannot see them (the server said so).
    public func addKnown<S: Sequence>(_ ids: S) where S.Element == Hash256 { lock.withLock { known.formUnion(ids) } }

    /// Whether a blob is stored: indexed here, or known to be held.
    public func contains(_ id: Hash256) -> Bool { lock.withLock { table.find(id) != nil || known.contains(id) } }
}

extension BlobIndex {
    /// One indexed blob. The pack number's top bit is the blob type (tree), so an entry is 48 bytes.
    struct Entry {
        var id: Hash256
        var packAndType: UInt32
        var offset: UInt32
        var length: UInt32
        var rawLength: UInt32

        static let treeBit: UInt32 = 1 << 31
        var pack: UInt32 { packAndType & ~Self.treeBit }
        var type: BlobType { packAndType & Self.treeBit == 0 ? .data : .tree }
    }

    /// The index's storage, unsynchronised (`BlobIndex` holds the lock).
    struct Table {
        static let segmentShift = 16
        static let segmentSize = 1 << segmentShift

        var packs: [Hash256] = []
        var packNumbers: [Hash256: UInt32] = [:]
        /// Packs a writer session sealed (format version 2), by pack number.
        var packSessions: [UInt32: Hash256] = [:]
        /// Packs scheduled for deletion, and the numbers of those indexed.
        private(set) var doomedPacks: Set<Hash256> = []
        private(set) var pendingDeletion: Set<UInt32> = []
        /// Set when entries of the other type were left out.
        var onlyType: BlobType?
        /// Entries in insertion order; every segment but the last is full.
        private var segments: [ContiguousArray<Entry>] = []
        private(set) var count = 0
        /// Entry number + 1 per slot (0: empty), linear probing from the id's hash.
        private var slots: ContiguousArray<UInt32> = []
        private var slotBits = 0

        subscript(n: Int) -> Entry {
            get { segments[n >> Self.segmentShift][n & (Self.segmentSize - 1)] }
            set { segments[n >> Self.segmentShift][n & (Self.segmentSize - 1)] = newValue }
        }

        func location(_ n: Int) -> (pack: Hash256, entry: PackEntry) {
            let e = self[n]
            return (packs[Int(e.pack)], PackEntry(type: e.type, id: e.id, offset: e.offset, length: e.length, rawLength: e.rawLength))
        }

        private func home(_ id: Hash256) -> Int {
            // Blob ids are keyed hashes, but an odd multiplier keeps the slot uniform whatever bits they carry.
            Int(truncatingIfNeeded: (id.a &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - slotBits))
        }

        func find(_ id: Hash256) -> Int? {
            guard slotBits > 0 else { return nil }
            let mask = slots.count - 1
            var i = home(id)
            while true {
                let v = slots[i]
                if v == 0 { return nil }
                if self[Int(v) - 1].id == id { return Int(v) - 1 }
                i = (i + 1) & mask
            }
        }

        func lookup(_ id: Hash256) -> (pack: Hash256, entry: PackEntry)? { find(id).map(location) }

        mutating func number(ofPack pack: Hash256) -> UInt32 {
            if let n = packNumbers[pack] { return n }
            precondition(packs.count < Int(Entry.treeBit), "more packs than the index can number")
            let n = UInt32(packs.count)
            packs.append(pack)
            packNumbers[pack] = n
            if doomedPacks.contains(pack) { pendingDeletion.insert(n) }
            return n
        }

        mutating func setPendingDeletion(_ doomed: Set<Hash256>) {
            doomedPacks = doomed
            pendingDeletion = Set(doomed.compactMap { packNumbers[$0] })
        }

        /// A blob already indexed keeps its place unless that pack is scheduled for deletion.
        mutating func add(pack: Hash256, entries: [PackEntry], session: Hash256?) {
            let number = number(ofPack: pack)
            if let session { packSessions[number] = session }
            for e in entries where onlyType == nil || e.type == onlyType {
                let entry = Entry(id: e.id, packAndType: number | (e.type == .tree ? Entry.treeBit : 0), offset: e.offset, length: e.length,
                                  rawLength: e.rawLength)
                if let n = find(e.id) {
                    if pendingDeletion.contains(self[n].pack) { self[n] = entry }
                    continue
                }
                append(entry)
            }
        }

        private mutating func append(_ entry: Entry) {
            if (count + 1) * 10 > slots.count * 7 { grow() }
            if count & (Self.segmentSize - 1) == 0 {
                var segment = ContiguousArray<Entry>()
                // The first segment grows with a small repository; later ones are allocated whole.
                if count > 0 { segment.reserveCapacity(Self.segmentSize) }
                segments.append(segment)
            }
            segments[segments.count - 1].append(entry)
            count += 1
            place(count - 1, entry.id)
        }

        private mutating func place(_ n: Int, _ id: Hash256) {
            let mask = slots.count - 1
            var i = home(id)
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = UInt32(n + 1)
        }

        private mutating func grow() {
            slotBits = max(slotBits + 1, 6)
            precondition(slotBits < 32, "more blobs than the index can number")
            slots = ContiguousArray(repeating: 0, count: 1 << slotBits)
            for n in 0..<count { place(n, self[n].id) }
        }
    }
}
