import AsyncHTTPClient
import CofferService
import Foundation
import NIOCore

/// Webhook POSTs over async-http-client: a client per delivery whose DNS is
/// pinned to the address the policy checked (so a name cannot resolve
/// elsewhere between the check and the connection; TLS still verifies the
/// name), redirects refused, the answer's body read to at most 64 KiB and dropped.
struct WebhookHTTPTransport: WebhookTransport {
    func post(_ target: WebhookTargetPolicy.Target, address: [UInt8], headers: [(String, String)], body: [UInt8], timeout: TimeInterval) async throws -> Int {
        let seconds = Int64(max(1, timeout.rounded(.up)))
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(min(seconds, 5)), read: .seconds(seconds)))
        if WebhookTargetPolicy.parseAddress(target.host) == nil { configuration.dnsOverride = [target.host: WebhookTargetPolicy.format(address)] }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            var request = HTTPClientRequest(url: target.url)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: .seconds(seconds))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            try await client.shutdown()
            return Int(response.status.code)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
