import Foundation

/// What every family answers on failure: the API's code and a message
/// naming the field or the resource (gateway errors also carry the request id).
public struct ErrorBody: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    public var requestID: String?
    public init(code: String, message: String, requestID: String? = nil) {
        self.code = code
        self.message = message
        self.requestID = requestID
    }
    enum CodingKeys: String, CodingKey { case code = "error_code", message = "error_msg", requestID = "request_id" }
}

/// `GET /health`: `ok`, or why not (503).
public struct Health: Codable, Sendable {
    public var status: String
    public init(_ status: String) { self.status = status }
}
