import CofferCrypto
import Foundation
import Testing
@testable import CofferS3

/// SigV4 against fixed vectors: AWS's own S3 example (GET with a Range), and
/// signatures botocore 1.35 computed for the requests Coffer's store makes
/// (a listing with an encoded prefix and continuation token on a path-style
/// endpoint with a port; a PUT of a key with a space, with a session token).
@Suite struct SigV4Signing {
    let signer = SigV4Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    let at = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    func authorization(_ headers: [(String, String)]) -> String { headers.first { $0.0 == "Authorization" }?.1 ?? "" }

    @Test func awsDocumentationGetObjectWithRange() {
        let headers = signer.sign(.init(method: "GET", path: "/test.txt", headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                                        payloadHash: SigV4Signer.emptyPayload), at: at)
        #expect(authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
    }

    @Test func listingWithAnEncodedPrefixOnAPathStyleEndpoint() {
        let headers = signer.sign(.init(method: "GET", path: "/bucket", query: [("list-type", "2"), ("prefix", "vaults/a b/"), ("continuation-token", "x+y")],
                                        headers: [("host", "127.0.0.1:8080")], payloadHash: SigV4Signer.emptyPayload), at: at)
        #expect(authorization(headers).hasSuffix("SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=61475a4ecf42a5e68610c4a0a0f18ef2c95ca68fc8cc18aeef0f9ac6ed3b98ac"),
                "\(authorization(headers))")
    }

    @Test func putOfAKeyWithASpaceAndASessionToken() {
        var withToken = signer
        withToken.sessionToken = "TOKEN/with+chars"
        let body = Array("hello".utf8)
        let headers = withToken.sign(.init(method: "PUT", path: "/bucket/data/ab/c d~e.pack", headers: [("Host", "127.0.0.1:8080"), ("Content-Length", "5")],
                                           payloadHash: Digest.sha256Hex(body)), at: at)
        #expect(authorization(headers).hasSuffix("SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
            + "Signature=010c09795872fa465a9e537e7103e72ec2a098d8f6cd143961e3724ff9f6eb4a"), "\(authorization(headers))")
        #expect(headers.contains { $0 == ("x-amz-security-token", "TOKEN/with+chars") })
    }

    @Test func canonicalFormKeepsSlashesInThePathAndEncodesThemInTheQuery() {
        let (canonical, signed) = signer.canonicalRequest(.init(method: "GET", path: "/b/k é", query: [("b", "2"), ("a", "x/y"), ("a", "1")],
                                                                headers: [("Host", "h"), ("X-Amz-Meta-Note", "  two   spaces ")], payloadHash: "p"))
        #expect(canonical == "GET\n/b/k%20%C3%A9\na=1&a=x%2Fy&b=2\nhost:h\nx-amz-meta-note:two spaces\n\nhost;x-amz-meta-note\np")
        #expect(signed == "host;x-amz-meta-note")
    }
}
