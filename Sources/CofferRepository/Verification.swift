import CofferBlobStore
import CofferCrypto
import Foundation

/// One run of data verification: the packs it read in full and when, and
/// which of them were damaged. Appended as `verified/<sha256 of file>`
/// (sealed), never changed: the history of what was checked, from which a
/// rotating check picks the packs verified longest ago.
public struct VerificationRecord: Codable, Sendable, Equatable {
    public var time: Date
    public var packs: [Hash256]
    public var damaged: [Hash256]
    /// A rotating check (`next/T`): T, and which of the rotation's T runs this was (1...T).
    public var rotation: Int?
    public var run: Int?

    public init(time: Date, packs: [Hash256], damaged: [Hash256], rotation: Int? = nil, run: Int? = nil) {
        self.time = time
        self.packs = packs
        self.damaged = damaged
        self.rotation = rotation
        self.run = run
    }
}

/// The packs one check run reads, and its place in a rotation.
struct DataSelection {
    var packs: [Hash256]
    var rotation: Int?
    var run: Int?
}

/// Which packs a data check reads.
public enum DataSubset: Sendable, Equatable, CustomStringConvertible {
    /// Every pack.
    case all
    /// Group `n` (1...`count`) of the packs split by id: the same packs every time.
    case group(Int, of: Int)
    /// The next run of a rotation of `count` runs: each run reads its share of
    /// the packs not yet read in this rotation (oldest-verified first, never
    /// verified before all), so `count` consecutive runs read every pack once;
    /// what a run cut short (`--max-duration`) leaves is read by the next.
    case next(of: Int)

    /// `N/T` or `next/T` (T from 1 to 10 000).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Int(parts[1]), (1...10_000).contains(count) else { return nil }
        if parts[0] == "next" { self = .next(of: count); return }
        guard let n = Int(parts[0]), (1...count).contains(n) else { return nil }
        self = .group(n, of: count)
    }

    public var description: String {
        switch self {
        case .all: return "all packs"
        case let .group(n, count): return "group \(n)/\(count)"
        case let .next(count): return "next/\(count) (the packs verified longest ago)"
        }
    }

    /// The packs to read, in reading order, given the verification history (oldest first).
    func select(_ packs: [Hash256], history: [VerificationRecord]) -> DataSelection {
        switch self {
        case .all:
            return DataSelection(packs: packs.sorted())
        case let .group(n, count):
            return DataSelection(packs: packs.filter { Int($0.a % UInt64(count)) == n - 1 }.sorted())
        case let .next(count):
            // Where the rotation stands: after the newest record of a next/count run, unless that one ended a rotation.
            let rotation = history.filter { $0.rotation == count }
            var run = 1
            var roundStart = Date.distantFuture
            if let last = rotation.last, let lastRun = last.run, lastRun < count {
                run = lastRun + 1
                // The rotation began with its run 1 (the newest such record).
                roundStart = rotation.last { $0.run == 1 }?.time ?? .distantPast
            }
            var lastVerified: [Hash256: Date] = [:]
            for record in history { for pack in record.packs { lastVerified[pack] = max(lastVerified[pack] ?? .distantPast, record.time) } }
            let due = packs.filter { (lastVerified[$0] ?? .distantPast) < roundStart }
                .sorted { (lastVerified[$0] ?? .distantPast, $0) < (lastVerified[$1] ?? .distantPast, $1) }
            let runsLeft = count - run + 1
            let share = (due.count + runsLeft - 1) / runsLeft
            return DataSelection(packs: Array(due.prefix(share)), rotation: count, run: run)
        }
    }
}

extension Repository {
    public func saveVerification(_ record: VerificationRecord) async throws {
        let sealed = Sealer.seal(try ModelCoding.encoder().encode(record), key: keys.dataKey, context: Context.verification)
        try await store.put(ObjectKey.verification(Hash256.sha256(sealed)), data: sealed)
    }

    /// Every readable verification record, oldest first; damaged ones are skipped
    /// (the worst they cost is a pack verified again early).
    public func verificationRecords() async throws -> [VerificationRecord] {
        var out: [VerificationRecord] = []
        for object in try await store.list(prefix: "verified/") {
            guard let data = try? await store.get(object.key), let id = ObjectKey.id(of: object.key), Hash256.sha256(data) == id,
                  let plain = try? Sealer.open(data, key: keys.dataKey, context: Context.verification, what: object.key),
                  let record = try? ModelCoding.decoder().decode(VerificationRecord.self, from: plain) else { continue }
            out.append(record)
        }
        return out.sorted { $0.time < $1.time }
    }

}
