import CofferCrypto
import CofferSystem
import Foundation

/// The request facts an `SDK-HMAC-SHA256` signature covers, as received:
/// the raw (still percent-encoded) path and query, the header values, and
/// the raw body bytes (never re-serialized JSON).
public struct SignableRequest: Sendable {
    public var method: String
    public var rawPath: String
    public var rawQuery: String
    /// Header lookup by lowercase name (first value).
    public var header: @Sendable (String) -> String?
    /// The bytes that arrived (a view of the server's buffer, not a copy: a pack is 16 MiB).
    public var body: Data

    public init(method: String, rawPath: String, rawQuery: String, body: Data, header: @escaping @Sendable (String) -> String?) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.body = body
        self.header = header
    }
}

public struct AuthorizationHeader: Equatable, Sendable {
    public var accessKey: String
    public var signedHeaders: [String]
    public var signature: String
}

/// Huawei Cloud's SDK-HMAC-SHA256 (shared/api/cbr-v3.md §3), both directions:
/// `sign` is what the SDK does, `verify` rebuilds the canonical request from
/// what arrived.
public enum AKSKSignature {
    public static let algorithm = "SDK-HMAC-SHA256"
    public static let maxClockSkew: TimeInterval = 15 * 60

    static func encode(_ bytes: some Sequence<UInt8>) -> String { URIEncoding.encode(bytes) }

    /// Percent-decodes to bytes; a `%` not followed by two hex digits stays literal.
    static func decode(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return nil
            }
        }
        while i < b.count {
            if b[i] == 37, i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }

    /// Decoded path split on `/` (an encoded `%2F` becomes a separator, as in the SDK), each segment re-encoded, ending in `/`.
    public static func canonicalURI(rawPath: String) -> String {
        let segments = decode(rawPath).split(separator: 0x2F, omittingEmptySubsequences: false)
        var uri = segments.map { encode($0) }.joined(separator: "/")
        if !uri.hasSuffix("/") { uri += "/" }
        return uri
    }

    public static func canonicalQuery(rawQuery: String) -> String {
        guard !rawQuery.isEmpty else { return "" }
        var pairs: [([UInt8], [UInt8])] = []
        for part in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = part.firstIndex(of: "=") {
                pairs.append((decode(String(part[..<eq])), decode(String(part[part.index(after: eq)...]))))
            } else {
                pairs.append((decode(String(part)), []))
            }
        }
        pairs.sort { $0.0 != $1.0 ? $0.0.lexicographicallyPrecedes($1.0) : $0.1.lexicographicallyPrecedes($1.1) }
        return pairs.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }

    public static func canonicalRequest(_ r: SignableRequest, signedHeaders: [String]) -> String {
        var headers = ""
        for name in signedHeaders {
            headers += name + ":" + (r.header(name) ?? "").trimmingCharacters(in: .whitespaces) + "\n"
        }
        let payload = r.header("x-sdk-content-sha256") ?? Digest.sha256Hex(r.body)
        return [r.method.uppercased(), canonicalURI(rawPath: r.rawPath), canonicalQuery(rawQuery: r.rawQuery),
                headers, signedHeaders.joined(separator: ";"), payload].joined(separator: "\n")
    }

    public static func stringToSign(date: String, canonicalRequest: String) -> String {
        algorithm + "\n" + date + "\n" + Digest.sha256Hex(Array(canonicalRequest.utf8))
    }

    public static func signature(secret: String, stringToSign: String) -> String {
        HexString.encode(Digest.hmacSHA256(key: Array(secret.utf8), Array(stringToSign.utf8)))
    }

    /// What the SDK computes (used by tests and by the project's own clients).
    public static func sign(_ r: SignableRequest, accessKey: String, secret: String, signedHeaders: [String]) -> String {
        let date = r.header("x-sdk-date") ?? ""
        let sig = signature(secret: secret, stringToSign: stringToSign(date: date, canonicalRequest: canonicalRequest(r, signedHeaders: signedHeaders)))
        return "\(algorithm) Access=\(accessKey), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(sig)"
    }

    public static func parseAuthorization(_ value: String) -> AuthorizationHeader? {
        let prefix = algorithm + " "
        guard value.hasPrefix(prefix) else { return nil }
        var ak: String?, headers: [String]?, sig: String?
        for part in value.dropFirst(prefix.count).split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard let eq = item.firstIndex(of: "=") else { return nil }
            let key = item[..<eq], v = String(item[item.index(after: eq)...])
            switch key {
            case "Access": ak = v
            case "SignedHeaders": headers = v.split(separator: ";").map { String($0).lowercased() }
            case "Signature": sig = v
            default: return nil
            }
        }
        guard let ak, !ak.isEmpty, let headers, !headers.isEmpty, let sig, sig.utf8.count == 64,
              sig.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        return AuthorizationHeader(accessKey: ak, signedHeaders: headers, signature: sig)
    }

    public static func parseSdkDate(_ s: String) -> Date? {
        guard s.utf8.count == 16 else { return nil }
        return UTCTimeFormat.sdkDate.date(s)
    }

    public static func formatSdkDate(_ d: Date) -> String { UTCTimeFormat.sdkDate.string(d) }

    public enum Failure: Error, Equatable, Sendable {
        case malformedAuthorization
        case missingDate
        case dateOutOfRange
        case hostNotSigned
        case unknownAccessKey(String)
        case signatureMismatch
        case payloadHashMismatch
    }

    /// Verifies a request against the secret of the access key it names.
    public static func verify(_ r: SignableRequest, now: Date, secret: (String) -> String?) -> Result<AuthorizationHeader, Failure> {
        guard let auth = r.header("authorization").flatMap(parseAuthorization) else { return .failure(.malformedAuthorization) }
        guard auth.signedHeaders.contains("x-sdk-date"), let dateText = r.header("x-sdk-date"), let date = parseSdkDate(dateText) else {
            return .failure(.missingDate)
        }
        guard abs(date.timeIntervalSince(now)) <= maxClockSkew else { return .failure(.dateOutOfRange) }
        guard auth.signedHeaders.contains("host") else { return .failure(.hostNotSigned) }
        // A client-supplied body hash counts only when it is signed and is the hash of the body that arrived:
        // otherwise a captured signature could carry a different body.
        if let claimed = r.header("x-sdk-content-sha256") {
            guard auth.signedHeaders.contains("x-sdk-content-sha256"), claimed.lowercased() == Digest.sha256Hex(r.body) else {
                return .failure(.payloadHashMismatch)
            }
        }
        guard let sk = secret(auth.accessKey) else { return .failure(.unknownAccessKey(auth.accessKey)) }
        let expected = signature(secret: sk, stringToSign: stringToSign(date: dateText, canonicalRequest: canonicalRequest(r, signedHeaders: auth.signedHeaders)))
        guard Digest.constantTimeEqual(Array(expected.utf8), Array(auth.signature.utf8)) else { return .failure(.signatureMismatch) }
        return .success(auth)
    }
}
