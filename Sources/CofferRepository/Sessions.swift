import CofferBlobStore
import CofferCrypto
import Foundation

// Format version 2: write-only writers (docs/repository-format.md). The
// server opens a session for each backup a writer (an agent) makes: a random
// key wrapped to the vault's X25519 writer key and stored as
// `sessions/<sha256>`. The writer seals everything with that key and tags
// what it writes with the session's id; a reader with the writer's private
// key (the server, or `coffer repo` with the master secret) unwraps the
// session key once and reads as in version 1. The writer holds no key that
// opens another session's objects.

/// A writer's question to the server: which of these blobs does the vault
/// already hold? Asked before each pack is stored, so only new blobs go up.
public protocol BlobPresence: Sendable {
    func held(_ ids: [Hash256]) async throws -> Set<Hash256>
}

/// Where a writer keeps the plaintext trees and snapshot it writes (names,
/// sizes, times and blob ids; no file contents), so its next backup can skip
/// unchanged files without reading anything back from the repository.
public protocol TreeStash: Sendable {
    func tree(_ id: Hash256) -> Data?
    func snapshot(_ id: Hash256) -> Snapshot?
    func keep(tree id: Hash256, plaintext: Data)
    func keep(snapshot: Snapshot, id: Hash256)
}

/// What a write-only writer is given for one backup.
public struct WriterGrant: Sendable, Equatable {
    public var config: RepositoryConfig
    public var idKey: [UInt8]
    public var chunkerSeed: UInt64
    public var session: Hash256
    public var sessionKey: [UInt8]

    public init(config: RepositoryConfig, idKey: [UInt8], chunkerSeed: UInt64, session: Hash256, sessionKey: [UInt8]) {
        self.config = config
        self.idKey = idKey
        self.chunkerSeed = chunkerSeed
        self.session = session
        self.sessionKey = sessionKey
    }

    /// The grant as text fields (base64 and hex), for the wire.
    public var fields: [String: String] {
        ["config": ((try? ModelCoding.encoder().encode(config)) ?? Data()).base64EncodedString(), "id_key": Data(idKey).base64EncodedString(),
         "chunker_seed": String(chunkerSeed), "session": session.hex, "session_key": Data(sessionKey).base64EncodedString()]
    }

    /// A grant from its text fields; nil when one is missing or malformed.
    public init?(fields: [String: String]) {
        guard let configText = fields["config"], let configData = Data(base64Encoded: configText),
              let config = try? ModelCoding.decoder().decode(RepositoryConfig.self, from: configData),
              let idKey = fields["id_key"].flatMap({ Data(base64Encoded: $0) }), idKey.count == 32,
              let seed = fields["chunker_seed"].flatMap(UInt64.init), let session = fields["session"].flatMap(Hash256.init(hex:)),
              let key = fields["session_key"].flatMap({ Data(base64Encoded: $0) }), key.count == 32 else { return nil }
        self.init(config: config, idKey: Array(idKey), chunkerSeed: seed, session: session, sessionKey: Array(key))
    }
}

extension Repository {
    /// A repository a write-only writer adds to through `store` (which only
    /// takes new objects): it seals with the grant's session key and can open
    /// nothing stored before. `presence` answers which blobs are held already.
    public static func writer(store: BlobStore, grant: WriterGrant, presence: (any BlobPresence)?, stash: (any TreeStash)? = nil) throws -> Repository {
        guard grant.idKey.count == 32, grant.sessionKey.count == 32 else { throw RepositoryError(.invalidArgument, "writer grant: keys must be 32 bytes") }
        return Repository(store: store, config: grant.config,
                          keys: RepositoryKeys(writerIDKey: grant.idKey, chunkerSeed: grant.chunkerSeed, sessionKey: grant.sessionKey),
                          session: grant.session, presence: presence, stash: stash)
    }

    /// Every blob a snapshot kept in the stash references (its trees and data), to ask which are still held.
    public func stashedBlobs(of snapshot: Snapshot) async throws -> Set<Hash256> {
        var ids: Set<Hash256> = [snapshot.tree]
        var seen = Set<Hash256>()
        try await TreeWalker(repository: self).walk(snapshot.tree, seen: &seen, visit: { _, node in
            if let sub = node.subtree { ids.insert(sub) }
            for e in node.content ?? [] { ids.insert(e.blob) }
        }, unreadable: { path, _, error in
            throw RepositoryError(.missing, "the stash lacks the tree of \(path): \(error)")
        })
        return ids
    }

    /// Opens a writer session (the server's side): a new key wrapped to the writer key, stored before it is handed out.
    public func openWriterSession() async throws -> WriterGrant {
        guard let text = config.writerKey, let publicKey = Data(base64Encoded: text), publicKey.count == 32 else {
            throw RepositoryError(.unsupportedVersion,
                                  "repository \(config.id) is format version \(config.version) without a writer key: agents cannot write to it (create a new vault)")
        }
        let (key, envelope) = try SessionEnvelope.newSession(to: Array(publicKey), repositoryID: config.id)
        let id = Hash256.sha256(envelope)
        try await store.put(ObjectKey.session(id), data: envelope)
        return WriterGrant(config: config, idKey: keys.idKeyBytes, chunkerSeed: keys.chunkerSeed, session: id, sessionKey: key)
    }

    /// The keys that open what `session` sealed (nil: the data key), unwrapping the session key once.
    public func keys(forSession session: Hash256?) async throws -> RepositoryKeys {
        guard let session, session != self.session else { return keys }
        if let known = sessionLock.withLock({ sessionKeys[session] }) { return known }
        guard let privateKey = keys.writerPrivateKey else {
            throw RepositoryError(.wrongKey, "session \(session.short) was sealed for the vault's writer key, which this repository object does not hold")
        }
        let key = ObjectKey.session(session)
        let envelope: Data
        do { envelope = try await store.get(key) } catch let e as BlobStoreError where e.isNotFound {
            throw RepositoryError(.missing, "session key \(key) is missing")
        }
        guard Hash256.sha256(envelope) == session else { throw RepositoryError(.damaged, "session key \(key) is damaged (hash mismatch)") }
        let raw: [UInt8]
        do { raw = try SessionEnvelope.unwrap(envelope, privateKey: privateKey, repositoryID: config.id, what: key) } catch let e as CryptoError {
            throw RepositoryError(.damaged, e.description)
        }
        let opened = keys.sealing(with: raw)
        sessionLock.withLock { sessionKeys[session] = opened }
        return opened
    }

    /// The raw key of a session (the server hands these to a restoring agent, for that job only).
    public func sessionKey(_ session: Hash256) async throws -> [UInt8] {
        RepositoryKeys.raw(try await keys(forSession: session).dataKey)
    }

    /// The keys of a session already unwrapped (loading the index unwraps every session it names).
    func loadedKeys(forSession session: Hash256?) throws -> RepositoryKeys {
        guard let session, session != self.session else { return keys }
        guard let known = sessionLock.withLock({ sessionKeys[session] }) else {
            throw RepositoryError(.damaged, "session \(session.short) is named by no loaded index file")
        }
        return known
    }

    /// Opens an index file: one a writer session sealed (tagged) with that
    /// session's key, its packs then belonging to that session; every other
    /// session the file names is unwrapped too.
    func decodeIndexFile(_ data: Data, name: String, only type: BlobType? = nil) async throws -> IndexFile {
        let (session, body) = SessionTag.split(data, tag: SessionTag.index)
        var file = try IndexFile.decode(body, keys: try await keys(forSession: session), name: name, only: type)
        if let session { for p in file.packs where file.sessions[p.pack] == nil { file.sessions[p.pack] = session } }
        for s in Set(file.sessions.values) { _ = try await keys(forSession: s) }
        return file
    }

    /// Seals an index file as this object writes them (tagged with its session, if it is a writer).
    func encodeIndexFile(_ file: IndexFile) -> Data {
        SessionTag.mark(file.encode(keys: keys), tag: SessionTag.index, session: session)
    }

    /// A whole pack's entries and session, opened with that session's keys.
    public func packEntries(ofPack data: Data, name: String) async throws -> (entries: [PackEntry], session: Hash256?) {
        let t = try PackFormat.trailer(data.suffix(PackFormat.sessionTrailerSize), pack: name)
        let keys = try await keys(forSession: t.session)
        return try PackFormat.entries(ofPack: data, name: name) { _ in keys }
    }
}

/// The server's side of a write-only writer's uploads: what a session may
/// add, checked before it is stored. Names are content hashes, so an object
/// that exists already is the same bytes and is left as it is (a retried
/// upload succeeds; nothing is ever overwritten or deleted). Everything must
/// be sealed by the session's own key, and every blob in a pack must open
/// and hash to its id: a writer holds the id key, so without this check it
/// could store other bytes under the id of content it guesses and poison
/// what other backups deduplicate against.
extension Repository {
    public enum WriterObject: String, Sendable { case pack = "data", index, snapshot = "snapshots" }

    /// Accepts one object of `session`; returns its store key. `verifiedSHA256`
    /// is the hex SHA-256 of `data` when the caller has computed and checked it
    /// already (the server's signature check of an upload): a second pass over
    /// every pack was 0.6 s per GiB.
    @discardableResult
    public func acceptFromWriter(_ kind: WriterObject, name: String, data: Data, session: Hash256, verifiedSHA256: String? = nil) async throws -> String {
        guard let id = Hash256(hex: name), id.hex == name else { throw RepositoryError(.invalidArgument, "object name must be 64 lowercase hex digits") }
        guard verifiedSHA256 == name || Hash256.sha256(data) == id else { throw RepositoryError(.invalidArgument, "\(kind.rawValue) object \(name.prefix(16)): its content does not hash to its name") }
        let key: String
        switch kind {
        case .pack:
            key = ObjectKey.pack(id)
            let (entries, packSession) = try await packEntries(ofPack: data, name: key)
            guard packSession == session else { throw RepositoryError(.invalidArgument, "pack \(name.prefix(16)) is not sealed by this job's session") }
            guard data.count <= config.packSize * 2 + config.chunker.max * 2 else { throw RepositoryError(.invalidArgument, "pack \(name.prefix(16)) is larger than this repository's packs") }
            // Opened in one copy of the pack, every record where it lies (`data` itself is stored as sent).
            var opened = data
            let records = openAll(in: &opened, from: 0, entries: entries, keys: .success(try await keys(forSession: session)), pack: id)
            for (e, record) in zip(entries, records) {
                let plain = try plaintext(of: try record.get(), in: opened, what: "blob \(e.id.short) in pack \(id.short)")
                guard keys.blobID(plain) == e.id else { throw RepositoryError(.invalidArgument, "pack \(name.prefix(16)): blob \(e.id.short) does not hash to its id") }
            }
        case .index:
            key = ObjectKey.index(id)
            let (fileSession, body) = SessionTag.split(data, tag: SessionTag.index)
            guard fileSession == session else { throw RepositoryError(.invalidArgument, "index file \(name.prefix(16)) is not sealed by this job's session") }
            let file = try IndexFile.decode(body, keys: try await keys(forSession: session), name: key)
            guard file.supersedes.isEmpty, file.sessions.isEmpty else { throw RepositoryError(.invalidArgument, "index file \(name.prefix(16)) may only describe this session's packs") }
            for p in file.packs {
                // Each pack must be stored already, by this session, with exactly these entries.
                let stored: (entries: [PackEntry], session: Hash256?)
                do { stored = try await readPackHeaderAndSession(p.pack) } catch {
                    throw RepositoryError(.invalidArgument, "index file \(name.prefix(16)) names pack \(p.pack.short), which is not stored: \(error)")
                }
                guard stored.session == session, stored.entries == p.entries else {
                    throw RepositoryError(.invalidArgument, "index file \(name.prefix(16)) does not match the header of pack \(p.pack.short)")
                }
            }
        case .snapshot:
            key = ObjectKey.snapshot(id)
            guard SessionTag.split(data, tag: SessionTag.snapshot).session == session else {
                throw RepositoryError(.invalidArgument, "snapshot \(name.prefix(16)) is not sealed by this job's session")
            }
            _ = try await decodeSnapshot(data, key: key)
        }
        if (try? await store.head(key)) == nil { try await store.put(key, data: data) }
        return key
    }
}

extension Repository {
    /// The session that sealed a snapshot (nil: the data key).
    public func session(ofSnapshot id: Hash256) async throws -> Hash256? {
        let data: Data
        do { data = try await store.get(ObjectKey.snapshot(id)) } catch let e as BlobStoreError where e.isNotFound {
            throw RepositoryError(.missing, "snapshot \(id.hex) not found")
        }
        return SessionTag.split(data, tag: SessionTag.snapshot).session
    }

    /// What a snapshot references that the loaded index does not hold live:
    /// a writer's snapshot is accepted only when this is empty (at most `limit` named).
    public func missingBlobs(of snapshot: Snapshot, limit: Int = 10) async throws -> [String] {
        var missing: [String] = []
        var seen = Set<Hash256>()
        guard index.hasLive(snapshot.tree) else { return ["tree \(snapshot.tree.short) (the root)"] }
        try await TreeWalker(repository: self).walk(snapshot.tree, seen: &seen, visit: { path, node in
            guard missing.count < limit else { return }
            if let sub = node.subtree, !index.hasLive(sub) { missing.append("tree of \(path)") }
            for e in node.content ?? [] where !index.hasLive(e.blob) {
                missing.append("data of \(path) at \(e.offset)")
                break
            }
        }, unreadable: { path, _, error in
            if missing.count < limit { missing.append("tree of \(path): \(error)") }
        })
        return missing
    }
}
