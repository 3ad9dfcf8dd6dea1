// CofferCrypto: the repository's keys (scrypt-wrapped master key, AES-GCM
// blob sealing, keyed blob ids) and the catalog's secret box.

import COpenSSLCrypto
import Crypto
import _CryptoExtras
import Foundation

public struct CryptoError: Error, CustomStringConvertible, Equatable {
    enum Code: Equatable { case authenticationFailed, malformed, kdf }
    let code: Code
    public let description: String

    public static func authenticationFailed(_ what: String) -> CryptoError {
        CryptoError(code: .authenticationFailed, description: "\(what): authentication failed (wrong key or damaged data)")
    }
    public static func malformed(_ what: String) -> CryptoError {
        CryptoError(code: .malformed, description: "\(what): malformed ciphertext")
    }
    public var isAuthenticationFailure: Bool { code == .authenticationFailed }
}

/// 32 bytes, printable as lowercase hex. Used for blob ids, pack ids, snapshot ids.
public struct Hash256: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    public static let zero = Hash256(bytes: [UInt8](repeating: 0, count: 32))

    /// The first 32 bytes, big-endian words (fewer are zero-filled). Inlinable, so
    /// the decoders of trees and index files (a call per blob id) get it
    /// specialised instead of a generic walk of the sequence.
    @inlinable
    public init<D: Sequence>(bytes: D) where D.Element == UInt8 {
        if let words = bytes.withContiguousStorageIfAvailable({ Hash256.words(UnsafeRawBufferPointer($0)) }) {
            (a, b, c, d) = words
        } else {
            (a, b, c, d) = Array(bytes).withUnsafeBytes { Hash256.words($0) }
        }
    }

    /// Big-endian words of the first 32 bytes of `raw`.
    @inlinable
    public init(_ raw: UnsafeRawBufferPointer) {
        (a, b, c, d) = Hash256.words(raw)
    }

    @inlinable
    static func words(_ raw: UnsafeRawBufferPointer) -> (UInt64, UInt64, UInt64, UInt64) {
        guard raw.count >= 32 else {
            var padded = [UInt8](repeating: 0, count: 32)
            for i in 0..<raw.count { padded[i] = raw[i] }
            return padded.withUnsafeBytes { words($0) }
        }
        func word(_ k: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)) }
        return (word(0), word(1), word(2), word(3))
    }

    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var it = hex.utf8.makeIterator()
        while let hi = it.next(), let lo = it.next() {
            guard let h = Hash256.nibble(hi), let l = Hash256.nibble(lo) else { return nil }
            bytes.append(h << 4 | l)
        }
        self.init(bytes: bytes)
    }

    public var bytes: [UInt8] {
        withUnsafeBytes(of: (a.bigEndian, b.bigEndian, c.bigEndian, d.bigEndian)) { Array($0) }
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
    public var short: String { String(hex.prefix(8)) }

    public static func < (l: Hash256, r: Hash256) -> Bool { (l.a, l.b, l.c, l.d) < (r.a, r.b, r.c, r.d) }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let h = Hash256(hex: s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a 64-digit hex id: \(s.prefix(80))"))
        }
        self = h
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }

    public static func sha256<D: DataProtocol>(_ data: D) -> Hash256 { Hash256(bytes: SHA256.hash(data: data)) }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}

/// How the operator's master key is obtained; recorded (without secrets) in each key file.
public enum KeyDerivation: Codable, Equatable, Sendable {
    /// A passphrase stretched with scrypt (deliberately slow and memory-hard).
    case scrypt(salt: [UInt8], n: Int, r: Int, p: Int)
    /// A key file: its bytes already carry the entropy; HKDF only normalizes the length.
    case keyFile(salt: [UInt8])

    public static func newScrypt() -> KeyDerivation {
        .scrypt(salt: randomBytes(16), n: 1 << 15, r: 8, p: 1)
    }
    public static func newKeyFile() -> KeyDerivation { .keyFile(salt: randomBytes(16)) }

    public func deriveMasterKey(secret: [UInt8]) throws -> SymmetricKey {
        switch self {
        case let .scrypt(salt, n, r, p):
            do {
                return try KDF.Scrypt.deriveKey(from: secret, salt: salt, outputByteCount: 32, rounds: n, blockSize: r, parallelism: p, maxMemory: 256 << 20)
            } catch {
                throw CryptoError(code: .kdf, description: "scrypt failed: \(error)")
            }
        case let .keyFile(salt):
            return HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), salt: salt, info: Array("coffer master key".utf8), outputByteCount: 32)
        }
    }
}

public func randomBytes(_ count: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
}

/// AES-256-GCM with a random 96-bit nonce; layout nonce || ciphertext || tag.
public enum Sealer {
    public static let overhead = 12 + 16
    public static let nonceSize = 12
    public static let tagSize = 16

    /// Seals in place, for records built in a caller's buffer: `record` holds the plaintext
    /// at `[nonceSize ..< nonceSize + count]` with room for the tag after it, and on return
    /// holds nonce || ciphertext || tag (the layout `seal` writes and `open` reads). Returns
    /// the record's length. The same AES-256-GCM as `seal`, through OpenSSL's libcrypto,
    /// because swift-crypto can only return a fresh allocation (two, in fact) per record.
    public static func sealInPlace(_ record: UnsafeMutableRawBufferPointer, plaintextCount count: Int, key: SymmetricKey, context: [UInt8]) -> Int {
        let total = count + overhead
        precondition(record.count >= total && count <= Int(Int32.max) - 64, "Sealer.sealInPlace: \(count) bytes do not fit a \(record.count)-byte record")
        // Checked before OpenSSL reads 32 key bytes; keys made here are always 256-bit.
        precondition(key.bitCount == 256, "Sealer.sealInPlace: a \(key.bitCount)-bit key")
        let base = record.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var random = SystemRandomNumberGenerator()  // getrandom(2): a CSPRNG
        withUnsafeBytes(of: (random.next() as UInt64, random.next() as UInt64)) { base.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: nonceSize) }
        let ok = key.withUnsafeBytes { k in
            context.withUnsafeBufferPointer { ad in
                coffer_aes256gcm(1, k.bindMemory(to: UInt8.self).baseAddress, base, ad.baseAddress, Int32(ad.count),
                                 base + nonceSize, Int32(count), base + nonceSize + count)
            }
        }
        // Fails only on an allocation failure inside OpenSSL.
        precondition(ok == 1, "AES-256-GCM seal failed")
        return total
    }

    /// Opens in place what `seal` or `sealInPlace` wrote: on success the plaintext is at
    /// `[nonceSize ..< record.count - tagSize]` and its length is returned.
    public static func openInPlace(_ record: UnsafeMutableRawBufferPointer, key: SymmetricKey, context: [UInt8], what: String) throws -> Int {
        guard record.count >= overhead, record.count - overhead <= Int(Int32.max) - 64 else { throw CryptoError.malformed(what) }
        guard key.bitCount == 256 else { throw CryptoError.malformed(what) }
        let count = record.count - overhead
        let base = record.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let ok = key.withUnsafeBytes { k in
            context.withUnsafeBufferPointer { ad in
                coffer_aes256gcm(0, k.bindMemory(to: UInt8.self).baseAddress, base, ad.baseAddress, Int32(ad.count),
                                 base + nonceSize, Int32(count), base + nonceSize + count)
            }
        }
        guard ok == 1 else { throw CryptoError.authenticationFailed(what) }
        return count
    }

    public static func seal<D: DataProtocol>(_ plaintext: D, key: SymmetricKey, context: [UInt8]) -> Data {
        // The only failure is a key of the wrong size, which keys made here never have.
        let box = try! AES.GCM.seal(plaintext, using: key, authenticating: context)
        return box.combined!
    }

    public static func open<D: DataProtocol>(_ ciphertext: D, key: SymmetricKey, context: [UInt8], what: String) throws -> Data {
        guard ciphertext.count >= overhead else { throw CryptoError.malformed(what) }
        do {
            let box = try AES.GCM.SealedBox(combined: ciphertext)
            return try AES.GCM.open(box, using: key, authenticating: context)
        } catch let error as CryptoKitError {
            if case .authenticationFailure = error { throw CryptoError.authenticationFailed(what) }
            throw CryptoError.malformed(what)
        } catch {
            throw CryptoError.authenticationFailed(what)
        }
    }
}

/// The per-repository secrets: data key (AEAD for everything stored), id
/// key (HMAC that names blobs, so ids reveal nothing without it) and, from
/// format version 2, the private half of the vault's X25519 writer key pair
/// (it opens what write-only writers sealed with session keys).
public struct RepositoryKeys: Sendable {
    public let dataKey: SymmetricKey
    public let idKey: SymmetricKey
    public let chunkerSeed: UInt64
    /// Raw X25519 private key (32 bytes); nil in version 1 repositories and in a writer's keys.
    public let writerPrivateKey: [UInt8]?

    public init(dataKey: SymmetricKey, idKey: SymmetricKey, chunkerSeed: UInt64, writerPrivateKey: [UInt8]? = nil) {
        self.dataKey = dataKey
        self.idKey = idKey
        self.chunkerSeed = chunkerSeed
        self.writerPrivateKey = writerPrivateKey
    }

    public static func generate(withWriterKey: Bool = false) -> RepositoryKeys {
        RepositoryKeys(dataKey: SymmetricKey(size: .bits256), idKey: SymmetricKey(size: .bits256), chunkerSeed: UInt64.random(in: .min ... .max),
                       writerPrivateKey: withWriterKey ? Array(Curve25519.KeyAgreement.PrivateKey().rawRepresentation) : nil)
    }

    /// The same id key and chunker seed with another sealing key: what a
    /// writer session seals with, and what a reader opens that session with.
    public func sealing(with key: [UInt8]) -> RepositoryKeys {
        RepositoryKeys(dataKey: SymmetricKey(data: key), idKey: idKey, chunkerSeed: chunkerSeed)
    }

    /// What a write-only writer holds: the id key and chunker seed (to name and cut blobs as
    /// everyone does), its session key to seal with, and neither the data key nor the writer key.
    public init(writerIDKey idKey: [UInt8], chunkerSeed: UInt64, sessionKey: [UInt8]) {
        self.init(dataKey: SymmetricKey(data: sessionKey), idKey: SymmetricKey(data: idKey), chunkerSeed: chunkerSeed)
    }

    public var idKeyBytes: [UInt8] { RepositoryKeys.raw(idKey) }

    /// The public half of the writer key pair (what `config` publishes).
    public var writerPublicKey: [UInt8]? {
        guard let writerPrivateKey, let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: writerPrivateKey) else { return nil }
        return Array(key.publicKey.rawRepresentation)
    }

    public func blobID<D: DataProtocol>(_ plaintext: D) -> Hash256 {
        Hash256(bytes: HMAC<SHA256>.authenticationCode(for: plaintext, using: idKey))
    }

    /// Serialized form (for wrapping under the master key): 72 bytes, 104 with the writer key.
    public var material: [UInt8] {
        var out: [UInt8] = []
        dataKey.withUnsafeBytes { out.append(contentsOf: $0) }
        idKey.withUnsafeBytes { out.append(contentsOf: $0) }
        withUnsafeBytes(of: chunkerSeed.littleEndian) { out.append(contentsOf: $0) }
        if let writerPrivateKey { out.append(contentsOf: writerPrivateKey) }
        return out
    }

    public init?(material: [UInt8]) {
        guard material.count == 72 || material.count == 104 else { return nil }
        dataKey = SymmetricKey(data: material[0..<32])
        idKey = SymmetricKey(data: material[32..<64])
        var seed: UInt64 = 0
        for i in 0..<8 { seed |= UInt64(material[64 + i]) << UInt64(8 * i) }
        chunkerSeed = seed
        writerPrivateKey = material.count == 104 ? Array(material[72..<104]) : nil
    }

    /// The raw bytes of a symmetric key (to hand a session key to its writer).
    public static func raw(_ key: SymmetricKey) -> [UInt8] { key.withUnsafeBytes { Array($0) } }
}

/// A write-only session's key, wrapped to the vault's X25519 public key
/// (docs/repository-format.md, version 2): `E (32) || AES-256-GCM(K)` under
/// HKDF-SHA-256(X25519(e, V), salt E || V, info "coffer-session" || repository id).
/// Whoever holds only the public key can make sessions but open none.
public enum SessionEnvelope {
    public static let size = 32 + Sealer.overhead + 32

    /// A new session: its key (32 random bytes) and the envelope to store.
    public static func newSession(to publicKey: [UInt8], repositoryID: String) throws -> (key: [UInt8], envelope: Data) {
        let key = randomBytes(32)
        return (key, try wrap(key, to: publicKey, repositoryID: repositoryID))
    }

    static func wrap(_ sessionKey: [UInt8], to publicKey: [UInt8], repositoryID: String) throws -> Data {
        let recipient = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey)
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let e = Array(ephemeral.publicKey.rawRepresentation)
        let shared = try ephemeral.sharedSecretFromKeyAgreement(with: recipient)
        let wrapping = kek(shared, ephemeral: e, recipient: publicKey, repositoryID: repositoryID)
        return Data(e) + Sealer.seal(sessionKey, key: wrapping, context: Array("coffer-session".utf8))
    }

    public static func unwrap(_ envelope: Data, privateKey: [UInt8], repositoryID: String, what: String) throws -> [UInt8] {
        guard envelope.count == size else { throw CryptoError.malformed(what) }
        let bytes = Array(envelope)
        let own = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: privateKey)
        let e = Array(bytes[0..<32])
        guard let ephemeral = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: e),
              let shared = try? own.sharedSecretFromKeyAgreement(with: ephemeral) else { throw CryptoError.malformed(what) }
        let wrapping = kek(shared, ephemeral: e, recipient: Array(own.publicKey.rawRepresentation), repositoryID: repositoryID)
        let raw = try Sealer.open(bytes[32...], key: wrapping, context: Array("coffer-session".utf8), what: what)
        guard raw.count == 32 else { throw CryptoError.malformed(what) }
        return Array(raw)
    }

    private static func kek(_ shared: SharedSecret, ephemeral: [UInt8], recipient: [UInt8], repositoryID: String) -> SymmetricKey {
        shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: ephemeral + recipient,
                                       sharedInfo: Array("coffer-session".utf8) + Array(repositoryID.utf8), outputByteCount: 32)
    }
}

public struct HexString {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Digests the HTTP edge needs (signature verification), so nothing above
/// the leaves imports swift-crypto directly.
public enum Digest {
    public static func sha256Hex<D: DataProtocol>(_ data: D) -> String {
        HexString.encode(Array(SHA256.hash(data: data)))
    }

    public static func hmacSHA256<D: DataProtocol>(key: [UInt8], _ message: D) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// S3's Content-MD5 (an integrity check it demands on batch deletes, not a security measure).
    public static func md5Base64<D: DataProtocol>(_ data: D) -> String {
        Data(Insecure.MD5.hash(data: data)).base64EncodedString()
    }

    /// Equal-length comparison whose time does not depend on where the inputs differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// Seals small secrets (access-key secrets) under the server's master key.
/// The secret is needed back to verify HMAC signatures, so it is encrypted,
/// not hashed; the context binds each ciphertext to its owner.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init?(keyBytes: [UInt8]) {
        guard keyBytes.count == 32 else { return nil }
        key = SymmetricKey(data: keyBytes)
    }

    public func seal(_ secret: String, context: String) -> String {
        Sealer.seal(Array(secret.utf8), key: key, context: Array(context.utf8)).base64EncodedString()
    }

    public func open(_ sealed: String, context: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw CryptoError.malformed(context) }
        return String(decoding: try Sealer.open(data, key: key, context: Array(context.utf8), what: context), as: UTF8.self)
    }
}

/// Slow salted password hashes: `scrypt$N$r$p$salt$hash` (base64 parts).
public enum PasswordHash {
    public static func make(_ password: String, n: Int = 1 << 14) -> String {
        let salt = randomBytes(16)
        let kdf = KeyDerivation.scrypt(salt: salt, n: n, r: 8, p: 1)
        let key = try! kdf.deriveMasterKey(secret: Array(password.utf8))
        let hash = key.withUnsafeBytes { Data($0).base64EncodedString() }
        return "scrypt$\(n)$8$1$\(Data(salt).base64EncodedString())$\(hash)"
    }

    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let n = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
              n > 1, n <= 1 << 20, let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]) else { return false }
        guard let key = try? KeyDerivation.scrypt(salt: Array(salt), n: n, r: r, p: p).deriveMasterKey(secret: Array(password.utf8)) else { return false }
        let actual = key.withUnsafeBytes { Array($0) }
        return Digest.constantTimeEqual(actual, Array(expected))
    }
}

/// Percent-encoding as request signatures canonicalise it (RFC 3986: every
/// byte but the unreserved ones, upper-case hex): Huawei's SDK-HMAC-SHA256
/// and AWS's SigV4 use the same rule; S3 paths keep their slashes.
public enum URIEncoding {
    static let unreserved: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8))

    public static func encode(_ bytes: some Sequence<UInt8>, keepingSlashes: Bool = false) -> String {
        var out = ""
        for b in bytes {
            if unreserved.contains(b) || (keepingSlashes && b == UInt8(ascii: "/")) {
                out.unicodeScalars.append(UnicodeScalar(b))
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}
