import CofferAPI
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Per-request state: the request id (on every response and log line) and,
/// once authenticated, the caller.
public struct CofferContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String = ""
    public var principal: Principal?
    /// The peer's IP address ("" when unknown), for per-source login limits.
    public var remoteAddress: String = ""

    public init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? ""
    }

    /// Bodies beyond this are refused with 413 before anything reads them (an agent's
    /// pack upload is allowed more: `AgentJobRoutes.objectLimit`).
    public var maxUploadSize = 1 << 20

    /// The body's SHA-256 (hex), when an AK/SK signature carried it as its
    /// payload hash and the auth middleware checked it against the body.
    public var verifiedBodySHA256: String?

    /// The authenticated caller; routes behind the auth middleware always have one.
    func caller() throws -> Principal {
        guard let principal else { throw APIError(status: .unauthorized, code: "APIGW.0301", message: "The request you have made requires authentication.") }
        return principal
    }
}

/// An error as the API shows it: status, `error_code`, `error_msg`.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Gateway-style errors (authentication) also carry `request_id` in the body.
    public var includeRequestID = false
    /// Seconds for a `Retry-After` header (429).
    public var retryAfter: Int?

    public init(status: HTTPResponse.Status, code: String, message: String, includeRequestID: Bool = false) {
        self.status = status
        self.code = code
        self.message = message
        self.includeRequestID = includeRequestID
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// A service error in CBR's codes (the routes of other families translate first: ErrorFamily).
    public init(_ e: ServiceError) { self = ErrorFamily.cbr.error(e) }

    public static func validation(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "BackupService.9900", message: message)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let requestID = (context as? CofferContext)?.requestID ?? ""
        var headers = HTTPFields()
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return try JSONBody.encoded(status: status, ErrorBody(code: code, message: message, requestID: includeRequestID ? requestID : nil), headers: headers)
    }
}

enum JSONBody {
    /// A body built from one of the API's types (CofferAPI): the same bytes a hand-built one would be.
    static func encoded<T: Encodable>(status: HTTPResponse.Status = .ok, _ value: T, headers: HTTPFields = [:]) throws -> Response {
        bytes(status: status, try JSONWriter.encode(value), headers: headers)
    }

    static func response(status: HTTPResponse.Status = .ok, _ object: Any, headers: HTTPFields = [:]) -> Response {
        bytes(status: status, JSONWriter.bytes(object), headers: headers)
    }

    private static func bytes(status: HTTPResponse.Status, _ json: [UInt8], headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    /// Decodes one of the API's request types (CofferAPI); a body that does not fit is a 400 naming the field.
    static func decode<T: Decodable>(_ type: T.Type, _ request: inout Request, context: CofferContext) async throws -> T {
        let object = try await object(&request, context: context)
        do { return try RequestDecoder.decode(T.self, from: object) } catch let e as RequestError { throw APIError.validation(e.message) }
    }

    /// As `decode`, for routes whose body the SDKs make optional: an empty body is nil.
    static func decodeOptional<T: Decodable>(_ type: T.Type, _ request: inout Request, context: CofferContext) async throws -> T? {
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { return nil }
        return try await decode(T.self, &request, context: context)
    }

    /// Parses a JSON object body; anything else is a 400 naming the problem.
    static func object(_ request: inout Request, context: CofferContext) async throws -> [String: Any] {
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        return try object(Data(buffer: buffer))
    }

    /// No API body nests deeper than a few levels; refusing deep ones before
    /// parsing keeps a recursive parser off a hostile stack.
    static let maxDepth = 32

    static func object(_ data: Data) throws -> [String: Any] {
        guard !data.isEmpty else { throw APIError.validation("request body is empty; a JSON object is required") }
        guard nestingDepth(data) <= maxDepth else { throw APIError.validation("request body nests deeper than \(maxDepth) levels") }
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw APIError.validation("request body is not valid JSON")
        }
        guard let object = any as? [String: Any] else { throw APIError.validation("request body must be a JSON object") }
        return object
    }

    /// The deepest nesting of arrays and objects, outside strings.
    static func nestingDepth(_ data: Data) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for byte in data {
            if inString {
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x5B, 0x7B: depth += 1; deepest = max(deepest, depth)
            case 0x5D, 0x7D: depth -= 1
            default: break
            }
        }
        return deepest
    }
}
