import CofferBlobStore
import Foundation

// CofferBlobStoreTesting: the BlobStore contract (BlobStore.swift) as checks
// every store runs — memory, local disk, the wrappers, and each new backend
// (S3 next) against a real service — plus the fault-injecting store that
// tests of every failure path wrap around a real one. Failures throw, so the
// checks need no test framework.

/// A broken promise of the BlobStore contract, naming what differed.
public struct BlobStoreConformanceFailure: Error, CustomStringConvertible {
    public let description: String
}

func require(_ condition: Bool, _ what: @autoclosure () -> String, line: Int = #line) throws {
    if !condition { throw BlobStoreConformanceFailure(description: "line \(line): \(what())") }
}

func requireFailure(_ what: String, line: Int = #line, notFound: Bool = false, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as BlobStoreError {
        if notFound && !e.isNotFound { throw BlobStoreConformanceFailure(description: "line \(line): \(what): expected not found, got \(e)") }
        return
    }
    throw BlobStoreConformanceFailure(description: "line \(line): \(what): expected a BlobStoreError, nothing was thrown")
}

public enum BlobStoreConformance {
    public typealias Check = @Sendable (any BlobStore) async throws -> Void

    /// Every check by name; each is given a fresh, empty store.
    public static let checks: [(name: String, run: Check)] = [
        ("put and get round-trip; a put replaces the whole object", roundTrip),
        ("ranged gets start inside the object and are cut at its end", rangedGet),
        ("missing objects: not found on get and head; delete is idempotent", notFound),
        ("list by prefix, sorted; delete is seen at once", listAndDelete),
        ("keys outside the contract are refused", invalidKeys),
        ("concurrent puts of distinct keys all land", concurrentPuts),
        ("destroy removes every object and is idempotent", destroy),
        ("a batch delete removes every key given, missing ones too", batchDelete),
        ("a streamed read hands over a ranged get's bytes; its consumer's error comes out unchanged", streamedRead),
    ]

    static let roundTrip: Check = { store in
        let data = Data((0..<10_000).map { UInt8($0 % 251) })
        try await store.put("data/ab/abc", data: data)
        try require(try await store.get("data/ab/abc") == data, "round trip")
        try await store.put("data/ab/abc", data: Data("new".utf8))
        try require(try await store.get("data/ab/abc") == Data("new".utf8), "overwrite replaces the whole object")
        try await store.put("empty", data: Data())
        try require(try await store.get("empty") == Data(), "an empty object")
        try require(try await store.head("empty").size == 0, "head of an empty object")
        try require(try await store.head("data/ab/abc").size == 3, "head after overwrite")
    }

    static let rangedGet: Check = { store in
        let data = Data((0..<1000).map { UInt8($0 % 256) })
        try await store.put("k", data: data)
        try require(try await store.get("k", range: 10..<20) == data[10..<20], "a range inside")
        try require(try await store.get("k", range: 990..<2000) == data[990..<1000], "a range past the end is cut")
        try await requireFailure("a range starting at the end") { _ = try await store.get("k", range: 1000..<1001) }
        try await requireFailure("a range starting past the end") { _ = try await store.get("k", range: 5000..<6000) }
    }

    static let streamedRead: Check = { store in
        let data = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) })
        try await store.put("data/cd/cdef", data: data)
        for range in [0..<3_000_000, 123_456..<2_345_678, 2_999_000..<4_000_000] {
            var got = Data()
            try await store.read("data/cd/cdef", range: range) { got.append($0) }
            try require(got == data[range.lowerBound..<min(range.upperBound, data.count)], "read of \(range)")
        }
        struct Stop: Error {}
        var pieces = 0
        do {
            try await store.read("data/cd/cdef", range: 0..<3_000_000) { _ in pieces += 1; throw Stop() }
            throw BlobStoreConformanceFailure(description: "a read went on past its consumer's error")
        } catch is Stop {}
        try require(pieces == 1, "the read stopped at the consumer's error")
        try await requireFailure("a read of a missing key", notFound: true) { try await store.read("missing/y", range: 0..<10) { _ in } }
        try await requireFailure("a read starting past the end") { try await store.read("data/cd/cdef", range: 5_000_000..<5_000_010) { _ in } }
    }

    static let notFound: Check = { store in
        try await requireFailure("get of a missing key", notFound: true) { _ = try await store.get("missing/x") }
        try await requireFailure("head of a missing key", notFound: true) { _ = try await store.head("missing") }
        try await store.delete("missing")
        try require(try await store.list(prefix: "missing").isEmpty, "nothing listed")
    }

    static let listAndDelete: Check = { store in
        for key in ["data/01/0123", "data/01/0199", "data/ff/ff00", "index/aa", "snapshots/s1", "config"] {
            try await store.put(key, data: Data(key.utf8))
        }
        try require(try await store.list(prefix: "data/").map(\.key) == ["data/01/0123", "data/01/0199", "data/ff/ff00"], "list by prefix, sorted")
        try require(try await store.list(prefix: "data/01/01").map(\.key) == ["data/01/0123", "data/01/0199"], "a prefix inside a segment")
        try require(try await store.list(prefix: "").count == 6, "everything")
        try require(try await store.list(prefix: "index/").first?.size == 8, "sizes listed")
        try await store.delete("data/01/0123")
        try require(try await store.list(prefix: "data/").map(\.key) == ["data/01/0199", "data/ff/ff00"], "a delete is listed at once")
        try await requireFailure("get after delete", notFound: true) { _ = try await store.get("data/01/0123") }
    }

    static let invalidKeys: Check = { store in
        for key in ["", "/abs", "a//b", "../escape", "a/../b", "a/./b", ".hidden", "sp ace", "a\0b", "tr/"] {
            try await requireFailure("put of key \(key.debugDescription)") { try await store.put(key, data: Data([1])) }
            try await requireFailure("get of key \(key.debugDescription)") { _ = try await store.get(key) }
        }
    }

    static let concurrentPuts: Check = { store in
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask { try await store.put("data/\(i % 4)/obj\(i)", data: Data(repeating: UInt8(i), count: 100 + i)) }
            }
            try await group.waitForAll()
        }
        try require(try await store.list(prefix: "data/").count == 64, "every put listed")
        for i in 0..<64 {
            try require(try await store.get("data/\(i % 4)/obj\(i)") == Data(repeating: UInt8(i), count: 100 + i), "object \(i) intact")
        }
    }

    static let batchDelete: Check = { store in
        let keys = (0..<30).map { "data/\($0 % 3)/obj\($0)" }
        for key in keys { try await store.put(key, data: Data(key.utf8)) }
        try await store.put("keep", data: Data([1]))
        try await store.delete(Array(keys.prefix(20)) + ["missing/one"])
        try require(try await store.list(prefix: "").map(\.key) == (keys.suffix(10) + ["keep"]).sorted(), "exactly the batch is gone")
        try await store.delete([])
        try await requireFailure("a batch holding a bad key") { try await store.delete(["data/0/obj21", "../x"]) }
    }

    static let destroy: Check = { store in
        for key in ["config", "data/00/a", "keys/k"] { try await store.put(key, data: Data([1])) }
        try await store.destroy()
        try require(try await store.list(prefix: "").isEmpty, "nothing left after destroy")
        try await store.destroy()
        // The store is usable again afterwards (a repository made anew at the same place).
        try await store.put("config", data: Data([2]))
        try require(try await store.get("config") == Data([2]), "usable after destroy")
    }
}
