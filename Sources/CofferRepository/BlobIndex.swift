import CofferCrypto
import Foundation

/// The in-memory index: blob id -> where it is stored. Kept compact (the id
/// plus 17 bytes per blob; packs are numbered, not repeated) because dedup
/// consults it for every chunk of every backup.
public final class BlobIndex: @unchecked Sendable {
    struct Slot {
        var pack: UInt32
        var offset: UInt32
        var length: UInt32
        var rawLength: UInt32
        var type: BlobType
    }

    private let lock = NSLock()
    private var packs: [Hash256] = []
    private var packNumbers: [Hash256: UInt32] = [:]
    private var slots: [Hash256: Slot] = [:]
    private var pendingDeletion: Set<UInt32> = []
    /// Packs a writer session sealed (format version 2), by pack number.
    private var packSessions: [UInt32: Hash256] = [:]
    /// Blobs a writer was told the repository holds, without where (it cannot read them).
    private var known: Set<Hash256> = []

    public init() {}

    public func reset() {
        lock.withLock {
            packs = []
            packNumbers = [:]
            slots = [:]
            pendingDeletion = []
            packSessions = [:]
            known = []
        }
    }

    public var count: Int { lock.withLock { slots.count } }
    public var packCount: Int { lock.withLock { packs.count } }

    public func add(pack: Hash256, entries: [PackEntry], session: Hash256? = nil) {
        lock.withLock {
            let number: UInt32
            if let n = packNumbers[pack] { number = n } else {
                number = UInt32(packs.count)
                packs.append(pack)
                packNumbers[pack] = number
            }
            if let session { packSessions[number] = session }
            for e in entries {
                let slot = Slot(pack: number, offset: e.offset, length: e.length, rawLength: e.rawLength, type: e.type)
                if let old = slots[e.id], !pendingDeletion.contains(old.pack) { continue }
                slots[e.id] = slot
            }
        }
    }

    public func lookup(_ id: Hash256) -> (pack: Hash256, entry: PackEntry)? {
        lock.withLock {
            guard let s = slots[id] else { return nil }
            return (packs[Int(s.pack)], PackEntry(type: s.type, id: id, offset: s.offset, length: s.length, rawLength: s.rawLength))
        }
    }

    /// True when the blob is stored in a pack that is not scheduled for deletion,
    /// so a new backup may reference it without storing it again.
    public func hasLive(_ id: Hash256) -> Bool {
        lock.withLock {
            guard let s = slots[id] else { return known.contains(id) }
            return !pendingDeletion.contains(s.pack)
        }
    }

    public func containsPack(_ pack: Hash256) -> Bool { lock.withLock { packNumbers[pack] != nil } }

    public func setPendingDeletion(_ doomed: Set<Hash256>) {
        lock.withLock { pendingDeletion = Set(doomed.compactMap { packNumbers[$0] }) }
    }

    public func isPendingDeletion(pack: Hash256) -> Bool {
        lock.withLock { packNumbers[pack].map { pendingDeletion.contains($0) } ?? false }
    }

    public var allPacks: [Hash256] { lock.withLock { packs } }

    /// The writer session that sealed a pack (nil: the data key).
    public func session(ofPack pack: Hash256) -> Hash256? {
        lock.withLock { packNumbers[pack].flatMap { packSessions[$0] } }
    }

    /// Every pack a writer session sealed, with its session (what prune's consolidated index keeps).
    public var packSessionMap: [Hash256: Hash256] {
        lock.withLock { Dictionary(uniqueKeysWithValues: packSessions.map { (packs[Int($0.key)], $0.value) }) }
    }

    /// Records blobs the repository holds where this writer cannot see them (the server said so).
    public func addKnown<S: Sequence>(_ ids: S) where S.Element == Hash256 { lock.withLock { known.formUnion(ids) } }

    /// Whether a blob is stored: indexed here, or known to be held.
    public func contains(_ id: Hash256) -> Bool { lock.withLock { slots[id] != nil || known.contains(id) } }
}
