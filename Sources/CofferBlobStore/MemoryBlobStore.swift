import Foundation

/// In-memory store for tests; honours the whole contract.
public final class MemoryBlobStore: BlobStore, @unchecked Sendable {
    private let lock = NSLock()
    private var objects: [String: (Data, Date)] = [:]
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    public var location: String { "memory://" }

    public func put(_ key: String, data: Data) async throws {
        try BlobKey.validate(key)
        lock.withLock { objects[key] = (data, now()) }
    }

    public func get(_ key: String, range: Range<Int>?) async throws -> Data {
        try BlobKey.validate(key)
        guard let (data, _) = lock.withLock({ objects[key] }) else { throw BlobStoreError.notFound(key) }
        let r = try BlobKey.clamp(range, size: data.count, key: key)
        return data.subdata(in: (data.startIndex + r.lowerBound)..<(data.startIndex + r.upperBound))
    }

    public func head(_ key: String) async throws -> BlobInfo {
        try BlobKey.validate(key)
        guard let (data, date) = lock.withLock({ objects[key] }) else { throw BlobStoreError.notFound(key) }
        return BlobInfo(key: key, size: data.count, modified: date)
    }

    public func list(prefix: String) async throws -> [BlobInfo] {
        lock.withLock {
            objects.filter { $0.key.hasPrefix(prefix) }
                .map { BlobInfo(key: $0.key, size: $0.value.0.count, modified: $0.value.1) }
                .sorted { $0.key < $1.key }
        }
    }

    public func delete(_ key: String) async throws {
        try BlobKey.validate(key)
        _ = lock.withLock { objects.removeValue(forKey: key) }
    }

    /// Test hook: replace stored bytes without going through `put` (simulates rot).
    public func corrupt(_ key: String, _ change: (inout Data) -> Void) {
        lock.withLock {
            guard var entry = objects[key] else { return }
            change(&entry.0)
            objects[key] = entry
        }
    }
}
