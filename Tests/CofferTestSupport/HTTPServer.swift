import CofferCLI
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import CofferHTTP

/// Collects every log line (message and metadata) for the secrecy test.
public final class LogCapture: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var lines: [String] = []
    public func append(_ s: String) { lock.withLock { lines.append(s) } }
    public var all: String { lock.withLock { lines.joined(separator: "\n") } }
}

public struct CapturingHandler: LogHandler {
    public let capture: LogCapture
    public init(capture: LogCapture) { self.capture = capture }
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    public func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        capture.append("\(level) \(message) \(self.metadata.merging(metadata ?? [:]) { $1 })")
    }
}

public struct TestServer {
    public let services: CofferServices
    public let admin: NewProjectCredentials
    public let clock: ManualClock
    public let dir: String
    public let configuration: ServerConfiguration

    public static func start(logs: LogCapture = LogCapture(), resourceRoots: [String] = [], catalogURL: String = "sqlite::memory:",
                             configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-http-\(UUID().uuidString)").path
        var configuration = ServerConfiguration(dataDirectory: dir, catalogURL: catalogURL, resourceRoots: resourceRoots)
        configure(&configuration)
        let clock = ManualClock(Date())
        var logger = Logger(label: "coffer-test") { _ in CapturingHandler(capture: logs) }
        logger.logLevel = .trace
        let (services, admin) = try await CofferServices.open(configuration, clock: clock, logger: logger, passwordCost: 1 << 4)
        return TestServer(services: services, admin: admin!, clock: clock, dir: dir, configuration: configuration, api: services.api)
    }

    public func stop() async {
        await services.catalog.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// One set of API services for the server's life (as `coffer serve` builds them once), so tests see the routes' state.
    public let api: APIServices

    public var app: some ApplicationProtocol { buildApplication(services: api, configuration: configuration) }

    /// Runs `body` against the app, always closing the catalog afterwards.
    public func run(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        do { try await app.test(.router, body) } catch {
            await stop()
            throw error
        }
        await stop()
    }
}

public func json(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
}

/// One authenticated JSON call: status and decoded body.
public func call(_ client: any TestClientProtocol, token: String, _ method: HTTPRequest.Method, _ uri: String, _ body: Any? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
    try await client.execute(uri: uri, method: method, headers: [authToken: token, .contentType: "application/json"], body: body.map(bodyBuffer)) { r in
        (r.status, json(r.body))
    }
}

/// Registers a resource for `project` as the service admin (`admin` the bootstrap credentials): the status and the `resource` body.
public func registerFor(_ client: any TestClientProtocol, admin: NewProjectCredentials, adminToken: String, project: String,
                 _ resource: [String: Any]) async throws -> (HTTPResponse.Status, [String: Any]) {
    var r = resource
    r["project_id"] = project
    let (status, body) = try await call(client, token: adminToken, .post, "/v3/\(admin.project_id)/coffer/resources", ["resource": r])
    return (status, body["resource"] as? [String: Any] ?? body)
}

public func bodyBuffer(_ object: Any) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}

extension TestClientProtocol {
    public func token(user: String, password: String, project: String) async throws -> String {
        try await execute(uri: "/v3/auth/tokens", method: .post, headers: [.contentType: "application/json"],
                          body: bodyBuffer(["auth": ["identity": ["methods": ["password"], "password": ["user": ["name": user, "password": password, "domain": ["name": "Default"]]]],
                                                     "scope": ["project": ["name": project, "domain": ["name": "Default"]]]]])) { r in
            guard r.status == .created else { throw SupportError("no token for \(user): HTTP \(r.status.code)") }
            return r.headers[HTTPField.Name("X-Subject-Token")!] ?? ""
        }
    }

    /// A request signed as the Huawei SDK signs it (Host is "localhost" in HummingbirdTesting).
    public func signed(_ uri: String, method: HTTPRequest.Method, ak: String, sk: String, body: String = "", date: Date,
                sendBody: String? = nil, sendURI: String? = nil) async throws -> TestResponse {
        let parts = uri.split(separator: "?", maxSplits: 1)
        var headers: [String: String] = ["content-type": "application/json", "x-sdk-date": AKSKSignature.formatSdkDate(date), "host": "localhost"]
        let frozen = headers
        let signable = SignableRequest(method: method.rawValue, rawPath: String(parts[0]), rawQuery: parts.count > 1 ? String(parts[1]) : "", body: Data(body.utf8)) { frozen[$0] }
        headers["authorization"] = AKSKSignature.sign(signable, accessKey: ak, secret: sk, signedHeaders: ["content-type", "host", "x-sdk-date"])
        var fields = HTTPFields()
        for (k, v) in headers where k != "host" { fields[HTTPField.Name(k)!] = v }
        let sent = sendBody ?? body
        return try await execute(uri: sendURI ?? uri, method: method, headers: fields, body: sent.isEmpty ? nil : ByteBuffer(string: sent))
    }
}

public let authToken = HTTPField.Name("X-Auth-Token")!

/// A resource root with a directory, a disk image, two server disks, and a
/// symlink that points outside the root.
public final class ResourceRoot {
    public let path: String
    public let outside: String
    public init() {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-roots-\(UUID().uuidString)").path
        path = base + "/root"
        outside = base + "/outside"
        let fm = FileManager.default
        try! fm.createDirectory(atPath: path + "/share/docs", withIntermediateDirectories: true)
        try! fm.createDirectory(atPath: outside, withIntermediateDirectories: true)
        for (name, size) in [("disk.img", 3 << 30), ("vm-root.img", 1 << 20), ("vm-data.img", 2 << 20)] {
            fm.createFile(atPath: path + "/" + name, contents: nil)
            let h = FileHandle(forWritingAtPath: path + "/" + name)!
            h.truncateFile(atOffset: UInt64(size))
            h.closeFile()
        }
        fm.createFile(atPath: outside + "/secret.img", contents: Data(repeating: 1, count: 100))
        try! fm.createSymbolicLink(atPath: path + "/escape.img", withDestinationPath: outside + "/secret.img")
    }
    deinit { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
}

public func post(_ client: any TestClientProtocol, _ uri: String, token: String, _ body: Any) async throws -> TestResponse {
    try await client.execute(uri: uri, method: .post, headers: [authToken: token, .contentType: "application/json"], body: bodyBuffer(body))
}

