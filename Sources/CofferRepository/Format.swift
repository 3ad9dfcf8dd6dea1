import CofferCrypto
import Foundation

/// Binary layouts of packs and index files (docs/repository-format.md).
public enum BlobType: UInt8, Codable, Sendable {
    case data = 0
    case tree = 1
}

/// One blob inside a pack, as the pack header and the index record it.
public struct PackEntry: Equatable, Sendable {
    // The type last: first, its padding made the stride 56 bytes instead of 48 (a pack of small files holds 40 000).
    public var id: Hash256
    public var offset: UInt32
    public var length: UInt32
    public var rawLength: UInt32
    public var type: BlobType

    public init(type: BlobType, id: Hash256, offset: UInt32, length: UInt32, rawLength: UInt32) {
        self.type = type
        self.id = id
        self.offset = offset
        self.length = length
        self.rawLength = rawLength
    }

    static let encodedSize = 1 + 32 + 4 + 4 + 4
}

struct ByteWriter {
    var data = Data()
    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func hash(_ h: Hash256) { data.append(contentsOf: h.bytes) }
    mutating func entry(_ e: PackEntry) {
        u8(e.type.rawValue); hash(e.id); u32(e.offset); u32(e.length); u32(e.rawLength)
    }
}

struct ByteReader {
    let data: Data
    var position: Int
    let what: String

    init(_ data: Data, what: String) {
        self.data = data
        position = data.startIndex
        self.what = what
    }

    var remaining: Int { data.endIndex - position }

    mutating func bytes(_ n: Int) throws -> Data {
        guard n >= 0, remaining >= n else { throw RepositoryError(.damaged, "\(what): truncated") }
        defer { position += n }
        return data[position..<(position + n)]
    }
    /// `size` bytes handed to `body` in place (no slice of `data` is made: these run per blob id).
    mutating func read<T>(_ size: Int, _ body: (UnsafeRawBufferPointer) -> T) throws -> T {
        guard remaining >= size else { throw RepositoryError(.damaged, "\(what): truncated") }
        let offset = position - data.startIndex
        position += size
        return data.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + size)])) }
    }
    mutating func u8() throws -> UInt8 { try read(1) { $0[0] } }
    func peekU8() throws -> UInt8 {
        guard remaining >= 1 else { throw RepositoryError(.damaged, "\(what): truncated") }
        return data[position]
    }
    mutating func skip(_ n: Int) throws {
        guard remaining >= n else { throw RepositoryError(.damaged, "\(what): truncated") }
        position += n
    }
    mutating func u32() throws -> UInt32 { try read(4) { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } }
    mutating func u64() throws -> UInt64 { try read(8) { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } }
    mutating func hash() throws -> Hash256 { try read(32) { Hash256($0) } }
    mutating func entry() throws -> PackEntry {
        let t = try u8()
        guard let type = BlobType(rawValue: t) else { throw RepositoryError(.damaged, "\(what): unknown blob type \(t)") }
        return PackEntry(type: type, id: try hash(), offset: try u32(), length: try u32(), rawLength: try u32())
    }
}

/// Authenticated-data labels: each kind of ciphertext is bound to its role
/// (and a blob to its id), so nothing can be swapped for something else.
enum Context {
    static func blob(_ type: BlobType, _ id: Hash256) -> [UInt8] { Array("coffer-blob".utf8) + [type.rawValue] + id.bytes }
    static let packHeader = Array("coffer-pack-header".utf8)
    static let index = Array("coffer-index".utf8)
    static let snapshot = Array("coffer-snapshot".utf8)
    static let deletion = Array("coffer-deletion".utf8)
    static let verification = Array("coffer-verification".utf8)
    static func keyWrap(_ repositoryID: String) -> [UInt8] { Array("coffer-key:\(repositoryID)".utf8) }
}

public enum PackFormat {
    static let magic: UInt32 = 0x4B50_4643 // "CFPK" little-endian
    /// A pack a write-only session sealed: the trailer also names the session (format version 2).
    static let sessionMagic: UInt32 = 0x3250_4643 // "CFP2" little-endian
    static let trailerSize = 8
    static let sessionTrailerSize = 8 + 32
    public static let version: UInt8 = 1

    /// The encrypted header plus trailer that close a pack: `u32 length || "CFPK"`,
    /// or `u32 length || session id || "CFP2"` when a writer session sealed it.
    static func header(_ entries: [PackEntry], keys: RepositoryKeys, session: Hash256? = nil) -> Data {
        var w = ByteWriter()
        w.u8(version)
        w.u32(UInt32(entries.count))
        for e in entries { w.entry(e) }
        let sealed = Sealer.seal(w.data, key: keys.dataKey, context: Context.packHeader)
        var tail = ByteWriter()
        tail.u32(UInt32(sealed.count))
        if let session { tail.hash(session) }
        tail.u32(session == nil ? magic : sessionMagic)
        return sealed + tail.data
    }

    /// What a pack's last bytes say: the sealed header's length, how long the trailer is, and the session.
    struct Trailer {
        var headerLength: Int
        var size: Int
        var session: Hash256?
    }

    /// Parses the trailer from the pack's last bytes (`tail`: at least the last 8, at most the last 40).
    static func trailer(_ tail: Data, pack: String) throws -> Trailer {
        guard tail.count >= trailerSize else { throw RepositoryError(.damaged, "pack \(pack): shorter than its trailer") }
        var m = ByteReader(tail.suffix(4), what: "pack \(pack)")
        switch try m.u32() {
        case magic:
            var r = ByteReader(tail.suffix(trailerSize), what: "pack \(pack)")
            return Trailer(headerLength: Int(try r.u32()), size: trailerSize, session: nil)
        case sessionMagic:
            guard tail.count >= sessionTrailerSize else { throw RepositoryError(.damaged, "pack \(pack): shorter than its trailer") }
            var r = ByteReader(tail.suffix(sessionTrailerSize), what: "pack \(pack)")
            return Trailer(headerLength: Int(try r.u32()), size: sessionTrailerSize, session: try r.hash())
        default:
            throw RepositoryError(.damaged, "pack \(pack): bad trailer magic")
        }
    }

    static func parseHeader(sealed: Data, keys: RepositoryKeys, pack: String) throws -> [PackEntry] {
        let plain = try openSealed(sealed, keys: keys, context: Context.packHeader, what: "header of pack \(pack)")
        var r = ByteReader(plain, what: "header of pack \(pack)")
        guard try r.u8() == version else { throw RepositoryError(.unsupportedVersion, "pack \(pack): unknown header version") }
        let count = Int(try r.u32())
        guard count <= r.remaining / PackEntry.encodedSize else { throw RepositoryError(.damaged, "header of pack \(pack): entry count too large") }
        var entries: [PackEntry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count { entries.append(try r.entry()) }
        return entries
    }

    /// Parses a whole pack's header (used by check, index recovery and the
    /// append-only endpoint), with the keys of the session its trailer names.
    static func entries(ofPack pack: Data, name: String, keys: (Hash256?) throws -> RepositoryKeys) throws -> (entries: [PackEntry], session: Hash256?) {
        let t = try trailer(pack.suffix(sessionTrailerSize), pack: name)
        guard t.headerLength + t.size <= pack.count else { throw RepositoryError(.damaged, "pack \(name): header length beyond pack") }
        let start = pack.endIndex - t.size - t.headerLength
        let entries = try parseHeader(sealed: pack[start..<(pack.endIndex - t.size)], keys: try keys(t.session), pack: name)
        for e in entries where Int(e.offset) + Int(e.length) > start - pack.startIndex {
            throw RepositoryError(.damaged, "pack \(name): blob \(e.id.short) extends into the header")
        }
        return (entries, t.session)
    }
}

/// Version 2 objects of a writer session begin with a tag and the session's
/// id, so a reader knows which session key opens them.
enum SessionTag {
    static let index = Array("CFI2".utf8)
    static let snapshot = Array("CFS2".utf8)

    static func mark(_ sealed: Data, tag: [UInt8], session: Hash256?) -> Data {
        guard let session else { return sealed }
        return Data(tag) + Data(session.bytes) + sealed
    }

    /// The session an object names (nil: sealed with the data key) and its sealed body.
    static func split(_ data: Data, tag: [UInt8]) -> (session: Hash256?, body: Data) {
        guard data.count >= 36 + Sealer.overhead, data.prefix(4).elementsEqual(tag) else { return (nil, data) }
        let start = data.startIndex
        return (Hash256(bytes: data[(start + 4)..<(start + 36)]), data[(start + 36)...])
    }
}

/// An index file: which blobs each pack holds. Several may exist; together
/// they are the repository's index. `supersedes` names index files this one
/// replaces (written by prune), so a crash between writing it and deleting
/// them leaves a consistent repository.
public struct IndexFile: Sendable {
    public var packs: [(pack: Hash256, entries: [PackEntry])]
    public var supersedes: [Hash256]
    /// The writer session that sealed each of these packs (version 2); packs not named were sealed with the data key.
    public var sessions: [Hash256: Hash256]

    public init(packs: [(pack: Hash256, entries: [PackEntry])] = [], supersedes: [Hash256] = [], sessions: [Hash256: Hash256] = [:]) {
        self.packs = packs
        self.supersedes = supersedes
        self.sessions = sessions
    }

    static let version: UInt8 = 1
    /// Version 2 adds each pack's session id (zero for the data key) after its id.
    static let sessionVersion: UInt8 = 2

    /// The plaintext sealed with `keys`; a writer session's file is then tagged (`SessionTag`).
    func encode(keys: RepositoryKeys) -> Data {
        let withSessions = !sessions.isEmpty
        var w = ByteWriter()
        w.data.reserveCapacity(9 + 32 * supersedes.count + packs.reduce(0) { $0 + 68 + $1.entries.count * PackEntry.encodedSize })
        w.u8(withSessions ? Self.sessionVersion : Self.version)
        w.u32(UInt32(supersedes.count))
        for s in supersedes { w.hash(s) }
        w.u32(UInt32(packs.count))
        for p in packs {
            w.hash(p.pack)
            if withSessions { w.hash(sessions[p.pack] ?? Hash256.zero) }
            w.u32(UInt32(p.entries.count))
            for e in p.entries { w.entry(e) }
        }
        return Sealer.seal(w.data, key: keys.dataKey, context: Context.index)
    }

    /// `only` leaves out the entries of the other blob type without building them.
    static func decode(_ data: Data, keys: RepositoryKeys, name: String, only type: BlobType? = nil) throws -> IndexFile {
        let plain = try openSealed(data, keys: keys, context: Context.index, what: "index file \(name)")
        var r = ByteReader(plain, what: "index file \(name)")
        let fileVersion = try r.u8()
        guard fileVersion == version || fileVersion == sessionVersion else { throw RepositoryError(.unsupportedVersion, "index file \(name): unknown version") }
        let zero = Hash256.zero
        var out = IndexFile()
        let supersededCount = Int(try r.u32())
        guard supersededCount <= r.remaining / 32 else { throw RepositoryError(.damaged, "index file \(name): bad count") }
        for _ in 0..<supersededCount { out.supersedes.append(try r.hash()) }
        let packCount = Int(try r.u32())
        guard packCount <= r.remaining / 36 else { throw RepositoryError(.damaged, "index file \(name): bad count") }
        for _ in 0..<packCount {
            let pack = try r.hash()
            if fileVersion == sessionVersion, case let session = try r.hash(), session != zero { out.sessions[pack] = session }
            let n = Int(try r.u32())
            guard n <= r.remaining / PackEntry.encodedSize else { throw RepositoryError(.damaged, "index file \(name): bad count") }
            var entries: [PackEntry] = []
            if let type {
                for _ in 0..<n {
                    if try r.peekU8() == type.rawValue { entries.append(try r.entry()) } else { try r.skip(PackEntry.encodedSize) }
                }
            } else {
                entries.reserveCapacity(n)
                for _ in 0..<n { entries.append(try r.entry()) }
            }
            out.packs.append((pack, entries))
        }
        return out
    }
}

/// Opens a sealed object with the data key; a failure means damage (or
/// tampering) of the object named by `what`.
func openSealed(_ data: Data, keys: RepositoryKeys, context: [UInt8], what: String) throws -> Data {
    do {
        return try Sealer.open(data, key: keys.dataKey, context: context, what: what)
    } catch let e as CryptoError {
        throw RepositoryError(.damaged, e.description)
    }
}

/// Object keys inside the store.
public enum ObjectKey {
    public static let config = "config"
    /// Where every pack lives (one level of fan-out by the id's first byte).
    public static let packPrefix = "data/"
    public static func pack(_ id: Hash256) -> String { let h = id.hex; return "\(packPrefix)\(h.prefix(2))/\(h)" }
    public static func index(_ id: Hash256) -> String { "index/\(id.hex)" }
    public static func snapshot(_ id: Hash256) -> String { "snapshots/\(id.hex)" }
    public static func key(_ id: Hash256) -> String { "keys/\(id.hex)" }
    public static func deletion(_ id: Hash256) -> String { "deletions/\(id.hex)" }
    /// A writer session's key, wrapped to the vault's writer key (version 2).
    public static func session(_ id: Hash256) -> String { "sessions/\(id.hex)" }
    public static func verification(_ id: Hash256) -> String { "verified/\(id.hex)" }

    /// The id at the end of a key (`data/ab/<hex>`, `index/<hex>`...), if it is one.
    public static func id(of key: String) -> Hash256? {
        guard let last = key.split(separator: "/").last else { return nil }
        return Hash256(hex: String(last))
    }
}
