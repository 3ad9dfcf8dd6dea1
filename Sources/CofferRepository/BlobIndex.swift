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

    public init() {}

    public func reset() {
        lock.withLock {
            packs = []
            packNumbers = [:]
            slots = [:]
            pendingDeletion = []
        }
    }

    public var count: Int { lock.withLock { slots.count } }
    public var packCount: Int { lock.withLock { packs.count } }

    public func add(pack: Hash256, entries: [PackEntry]) {
        lock.withLock {
            let number: UInt32
            if let n = packNumbers[pack] { number = n } else {
                number = UInt32(packs.count)
                packs.append(pack)
                packNumbers[pack] = number
            }
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
            guard let s = slots[id] else { return false }
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
}
