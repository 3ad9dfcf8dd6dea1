// CofferBlobStore: the storage protocol (save, ranged load, stat, list,
// remove), the local-disk and in-memory stores, the URL factory
// (`BlobStores.open`) and the retry and concurrency-limit wrappers.

import Foundation

/// The storage protocol every backend implements. Deliberately tiny and
/// S3-shaped: whole-object puts, ranged gets, no appends, no visible renames.
///
/// Contract (checked by the conformance suite in CofferBlobStoreTests):
/// - `put` is atomic: a reader sees either no object or the whole new one,
///   never a prefix; a put over an existing key replaces it whole. When `put`
///   returns, the object is durable (fsynced / acknowledged by the service).
/// - Read-after-write: after `put` returns, `get`, `head` and `list` see it;
///   after `delete` returns, they do not.
/// - `get` of a missing key throws `BlobStoreError` with `isNotFound`.
///   A `range` must start inside the object; one that runs past the end is
///   cut at the end (as S3 does), so callers that need exact lengths check.
/// - `delete` of a missing key succeeds (idempotent, as S3 DELETE).
/// - `list(prefix:)` returns every key starting with `prefix`, sorted.
/// - Keys are `/`-separated paths of `[A-Za-z0-9._-]` segments; no empty,
///   segment, none starting with `.` (so `..` and hidden staging files are out). Anything else is refused with `invalidKey`.
public protocol BlobStore: Sendable {
    func put(_ key: String, data: Data) async throws
    func get(_ key: String, range: Range<Int>?) async throws -> Data
    /// `get(key, range:)` handed to `consume` in pieces, in order, as they arrive, so the range
    /// is never held whole (a remote store's body as it streams in; others: the whole range at
    /// once). Fewer bytes than asked arrive when the object ends first. An error `consume`
    /// throws ends the read and comes out unchanged: never retried, never renamed.
    func read(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws
    func head(_ key: String) async throws -> BlobInfo
    func list(prefix: String) async throws -> [BlobInfo]
    func delete(_ key: String) async throws
    /// Deletes many keys (S3's DeleteObjects: 1 000 a request); same contract as `delete` for each.
    func delete(_ keys: [String]) async throws
    /// Removes every object and what holds them (a directory; nothing more
    /// for a bucket prefix): deleting a whole repository. Idempotent.
    func destroy() async throws
    /// Where the store lives, for messages (never contains secrets).
    var location: String { get }
    /// Each request costs a round trip (milliseconds), not a seek: readers
    /// should ask for fewer, larger ranges (the repository reads ahead).
    var isRemote: Bool { get }
}

extension BlobStore {
    public func get(_ key: String) async throws -> Data { try await get(key, range: nil) }

    /// The whole range in one piece.
    public func read(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws {
        try await readWhole(key, range: range, into: consume)
    }

    /// `read` as one `get`: for stores (and keys) with nothing to stream.
    public func readWhole(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws {
        let data = try await get(key, range: range)
        if !data.isEmpty { try await consume(data) }
    }
    public var isRemote: Bool { false }

    /// Key by key, for stores where that costs nothing more.
    public func delete(_ keys: [String]) async throws {
        for key in keys { try BlobKey.validate(key) }
        for key in keys { try await delete(key) }
    }

    /// Object by object, for stores with nothing around their objects.
    public func destroy() async throws {
        try await delete(try await list(prefix: "").map(\.key))
    }
}

/// What a `read` consumer threw, carried through a store's own error handling (retries,
/// renaming) so that it comes out unchanged.
public struct ConsumerFailure: Error {
    public let error: Error
    public init(_ error: Error) { self.error = error }

    /// Runs a read whose consumer is `consume` wrapped: the consumer's errors leave as they were thrown.
    public static func separating(_ consume: (Data) async throws -> Void,
                                  _ read: ((Data) async throws -> Void) async throws -> Void) async throws {
        try await withoutActuallyEscaping(consume) { consume in
            do {
                try await read { piece in
                    do { try await consume(piece) } catch { throw ConsumerFailure(error) }
                }
            } catch let failure as ConsumerFailure {
                throw failure.error
            }
        }
    }
}

public struct BlobInfo: Sendable, Equatable {
    public var key: String
    public var size: Int
    public var modified: Date

    public init(key: String, size: Int, modified: Date) {
        self.key = key
        self.size = size
        self.modified = modified
    }
}

public struct BlobStoreError: Error, CustomStringConvertible {
    enum Code { case notFound, invalidKey, invalidRange, io, injected, unsupported, transient }
    let code: Code
    public let key: String
    public let detail: String

    public var isNotFound: Bool { code == .notFound }
    /// Worth trying again (a 5xx, 429 or timeout of a remote store): `RetryingBlobStore` retries these only.
    public var isTransient: Bool { code == .transient }
    public var description: String {
        switch code {
        case .notFound: return "object \(key) not found"
        case .invalidKey: return "invalid object key \"\(key)\": \(detail)"
        case .invalidRange: return "invalid range for object \(key): \(detail)"
        case .io: return "I/O error on object \(key): \(detail)"
        case .injected: return "injected fault on object \(key): \(detail)"
        case .unsupported: return "\(detail)"
        case .transient: return "temporary failure on object \(key): \(detail)"
        }
    }

    public static func notFound(_ key: String) -> BlobStoreError { .init(code: .notFound, key: key, detail: "") }
    public static func invalidKey(_ key: String, _ why: String) -> BlobStoreError { .init(code: .invalidKey, key: key, detail: why) }
    public static func invalidRange(_ key: String, _ why: String) -> BlobStoreError { .init(code: .invalidRange, key: key, detail: why) }
    public static func io(_ key: String, _ why: String) -> BlobStoreError { .init(code: .io, key: key, detail: why) }
    public static func injected(_ key: String, _ why: String) -> BlobStoreError { .init(code: .injected, key: key, detail: why) }
    public static func unsupported(_ why: String) -> BlobStoreError { .init(code: .unsupported, key: "", detail: why) }
    public static func transient(_ key: String, _ why: String) -> BlobStoreError { .init(code: .transient, key: key, detail: why) }
}

public enum BlobKey {
    /// Validates a key per the protocol contract.
    public static func validate(_ key: String) throws {
        if key.isEmpty { throw BlobStoreError.invalidKey(key, "empty") }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty || segment.hasPrefix(".") {
                throw BlobStoreError.invalidKey(key, "empty segment or segment starting with '.'")
            }
            for c in segment.utf8 {
                let ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45
                if !ok { throw BlobStoreError.invalidKey(key, "character outside [A-Za-z0-9._-]") }
            }
        }
    }

    static func clamp(_ range: Range<Int>?, size: Int, key: String) throws -> Range<Int> {
        guard let range else { return 0..<size }
        if range.lowerBound < 0 || (range.lowerBound >= size && !(range.isEmpty && range.lowerBound == size)) {
            throw BlobStoreError.invalidRange(key, "\(range) outside object of \(size) bytes")
        }
        return range.lowerBound..<min(range.upperBound, size)
    }
}

/// Opens the stores on this machine's disk (and in memory, for tests).
public enum BlobStores {
    public static func open(url: String) throws -> BlobStore {
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            guard path.hasPrefix("/") else {
                throw BlobStoreError.unsupported("repository URL \(url): file:// needs an absolute path (file:///path)")
            }
            return LocalBlobStore(root: URL(fileURLWithPath: path))
        }
        if url.hasPrefix("/") { return LocalBlobStore(root: URL(fileURLWithPath: url)) }
        if url == "memory://" || url.hasPrefix("memory://") { return MemoryBlobStore() }
        throw BlobStoreError.unsupported("repository URL \(url): unsupported scheme (supported: file:///path)")
    }
}

/// Chooses a backend from a repository URL: local ones here, remote ones
/// (`s3://`) from the openers the composition root registers by scheme, so
/// this layer names no network library.
public struct BlobStoreFactory: Sendable {
    public typealias Opener = @Sendable (_ url: String) throws -> BlobStore
    let remote: [String: Opener]

    public init(remote: [String: Opener] = [:]) { self.remote = remote }

    public func open(url: String) throws -> BlobStore {
        if let end = url.range(of: "://") {
            let scheme = String(url[..<end.lowerBound])
            if let opener = remote[scheme] { return try opener(url) }
            if scheme != "file" && scheme != "memory" {
                let known = (["file"] + remote.keys.sorted()).map { $0 + "://" }.joined(separator: ", ")
                throw BlobStoreError.unsupported("repository URL \(url): unsupported scheme (this process opens \(known))")
            }
        }
        return try BlobStores.open(url: url)
    }
}
