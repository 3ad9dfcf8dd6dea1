import AsyncHTTPClient
import CofferBlobStore
import CofferSystem
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import CofferS3

/// A response body read whole: into a pooled buffer when it is large and
/// announced, else into its own Data; either way exactly the bytes sent.
@Suite struct ResponseBody {
    func response(_ chunks: [[UInt8]], length: Int?) -> HTTPClientResponse {
        var headers = HTTPHeaders()
        if let length { headers.add(name: "content-length", value: "\(length)") }
        let (stream, input) = AsyncStream.makeStream(of: ByteBuffer.self)
        for chunk in chunks { input.yield(ByteBuffer(bytes: chunk)) }
        input.finish()
        let body = HTTPClientResponse.Body.stream(stream)
        return HTTPClientResponse(status: .ok, headers: headers, body: body)
    }

    func bytes(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    @Test func aLargeBodyLandsInAPooledBufferThatComesBackWhenReleased() async throws {
        let pool = BufferPool(bufferSize: 1 << 20, maxRetained: 2, residentLimit: 1 << 20)
        let parts = [bytes(300_000, seed: 1), bytes(1, seed: 2), bytes(200_000, seed: 3)]
        var data: Data? = try await response(parts, length: 500_001).bodyData(upTo: 8 << 20, buffers: pool, pooledFrom: 1000)
        #expect(data == Data(parts.joined()))
        #expect(pool.outstandingCount == 1, "the body is in a pooled buffer")
        data = nil
        #expect(pool.outstandingCount == 0 && pool.idleCount == 1, "and it went back when the Data was released")
        // Taken again: the old bytes are not what the next body reads.
        let next = try await response([bytes(400_000, seed: 9)], length: 400_000).bodyData(upTo: 8 << 20, buffers: pool, pooledFrom: 1000)
        #expect(next == Data(bytes(400_000, seed: 9)))
    }

    /// `check --read-data` gets whole packs: the largest a default repository writes (16 MiB and
    /// the 8 MiB chunk that closed it, as `PackSpans.remote` reads them) fits the shared buffers.
    @Test func aWholePackFitsTheSharedResponseBuffers() async throws {
        let pool = BufferPool(bufferSize: S3BlobStore.responseBuffers.bufferSize, maxRetained: 1, residentLimit: 1 << 20)
        let pack = bytes(25 << 20, seed: 3)
        var data: Data? = try await response([pack], length: pack.count).bodyData(upTo: pack.count, buffers: pool)
        #expect(pool.outstandingCount == 1, "pooled")
        #expect(data?.count == pack.count && data?.last == pack.last)
        data = nil
        #expect(pool.outstandingCount == 0)
    }

    @Test func smallUnannouncedOrOversizedBodiesAreNotPooled() async throws {
        let pool = BufferPool(bufferSize: 1 << 20, maxRetained: 2, residentLimit: 1 << 20)
        let small = try await response([bytes(500, seed: 4)], length: 500).bodyData(upTo: 8 << 20, buffers: pool, pooledFrom: 1000)
        let unannounced = try await response([bytes(5000, seed: 5)], length: nil).bodyData(upTo: 8 << 20, buffers: pool, pooledFrom: 1000)
        let large = try await response([bytes(2 << 20, seed: 6)], length: 2 << 20).bodyData(upTo: 8 << 20, buffers: pool, pooledFrom: 1000)
        #expect(small == Data(bytes(500, seed: 4)) && unannounced == Data(bytes(5000, seed: 5)) && large == Data(bytes(2 << 20, seed: 6)))
        #expect(pool.outstandingCount == 0 && pool.idleCount == 0, "no buffer was taken")
    }

    @Test func aBodyLongerThanAnnouncedFailsAndGivesItsBufferBack() async throws {
        let pool = BufferPool(bufferSize: 1 << 20, maxRetained: 2, residentLimit: 1 << 20)
        await #expect(throws: NIOTooManyBytesError.self) {
            _ = try await response([bytes(3000, seed: 7), bytes(3000, seed: 8)], length: 5000).bodyData(upTo: 8 << 20, buffers: pool, pooledFrom: 1000)
        }
        #expect(pool.outstandingCount == 0 && pool.idleCount == 1)
        // Past the caller's limit, pooled or not: the same error as before.
        await #expect(throws: NIOTooManyBytesError.self) {
            _ = try await response([bytes(3000, seed: 7)], length: nil).bodyData(upTo: 2000, buffers: pool, pooledFrom: 1000)
        }
    }

    /// A server that ignores Range answers 200 with the whole object: `get` and `read` both
    /// take the part asked for, cut at the object's end, and refuse a start past it, naming the key.
    @Test func aWholeAnswerToARangedRequestIsCutToTheRange() throws {
        let env = ["AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SHARED_CREDENTIALS_FILE": "/c", "AWS_CONFIG_FILE": "/f",
                   "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"]
        let store = S3BlobStore(try S3Location.resolve(url: "s3://bkt/p", environment: env, readFile: { _ in nil }))
        let whole = Data(bytes(1_000, seed: 5))
        #expect(try store.range(10..<20, ofWhole: whole, "data/k") == whole.subdata(in: 10..<20))
        #expect(try store.range(990..<2_000, ofWhole: whole, "data/k") == whole.subdata(in: 990..<1_000))
        #expect(throws: BlobStoreError.self) { try store.range(1_000..<1_001, ofWhole: whole, "data/k") }
        do {
            _ = try store.range(5_000..<5_010, ofWhole: whole, "data/k")
            Issue.record("a start past the object's end was answered")
        } catch let e as BlobStoreError {
            #expect(e.description.contains("bkt/p/data/k"), "\(e)")
        }
    }
}
