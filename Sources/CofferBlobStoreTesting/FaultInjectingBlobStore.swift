import CofferBlobStore
import Foundation

/// Wraps a store and misbehaves on command, for tests of every failure path:
/// operations fail, puts store a truncated object (as a torn write would on a
/// store without atomic puts), gets return truncated or bit-flipped bytes.
public final class FaultInjectingBlobStore: BlobStore, @unchecked Sendable {
    public enum Operation: Sendable { case put, get, head, list, delete }

    public enum Fault: Sendable {
        /// The operation throws; for put, nothing is stored.
        case fail
        /// As `fail`, with an error a retrying wrapper retries (a remote store's 5xx).
        case failTransiently
        /// put stores / get returns only the first `keep` bytes.
        case truncate(keep: Int)
        /// put stores / get returns the bytes with one bit flipped at `offset` (mod size).
        case flipBit(offset: Int)
    }

    private struct Rule {
        var operation: Operation
        var keyPrefix: String
        var fault: Fault
        var skip: Int
        var remaining: Int
    }

    private let inner: BlobStore
    private let lock = NSLock()
    private var rules: [Rule] = []
    private var counts: [Operation: Int] = [:]

    public init(wrapping inner: BlobStore) { self.inner = inner }

    public var location: String { inner.location }

    /// Injects `fault` on operations whose key starts with `keyPrefix`, after
    /// letting `skip` matching operations through, for `times` operations.
    public func inject(_ fault: Fault, on operation: Operation, keyPrefix: String = "", skip: Int = 0, times: Int = Int.max) {
        lock.withLock { rules.append(Rule(operation: operation, keyPrefix: keyPrefix, fault: fault, skip: skip, remaining: times)) }
    }

    public func clear() { lock.withLock { rules.removeAll() } }

    /// How many operations of a kind have been attempted.
    public func count(_ operation: Operation) -> Int { lock.withLock { counts[operation, default: 0] } }

    private func fault(for operation: Operation, key: String) -> Fault? {
        lock.withLock {
            counts[operation, default: 0] += 1
            for i in rules.indices where rules[i].operation == operation && key.hasPrefix(rules[i].keyPrefix) {
                if rules[i].skip > 0 { rules[i].skip -= 1; continue }
                guard rules[i].remaining > 0 else { continue }
                rules[i].remaining -= 1
                return rules[i].fault
            }
            return nil
        }
    }

    private static func throwIfFailing(_ fault: Fault, _ key: String, _ operation: String) throws {
        switch fault {
        case .fail: throw BlobStoreError.injected(key, "\(operation) failed")
        case .failTransiently: throw BlobStoreError.transient(key, "\(operation) failed (injected)")
        default: return
        }
    }

    private static func damage(_ data: Data, _ fault: Fault) -> Data {
        switch fault {
        case .fail, .failTransiently: return data
        case let .truncate(keep): return data.prefix(max(0, min(keep, data.count)))
        case let .flipBit(offset):
            guard !data.isEmpty else { return data }
            var copy = Data(data)
            let i = ((offset % copy.count) + copy.count) % copy.count
            copy[copy.startIndex + i] ^= 0x10
            return copy
        }
    }

    public func put(_ key: String, data: Data) async throws {
        if let f = fault(for: .put, key: key) {
            try Self.throwIfFailing(f, key, "put")
            try await inner.put(key, data: Self.damage(data, f))
            return
        }
        try await inner.put(key, data: data)
    }

    public func get(_ key: String, range: Range<Int>?) async throws -> Data {
        let f = fault(for: .get, key: key)
        if let f { try Self.throwIfFailing(f, key, "get") }
        let data = try await inner.get(key, range: range)
        return f.map { Self.damage(data, $0) } ?? data
    }

    public func head(_ key: String) async throws -> BlobInfo {
        if let f = fault(for: .head, key: key) { try Self.throwIfFailing(f, key, "head"); throw BlobStoreError.injected(key, "head failed") }
        return try await inner.head(key)
    }

    public func list(prefix: String) async throws -> [BlobInfo] {
        if let f = fault(for: .list, key: prefix) { try Self.throwIfFailing(f, prefix, "list"); throw BlobStoreError.injected(prefix, "list failed") }
        return try await inner.list(prefix: prefix)
    }

    public func delete(_ key: String) async throws {
        if let f = fault(for: .delete, key: key) { try Self.throwIfFailing(f, key, "delete"); throw BlobStoreError.injected(key, "delete failed") }
        try await inner.delete(key)
    }

    public func destroy() async throws {
        if let f = fault(for: .delete, key: "") { try Self.throwIfFailing(f, "", "destroy"); throw BlobStoreError.injected("", "destroy failed") }
        try await inner.destroy()
    }
}
