import Foundation
import Testing
@testable import CofferService

/// Vectors from shared/api/cbr-v3.md §3.2 (computed by the real SDK).
@Suite struct AKSKSignatureVectors {
    let ak = "EXAMPLEAK0000000001"
    let sk = "exampleSecretKey0000000000000000000000001"
    let pid = "0123456789abcdef0123456789abcdef"

    func request(_ method: String, _ path: String, _ query: String = "", body: String = "", contentType: String = "application/json", authorization: String? = nil, date: String = "20250101T120000Z") -> SignableRequest {
        let headers: [String: String] = [
            "content-type": contentType, "user-agent": "huaweicloud-usdk-python/3.0; example-ua",
            "x-sdk-date": date, "x-project-id": pid, "host": "127.0.0.1:8080",
        ].merging(authorization.map { ["authorization": $0] } ?? [:]) { a, _ in a }
        return SignableRequest(method: method, rawPath: path, rawQuery: query, body: Data(body.utf8)) { headers[$0] }
    }

    let signed = ["content-type", "host", "user-agent", "x-project-id", "x-sdk-date"]
    let when = AKSKSignature.parseSdkDate("20250101T120000Z")!

    @Test func workedExample() {
        let r = request("GET", "/v3/\(pid)/backups/6f1e4b0c-1111-2222-3333-444455556666")
        let canonical = AKSKSignature.canonicalRequest(r, signedHeaders: signed)
        #expect(canonical == """
        GET
        /v3/\(pid)/backups/6f1e4b0c-1111-2222-3333-444455556666/

        content-type:application/json
        host:127.0.0.1:8080
        user-agent:huaweicloud-usdk-python/3.0; example-ua
        x-project-id:\(pid)
        x-sdk-date:20250101T120000Z

        content-type;host;user-agent;x-project-id;x-sdk-date
        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
        """)
        let sts = AKSKSignature.stringToSign(date: "20250101T120000Z", canonicalRequest: canonical)
        #expect(sts.hasSuffix("312cc48f3dc95c3423ad080189f05fb57995534bc95aafd928d069f4398c0588"))
        #expect(AKSKSignature.signature(secret: sk, stringToSign: sts) == "c1e725a98887b74056394c5ab49920b873a16a9a79c88505047636cc5e0772fd")
    }

    @Test(arguments: [
        ("GET", "/backups", "limit=10&name=a%20b%2Fc&offset=0&show_replication=true&sort=created_at%3Adesc&vault_id=v-1", "", "application/json", "64ae7951fb87394eddf80df932cba84f52c33d32edd30844a04b85869db25504"),
        ("GET", "/vaults", "id=a&id=b&limit=5", "", "application/json", "59a43771115d3c77537e72b65888a4fd9b4b1f6748f64da54ba5710475b13062"),
        ("PUT", "/backups/bk-1", "", "{\"backup\": {\"name\": \"new-name\"}}", "application/json;charset=utf-8", "4260988b07b8d8ff9affc7aeccb7e9bea8a768f99a9165066642b083cee08149"),
        ("DELETE", "/vault/v-1/tags/k%20ey%2F%25%E4%B8%AD", "", "", "application/json", "0edfec507280019dcaf35167d77922c77b5e73b6ef5f9131169af81ff4f98509"),
        ("POST", "/vaults", "", "{\"vault\": {\"billing\": {\"consistent_level\": \"crash_consistent\", \"object_type\": \"server\", \"protect_type\": \"backup\", \"size\": 100}, \"name\": \"v\", \"resources\": []}}", "application/json;charset=utf-8", "0ca4e1f06049622572ee985b1b67183a1519ec28bef8a847812014c876e9ff8f"),
    ])
    func vectors(method: String, path: String, query: String, body: String, contentType: String, signature: String) {
        let r = request(method, "/v3/\(pid)" + path, query, body: body, contentType: contentType)
        let auth = AKSKSignature.sign(r, accessKey: ak, secret: sk, signedHeaders: signed)
        #expect(auth.hasSuffix("Signature=\(signature)"))
        let verified = AKSKSignature.verify(request(method, "/v3/\(pid)" + path, query, body: body, contentType: contentType, authorization: auth), now: when) { $0 == ak ? sk : nil }
        #expect((try? verified.get())?.accessKey == ak)
    }

    @Test func canonicalForms() {
        #expect(AKSKSignature.canonicalURI(rawPath: "/v3/p/vault/v-1/tags/k%20ey%2F%25%E4%B8%AD") == "/v3/p/vault/v-1/tags/k%20ey/%25%E4%B8%AD/")
        #expect(AKSKSignature.canonicalQuery(rawQuery: "b=2&a=%7e&a=1&flag") == "a=1&a=~&b=2&flag=")
        #expect(AKSKSignature.canonicalQuery(rawQuery: "") == "")
    }

    @Test func tamperingIsRefused() {
        let good = AKSKSignature.sign(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 1}"), accessKey: ak, secret: sk, signedHeaders: signed)
        func check(_ r: SignableRequest, now: Date? = nil) -> AKSKSignature.Failure? {
            if case let .failure(f) = AKSKSignature.verify(r, now: now ?? when, secret: { $0 == ak ? sk : nil }) { return f }
            return nil
        }
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 1}", authorization: good)) == nil)
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 2}", authorization: good)) == .signatureMismatch)
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-2", body: "{\"a\": 1}", authorization: good)) == .signatureMismatch)
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-1", "x=1", body: "{\"a\": 1}", authorization: good)) == .signatureMismatch)
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 1}", authorization: good, date: "20250101T120001Z")) == .signatureMismatch)
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 1}", authorization: good), now: when.addingTimeInterval(16 * 60)) == .dateOutOfRange)
        let wrongSecret = AKSKSignature.sign(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 1}"), accessKey: ak, secret: sk + "x", signedHeaders: signed)
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 1}", authorization: wrongSecret)) == .signatureMismatch)
        let otherAK = good.replacingOccurrences(of: ak, with: "NOPE")
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 1}", authorization: otherAK)) == .unknownAccessKey("NOPE"))
        #expect(check(request("PUT", "/v3/\(pid)/backups/bk-1", body: "{\"a\": 1}", authorization: "Bearer x")) == .malformedAuthorization)
    }
}
