// CofferS3: the S3-compatible object store behind the BlobStore protocol
// (issue #12), on async-http-client with SigV4 signing of our own.

import AsyncHTTPClient
import CofferBlobStore
import CofferCrypto
import CofferSystem
import Foundation
import NIOCore
import NIOHTTP1

/// One repository in a bucket (under its prefix). Speaks plain S3: PUT (or a
/// multipart upload above `multipartThreshold`), ranged GET, HEAD,
/// ListObjectsV2 with continuation, DELETE and DeleteObjects in batches of
/// 1 000. Never relies on conditional writes (Swift's are not atomic):
/// mutual exclusion lives in the catalog. Transient failures (5xx, 429,
/// timeouts, broken connections) are thrown as `isTransient` for
/// `RetryingBlobStore`; every error names the bucket and the key.
public struct S3BlobStore: BlobStore {
    public let target: S3Location
    let client: HTTPClient
    let signer: SigV4Signer
    /// Objects larger than this go up in parts of `partSize` (S3: 5 MiB to 5 GiB each, at most 10 000).
    public var multipartThreshold: Int
    public var partSize: Int
    /// Keys per listing page and per DeleteObjects request (S3's maximum: 1 000; smaller in tests).
    public var pageSize = 1000
    let now: @Sendable () -> Date

    public init(_ target: S3Location, client: HTTPClient = S3Stores.client, multipartThreshold: Int = 64 << 20, partSize: Int = 16 << 20,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.target = target
        self.client = client
        signer = SigV4Signer(accessKey: target.accessKey, secretKey: target.secretKey, sessionToken: target.sessionToken, region: target.region)
        self.multipartThreshold = max(multipartThreshold, 5 << 20)
        self.partSize = max(partSize, 5 << 20)
        self.now = now
    }

    public var location: String { target.description }
    public var isRemote: Bool { true }

    /// Bodies read whole, up to a whole pack (25 MiB: `check --read-data` gets
    /// packs whole; a restore streams them, `read`), land in these,
    /// shared by every S3 store of the process: a fresh buffer per read was a
    /// fresh mapping whose pages the kernel zeroed on first touch, 8 % of a
    /// restore's CPU when restores read whole ranges. Four idle buffers at most
    /// are kept, each with at most a default pack's 17 MiB of touched pages.
    public static let responseBuffers = BufferPool(bufferSize: 25 << 20, maxRetained: 4, residentLimit: 17 << 20)

    // MARK: - The protocol

    public func put(_ key: String, data: Data) async throws {
        try BlobKey.validate(key)
        do {
            do {
                try await upload(key, data)
            } catch let e as S3Failure where e.code == "NoSuchBucket" {
                try await createBucket()
                try await upload(key, data)
            }
        } catch let e as S3Failure {
            throw e.blobStoreError(objectName(key))
        }
    }

    public func get(_ key: String, range: Range<Int>?) async throws -> Data {
        try BlobKey.validate(key)
        if let range, range.isEmpty {
            // HTTP cannot ask for zero bytes: check the start against the size.
            let size = try await head(key).size
            guard range.lowerBound >= 0, range.lowerBound <= size else {
                throw BlobStoreError.invalidRange(objectName(key), "\(range) outside object of \(size) bytes")
            }
            return Data()
        }
        if let range, range.lowerBound < 0 { throw BlobStoreError.invalidRange(objectName(key), "\(range) starts before the object") }
        var headers: [(String, String)] = []
        if let range { headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")) }
        do {
            let response = try await send(.GET, key: target.prefix + key, headers: headers, limit: range?.count ?? Int(Int32.max))
            if let range, response.status == 200 { return try self.range(range, ofWhole: response.body, key) }
            return response.body
        } catch let e as S3Failure {
            throw e.blobStoreError(objectName(key))
        }
    }

    /// A server that ignores Range answers 200 with the whole object: the part asked for, cut at its end.
    func range(_ range: Range<Int>, ofWhole body: Data, _ key: String) throws -> Data {
        guard range.lowerBound < body.count else {
            throw BlobStoreError.invalidRange(objectName(key), "\(range) outside object of \(body.count) bytes")
        }
        return body.subdata(in: range.lowerBound..<min(range.upperBound, body.count))
    }

    public func head(_ key: String) async throws -> BlobInfo {
        try BlobKey.validate(key)
        do {
            let response = try await send(.HEAD, key: target.prefix + key)
            guard let length = response.headers.first(name: "content-length").flatMap(Int.init) else {
                throw BlobStoreError.io(objectName(key), "HEAD answered without a Content-Length")
            }
            let modified = response.headers.first(name: "last-modified").flatMap(S3Dates.http) ?? Date(timeIntervalSince1970: 0)
            return BlobInfo(key: key, size: length, modified: modified)
        } catch let e as S3Failure {
            throw e.blobStoreError(objectName(key))
        }
    }

    public func list(prefix: String) async throws -> [BlobInfo] {
        var out: [BlobInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", target.prefix + prefix), ("max-keys", "\(pageSize)")]
            if let token { query.append(("continuation-token", token)) }
            let body: ArraySlice<UInt8>
            do {
                body = Array(try await send(.GET, key: nil, query: query, limit: 64 << 20).body)[...]
            } catch let e as S3Failure where e.code == "NoSuchBucket" {
                return []
            } catch let e as S3Failure {
                throw e.blobStoreError(objectName(prefix) + "*")
            }
            for entry in S3XML.elements("Contents", in: body) {
                guard let full = S3XML.value("Key", in: entry), full.hasPrefix(target.prefix) else { continue }
                let key = String(full.dropFirst(target.prefix.count))
                // Objects that cannot be the repository's (another tool's files) are not listed.
                guard (try? BlobKey.validate(key)) != nil, let size = S3XML.value("Size", in: entry).flatMap(Int.init) else { continue }
                out.append(BlobInfo(key: key, size: size, modified: S3XML.value("LastModified", in: entry).flatMap(S3Dates.iso8601) ?? Date(timeIntervalSince1970: 0)))
            }
            let truncated = S3XML.value("IsTruncated", in: body) == "true"
            token = truncated ? S3XML.value("NextContinuationToken", in: body) : nil
            if truncated && token == nil {
                throw BlobStoreError.io(objectName(prefix) + "*", "a truncated listing came without a continuation token")
            }
        } while token != nil
        return out.sorted { $0.key < $1.key }
    }

    public func delete(_ key: String) async throws {
        try BlobKey.validate(key)
        do {
            _ = try await send(.DELETE, key: target.prefix + key)
        } catch let e as S3Failure where e.status == 404 {
            return
        } catch let e as S3Failure {
            throw e.blobStoreError(objectName(key))
        }
    }

    /// DeleteObjects, `pageSize` keys a request.
    public func delete(_ keys: [String]) async throws {
        for key in keys { try BlobKey.validate(key) }
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(start + pageSize, keys.count)]
            start += batch.count
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>"
            for key in batch { xml += "<Object><Key>\(S3XML.escape(target.prefix + key))</Key></Object>" }
            xml += "</Delete>"
            let body = Data(xml.utf8)
            let answer: Data
            do {
                answer = try await send(.POST, key: nil, query: [("delete", "")], headers: [("Content-MD5", Digest.md5Base64(body))],
                                        body: body, limit: 16 << 20).body
            } catch let e as S3Failure where e.code == "NoSuchBucket" {
                return
            } catch let e as S3Failure {
                throw e.blobStoreError(objectName(batch.first!) + " (and \(batch.count - 1) more)")
            }
            for failure in S3XML.elements("Error", in: answer) {
                let code = S3XML.value("Code", in: failure) ?? "?"
                if code == "NoSuchKey" { continue }
                let name = "\(target.bucket)/\(S3XML.value("Key", in: failure) ?? "?")"
                let failed = S3Failure(status: 200, code: code, message: S3XML.value("Message", in: failure) ?? "")
                throw failed.blobStoreError(name)
            }
        }
    }

    /// Every object under the prefix, in batches; the bucket itself stays (others may share it).
    public func destroy() async throws {
        try await delete(try await list(prefix: "").map(\.key))
    }

    // MARK: - Uploads

    func upload(_ key: String, _ data: Data) async throws {
        if data.count <= multipartThreshold {
            // Repository objects are named by the SHA-256 of their bytes: the name is the payload hash
            // SigV4 wants, and S3 checks it. A name that is not (another caller's key) costs one retry.
            if let named = key.split(separator: "/").last.flatMap({ Hash256(hex: String($0)) }) {
                do {
                    _ = try await send(.PUT, key: target.prefix + key, body: data, payloadHash: named.hex)
                    return
                } catch let e as S3Failure where e.code == "XAmzContentSHA256Mismatch" {}
            }
            _ = try await send(.PUT, key: target.prefix + key, body: data)
            return
        }
        let objectKey = target.prefix + key
        let started = try await send(.POST, key: objectKey, query: [("uploads", "")]).body
        guard let uploadID = S3XML.value("UploadId", in: started) else {
            throw S3Failure(status: 200, code: "InvalidResponse", message: "no UploadId in the answer to CreateMultipartUpload")
        }
        do {
            var parts: [(Int, String)] = []
            var offset = 0
            while offset < data.count {
                let end = min(offset + partSize, data.count)
                let number = parts.count + 1
                let response = try await send(.PUT, key: objectKey, query: [("partNumber", "\(number)"), ("uploadId", uploadID)],
                                              body: data.subdata(in: (data.startIndex + offset)..<(data.startIndex + end)))
                guard let etag = response.headers.first(name: "etag") else {
                    throw S3Failure(status: response.status, code: "InvalidResponse", message: "part \(number) was stored without an ETag")
                }
                parts.append((number, etag))
                offset = end
            }
            var xml = "<CompleteMultipartUpload>"
            for (number, etag) in parts { xml += "<Part><PartNumber>\(number)</PartNumber><ETag>\(S3XML.escape(etag))</ETag></Part>" }
            xml += "</CompleteMultipartUpload>"
            let done = try await send(.POST, key: objectKey, query: [("uploadId", uploadID)], body: Data(xml.utf8)).body
            // S3 may answer 200 and still fail the completion in the body.
            if S3XML.elements("Error", in: done).first != nil {
                throw S3Failure(status: 200, code: S3XML.value("Code", in: done) ?? "InternalError", message: S3XML.value("Message", in: done) ?? "")
            }
        } catch {
            // Parts cost storage until the upload is aborted; a failed abort leaves them to the bucket's lifecycle rules.
            _ = try? await send(.DELETE, key: objectKey, query: [("uploadId", uploadID)])
            throw error
        }
    }

    func createBucket() async throws {
        var body: Data?
        if target.region != "us-east-1" {
            body = Data("<CreateBucketConfiguration><LocationConstraint>\(S3XML.escape(target.region))</LocationConstraint></CreateBucketConfiguration>".utf8)
        }
        do {
            _ = try await send(.PUT, key: nil, body: body)
        } catch let e as S3Failure where e.code == "BucketAlreadyOwnedByYou" {
            return
        } catch var e as S3Failure {
            e.message = "creating bucket \(target.bucket): " + e.message
            throw e
        }
    }

    // MARK: - HTTP

    func objectName(_ key: String) -> String { "\(target.bucket)/\(target.prefix)\(key)" }

    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
    }

    /// One signed request, its body read whole. `key` is the full object key (prefix included) or nil for the bucket.
    func send(_ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: Data? = nil,
              payloadHash knownHash: String? = nil, limit: Int = 1 << 20) async throws -> Response {
        let (response, url) = try await execute(method, key: key, query: query, headers: headers, body: body, payloadHash: knownHash, limit: limit)
        let data: Data
        do {
            data = try await response.bodyData(upTo: max(limit, 1 << 20), buffers: S3BlobStore.responseBuffers)
        } catch {
            throw S3Failure.reading(error, method: method, url: url)
        }
        try S3Failure.check(response, body: data)
        return Response(status: Int(response.status.code), headers: response.headers, body: data)
    }

    /// One signed request, answered up to its body (not yet read); the URL for messages.
    func execute(_ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: Data? = nil,
                 payloadHash knownHash: String? = nil, limit: Int = 1 << 20) async throws -> (HTTPClientResponse, String) {
        let (host, path) = target.address(key)
        var signed = headers
        signed.append(("host", host))
        if let body { signed.append(("content-length", "\(body.count)")) }
        let payloadHash = knownHash ?? body.map { Digest.sha256Hex($0) } ?? SigV4Signer.emptyPayload
        let request = SigV4Signer.Request(method: method.rawValue, path: path, query: query, headers: signed, payloadHash: payloadHash)
        let authorization = signer.sign(request, at: now())
        var url = "\(target.endpoint.scheme ?? "https")://\(host)\(URIEncoding.encode(Array(path.utf8), keepingSlashes: true))"
        if !query.isEmpty {
            url += "?" + query.map { "\(URIEncoding.encode(Array($0.0.utf8)))=\(URIEncoding.encode(Array($0.1.utf8)))" }.joined(separator: "&")
        }
        var http = HTTPClientRequest(url: url)
        http.method = method
        for (name, value) in headers + authorization { http.headers.add(name: name, value: value) }
        if let body { http.body = .bytes(body) }  // sent in chunks: no second copy of a whole pack
        // Generous for slow links: a minute plus a second per MiB sent or expected (stalls end sooner: the client's read timeout).
        let seconds = 60 + Int64(max(body?.count ?? 0, min(limit, 512 << 20)) >> 20)
        do {
            return (try await client.execute(http, timeout: .seconds(seconds)), url)
        } catch {
            throw S3Failure.reading(error, method: method, url: url)
        }
    }
}

/// An S3 error answer (or a failure to get one), before it is named by bucket and key.
struct S3Failure: Error {
    var status: Int
    var code: String
    var message: String
    var transient = false

    var isTransient: Bool {
        transient || status >= 500 || status == 429 || status == 408 || ["RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"].contains(code)
    }

    /// A request that got no whole answer: cancelled, too long, or the connection failed (worth retrying).
    static func reading(_ error: Error, method: HTTPMethod, url: String) -> Error {
        if error is CancellationError { return CancellationError() }
        if let e = error as? NIOTooManyBytesError { return S3Failure(status: 0, code: "ResponseTooLarge", message: "\(e)") }
        return S3Failure(status: 0, code: "Unreachable", message: "\(method.rawValue) \(url.prefix(200)): \(error)", transient: true)
    }

    /// Throws the service's error when the answer is not a success (`body`: its text, or the start of it).
    static func check(_ response: HTTPClientResponse, body: Data) throws {
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let text = body.prefix(4096)
            throw S3Failure(status: status, code: S3XML.value("Code", in: text) ?? (status == 404 ? "NotFound" : "HTTP\(status)"),
                            message: S3XML.value("Message", in: text) ?? "")
        }
    }

    func blobStoreError(_ name: String) -> BlobStoreError {
        let detail = "\(status == 0 ? "" : "HTTP \(status) ")\(code)\(message.isEmpty ? "" : ": \(message)")"
        if status == 404 && code != "NoSuchUpload" { return .notFound(name) }
        if status == 416 || code == "InvalidRange" { return .invalidRange(name, detail) }
        if isTransient { return .transient(name, detail) }
        return .io(name, detail)
    }
}

/// S3's two timestamp forms, through the project's cached formatters (a listing parses one per object).
enum S3Dates {
    static let listing = UTCTimeFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
    static let listingWhole = UTCTimeFormat("yyyy-MM-dd'T'HH:mm:ss'Z'")
    /// RFC 7231's IMF-fixdate (`Last-Modified`).
    static let header = UTCTimeFormat("EEE, dd MMM yyyy HH:mm:ss 'GMT'")

    static func iso8601(_ text: String) -> Date? { listing.date(text) ?? listingWhole.date(text) }
    static func http(_ text: String) -> Date? { header.date(text) }
}

/// `s3://` repositories as a process opens them: S3 under retries, under one
/// concurrency budget for the process (the composition root adds the cache).
public enum S3Stores {
    /// The process's client for every S3 endpoint (never shut down, like `HTTPClient.shared`), configured for
    /// an object store rather than a browser: a connect failure fails the request at once (`RetryingBlobStore`
    /// decides about retries), a stall ends after a minute, no redirects, no decompression.
    public static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(60)),
                                                     connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16),
                                                     decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public static func opener(environment: [String: String], concurrency: Int = 16, client: HTTPClient = S3Stores.client) -> BlobStoreFactory.Opener {
        let budget = AsyncBudget(capacity: concurrency)
        return { url in
            let target: S3Location
            do { target = try S3Location.resolve(url: url, environment: environment) } catch {
                throw BlobStoreError.unsupported("\(error)")
            }
            return LimitedBlobStore(wrapping: RetryingBlobStore(wrapping: S3BlobStore(target, client: client)), budget: budget)
        }
    }
}

extension HTTPClientResponse {
    /// The whole body, straight into one buffer of the announced size (collecting into a growing
    /// ByteBuffer and converting copied a pack's bytes three times); NIOTooManyBytesError past `most`.
    /// A body of `pooledFrom` bytes or more that fits a buffer of `buffers` goes into one of
    /// them (see `responseBuffers`).
    public func bodyData(upTo most: Int, buffers: BufferPool? = nil, pooledFrom: Int = 256 << 10) async throws -> Data {
        let length = headers.first(name: "content-length").flatMap(Int.init)
        if let buffers, let length, length >= pooledFrom, length <= most, length <= buffers.bufferSize {
            return try await pooledBody(length: length, buffers)
        }
        var data = Data()
        if let length, length > 0, length <= most {
            data.reserveCapacity(length)
        }
        for try await chunk in body {
            guard data.count + chunk.readableBytes <= most else { throw NIOTooManyBytesError(maxBytes: most) }
            chunk.withUnsafeReadableBytes { data.append(contentsOf: $0) }
        }
        return data
    }

    /// Into a buffer that goes back to `buffers` when the last copy of the Data is released.
    private func pooledBody(length: Int, _ buffers: BufferPool) async throws -> Data {
        let buffer = buffers.take()
        var count = 0
        do {
            for try await chunk in body {
                guard count + chunk.readableBytes <= length else { throw NIOTooManyBytesError(maxBytes: length) }
                chunk.withUnsafeReadableBytes { bytes in
                    if let base = bytes.baseAddress { (buffer + count).copyMemory(from: base, byteCount: bytes.count) }
                }
                count += chunk.readableBytes
            }
        } catch {
            buffers.give(buffer, used: count)
            throw error
        }
        guard count > 0 else {
            buffers.give(buffer, used: 0)
            return Data()
        }
        return Data(bytesNoCopy: buffer, count: count, deallocator: .custom { p, n in buffers.give(p, used: n) })
    }
}
