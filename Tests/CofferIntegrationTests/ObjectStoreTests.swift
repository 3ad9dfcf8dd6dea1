import CofferBlobStore
import CofferBlobStoreTesting
import CofferSystem
import CofferTestSupport
import Foundation
import Testing
@testable import CofferS3

/// OpenStack Swift with its S3 API on loopback, from scripts/start-objstore.sh; stopped when released.
final class ThrowawayObjectStore {
    let directory: String
    let endpoint: String
    let environment: [String: String]

    init() throws {
        // Swift keeps object metadata in xattrs: tmpfs has them, and is fast.
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        directory = base + "/coffer-objstore-\(UUID().uuidString.prefix(8))"
        let script = packageRoot() + "/scripts/start-objstore.sh"
        let r = try Subprocess.run("/bin/bash", [script, directory, String(freePorts(4))], mergeStandardError: false)
        guard r.status == 0 else { throw SupportError("start-objstore.sh failed (\(r.status)): \(r.output)") }
        var values: [String: String] = [:]
        for line in r.output.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        endpoint = values["S3_ENDPOINT"] ?? ""
        environment = ["AWS_ACCESS_KEY_ID": values["S3_ACCESS_KEY"] ?? "", "AWS_SECRET_ACCESS_KEY": values["S3_SECRET_KEY"] ?? "",
                       "AWS_REGION": values["S3_REGION"] ?? "", "AWS_ENDPOINT_URL_S3": endpoint,
                       // Nothing from the machine's own AWS files.
                       "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"]
    }

    deinit {
        _ = try? Subprocess.run("/bin/bash", [packageRoot() + "/scripts/stop-objstore.sh", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    func store(_ url: String, multipartThreshold: Int = 64 << 20) throws -> S3BlobStore {
        S3BlobStore(try S3Location.resolve(url: url, environment: environment), multipartThreshold: multipartThreshold, partSize: 5 << 20)
    }
}

/// The BlobStore contract and S3's own paths (multipart, continuation, batch
/// deletes, bucket creation, errors) against a real S3 implementation.
@Suite(.serialized) struct S3StoreOnSwift {
    @Test func conformanceMultipartListingAndErrors() async throws {
        let objstore = try ThrowawayObjectStore()
        // Every check on its own prefix of one bucket, the bucket created by the first put.
        for (n, check) in BlobStoreConformance.checks.enumerated() {
            do { try await check.run(try objstore.store("s3://coffer-conformance/check\(n)/repo")) } catch { Issue.record("\(check.name): \(error)") }
        }
        // Through the wrappers the service uses.
        let opened = try S3Stores.opener(environment: objstore.environment)("s3://coffer-conformance/wrapped")
        try await BlobStoreConformance.checks[0].run(opened)

        // Multipart above the threshold: 12 MiB in three parts, read back whole and by range.
        let big = try objstore.store("s3://coffer-multipart", multipartThreshold: 5 << 20)
        let data = Data((0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) })
        try await big.put("data/aa/big", data: data)
        #expect(try await big.get("data/aa/big") == data)
        #expect(try await big.get("data/aa/big", range: (5 << 20) - 10..<(5 << 20) + 10) == data[(5 << 20) - 10..<(5 << 20) + 10])
        #expect(try await big.head("data/aa/big").size == data.count)
        // A content-hash-shaped name is sent as the payload hash; when it is not the content's, S3 refuses and the put is resent.
        let notItsHash = String(repeating: "ab", count: 32)
        try await big.put("data/ab/" + notItsHash, data: Data("not the hash of this".utf8))
        #expect(try await big.get("data/ab/" + notItsHash) == Data("not the hash of this".utf8))

        // Listing page by page (continuation tokens) and deleting in batches, with pages of 100.
        var many = try objstore.store("s3://coffer-many/repo")
        many.pageSize = 100
        let keys = (0..<305).map { String(format: "data/%02x/%05d", $0 % 256, $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slice in stride(from: 0, to: keys.count, by: 20) {
                group.addTask { [many] in for key in keys[slice..<min(slice + 20, keys.count)] { try await many.put(key, data: Data(key.utf8)) } }
            }
            try await group.waitForAll()
        }
        #expect(try await many.list(prefix: "data/").map(\.key) == keys.sorted())
        try await many.delete(Array(keys.prefix(250)))
        #expect(try await many.list(prefix: "").map(\.key) == Array(keys.suffix(55)).sorted())
        try await many.destroy()
        #expect(try await many.list(prefix: "").isEmpty)

        // Errors name the bucket and the key; only transient ones are retried.
        do {
            _ = try await many.get("data/00/missing")
            Issue.record("a missing object was read")
        } catch let e as BlobStoreError {
            #expect(e.isNotFound && e.description.contains("coffer-many/repo/data/00/missing"), "\(e)")
        }
        #expect(try await objstore.store("s3://coffer-never-made/x").list(prefix: "").isEmpty, "a missing bucket holds nothing")
        var wrongSecret = objstore.environment
        wrongSecret["AWS_SECRET_ACCESS_KEY"] = "wrong"
        do {
            try await S3BlobStore(try S3Location.resolve(url: "s3://coffer-many/repo", environment: wrongSecret)).put("config", data: Data([1]))
            Issue.record("a put with a wrong secret succeeded")
        } catch let e as BlobStoreError {
            #expect(!e.isTransient && e.description.contains("coffer-many/repo/config") && e.description.contains("403"), "\(e)")
        }
        var unreachable = objstore.environment
        unreachable["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:\(freePort())"
        let retried = RetryingBlobStore(wrapping: S3BlobStore(try S3Location.resolve(url: "s3://coffer-many/repo", environment: unreachable)), attempts: 2, sleep: { _ in })
        do {
            _ = try await retried.get("index/abc")
            Issue.record("an unreachable endpoint answered")
        } catch let e as BlobStoreError {
            #expect(e.isTransient && e.description.contains("gave up after 2 attempts") && e.description.contains("index/abc"), "\(e)")
        }
    }
}
