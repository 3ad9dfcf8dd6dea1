import CofferCrypto
import Foundation

// The narrow views of a repository the engine works through: the restorer
// only reads snapshots, trees and blobs; the archiver also saves blobs
// (deduplicated, sealed, packed) and snapshots. Neither sees the blob store,
// the key files or the index files, so a repository that lives elsewhere
// (an agent's upload endpoint) can stand behind the same engine.

/// What the restorer reads.
public protocol SnapshotSource: AnyObject, Sendable {
    /// Blob ids are keyed hashes: a restore compares existing bytes by id.
    var keys: RepositoryKeys { get }
    /// Loads the index unless it is loaded.
    func prepareIndex() async throws
    /// Index files that could not be read (their packs were read directly).
    var damagedIndexFiles: [String] { get }
    func loadSnapshot(_ id: Hash256) async throws -> Snapshot
    func loadTree(_ id: Hash256) async throws -> Tree
    func loadBlob(_ id: Hash256, type: BlobType) async throws -> Data
    /// Where a blob is stored, from the index.
    func locate(_ id: Hash256) -> (pack: Hash256, entry: PackEntry)?
    /// Many blobs of one pack in as few reads as the store wants (`Repository.readBlobs`).
    func readBlobs(pack: Hash256, entries: [PackEntry], _ body: (PackEntry, Result<Data, Error>) async throws -> Void) async throws
    /// How many packs a restore should read at once (`PackSpans.readsAtOnce`).
    var packReadsAtOnce: Int { get }
}

/// What the archiver writes through.
public protocol SnapshotSink: SnapshotSource {
    var config: RepositoryConfig { get }
    func listSnapshots() async throws -> (snapshots: [(Hash256, Snapshot)], damaged: [String])
    /// Whether a blob is stored (or being packed), so it is not stored twice.
    func contains(blob: Hash256) -> Bool
    /// A writer that seals and packs blobs into this repository.
    func makePackWriter() -> PackWriter
    func sealBlob(_ plaintext: Data, type: BlobType, id: Hash256) -> SealedBlob
    func saveSnapshot(_ snapshot: Snapshot) async throws -> Hash256
}

extension Repository: SnapshotSink {
    public func prepareIndex() async throws {
        // A writer has no index to load (it reads nothing back); what it was told is held stays in `index`.
        if session == nil && index.packCount == 0 { try await loadIndex() }
    }

    public func contains(blob: Hash256) -> Bool { index.contains(blob) }

    public func locate(_ id: Hash256) -> (pack: Hash256, entry: PackEntry)? { index.lookup(id) }

    public func makePackWriter() -> PackWriter { PackWriter(repository: self) }
}
