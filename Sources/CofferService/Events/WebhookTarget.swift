import CofferSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a tenant may send its webhooks. A tenant names the URL, so a
/// webhook is a request the server makes on the tenant's behalf: it must not
/// reach what only the server can reach (loopback services such as a
/// metrics port, the cloud's metadata address, the operator's private
/// network). Addresses of those kinds are refused unless the operator lists
/// their network (`coffer serve --webhook-allow CIDR`). The check runs on
/// the URL at registration and on every address the name resolves to at
/// each delivery (a name may later resolve elsewhere).
public struct WebhookTargetPolicy: Sendable {
    public var allowed: [Network]

    public init(allowed: [Network] = []) { self.allowed = allowed }

    /// An IP network in CIDR form (`127.0.0.1/32`, `10.0.0.0/8`, `fd00::/8`).
    public struct Network: Sendable, Equatable, CustomStringConvertible {
        public var address: [UInt8]
        public var prefix: Int

        public init?(_ text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let address = WebhookTargetPolicy.parseAddress(String(parts[0])) else { return nil }
            let bits = address.count * 8
            if parts.count == 2 {
                guard let prefix = Int(parts[1]), (0...bits).contains(prefix), parts[1].allSatisfy(\.isASCII) else { return nil }
                self.prefix = prefix
            } else {
                prefix = bits
            }
            self.address = address
        }

        public func contains(_ other: [UInt8]) -> Bool {
            guard other.count == address.count else { return false }
            var remaining = prefix
            for i in 0..<address.count where remaining > 0 {
                let take = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
                guard address[i] & mask == other[i] & mask else { return false }
                remaining -= take
            }
            return true
        }

        public var description: String { WebhookTargetPolicy.format(address) + "/\(prefix)" }
    }

    /// Networks no webhook reaches unless allowed: this host, private and
    /// shared address space, link-local (cloud metadata), multicast,
    /// documentation and reserved ranges.
    static let special: [Network] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
        "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
    ].map { Network($0)! }

    /// IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4): judged by that address.
    static func embeddedIPv4(_ a: [UInt8]) -> [UInt8]? {
        guard a.count == 16 else { return nil }
        if a[0..<10].allSatisfy({ $0 == 0 }) && a[10] == 0xFF && a[11] == 0xFF { return Array(a[12..<16]) }
        if a[0..<12] == [0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0][...] { return Array(a[12..<16]) }
        if a[0] == 0x20 && a[1] == 0x02 { return Array(a[2..<6]) }
        return nil
    }

    /// Whether a delivery may connect to this address.
    public func permits(_ address: [UInt8]) -> Bool {
        if allowed.contains(where: { $0.contains(address) }) { return true }
        if let v4 = WebhookTargetPolicy.embeddedIPv4(address) { return permits(v4) }
        return !WebhookTargetPolicy.special.contains { $0.contains(address) }
    }

    /// 4 or 16 bytes from a literal address (IPv6 without brackets); nil if it is not one.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count <= 45, text.allSatisfy(\.isASCII) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    public static func format(_ address: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = address.count == 4 ? AF_INET : AF_INET6
        let ok = address.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) } != nil
        return ok ? String(cString: buffer) : "?"
    }

    /// A webhook URL as registered: http or https, a host, no credentials or
    /// fragment, printable ASCII, at most 2048 bytes; an address literal must be permitted.
    public struct Target: Sendable, Equatable {
        public var url: String
        public var scheme: String
        /// The host as in the URL, without IPv6 brackets.
        public var host: String
        public var port: Int
        /// The path and query to request.
        public var requestTarget: String
    }

    public func target(_ url: String, field: String) throws -> Target {
        guard (1...2048).contains(url.utf8.count), url.utf8.allSatisfy({ (33...126).contains($0) }) else {
            throw ServiceError.validation("\(field) must be 1 to 2048 printable ASCII characters without spaces")
        }
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw ServiceError.validation("\(field) must be an http:// or https:// URL")
        }
        guard c.user == nil, c.password == nil else { throw ServiceError.validation("\(field) must not carry credentials (user:password@); sign with the secret instead") }
        guard c.fragment == nil else { throw ServiceError.validation("\(field) must not have a #fragment") }
        guard var host = c.host, !host.isEmpty else { throw ServiceError.validation("\(field) must name a host") }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = c.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw ServiceError.validation("\(field) has port \(port); ports are 1 to 65535") }
        if let address = WebhookTargetPolicy.parseAddress(host) {
            guard permits(address) else {
                throw ServiceError.validation("\(field) points at \(WebhookTargetPolicy.format(address)), an address webhooks may not reach (loopback, private, link-local or reserved)")
            }
        } else {
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            let ok = host.utf8.count <= 253 && labels.allSatisfy { label in
                (1...63).contains(label.utf8.count) && label.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 45 }
            }
            guard ok else { throw ServiceError.validation("\(field) has host \(host), which is neither an address nor a DNS name") }
            guard host.lowercased() != "localhost", !host.lowercased().hasSuffix(".localhost") else {
                throw ServiceError.validation("\(field) points at localhost, which webhooks may not reach")
            }
        }
        var path = c.percentEncodedPath.isEmpty ? "/" : c.percentEncodedPath
        if let query = c.percentEncodedQuery { path += "?" + query }
        return Target(url: url, scheme: scheme, host: host, port: port, requestTarget: path)
    }

    /// Every address a name resolves to (getaddrinfo, on the blocking pool).
    public static func resolve(_ host: String) async throws -> [[UInt8]] {
        if let literal = parseAddress(host) { return [literal] }
        return try await BlockingPool.shared.run {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, nil, &hints, &list)
            guard rc == 0, let first = list else { throw ServiceError(.invalidRequest, "cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
            defer { freeaddrinfo(first) }
            var addresses: [[UInt8]] = []
            var node: UnsafeMutablePointer<addrinfo>? = first
            while let n = node {
                if n.pointee.ai_family == AF_INET, let sa = n.pointee.ai_addr {
                    var a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    addresses.append(withUnsafeBytes(of: &a) { Array($0) })
                } else if n.pointee.ai_family == AF_INET6, let sa = n.pointee.ai_addr {
                    var a = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    addresses.append(withUnsafeBytes(of: &a) { Array($0) })
                }
                node = n.pointee.ai_next
            }
            return addresses
        }
    }
}
