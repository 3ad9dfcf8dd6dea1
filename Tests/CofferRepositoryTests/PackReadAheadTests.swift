import CofferCrypto
import Foundation
import Testing
@testable import CofferRepository

/// Pack windows for remote stores: exact bytes for any range (across window
/// boundaries and at the pack's end), each window fetched once while kept,
/// concurrent misses sharing a request, memory bounded by the kept count.
@Suite struct PackReadAheadWindows {
    final class Fetches: @unchecked Sendable {
        let lock = NSLock()
        var ranges: [Range<Int>] = []
        func note(_ r: Range<Int>) { lock.withLock { ranges.append(r) } }
        var count: Int { lock.withLock { ranges.count } }
    }

    @Test func rangesAcrossWindowsAreExactAndEachWindowIsFetchedOnce() async throws {
        let pack = Data((0..<95).map { UInt8($0) })
        let id = Hash256.sha256(pack)
        let fetches = Fetches()
        let fetch: @Sendable (Range<Int>) async throws -> Data = { r in
            fetches.note(r)
            return pack.subdata(in: r.lowerBound..<min(r.upperBound, pack.count))
        }
        let reader = PackReadAhead(windowSize: 10, windows: 16)
        for r in [3..<7, 8..<14, 0..<10, 18..<41, 90..<95, 85..<95, 40..<41] {
            #expect(try await reader.read(pack: id, range: r, fetch: fetch) == pack.subdata(in: r), "\(r)")
        }
        #expect(fetches.ranges.map(\.lowerBound).sorted() == [0, 10, 20, 30, 40, 80, 90], "\(fetches.ranges)")
        #expect(fetches.ranges.allSatisfy { $0.count == 10 })

        // Concurrent misses of one window: one request.
        let before = fetches.count
        let other = Hash256.sha256(Data([1]))
        try await withThrowingTaskGroup(of: Data.self) { group in
            for i in 0..<8 { group.addTask { try await reader.read(pack: other, range: i..<(i + 2), fetch: fetch) } }
            for try await _ in group {}
        }
        #expect(fetches.count - before == 1)

        // Only `windows` are kept: the oldest is fetched again.
        let small = PackReadAhead(windowSize: 10, windows: 2)
        let start = fetches.count
        for r in [0..<5, 10..<15, 20..<25, 0..<5] { _ = try await small.read(pack: id, range: r, fetch: fetch) }
        #expect(fetches.count - start == 4)
    }
}
