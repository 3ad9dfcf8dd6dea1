import Foundation
import Testing
@testable import CofferS3

/// How `s3://` URLs and the AWS environment resolve, and the XML S3 answers with.
@Suite struct S3Configuration {
    let keys = ["AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SHARED_CREDENTIALS_FILE": "/c", "AWS_CONFIG_FILE": "/f"]

    func resolve(_ url: String, _ env: [String: String], files: [String: String] = [:]) throws -> S3Location {
        try S3Location.resolve(url: url, environment: env, readFile: { files[$0] })
    }

    @Test func aCustomEndpointIsPathStyleAndTheEnvironmentWins() throws {
        var env = keys
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:8080/"
        env["AWS_ENDPOINT_URL_S3"] = "http://10.0.0.1:9000"
        env["AWS_DEFAULT_REGION"] = "eu-west-1"
        env["AWS_SESSION_TOKEN"] = "TOK"
        let l = try resolve("s3://my-bucket/vaults/prod/", env)
        #expect(l.bucket == "my-bucket" && l.prefix == "vaults/prod/" && l.pathStyle && l.region == "eu-west-1" && l.sessionToken == "TOK")
        #expect(l.endpoint.absoluteString == "http://10.0.0.1:9000")
        #expect(l.address("vaults/prod/config") == ("10.0.0.1:9000", "/my-bucket/vaults/prod/config"))
        #expect(l.address(nil) == ("10.0.0.1:9000", "/my-bucket"))
        #expect(l.description == "s3://my-bucket/vaults/prod/")
    }

    @Test func awsItselfIsVirtualHostedAndProfilesComeFromTheFiles() throws {
        let files = ["/c": "[default]\naws_access_key_id = DEF\naws_secret_access_key = DEFSECRET\n\n[backup]\naws_access_key_id=BK\naws_secret_access_key = BS\naws_session_token = BT\n",
                     "/f": "[profile backup]\nregion = ap-southeast-1\n"]
        let l = try resolve("s3://bucket", ["AWS_PROFILE": "backup", "AWS_SHARED_CREDENTIALS_FILE": "/c", "AWS_CONFIG_FILE": "/f"], files: files)
        #expect(l.accessKey == "BK" && l.secretKey == "BS" && l.sessionToken == "BT" && l.region == "ap-southeast-1" && l.prefix == "")
        #expect(!l.pathStyle && l.endpoint.absoluteString == "https://bucket.s3.ap-southeast-1.amazonaws.com")
        #expect(l.address("config") == ("bucket.s3.ap-southeast-1.amazonaws.com", "/config"))
        let d = try resolve("s3://bucket", ["AWS_SHARED_CREDENTIALS_FILE": "/c", "AWS_CONFIG_FILE": "/f"], files: files)
        #expect(d.accessKey == "DEF" && d.region == "us-east-1")
    }

    @Test func badURLsAndMissingCredentialsNameWhatToFix() {
        for (url, env, words) in [("s3://Bad_Bucket/x", keys, "bucket name"), ("s3://ok-bucket/a//b", keys, "prefix"), ("s3://ok-bucket/../x", keys, "prefix"),
                                  ("s3://ab", keys, "bucket name"), ("s3://ok-bucket", ["AWS_SHARED_CREDENTIALS_FILE": "/none"], "AWS_ACCESS_KEY_ID"),
                                  ("s3://ok-bucket", keys.merging(["AWS_ENDPOINT_URL_S3": "ftp://x"]) { $1 }, "AWS_ENDPOINT_URL_S3"),
                                  ("s3://ok-bucket", keys.merging(["AWS_ENDPOINT_URL_S3": "http://h:1/path"]) { $1 }, "no path")] {
            #expect(throws: S3Location.Problem.self, "\(url)") { try resolve(url, env) }
            do { _ = try resolve(url, env) } catch { #expect("\(error)".contains(words), "\(url): \(error)") }
        }
    }

    @Test func xmlElementsAndEntities() {
        let listing = Data("""
        <?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>true</IsTruncated>
        <Contents><Key>p/a&amp;b</Key><Size>12</Size><LastModified>2026-12-02T10:00:00.000Z</LastModified></Contents>
        <Contents><Key>p/c</Key><Size>0</Size></Contents><ContentsX>no</ContentsX><NextContinuationToken>1&lt;2</NextContinuationToken><Empty/></ListBucketResult>
        """.utf8)
        let entries = S3XML.elements("Contents", in: listing)
        #expect(entries.count == 2)
        #expect(S3XML.value("Key", in: entries[0]) == "p/a&b" && S3XML.value("Size", in: entries[1]) == "0")
        #expect(S3XML.value("NextContinuationToken", in: listing) == "1<2" && S3XML.value("Empty", in: listing) == "")
        #expect(S3XML.value("LastModified", in: entries[0]).flatMap(S3Dates.iso8601) == Date(timeIntervalSince1970: 1_796_205_600))
        #expect(S3XML.value("Missing", in: listing) == nil)
        #expect(S3XML.unescape(Array("&#65;&#x42;&bogus;".utf8)[...]) == "AB&bogus;")
        #expect(S3Dates.http("Wed, 02 Dec 2026 10:00:00 GMT") == Date(timeIntervalSince1970: 1_796_205_600))
    }
}
