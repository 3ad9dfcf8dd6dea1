// CofferRepository: the on-disk format (docs/format.md) over a BlobStore:
// packs, index, snapshots, trees, check, prune and verification.

import CofferBlobStore
import CofferCompression
import CofferCrypto
import CofferSystem
import Foundation

/// What the operator holds to open a repository.
public enum MasterSecret: Sendable {
    case passphrase(String)
    case keyFile([UInt8])

    var bytes: [UInt8] {
        switch self {
        case let .passphrase(p): return Array(p.utf8)
        case let .keyFile(b): return b
        }
    }

    func matches(_ kdf: KeyDerivation) -> Bool {
        switch (self, kdf) {
        case (.passphrase, .scrypt), (.keyFile, .keyFile): return true
        default: return false
        }
    }

    func newDerivation(cheap: Bool) -> KeyDerivation {
        switch self {
        case .passphrase: return cheap ? .scrypt(salt: randomBytes(16), n: 1 << 10, r: 8, p: 1) : .newScrypt()
        case .keyFile: return .newKeyFile()
        }
    }
}

/// Unencrypted, never rewritten. Its hash is sealed into every key file, so a
/// changed config is detected when the repository is opened.
public struct RepositoryConfig: Codable, Sendable, Equatable {
    public var version: Int
    public var id: String
    public var created: Date
    public var chunker: ChunkerSizes
    public var packSize: Int
    public var compressionLevel: Int32
    /// Version 2: the public half of the vault's X25519 writer key (base64), to which write-only sessions wrap their keys.
    public var writerKey: String?

    public struct ChunkerSizes: Codable, Sendable, Equatable {
        public var min: Int, average: Int, max: Int
        public init(min: Int, average: Int, max: Int) { self.min = min; self.average = average; self.max = max }
    }
}

struct KeyFileContents: Codable {
    var created: Date
    var hostname: String
    var kdf: KeyDerivation
    var wrapped: Data
}

public struct RepositoryOptions: Sendable {
    public var packSize: Int = 16 << 20
    public var compressionLevel: Int32 = 3
    public var chunker = RepositoryConfig.ChunkerSizes(min: 512 << 10, average: 1 << 20, max: 8 << 20)
    /// Tests only: a fast KDF so thousands of opens stay quick.
    public var cheapKDF = false
    public init() {}
}

public final class Repository: @unchecked Sendable {
    public let store: BlobStore
    public let config: RepositoryConfig
    public let keys: RepositoryKeys
    public let index = BlobIndex()
    /// Index files that could not be read when the index was loaded.
    public private(set) var damagedIndexFiles: [String] = []
    /// A write-only writer's session (`Repository.writer`): what this object writes is
    /// sealed with the session key (`keys.dataKey`) and tagged with this id.
    public let session: Hash256?
    /// A writer's question to the server: which of these blobs does the vault hold? Asked before each pack is stored.
    public let presence: (any BlobPresence)?
    /// A writer's own copy of the trees (and snapshot) it wrote last time: it cannot read them from the repository.
    public let stash: (any TreeStash)?
    let sessionLock = NSLock()
    var sessionKeys: [Hash256: RepositoryKeys] = [:]
    /// Where a blob's record is built and sealed in place: room for the nonce, the flag byte,
    /// the largest chunk stored uncompressed and the tag.
    let records: BufferPool
    /// Where records streamed from a remote store are put together (`RecordAssembler`): a few
    /// per pack read at once, stored payloads held until written.
    let streamedRecords: BufferPool

    init(store: BlobStore, config: RepositoryConfig, keys: RepositoryKeys, session: Hash256? = nil, presence: (any BlobPresence)? = nil,
         stash: (any TreeStash)? = nil) {
        self.stash = stash
        self.store = store
        self.config = config
        self.keys = keys
        self.session = session
        self.presence = presence
        // Records wait for the pack writer's byte budget, so a few more than one per core are out at once.
        records = BufferPool(bufferSize: config.chunker.max + 1 + Sealer.overhead, maxRetained: ProcessInfo.processInfo.activeProcessorCount + 2,
                             residentLimit: 1 << 20)
        streamedRecords = BufferPool(bufferSize: records.bufferSize, maxRetained: 16, residentLimit: 4 << 20)
    }

    // MARK: - Creating and opening

    public static func initialize(store: BlobStore, secret: MasterSecret, options: RepositoryOptions = RepositoryOptions()) async throws -> Repository {
        if (try? await store.head(ObjectKey.config)) != nil {
            throw RepositoryError(.alreadyExists, "a repository already exists at \(store.location)")
        }
        // Version 2: a writer key pair, so write-only writers (agents) can add to it.
        let keys = RepositoryKeys.generate(withWriterKey: true)
        let config = RepositoryConfig(version: 2, id: HexString.encode(randomBytes(16)), created: ModelCoding.storable(Date()),
                                      chunker: options.chunker, packSize: options.packSize, compressionLevel: options.compressionLevel,
                                      writerKey: keys.writerPublicKey.map { Data($0).base64EncodedString() })
        let configBytes = try ModelCoding.encoder().encode(config)
        // Key before config: a crash leaves no config, so nothing looks like a repository.
        try await addKey(store: store, config: config, configBytes: configBytes, keys: keys, secret: secret, cheapKDF: options.cheapKDF)
        try await store.put(ObjectKey.config, data: configBytes)
        return Repository(store: store, config: config, keys: keys)
    }

    public static func open(store: BlobStore, secret: MasterSecret) async throws -> Repository {
        // The key listing goes out with the config's read: on a remote store each is a round trip.
        async let listedKeys = store.list(prefix: "keys/")
        let configBytes: Data
        do {
            configBytes = try await store.get(ObjectKey.config)
        } catch let e as BlobStoreError where e.isNotFound {
            throw RepositoryError(.notARepository, "no repository at \(store.location) (object 'config' is missing)")
        }
        let config: RepositoryConfig
        do {
            config = try ModelCoding.decoder().decode(RepositoryConfig.self, from: configBytes)
        } catch {
            throw RepositoryError(.damaged, "object 'config' of \(store.location) is damaged: \(error)")
        }
        guard config.version == 1 || config.version == 2 else {
            throw RepositoryError(.unsupportedVersion, "repository format version \(config.version) is not supported (this build reads versions 1 and 2)")
        }
        let keyObjects = try await listedKeys
        if keyObjects.isEmpty { throw RepositoryError(.damaged, "repository at \(store.location) has no key files (keys/ is empty)") }
        var damaged: [String] = []
        for object in keyObjects {
            guard let data = try? await store.get(object.key),
                  let file = try? ModelCoding.decoder().decode(KeyFileContents.self, from: data) else {
                damaged.append(object.key); continue
            }
            guard secret.matches(file.kdf) else { continue }
            let master = try file.kdf.deriveMasterKey(secret: secret.bytes)
            guard let plain = try? Sealer.open(file.wrapped, key: master, context: Context.keyWrap(config.id), what: object.key) else { continue }
            guard let keys = RepositoryKeys(material: Array(plain.dropLast(32))), (keys.writerPrivateKey != nil) == (config.version == 2) else {
                throw RepositoryError(.damaged, "\(object.key): unwrapped key material has the wrong size")
            }
            if Hash256(bytes: plain.suffix(32)) != Hash256.sha256(configBytes) {
                throw RepositoryError(.damaged, "object 'config' of \(store.location) was modified after the repository was created")
            }
            return Repository(store: store, config: config, keys: keys)
        }
        let what: String
        switch secret {
        case .passphrase: what = "the given passphrase (COFFER_PASSWORD)"
        case .keyFile: what = "the given key file"
        }
        let extra = damaged.isEmpty ? "" : "; unreadable key files: \(damaged.joined(separator: ", "))"
        throw RepositoryError(.wrongKey, "wrong key: no key file in \(store.location)/keys opens with \(what)\(extra)")
    }

    @discardableResult
    static func addKey(store: BlobStore, config: RepositoryConfig, configBytes: Data, keys: RepositoryKeys, secret: MasterSecret, cheapKDF: Bool) async throws -> Hash256 {
        let kdf = secret.newDerivation(cheap: cheapKDF)
        let master = try kdf.deriveMasterKey(secret: secret.bytes)
        let material = keys.material + Hash256.sha256(configBytes).bytes
        let file = KeyFileContents(created: ModelCoding.storable(Date()), hostname: ProcessInfo.processInfo.hostName, kdf: kdf,
                                   wrapped: Sealer.seal(material, key: master, context: Context.keyWrap(config.id)))
        let data = try ModelCoding.encoder().encode(file)
        let id = Hash256.sha256(data)
        try await store.put(ObjectKey.key(id), data: data)
        return id
    }

    /// Adds another way to open this repository (a new passphrase or key file).
    @discardableResult
    public func addKey(_ secret: MasterSecret, cheapKDF: Bool = false) async throws -> Hash256 {
        let configBytes = try await store.get(ObjectKey.config)
        return try await Repository.addKey(store: store, config: config, configBytes: configBytes, keys: keys, secret: secret, cheapKDF: cheapKDF)
    }

    public struct KeyInfo: Sendable { public var id: Hash256; public var created: Date; public var hostname: String; public var kind: String }

    public func listKeys() async throws -> [KeyInfo] {
        var out: [KeyInfo] = []
        for object in try await store.list(prefix: "keys/") {
            guard let id = ObjectKey.id(of: object.key) else { continue }
            let data = try await store.get(object.key)
            guard let file = try? ModelCoding.decoder().decode(KeyFileContents.self, from: data) else {
                out.append(KeyInfo(id: id, created: object.modified, hostname: "?", kind: "damaged")); continue
            }
            let kind: String
            switch file.kdf { case .scrypt: kind = "passphrase"; case .keyFile: kind = "key-file" }
            out.append(KeyInfo(id: id, created: file.created, hostname: file.hostname, kind: kind))
        }
        return out
    }

    /// Removes a key file; refuses to remove the last one.
    public func removeKey(_ id: Hash256) async throws {
        let all = try await listKeys()
        guard all.contains(where: { $0.id == id }) else { throw RepositoryError(.missing, "key \(id.hex) not found") }
        guard all.count > 1 else { throw RepositoryError(.invalidArgument, "refusing to remove the last key: the repository would be unreadable") }
        try await store.delete(ObjectKey.key(id))
    }

    // MARK: - Index

    /// Loads every index file. Damaged ones are recorded (not fatal), and the
    /// packs they would have described are read directly so their blobs stay reachable.
    /// `only` keeps one type of blob (a listing needs trees only, a tenth of the
    /// entries of a tree of small files); such an index must not be used to write.
    public func loadIndex(only type: BlobType? = nil) async throws {
        var damaged: [String] = []
        var table = BlobIndex.Table()
        table.onlyType = type
        // Both listings at once: on a remote store each is a round trip.
        async let pendingDeletions = loadPendingDeletions()
        async let indexObjects = store.list(prefix: "index/")
        // Known first, so a blob also stored in a live pack is indexed there, whichever file comes first.
        table.setPendingDeletion(Set(try await pendingDeletions.flatMap(\.packs)))
        let objects = try await indexObjects
        // Reads run eight at a time; each file is decoded (which may unwrap a session key) and
        // added as it arrives, so only a few files' entries are ever held besides the index.
        try await forEachConcurrently(objects.map(\.key), { key in try? await self.store.get(key) }) { key, data in
            guard let data, let file = try? await decodeIndexFile(data, name: key, only: type) else {
                damaged.append(key)
                return
            }
            for p in file.packs { table.add(pack: p.pack, entries: p.entries, session: file.sessions[p.pack]) }
        }
        index.install(table)
        damagedIndexFiles = damaged
        if !damaged.isEmpty { try await recoverUnindexedPacks() }
    }

    /// Reads the headers of packs no loaded index file describes.
    @discardableResult
    public func recoverUnindexedPacks() async throws -> Int {
        var recovered = 0
        for object in try await store.list(prefix: ObjectKey.packPrefix) {
            guard let id = ObjectKey.id(of: object.key), !index.containsPack(id) else { continue }
            if let (entries, session) = try? await readPackHeaderAndSession(id, size: object.size) {
                index.add(pack: id, entries: entries, session: session)
                recovered += 1
            }
        }
        return recovered
    }

    /// Reads a pack's header with two ranged reads (trailer, then header).
    public func readPackHeader(_ pack: Hash256, size: Int? = nil) async throws -> [PackEntry] {
        try await readPackHeaderAndSession(pack, size: size).entries
    }

    func readPackHeaderAndSession(_ pack: Hash256, size: Int? = nil) async throws -> (entries: [PackEntry], session: Hash256?) {
        let key = ObjectKey.pack(pack)
        let total: Int
        if let size { total = size } else { total = try await store.head(key).size }
        guard total >= PackFormat.trailerSize else { throw RepositoryError(.damaged, "pack \(key): shorter than its trailer") }
        let tailSize = min(total, PackFormat.sessionTrailerSize)
        let trailer = try PackFormat.trailer(try await store.get(key, range: (total - tailSize)..<total), pack: key)
        guard trailer.headerLength + trailer.size <= total else { throw RepositoryError(.damaged, "pack \(key): header length beyond pack") }
        let end = total - trailer.size
        let sealed = try await store.get(key, range: (end - trailer.headerLength)..<end)
        return (try PackFormat.parseHeader(sealed: sealed, keys: try await keys(forSession: trailer.session), pack: key), trailer.session)
    }

    func loadPendingDeletions() async throws -> [PendingDeletion] {
        var out: [PendingDeletion] = []
        for object in try await store.list(prefix: "deletions/") {
            guard let id = ObjectKey.id(of: object.key) else { continue }
            let data = try await store.get(object.key)
            let plain = try openSealed(data, keys: keys, context: Context.deletion, what: object.key)
            var record = try ModelCoding.decoder().decode(PendingDeletion.self, from: plain)
            record.id = id
            out.append(record)
        }
        return out
    }

    // MARK: - Blobs

    /// Seals one blob: compress when it helps, then encrypt bound to its id.
    public func seal(_ plaintext: Data, type: BlobType, id: Hash256) -> Data {
        Data(sealBlob(plaintext, type: type, id: id).bytes)
    }

    /// `seal` into a pooled buffer: the record (nonce || AES-GCM of flag and payload || tag) is
    /// built, compressed into and encrypted in one place, and copied once, into the pack.
    public func sealBlob(_ plaintext: Data, type: BlobType, id: Hash256) -> SealedBlob {
        let needed = plaintext.count + 1 + Sealer.overhead
        let sealed = needed <= records.bufferSize ? SealedBlob(pool: records) : SealedBlob(ownBuffer: needed)
        let record = UnsafeMutableRawBufferPointer(start: sealed.base, count: needed)
        let bodyStart = Sealer.nonceSize + 1
        let length: Int = plaintext.withUnsafeBytes { input in
            let body = UnsafeMutableRawBufferPointer(rebasing: record[bodyStart..<(bodyStart + input.count)])
            if let packed = Zstd.compress(input, into: body, level: config.compressionLevel) {
                record[Sealer.nonceSize] = 1
                return packed
            }
            record[Sealer.nonceSize] = 0
            if let from = input.baseAddress { body.baseAddress!.copyMemory(from: from, byteCount: input.count) }
            return input.count
        }
        sealed.count = Sealer.sealInPlace(record, plaintextCount: 1 + length, key: keys.dataKey, context: Context.blob(type, id))
        return sealed
    }

    /// Decrypts and decompresses one stored blob record.
    public func unseal(_ record: Data, entry: PackEntry, pack: Hash256) throws -> Data {
        try unseal(record, entry: entry, keys: try loadedKeys(forSession: index.session(ofPack: pack)), what: "blob \(entry.id.short) in pack \(pack.short)")
    }

    func unseal(_ record: Data, entry: PackEntry, keys: RepositoryKeys, what: @autoclosure () -> String = "") throws -> Data {
        func label() -> String { let w = what(); return w.isEmpty ? "blob \(entry.id.short)" : w }
        var copy = record  // opened in a copy: the caller's bytes stay sealed
        let opened = try openBlob(in: &copy, at: copy.startIndex..<copy.endIndex, entry: entry, keys: keys, what: label())
        return try plaintext(of: opened, in: copy, what: label())
    }

    /// Where a blob opened in place lies in its buffer, and how it was stored.
    struct OpenedBlob {
        let entry: PackEntry
        /// The payload after the compression flag, in the buffer's indices.
        let payload: Range<Int>
        let compressed: Bool
    }

    /// Opens the record at `range` of `buffer` where it lies (AES-GCM in place: no copy of the
    /// ciphertext, no new memory for the plaintext) and checks its compression flag. The rest of
    /// `buffer` is untouched. Open every record of a buffer before taking plaintexts from it: a
    /// stored payload is handed out as a slice, and a later open in place would then copy the buffer.
    func openBlob(in buffer: inout Data, at range: Range<Int>, entry: PackEntry, keys: RepositoryKeys,
                  what: @autoclosure () -> String) throws -> OpenedBlob {
        let relative = (range.lowerBound - buffer.startIndex)..<(range.upperBound - buffer.startIndex)
        let context = Context.blob(entry.type, entry.id)
        let opened: Result<Int, CryptoError> = buffer.withUnsafeMutableBytes { all in
            let record = UnsafeMutableRawBufferPointer(rebasing: all[relative])
            // The label is made only for an error: a restore opens tens of thousands of records.
            do { return .success(try Sealer.openInPlace(record, key: keys.dataKey, context: context, what: "")) } catch let e as CryptoError {
                return .failure(e)
            } catch { return .failure(CryptoError.malformed("")) }
        }
        let count: Int
        switch opened {
        case .success(let n): count = n
        case .failure(let e): throw RepositoryError(.damaged, "\(what())\(e.description)")
        }
        guard count > 0 else { throw RepositoryError(.damaged, "\(what()): empty payload") }
        let flagAt = range.lowerBound + Sealer.nonceSize
        let payload = (flagAt + 1)..<(flagAt + count)
        switch buffer[flagAt] {
        case 0:
            guard payload.count == Int(entry.rawLength) else { throw RepositoryError(.damaged, "\(what()): length mismatch") }
            return OpenedBlob(entry: entry, payload: payload, compressed: false)
        case 1:
            return OpenedBlob(entry: entry, payload: payload, compressed: true)
        case let flag:
            throw RepositoryError(.damaged, "\(what()): unknown compression flag \(flag)")
        }
    }

    /// The plaintext of a blob `openBlob` opened in `buffer`: a stored payload is a slice of it.
    func plaintext(of opened: OpenedBlob, in buffer: Data, what: @autoclosure () -> String) throws -> Data {
        guard opened.compressed else { return buffer[opened.payload] }
        do {
            return try buffer.withUnsafeBytes { all in
                let start = opened.payload.lowerBound - buffer.startIndex
                return try Zstd.decompress(UnsafeRawBufferPointer(rebasing: all[start..<(start + opened.payload.count)]),
                                           expectedSize: Int(opened.entry.rawLength))
            }
        } catch {
            throw RepositoryError(.damaged, "\(what()): \(error)")
        }
    }

    public func loadBlob(_ id: Hash256, type: BlobType) async throws -> Data {
        if type == .tree, let stash, let plain = stash.tree(id), keys.blobID(plain) == id { return plain }
        guard let location = index.lookup(id) else {
            let partial = index.onlyType.map { $0 != type ? " (this index was loaded for \($0 == .tree ? "tree" : "data") blobs only)" : "" } ?? ""
            throw RepositoryError(.missing, "\(type == .tree ? "tree" : "data") blob \(id.hex) is not in the index\(partial)")
        }
        let key = ObjectKey.pack(location.pack)
        let range = Int(location.entry.offset)..<(Int(location.entry.offset) + Int(location.entry.length))
        let cache = type == .tree ? store as? CachingBlobStore : nil
        if let cache, let cached = await cache.cachedTree(id), cached.count == range.count,
           let plain = try? unseal(cached, entry: location.entry, pack: location.pack) {
            return plain
        }
        let record: Data
        do {
            record = try await store.get(key, range: range)
        } catch let e as BlobStoreError where e.isNotFound {
            throw RepositoryError(.missing, "pack \(key) holding blob \(id.short) is missing")
        }
        guard record.count == range.count else { throw RepositoryError(.damaged, "pack \(key) is truncated (blob \(id.short))") }
        let plain = try unseal(record, entry: location.entry, pack: location.pack)
        await cache?.cacheTree(id, sealed: record)
        return plain
    }

    public func loadTree(_ id: Hash256) async throws -> Tree {
        let data = try await loadBlob(id, type: .tree)
        return try TreeCodec.decode(data, what: "tree \(id.short)")
    }

    // MARK: - Snapshots

    public func saveSnapshot(_ snapshot: Snapshot) async throws -> Hash256 {
        let sealed = SessionTag.mark(Sealer.seal(try ModelCoding.encoder().encode(snapshot), key: keys.dataKey, context: Context.snapshot),
                                     tag: SessionTag.snapshot, session: session)
        let id = Hash256.sha256(sealed)
        try await store.put(ObjectKey.snapshot(id), data: sealed)
        stash?.keep(snapshot: snapshot, id: id)
        return id
    }

    public func loadSnapshot(_ id: Hash256) async throws -> Snapshot {
        if let stash, let kept = stash.snapshot(id) { return kept }
        let key = ObjectKey.snapshot(id)
        let data: Data
        do { data = try await store.get(key) } catch let e as BlobStoreError where e.isNotFound {
            throw RepositoryError(.missing, "snapshot \(id.hex) not found")
        }
        guard Hash256.sha256(data) == id else { throw RepositoryError(.damaged, "snapshot object \(key) is damaged (hash mismatch)") }
        return try await decodeSnapshot(data, key: key)
    }

    func decodeSnapshot(_ data: Data, key: String) async throws -> Snapshot {
        let (session, body) = SessionTag.split(data, tag: SessionTag.snapshot)
        let keys = try await keys(forSession: session)
        do {
            let plain = try Sealer.open(body, key: keys.dataKey, context: Context.snapshot, what: key)
            return try ModelCoding.decoder().decode(Snapshot.self, from: plain)
        } catch {
            throw RepositoryError(.damaged, "snapshot object \(key) is damaged: \(error)")
        }
    }

    public func snapshotIDs() async throws -> [Hash256] {
        try await store.list(prefix: "snapshots/").compactMap { ObjectKey.id(of: $0.key) }
    }

    /// All readable snapshots, oldest first, and the keys of unreadable ones.
    public func listSnapshots() async throws -> (snapshots: [(Hash256, Snapshot)], damaged: [String]) {
        var good: [(Hash256, Snapshot)] = []
        var bad: [String] = []
        // Eight reads at a time: a vault backed up daily for years holds thousands of snapshots.
        try await forEachConcurrently(try await snapshotIDs(), { id -> Result<Snapshot, Error> in
            do { return .success(try await self.loadSnapshot(id)) } catch { return .failure(error) }
        }) { id, loaded in
            switch loaded {
            case let .success(snapshot): good.append((id, snapshot))
            case let .failure(error): bad.append("\(error)")
            }
        }
        good.sort { ($0.1.time, $0.0) < ($1.1.time, $1.0) }
        return (good, bad)
    }

    /// Resolves a full id, a unique prefix, or "latest".
    public func resolveSnapshot(_ text: String) async throws -> Hash256 {
        if text == "latest" {
            let all = try await listSnapshots().snapshots
            guard let last = all.last else { throw RepositoryError(.missing, "the repository has no snapshots") }
            return last.0
        }
        guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            throw RepositoryError(.invalidArgument, "snapshot id '\(text)' is not hex (give an id, a unique prefix of one, or 'latest')")
        }
        let matches = try await snapshotIDs().filter { $0.hex.hasPrefix(text) }
        guard let first = matches.first else { throw RepositoryError(.missing, "no snapshot with id \(text)") }
        guard matches.count == 1 else { throw RepositoryError(.invalidArgument, "snapshot id prefix \(text) is ambiguous (\(matches.count) matches)") }
        return first
    }

    /// What the repository stores: its packs and their bytes (what a vault "uses").
    public func statistics() async throws -> RepositoryStatistics {
        let packs = try await store.list(prefix: ObjectKey.packPrefix)
        return RepositoryStatistics(packs: packs.count, packBytes: packs.reduce(0) { $0 + Int64($1.size) })
    }

    public func deleteSnapshot(_ id: Hash256) async throws {
        try await store.delete(ObjectKey.snapshot(id))
    }
}

/// Packs that prune has found unused and will delete once the grace period
/// has passed (two-phase deletion; docs/repository-format.md).
public struct PendingDeletion: Codable, Sendable {
    public var id: Hash256?
    public var created: Date
    public var packs: [Hash256]

    enum CodingKeys: String, CodingKey { case created, packs }
}

public struct RepositoryStatistics: Sendable, Equatable {
    public var packs: Int
    public var packBytes: Int64
}

/// A sealed blob record in a buffer of its own (from the repository's pool, given back when
/// this is released).
public final class SealedBlob: @unchecked Sendable {
    private let pool: BufferPool?
    let base: UnsafeMutableRawPointer
    public internal(set) var count = 0
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    init(pool: BufferPool) {
        self.pool = pool
        base = pool.take()
    }

    init(ownBuffer size: Int) {
        pool = nil
        base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    }

    deinit {
        if let pool { pool.give(base, used: count) } else { base.deallocate() }
    }
}
