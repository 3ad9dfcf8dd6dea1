import CofferBlobStore
import Foundation

/// Where an `s3://BUCKET[/PREFIX]` repository lives and how to reach it,
/// resolved the way AWS's own tools do: credentials from
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) or the
/// shared credentials file's profile (`AWS_PROFILE`), region from
/// `AWS_REGION`/`AWS_DEFAULT_REGION` or the config file, endpoint from
/// `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`. A custom endpoint is addressed
/// path-style (`http://host:port/bucket/key`: what Swift, Ceph and MinIO
/// serve without DNS); AWS itself virtual-hosted.
public struct S3Location: Sendable, Equatable {
    public var bucket: String
    /// Empty, or `segment/.../` (always ending in `/`): the repository's objects' common prefix.
    public var prefix: String
    public var endpoint: URL
    public var pathStyle: Bool
    public var region: String
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?

    /// What messages show: never a secret.
    public var description: String { "s3://\(bucket)/\(prefix)" }

    /// The first thing wrong with a configuration, named by the variable to fix.
    public struct Problem: Error, CustomStringConvertible { public let description: String }

    /// `readFile` is injected so tests need no home directory.
    public static func resolve(url: String, environment: [String: String],
                               readFile: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }) throws -> S3Location {
        guard url.hasPrefix("s3://") else { throw Problem(description: "repository URL \(url): not an s3:// URL") }
        let rest = url.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        try checkBucket(bucket, url: url)
        var prefix = String(rest.dropFirst(bucket.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !prefix.isEmpty {
            // The same rule as object keys, since the prefix becomes part of each.
            guard (try? BlobKey.validate(prefix)) != nil else {
                throw Problem(description: "repository URL \(url): the prefix may hold only [A-Za-z0-9._-] segments separated by single slashes")
            }
            prefix += "/"
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let profile = environment["AWS_PROFILE"] ?? environment["AWS_DEFAULT_PROFILE"] ?? "default"
        let credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let configFile = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        let credentials = readFile(credentialsFile).map { IniFile.section(profile, in: $0) } ?? [:]
        // The config file names non-default profiles `[profile NAME]`.
        let config = readFile(configFile).map { IniFile.section(profile == "default" ? "default" : "profile " + profile, in: $0) } ?? [:]
        func setting(_ variable: String, _ key: String) -> String? {
            if let value = environment[variable], !value.isEmpty { return value }
            return credentials[key] ?? config[key]
        }
        guard let accessKey = setting("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
              let secretKey = setting("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key") else {
            throw Problem(description: "\(url): no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile \(profile) in \(credentialsFile)")
        }
        let region = [environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"], config["region"]].compactMap { $0 }.first { !$0.isEmpty } ?? "us-east-1"
        let endpointText = [environment["AWS_ENDPOINT_URL_S3"], environment["AWS_ENDPOINT_URL"], config["endpoint_url"]].compactMap { $0 }.first { !$0.isEmpty }
        let endpoint: URL
        let pathStyle: Bool
        if let endpointText {
            guard let parsed = URL(string: endpointText.hasSuffix("/") ? String(endpointText.dropLast()) : endpointText),
                  ["http", "https"].contains(parsed.scheme ?? ""), parsed.host?.isEmpty == false, parsed.query == nil,
                  parsed.path.isEmpty || parsed.path == "/" else {
                throw Problem(description: "AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL \(endpointText): expected http(s)://host[:port] with no path")
            }
            endpoint = parsed
            pathStyle = true
        } else {
            // Virtual-hosted names need DNS-safe buckets without dots (TLS wildcard).
            pathStyle = bucket.contains(".")
            endpoint = URL(string: pathStyle ? "https://s3.\(region).amazonaws.com" : "https://\(bucket).s3.\(region).amazonaws.com")!
        }
        return S3Location(bucket: bucket, prefix: prefix, endpoint: endpoint, pathStyle: pathStyle, region: region,
                          accessKey: accessKey, secretKey: secretKey,
                          sessionToken: setting("AWS_SESSION_TOKEN", "aws_session_token"))
    }

    /// S3's bucket naming rules (DNS-compliant), so a bad name is refused here and not by the service.
    static func checkBucket(_ bucket: String, url: String) throws {
        let allowed = bucket.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || $0 == 46 || $0 == 45 }
        guard (3...63).contains(bucket.count), allowed, let first = bucket.utf8.first, let last = bucket.utf8.last,
              first != 46, first != 45, last != 46, last != 45, !bucket.contains("..") else {
            throw Problem(description: "repository URL \(url): bucket name \"\(bucket)\" must be 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit")
        }
    }

    /// The host header and the path of an object key (already prefixed) or of the bucket (nil).
    func address(_ objectKey: String?) -> (host: String, path: String) {
        var host = endpoint.host ?? ""
        if let port = endpoint.port { host += ":\(port)" }
        let tail = objectKey.map { "/" + $0 } ?? "/"
        return (host, pathStyle ? "/" + bucket + (objectKey.map { "/" + $0 } ?? "") : tail)
    }
}

/// The `[section]` / `key = value` files AWS tools read.
enum IniFile {
    static func section(_ name: String, in text: String) -> [String: String] {
        var current: String?
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard current == name, let eq = line.firstIndex(of: "=") else { continue }
            values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }
}
