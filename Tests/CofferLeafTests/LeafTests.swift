import Foundation
import Testing
@testable import CofferChunking
@testable import CofferCompression
@testable import CofferCrypto
import CofferSystem

func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        let v = Chunker.splitMix64(&state)
        for k in 0..<8 where i + k < count { out[i + k] = UInt8(truncatingIfNeeded: v >> UInt64(8 * k)) }
        i += 8
    }
    return out
}

@Suite struct ChunkerTests {
    let params = ChunkerParameters(minSize: 2048, averageSize: 8192, maxSize: 65536)

    @Test func boundsAndCoverage() {
        let chunker = Chunker(parameters: params, seed: 42)
        let data = pseudoRandomBytes(2_000_000, seed: 1)
        let ranges = chunker.split(data)
        #expect(ranges.first?.lowerBound == 0)
        #expect(ranges.last?.upperBound == data.count)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        for r in ranges.dropLast() { #expect(r.count >= params.minSize && r.count <= params.maxSize) }
        let average = data.count / ranges.count
        #expect(average > params.averageSize / 2 && average < params.averageSize * 2, "average \(average)")
    }

    @Test func insertionOnlyDisturbsNearbyChunks() {
        let chunker = Chunker(parameters: params, seed: 7)
        let data = pseudoRandomBytes(1_000_000, seed: 2)
        var edited = data
        edited.insert(contentsOf: [1, 2, 3, 4, 5], at: 300_000)
        func chunks(_ d: [UInt8]) -> Set<[UInt8]> { Set(chunker.split(d).map { Array(d[$0]) }) }
        let before = chunks(data), after = chunks(edited)
        #expect(before.intersection(after).count >= before.count - 3)
    }

    @Test func seedChangesBoundaries() {
        let data = pseudoRandomBytes(500_000, seed: 3)
        #expect(Chunker(parameters: params, seed: 1).split(data) != Chunker(parameters: params, seed: 2).split(data))
        #expect(Chunker(parameters: params, seed: 1).split(data) == Chunker(parameters: params, seed: 1).split(data))
    }

    @Test func zerosCutAtMaximum() {
        let ranges = Chunker(parameters: params, seed: 5).split([UInt8](repeating: 0, count: 200_000))
        #expect(ranges.dropLast().allSatisfy { $0.count == params.maxSize })
    }
}

@Suite struct CompressionTests {
    @Test func roundTripAndIncompressible() throws {
        let text = Data(String(repeating: "the quick brown fox ", count: 5000).utf8)
        func compressIfSmaller(_ input: Data) -> Data? {
            var out = [UInt8](repeating: 0, count: input.count)
            let n = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { Zstd.compress(i, into: $0, level: 3) } }
            return n.map { Data(out[0..<$0]) }
        }
        func decompress(_ input: Data, expectedSize: Int) throws -> Data {
            try input.withUnsafeBytes { try Zstd.decompress($0, expectedSize: expectedSize) }
        }
        let packed = try #require(compressIfSmaller(text))
        #expect(packed.count < text.count / 10)
        #expect(try decompress(packed, expectedSize: text.count) == text)
        #expect(Zstd.frameContentSize(packed) == text.count)
        #expect(compressIfSmaller(Data(pseudoRandomBytes(100_000, seed: 9))) == nil)
        #expect(compressIfSmaller(Data()) == nil)
        #expect(throws: CompressionError.self) { try decompress(Data([1, 2, 3, 4]), expectedSize: 10) }
        #expect(throws: CompressionError.self) { try decompress(packed, expectedSize: text.count + 1) }
    }
}

@Suite struct CryptoTests {
    @Test func sealOpenAndTamper() throws {
        let keys = RepositoryKeys.generate()
        let sealed = Sealer.seal(Data("secret".utf8), key: keys.dataKey, context: Array("blob".utf8))
        #expect(try Sealer.open(sealed, key: keys.dataKey, context: Array("blob".utf8), what: "x") == Data("secret".utf8))
        var bad = sealed; bad[bad.startIndex + 14] ^= 1
        #expect(throws: CryptoError.self) { try Sealer.open(bad, key: keys.dataKey, context: Array("blob".utf8), what: "x") }
        #expect(throws: CryptoError.self) { try Sealer.open(sealed, key: keys.dataKey, context: Array("tree".utf8), what: "x") }
        #expect(throws: CryptoError.self) { try Sealer.open(sealed, key: RepositoryKeys.generate().dataKey, context: Array("blob".utf8), what: "x") }
        #expect(throws: CryptoError.self) { try Sealer.open(sealed.prefix(5), key: keys.dataKey, context: [], what: "x") }
    }

    /// The in-place pair (OpenSSL's libcrypto) and swift-crypto's seal/open read each other's
    /// records: one format, two implementations, every direction checked, tampering refused.
    @Test(arguments: [0, 1, 17, 1 << 20])
    func inPlaceSealingIsTheSameFormat(size: Int) throws {
        let keys = RepositoryKeys.generate()
        let context = Array("blob-context".utf8)
        let plain = Data(pseudoRandomBytes(size, seed: UInt64(size) + 3))
        var record = [UInt8](repeating: 0xEE, count: size + Sealer.overhead)
        record.replaceSubrange(Sealer.nonceSize..<(Sealer.nonceSize + size), with: plain)
        let length = record.withUnsafeMutableBytes { Sealer.sealInPlace($0, plaintextCount: size, key: keys.dataKey, context: context) }
        #expect(length == size + Sealer.overhead)
        if size > 0 { #expect(Data(record[Sealer.nonceSize..<(Sealer.nonceSize + size)]) != plain) }
        #expect(try Sealer.open(Data(record), key: keys.dataKey, context: context, what: "x") == plain)

        var sealed = [UInt8](Sealer.seal(plain, key: keys.dataKey, context: context))
        let opened = try sealed.withUnsafeMutableBytes { try Sealer.openInPlace($0, key: keys.dataKey, context: context, what: "x") }
        #expect(opened == size)
        #expect(Data(sealed[Sealer.nonceSize..<(Sealer.nonceSize + size)]) == plain)

        // Two seals of the same bytes differ (fresh nonces).
        var again = [UInt8](repeating: 0, count: size + Sealer.overhead)
        again.replaceSubrange(Sealer.nonceSize..<(Sealer.nonceSize + size), with: plain)
        _ = again.withUnsafeMutableBytes { Sealer.sealInPlace($0, plaintextCount: size, key: keys.dataKey, context: context) }
        #expect(again[0..<Sealer.nonceSize] != record[0..<Sealer.nonceSize])

        for flip in [0, Sealer.nonceSize, record.count - 1] where flip < record.count && (size > 0 || flip != Sealer.nonceSize) {
            var bad = record
            bad[flip] ^= 0x01
            #expect(throws: CryptoError.self) { try bad.withUnsafeMutableBytes { try Sealer.openInPlace($0, key: keys.dataKey, context: context, what: "x") } }
        }
        var other = record
        #expect(throws: CryptoError.self) { try other.withUnsafeMutableBytes { try Sealer.openInPlace($0, key: keys.dataKey, context: Array("tree".utf8), what: "x") } }
        other = record
        #expect(throws: CryptoError.self) { try other.withUnsafeMutableBytes { try Sealer.openInPlace($0, key: RepositoryKeys.generate().dataKey, context: context, what: "x") } }
        var short = [UInt8](record.prefix(Sealer.overhead - 1))
        #expect(throws: CryptoError.self) { try short.withUnsafeMutableBytes { try Sealer.openInPlace($0, key: keys.dataKey, context: context, what: "x") } }
    }

    @Test func idsAreKeyedAndStable() {
        let k1 = RepositoryKeys.generate(), k2 = RepositoryKeys.generate()
        #expect(k1.blobID(Data("a".utf8)) == k1.blobID(Data("a".utf8)))
        #expect(k1.blobID(Data("a".utf8)) != k2.blobID(Data("a".utf8)))
        let restored = RepositoryKeys(material: k1.material)!
        #expect(restored.blobID(Data("a".utf8)) == k1.blobID(Data("a".utf8)))
        #expect(restored.chunkerSeed == k1.chunkerSeed)
    }

    @Test func hashHexRoundTrip() {
        let h = Hash256.sha256(Data("abc".utf8))
        #expect(h.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hash256(hex: h.hex) == h)
        #expect(Hash256(hex: "zz") == nil)
        #expect(Hash256(hex: String(repeating: "g", count: 64)) == nil)
        // From any byte sequence: the first 32 bytes, fewer zero-filled, the same through every path.
        let bytes = (0..<40).map { UInt8($0 * 7 & 0xff) }
        let h32 = Hash256(bytes: bytes)
        #expect(h32.bytes == Array(bytes.prefix(32)))
        #expect(Hash256(bytes: Data(bytes)[3...]) == Hash256(bytes: Array(bytes[3...])))
        #expect(Hash256(bytes: bytes.lazy.map { $0 }) == h32)
        #expect(bytes.withUnsafeBytes { Hash256($0) } == h32)
        #expect(Hash256(bytes: [1, 2, 3]).bytes == [1, 2, 3] + [UInt8](repeating: 0, count: 29))
        #expect(Hash256(bytes: h.bytes) == h)
    }

    @Test func kdfsAreDeterministicPerSalt() throws {
        let cheap = KeyDerivation.scrypt(salt: [1, 2, 3], n: 1 << 10, r: 8, p: 1)
        let a = try cheap.deriveMasterKey(secret: Array("pw".utf8))
        let b = try cheap.deriveMasterKey(secret: Array("pw".utf8))
        let c = try cheap.deriveMasterKey(secret: Array("pw2".utf8))
        #expect(a == b && a != c)
        let kf = KeyDerivation.newKeyFile()
        #expect(try kf.deriveMasterKey(secret: [1, 2]) == kf.deriveMasterKey(secret: [1, 2]))
    }
}

@Suite struct BufferPoolTests {
    @Test func buffersComeBackAndAreReused() {
        let pool = BufferPool(bufferSize: 100_000, maxRetained: 2, residentLimit: 8192)
        #expect(pool.bufferSize % 4096 == 0 && pool.bufferSize >= 100_000)
        let source = pseudoRandomBytes(70_000, seed: 5)
        var copy: Data? = source.withUnsafeBytes { pool.data(copying: $0.baseAddress!, count: $0.count) }
        #expect(copy == Data(source))
        #expect(pool.outstandingCount == 1)
        let first = copy!.withUnsafeBytes { $0.baseAddress! }
        copy = nil
        #expect(pool.outstandingCount == 0 && pool.idleCount == 1)
        let again = pool.take()
        #expect(UnsafeRawPointer(again) == first)
        pool.give(again, used: 0)
        #expect(pool.data(copying: first, count: 0).isEmpty && pool.outstandingCount == 0)
    }

    @Test func idleBuffersAreBoundedInNumberAndResidentBytes() {
        let pool = BufferPool(bufferSize: 64 << 10, maxRetained: 2, residentLimit: 8192)
        let buffers = (0..<4).map { _ in pool.take() }
        #expect(pool.outstandingCount == 4)
        for b in buffers { b.storeBytes(of: 0xAB, toByteOffset: 100, as: UInt8.self); b.storeBytes(of: 0xCD, toByteOffset: 40_000, as: UInt8.self) }
        for b in buffers { pool.give(b, used: pool.bufferSize) }
        #expect(pool.idleCount == 2 && pool.outstandingCount == 0)
        // An idle buffer keeps its first `residentLimit` bytes; the pages past them went back to the kernel (read as zero).
        let reused = pool.take()
        #expect(reused.load(fromByteOffset: 100, as: UInt8.self) == 0xAB)
        #expect(reused.load(fromByteOffset: 40_000, as: UInt8.self) == 0)
        pool.give(reused, used: 0)
    }
}

@Suite struct JSONWriterTests {
    @Test func writesWhatJSONSerializationReadsBack() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"n": 3, "f": 2.5, "t": true, "s": "x"}"#.utf8))
        let tree: [String: Any] = [
            "string": "quote \" backslash \\ newline \n tab \t bell \u{07} slash / ünïcödé 🙂",
            "int": 42, "negative": Int64(-7), "big": Int64(1) << 60, "double": 0.25, "integral": 3.0,
            "yes": true, "no": false, "null": NSNull(), "empty": [String: Any](), "list": [1, "two", [3], ["four": 4]] as [Any],
            "parsed": parsed, "optional": Optional<String>.none as Any,
        ]
        let bytes = JSONWriter.data(tree)
        let back = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        #expect(back["string"] as? String == tree["string"] as? String)
        #expect(back["int"] as? Int == 42 && back["negative"] as? Int == -7 && back["big"] as? Int64 == Int64(1) << 60)
        #expect(back["double"] as? Double == 0.25 && back["integral"] as? Int == 3)
        #expect(back["yes"] as? Bool == true && back["no"] as? Bool == false)
        #expect(back["null"] is NSNull && back["optional"] is NSNull)
        #expect((back["list"] as? [Any])?.count == 4)
        let inner = try #require(back["parsed"] as? [String: Any])
        #expect(inner["n"] as? Int == 3 && inner["f"] as? Double == 2.5 && inner["t"] as? Bool == true && inner["s"] as? String == "x")
        // Parsed booleans stay booleans, not 1.
        #expect(String(decoding: JSONWriter.data(parsed), as: UTF8.self) == #"{"f":2.5,"n":3,"s":"x","t":true}"#)
        // Keys in byte order, no spaces, slashes unescaped.
        #expect(String(decoding: JSONWriter.data(["b": 1, "a": "/x", "B": [Any]()] as [String: Any]), as: UTF8.self) == #"{"B":[],"a":"/x","b":1}"#)
    }
}

@Suite struct TimeFormatTests {
    /// Foundation's DateFormatter (ICU), which UTCTimeFormat replaced, is the oracle.
    static func oracle(_ pattern: String) -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = pattern
        return f
    }

    static let patterns = ["yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "yyyyMMdd'T'HHmmss'Z'", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
                           "yyyy-MM-dd'T'HH:mm:ss'Z'", "EEE, dd MMM yyyy HH:mm:ss 'GMT'", "yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ssZ", "yyyy-MM-dd'T'HH:mm:ssXXX"]

    static func samples() -> [Int64] {
        var state: UInt64 = 7
        var samples: [Int64] = [0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000 /* 2000-02-29 */, 4_102_444_800_000 /* 2100-01-01 */,
                                1_767_225_599_999, -1, -86_400_001 /* 1969-12-30 */]
        for _ in 0..<1500 { samples.append(Int64(Chunker.splitMix64(&state) % 4_102_444_800_000)) }
        return samples
    }

    @Test func formatsAndParsesAsTheFormatterDid() {
        for pattern in Self.patterns {
            let ours = UTCTimeFormat(pattern), theirs = Self.oracle(pattern)
            for ms in Self.samples() {
                let date = Date(timeIntervalSince1970: Double(ms) / 1000)
                let expected = theirs.string(from: date)
                let got = ours.string(date)
                #expect(got == expected, "\(pattern) \(ms)")
                #expect(ours.date(got) == theirs.date(from: got), "\(pattern) \(got)")
                if got != expected { break }
            }
        }
        for ms in Self.samples() {
            #expect(UTCTimeFormat.cbrString(epochMilliseconds: ms) == UTCTimeFormat.cbr.string(Date(timeIntervalSince1970: Double(ms) / 1000)))
        }
    }

    @Test func parsesOffsetsFractionsAndRefusesNonsense() {
        let rfc = { (s: String) in UTCTimeFormat.parseRFC3339(s)?.timeIntervalSince1970 }
        #expect(rfc("2026-12-04T04:20:48.385Z") == 1_796_358_048.385)
        #expect(rfc("2026-12-04T04:20:48Z") == 1_796_358_048)
        #expect(rfc("2026-12-04T05:20:48.385+01:00") == 1_796_358_048.385)
        #expect(rfc("2026-12-04T04:20:48.3851239Z") == 1_796_358_048.385)
        #expect(rfc("2026-12-04T04:20:48.3Z") == 1_796_358_048.3)
        #expect(UTCTimeFormat.rfc3339.string(Date(timeIntervalSince1970: 1_796_358_048.385)) == "2026-12-04T04:20:48.385Z")
        #expect(UTCTimeFormat.rdsQueryForms[0].date("2018-08-06T12:41:14+0800")?.timeIntervalSince1970 == 1_533_530_474)
        #expect(UTCTimeFormat.rdsQueryForms[1].date("2018-08-06T04:41:14Z")?.timeIntervalSince1970 == 1_533_530_474)
        for bad in ["2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:00",
                    "2026-01-01T00:00:00Zjunk", "2026-1-01T00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0100", "", "x"] {
            #expect(UTCTimeFormat.parseRFC3339(bad) == nil, "\(bad)")
        }
        #expect(UTCTimeFormat("EEE, dd MMM yyyy HH:mm:ss 'GMT'").date("Fri, 04 Dec 2026 04:20:48 GMT") != nil)
        #expect(UTCTimeFormat("EEE, dd MMM yyyy HH:mm:ss 'GMT'").date("Mon, 04 Dec 2026 04:20:48 GMT") == nil, "the wrong weekday")
        #expect(UTCTimeFormat("yyyy-MM-dd").date("2028-02-29")?.timeIntervalSince1970 == 1_835_395_200)
    }
}

@Suite struct SubprocessTests {
    @Test func statusOutputAndDaemonsLeftBehind() throws {
        let failed = try Subprocess.run("/bin/bash", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(failed.status == 3 && failed.output.contains("out") && failed.output.contains("err"))
        let separate = try Subprocess.run("/bin/bash", ["-c", "echo err >&2; echo out"], mergeStandardError: false)
        #expect(separate.output == "out\nerr\n")
        let env = try Subprocess.run("/bin/bash", ["-c", "printf %s \"$SECRET\""], environment: ["SECRET": "s3"])
        #expect(env.status == 0 && env.output == "s3")
        // A program that leaves a detached child behind returns at once (pg_ctl start does).
        let started = Date()
        let daemon = try Subprocess.run("/bin/bash", ["-c", "(sleep 30 > /dev/null 2>&1 < /dev/null &); echo started"])
        #expect(daemon.status == 0 && daemon.output == "started\n" && Date().timeIntervalSince(started) < 10)
        let killed = try Subprocess.run("/bin/bash", ["-c", "kill -9 $$"])
        #expect(killed.status == 137)
        #expect(throws: Subprocess.Failure.self) { try Subprocess.run("/nonexistent/program", []) }
    }
}

@Suite struct ManualClockTests {
    @Test func sleepersWakeOnlyWhenTimeIsMovedPastTheirDeadline() async throws {
        let clock = ManualClock()
        let woke = Counter()
        let short = Task { try await clock.sleep(for: 10); woke.add() }
        let long = Task { try await clock.sleep(for: 60); woke.add() }
        try await clock.waitForSleepers(2)
        clock.advance(by: 9)
        #expect(clock.sleeping == 2 && woke.value == 0)
        clock.advance(by: 1)
        try await short.value
        #expect(woke.value == 1 && clock.sleeping == 1)
        clock.set(clock.now().addingTimeInterval(100))
        try await long.value
        #expect(woke.value == 2 && clock.sleeping == 0)
        // A zero sleep returns at once.
        try await clock.sleep(for: 0)
    }

    @Test func cancellingASleeperEndsItWithCancellation() async throws {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: 3600) }
        try await clock.waitForSleepers(1)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeping == 0)
        // Cancelled before it starts waiting: still ends at once.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(for: 3600)
        }
        await #expect(throws: CancellationError.self) { try await early.value }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}

@Suite struct ForEachConcurrentlyTests {
    final class Gauge: @unchecked Sendable {
        let lock = NSLock()
        var now = 0, most = 0
        func enter() { lock.withLock { now += 1; most = max(most, now) } }
        func leave() { lock.withLock { now -= 1 } }
    }

    @Test func everyElementOnceAtMostWidthAtATime() async throws {
        let gauge = Gauge()
        var seen: [Int: Int] = [:]
        try await forEachConcurrently(Array(0..<100), width: 3, { n in
            gauge.enter()
            try? await Task.sleep(nanoseconds: 200_000)
            gauge.leave()
            return n * 2
        }) { n, doubled in seen[n] = doubled }
        #expect(seen.count == 100 && seen.allSatisfy { $0.value == $0.key * 2 })
        #expect(gauge.most <= 3 && gauge.most >= 1)
    }

    @Test func aConsumerErrorEndsTheRun() async {
        struct Stop: Error {}
        var consumed = 0
        await #expect(throws: Stop.self) {
            try await forEachConcurrently(Array(0..<50), { $0 }) { _, n in
                consumed += 1
                if n == 10 { throw Stop() }
            }
        }
        #expect(consumed < 50)
    }
}
