import AsyncHTTPClient
import CofferBlobStore
import Foundation
import NIOCore
import NIOFoundationCompat

extension S3BlobStore {
    /// A ranged GET handed over as its body arrives: a restore reads a whole pack per request
    /// and opens each record as soon as its last byte is in, instead of waiting for the pack.
    public func read(_ key: String, range: Range<Int>, into consume: (Data) async throws -> Void) async throws {
        try BlobKey.validate(key)
        // An empty or negative range gets `get`'s answers (HTTP cannot ask for zero bytes).
        guard !range.isEmpty, range.lowerBound >= 0 else { return try await readWhole(key, range: range, into: consume) }
        do {
            try await ConsumerFailure.separating(consume) { consume in
                let (response, url) = try await execute(.GET, key: target.prefix + key,
                                                        headers: [("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")], limit: range.count)
                let status = Int(response.status.code)
                guard status == 206 else {
                    // An error's text; or a server that ignored Range and answered 200 with the whole object.
                    let body: Data
                    do { body = try await response.bodyData(upTo: status == 200 ? Int(Int32.max) : 1 << 20) } catch {
                        throw S3Failure.reading(error, method: .GET, url: url)
                    }
                    try S3Failure.check(response, body: body)
                    return try await consume(self.range(range, ofWhole: body, key))
                }
                var received = 0
                do {
                    for try await buffer in response.body {
                        received += buffer.readableBytes
                        guard received <= range.count else { throw NIOTooManyBytesError(maxBytes: range.count) }
                        // A view of the connection's buffer, no copy: the consumer copies what it keeps.
                        try await consume(Data(buffer: buffer, byteTransferStrategy: .noCopy))
                    }
                } catch let failure as ConsumerFailure {
                    throw failure
                } catch {
                    throw S3Failure.reading(error, method: .GET, url: url)
                }
            }
        } catch let e as S3Failure {
            throw e.blobStoreError(objectName(key))
        }
    }
}
