import CofferBlobStore
import CofferCrypto
import Foundation
import Testing
@testable import CofferEngine
@testable import CofferRepository

/// What a write-only writer reaches: the server's intake (`acceptFromWriter`),
/// which only adds objects; it lists and reads nothing.
final class IntakeStore: BlobStore, @unchecked Sendable {
    let server: Repository
    let session: Hash256
    init(server: Repository, session: Hash256) { self.server = server; self.session = session }
    var location: String { "intake" }
    var isRemote: Bool { false }

    func put(_ key: String, data: Data) async throws {
        let parts = key.split(separator: "/").map(String.init)
        guard let kind = Repository.WriterObject(rawValue: parts[0]), let name = parts.last else { throw BlobStoreError.unsupported("\(key)") }
        try await server.acceptFromWriter(kind, name: name, data: data, session: session)
    }
    func get(_ key: String, range: Range<Int>?) async throws -> Data { throw BlobStoreError.notFound(key) }
    func head(_ key: String) async throws -> BlobInfo { throw BlobStoreError.notFound(key) }
    func list(prefix: String) async throws -> [BlobInfo] { [] }
    func delete(_ key: String) async throws { throw BlobStoreError.unsupported("a writer deletes nothing") }
}

struct IndexPresence: BlobPresence {
    let server: Repository
    func held(_ ids: [Hash256]) async throws -> Set<Hash256> { Set(ids.filter { server.index.hasLive($0) }) }
}

/// Format version 2 (docs/repository-format.md): a writer session seals with
/// its own key, so what it writes is readable by the vault's keys and nothing
/// else is readable by it; the intake takes only the session's own, well-formed objects.
@Suite struct WriteOnlySessions {
    func writer(_ server: Repository, store: BlobStore? = nil) async throws -> (Repository, WriterGrant) {
        let grant = try await server.openWriterSession()
        return (try Repository.writer(store: store ?? IntakeStore(server: server, session: grant.session), grant: grant, presence: IndexPresence(server: server)), grant)
    }

    @Test func aWriterBacksUpWhatTheVaultReadsAndReadsNothingElse() async throws {
        let memory = MemoryBlobStore()
        let server = try await newRepository(memory)
        #expect(server.config.version == 2 && server.config.writerKey != nil)
        let own = TempDir("own"), host = TempDir("host")
        makeSampleTree(own.path)
        write(host.sub("db/table.bin"), deterministicBytes(2_500_000, seed: 7))
        write(host.sub("notes.txt"), Data("agent side\n".utf8))
        let earlier = try await Archiver(repository: server).backup(path: own.path)

        let (agent, grant) = try await writer(server)
        var options = BackupOptions()
        options.parent = .none
        let made = try await Archiver(repository: agent).backup(path: host.path, options: options)
        #expect(made.summary.blobsAdded > 0)

        // The vault's keys read it all (a fresh open: sessions unwrapped from the store).
        let reader = try await reopen(server)
        try await reader.loadIndex()
        #expect(reader.damagedIndexFiles.isEmpty)
        let dst = TempDir("dst")
        let restored = try await Restorer(repository: reader).restore(snapshot: made.snapshotID, target: dst.path)
        #expect(restored.errors.isEmpty)
        #expect(inventory(dst.path) == inventory(host.path))
        let check = try await Checker(repository: reader).run(readData: true)
        #expect(check.ok, "\(check.errors)")

        // The writer's keys, even given the whole store to read, open nothing it did not write.
        let peeking = try Repository.writer(store: memory, grant: grant, presence: nil)
        await #expect(throws: (any Error).self) { try await peeking.loadSnapshot(earlier.snapshotID) }
        try await peeking.loadIndex()
        #expect(!peeking.damagedIndexFiles.isEmpty)
        await #expect(throws: (any Error).self) { try await peeking.loadTree(earlier.snapshot.tree) }
        let other = try await server.openWriterSession()
        await #expect(throws: (any Error).self) { try await peeking.keys(forSession: other.session) }
        #expect(peeking.keys.writerPrivateKey == nil)

        // A second session of the same data stores no pack: the server says every blob is held.
        try await server.loadIndex()
        let packsBefore = try await memory.list(prefix: "data/").count
        let (again, _) = try await writer(server)
        let second = try await Archiver(repository: again).backup(path: host.path, options: options)
        #expect(second.summary.bytesAdded == 0 && second.summary.blobsAdded == 0)
        #expect(try await memory.list(prefix: "data/").count == packsBefore)

        // Prune (dropping the server's own snapshot) keeps the sessions' packs readable.
        try await server.deleteSnapshot(earlier.snapshotID)
        var prune = PruneOptions()
        prune.grace = 0
        _ = try await Pruner(repository: try await reopen(server)).run(prune)
        let afterPrune = try await reopen(server)
        try await afterPrune.loadIndex()
        let dst2 = TempDir("dst2")
        #expect(try await Restorer(repository: afterPrune).restore(snapshot: second.snapshotID, target: dst2.path).errors.isEmpty)
        #expect(inventory(dst2.path) == inventory(host.path))
        #expect(try await Checker(repository: afterPrune).run(readData: true).ok)
    }

    /// A pack mixing blobs the vault holds (from another session) with new ones keeps only the new ones,
    /// moved down in the same buffer; what is stored reads back whole.
    @Test func heldBlobsAreDroppedFromAMixedPack() async throws {
        let memory = MemoryBlobStore()
        let server = try await newRepository(memory)
        let host = TempDir("host")
        for i in 0..<6 { write(host.sub("old-\(i).bin"), deterministicBytes(40_000 + i * 1_000, seed: UInt64(20 + i))) }
        var options = BackupOptions()
        options.parent = .none
        let (first, _) = try await writer(server)
        _ = try await Archiver(repository: first).backup(path: host.path, options: options)
        // New files between and after the old ones; the second session's only pack holds both kinds.
        for i in 0..<6 { write(host.sub("new-\(i).bin"), deterministicBytes(30_000 + i * 1_000, seed: UInt64(40 + i))) }
        try await server.loadIndex()
        let (second, _) = try await writer(server)
        let made = try await Archiver(repository: second).backup(path: host.path, options: options)
        #expect(made.summary.blobsAdded >= 6 && made.summary.bytesAdded > 0 && made.summary.bytesAdded < 400_000, "\(made.summary)")
        let reader = try await reopen(server)
        try await reader.loadIndex()
        let dst = TempDir("dst")
        #expect(try await Restorer(repository: reader).restore(snapshot: made.snapshotID, target: dst.path).errors.isEmpty)
        #expect(inventory(dst.path) == inventory(host.path))
        let check = try await Checker(repository: reader).run(readData: true)
        #expect(check.ok && check.warnings.isEmpty, "\(check.errors) \(check.warnings)")
    }

    /// An interrupted writer leaves packs no index names: a full check reads them under their own session's key.
    @Test func anInterruptedSessionsPacksCheckCleanUnderTheirOwnSession() async throws {
        final class PacksOnly: BlobStore, @unchecked Sendable {
            let intake: IntakeStore
            init(_ intake: IntakeStore) { self.intake = intake }
            var location: String { "packs-only" }
            var isRemote: Bool { false }
            func put(_ key: String, data: Data) async throws {
                guard key.hasPrefix("data/") else { throw BlobStoreError.transient(key, "the writer died") }
                try await intake.put(key, data: data)
            }
            func get(_ key: String, range: Range<Int>?) async throws -> Data { throw BlobStoreError.notFound(key) }
            func head(_ key: String) async throws -> BlobInfo { throw BlobStoreError.notFound(key) }
            func list(prefix: String) async throws -> [BlobInfo] { [] }
            func delete(_ key: String) async throws { throw BlobStoreError.unsupported("a writer deletes nothing") }
        }
        let memory = MemoryBlobStore()
        let server = try await newRepository(memory)
        let host = TempDir("host")
        write(host.sub("big.bin"), deterministicBytes(3_000_000, seed: 11))
        let grant = try await server.openWriterSession()
        let writer = try Repository.writer(store: PacksOnly(IntakeStore(server: server, session: grant.session)), grant: grant, presence: IndexPresence(server: server))
        await #expect(throws: (any Error).self) { try await Archiver(repository: writer).backup(path: host.path) }
        let left = try await memory.list(prefix: "data/")
        #expect(!left.isEmpty, "the interrupted session left packs")

        let reader = try await reopen(server)
        try await reader.loadIndex()
        let check = try await Checker(repository: reader).run(readData: true)
        #expect(check.ok && check.blobsChecked > 0, "\(check.errors)")
        #expect(check.warnings.filter { $0.contains("not in any index") }.count == left.count, "\(check.warnings)")

        // ...and still finds damage in them.
        let key = left[0].key
        var bytes = try await memory.get(key)
        bytes[bytes.startIndex + 40] ^= 0xFF
        try await memory.put(key, data: bytes)
        let again = try await reopen(server)
        try await again.loadIndex()
        let damaged = try await Checker(repository: again).run(readData: true)
        #expect(!damaged.ok && damaged.errors.contains { $0.contains(String(key.suffix(64).prefix(8))) }, "\(damaged.errors)")
    }

    @Test func theIntakeTakesOnlyTheSessionsOwnWellFormedNewObjects() async throws {
        let memory = MemoryBlobStore()
        let server = try await newRepository(memory)
        let a = try await server.openWriterSession(), b = try await server.openWriterSession()
        let aKeys = RepositoryKeys(writerIDKey: a.idKey, chunkerSeed: a.chunkerSeed, sessionKey: a.sessionKey)
        func pack(_ blobs: [(Data, Hash256)], session: Hash256, keys: RepositoryKeys) -> Data {
            let sealer = Repository(store: memory, config: server.config, keys: keys, session: session)
            var body = Data(), entries: [PackEntry] = []
            for (plain, id) in blobs {
                let sealed = sealer.seal(plain, type: .data, id: id)
                entries.append(PackEntry(type: .data, id: id, offset: UInt32(body.count), length: UInt32(sealed.count), rawLength: UInt32(plain.count)))
                body.append(sealed)
            }
            return body + PackFormat.header(entries, keys: keys, session: session)
        }
        let content = Data("the content".utf8)
        let good = pack([(content, aKeys.blobID(content))], session: a.session, keys: aKeys)
        let name = Hash256.sha256(good).hex
        try await server.acceptFromWriter(.pack, name: name, data: good, session: a.session)
        // Again (a retry) is fine and changes nothing; another session may not send it.
        try await server.acceptFromWriter(.pack, name: name, data: good, session: a.session)
        await #expect(throws: RepositoryError.self) { try await server.acceptFromWriter(.pack, name: name, data: good, session: b.session) }
        // A name that is not the content's hash, and bytes stored under another content's id (poisoning dedup).
        await #expect(throws: RepositoryError.self) { try await server.acceptFromWriter(.pack, name: String(repeating: "ab", count: 32), data: good, session: a.session) }
        let poisoned = pack([(Data("evil".utf8), aKeys.blobID(Data("innocent".utf8)))], session: a.session, keys: aKeys)
        await #expect(throws: RepositoryError.self) { try await server.acceptFromWriter(.pack, name: Hash256.sha256(poisoned).hex, data: poisoned, session: a.session) }
        // Sealed by the data key (a v1 pack) is not the session's.
        let v1 = pack([(content, aKeys.blobID(content))], session: a.session, keys: server.keys)
        await #expect(throws: (any Error).self) { try await server.acceptFromWriter(.pack, name: Hash256.sha256(v1).hex, data: v1, session: a.session) }
        // An index file naming a pack that is not stored, or with other entries than its header.
        let writerA = try Repository.writer(store: memory, grant: a, presence: nil)
        let missing = writerA.encodeIndexFile(IndexFile(packs: [(Hash256.sha256(Data("x".utf8)), [])]))
        await #expect(throws: RepositoryError.self) { try await server.acceptFromWriter(.index, name: Hash256.sha256(missing).hex, data: missing, session: a.session) }
        let wrong = writerA.encodeIndexFile(IndexFile(packs: [(Hash256(hex: name)!, [])]))
        await #expect(throws: RepositoryError.self) { try await server.acceptFromWriter(.index, name: Hash256.sha256(wrong).hex, data: wrong, session: a.session) }
        let right = writerA.encodeIndexFile(IndexFile(packs: [(Hash256(hex: name)!, try await server.readPackHeader(Hash256(hex: name)!))]))
        try await server.acceptFromWriter(.index, name: Hash256.sha256(right).hex, data: right, session: a.session)
        await #expect(throws: RepositoryError.self) { try await server.acceptFromWriter(.index, name: Hash256.sha256(right).hex, data: right, session: b.session) }
        // Garbage as a snapshot.
        let junk = Data("CFS2".utf8) + Data(a.session.bytes) + Data(repeating: 7, count: 64)
        await #expect(throws: (any Error).self) { try await server.acceptFromWriter(.snapshot, name: Hash256.sha256(junk).hex, data: junk, session: a.session) }
        #expect(try await memory.list(prefix: "snapshots/").isEmpty)
        #expect(try await memory.list(prefix: "data/").count == 1)
    }
}
