// CofferS3: the S3-compatible object store behind the BlobStore protocol
// (issue #12). Today: request signing; the store itself comes next.

import CofferCrypto
import CofferSystem
import Foundation

/// AWS Signature Version 4 as S3 checks it (our own: no S3 SDK is in the
/// package set). A pure function of the request and the time, tested against
/// vectors from AWS's documentation and from botocore.
public struct SigV4Signer: Sendable {
    public var accessKey: String
    public var secretKey: String
    /// Temporary credentials' token (sent as `x-amz-security-token`, and signed).
    public var sessionToken: String?
    public var region: String
    public var service: String

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.region = region
        self.service = service
    }

    /// The payload hash S3 accepts when the body is not hashed (TLS carries it).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    public static let emptyPayload = Digest.sha256Hex([UInt8]())

    /// A request as signed: `path` and `query` are the raw, unencoded path and
    /// query items; `headers` must include `host`.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [(String, String)]
        public var headers: [(String, String)]
        public var payloadHash: String
        public init(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)], payloadHash: String) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// The headers to add to the request: `x-amz-date`, `x-amz-content-sha256`,
    /// the session token if any, and `Authorization`.
    public func sign(_ request: Request, at date: Date) -> [(String, String)] {
        let (amzDate, day) = SigV4Signer.timestamps(date)
        var added = [("x-amz-date", amzDate), ("x-amz-content-sha256", request.payloadHash)]
        if let sessionToken { added.append(("x-amz-security-token", sessionToken)) }
        var signed = request
        signed.headers += added
        let (canonical, signedHeaders) = canonicalRequest(signed)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Digest.sha256Hex(Array(canonical.utf8)))"
        var key = Digest.hmacSHA256(key: Array("AWS4\(secretKey)".utf8), Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = Digest.hmacSHA256(key: key, Array(part.utf8)) }
        let signature = HexString.encode(Digest.hmacSHA256(key: key, Array(stringToSign.utf8)))
        return added + [("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)")]
    }

    /// The canonical request and the signed header names (every header given).
    func canonicalRequest(_ r: Request) -> (String, String) {
        let uri = URIEncoding.encode(Array((r.path.isEmpty ? "/" : r.path).utf8), keepingSlashes: true)
        var pairs: [(String, String)] = []
        for (name, value) in r.query { pairs.append((URIEncoding.encode(Array(name.utf8)), URIEncoding.encode(Array(value.utf8)))) }
        pairs.sort { (a: (String, String), b: (String, String)) -> Bool in a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }
        let query = pairs.map { (pair: (String, String)) -> String in pair.0 + "=" + pair.1 }.joined(separator: "&")
        var merged: [String: [String]] = [:]
        for (name, value) in r.headers {
            // Trimmed, inner runs of spaces collapsed to one.
            merged[name.lowercased(), default: []].append(value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))
        }
        let names = merged.keys.sorted()
        let headers = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        return ("\(r.method)\n\(uri)\n\(query)\n\(headers)\n\(signedHeaders)\n\(r.payloadHash)", signedHeaders)
    }

    /// `20130524T000000Z` and `20130524` (UTC): the form of Huawei's X-Sdk-Date too.
    static func timestamps(_ date: Date) -> (String, String) {
        let amzDate = UTCTimeFormat.sdkDate.string(date)
        return (amzDate, String(amzDate.prefix(8)))
    }
}
