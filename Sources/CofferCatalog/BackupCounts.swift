import CofferModel
import Foundation
import SQLKit

/// Exact counts of backup listings, kept until the backups table changes.
/// Every write to `backups` raises its generation in `table_generations` in
/// the same transaction or after it commits (never before), so a count read
/// under a generation still seen afterwards is the count of those rows; any
/// process that writes moves every process's counts on. A listing reads one
/// small row instead of counting thousands of index entries: paging through
/// a resource's 10 000 backups counted them again for every page of 100
/// (3 ms of PostgreSQL's CPU each, half the cost of a page).
final class BackupCounts: @unchecked Sendable {
    struct Key: Hashable {
        let project: String?
        let filter: BackupFilter
    }

    private let lock = NSLock()
    private var generation: Int64 = -1
    private var counts: [Key: Int] = [:]
    /// Distinct listings remembered per generation; past it the oldest are forgotten all at once.
    static let capacity = 4096

    func count(_ key: Key, at generation: Int64) -> Int? {
        lock.withLock { generation == self.generation ? counts[key] : nil }
    }

    func remember(_ count: Int, for key: Key, at generation: Int64) {
        lock.withLock {
            if generation > self.generation {
                self.generation = generation
                counts = [:]
            }
            guard generation == self.generation else { return }  // a newer generation is already known
            if counts.count >= Self.capacity { counts = [:] }
            counts[key] = count
        }
    }

    /// The backups table's generation (read before counting).
    static func generation(on db: any SQLDatabase) async throws -> Int64? {
        try await db.raw("SELECT generation FROM table_generations WHERE name = 'backups'").first()?.decode(column: "generation", as: Int64.self)
    }

    /// Called by every write to `backups`: inside its transaction, or after it committed.
    static func backupsChanged(on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE table_generations SET generation = generation + 1 WHERE name = 'backups'").run()
    }
}
