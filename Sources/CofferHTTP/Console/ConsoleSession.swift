import CofferService
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A console user's session: the Keystone token the login issued (kept only in an
/// HttpOnly, SameSite=Strict cookie), who it stands for, and the anti-forgery
/// value every form of the session carries.
struct ConsoleSession: Sendable {
    static let cookie = "coffer_session"
    /// The login form's own anti-forgery value (double submit: no session exists yet).
    static let loginCookie = "coffer_login"

    let token: String
    let caller: Principal
    var formToken: String { IdentityService.formToken(for: token) }

    /// What the page header shows.
    func header(title: String, error: String? = nil, notice: String? = nil) -> [String: Any] {
        var h: [String: Any] = ["title": title, "session": true, "user": caller.userName, "project": caller.projectName, "csrf": formToken,
                                "admin": caller.isServiceAdmin]
        if let error { h["error"] = error }
        if let notice { h["notice"] = notice }
        return h
    }
}

/// A submitted `application/x-www-form-urlencoded` body, read strictly: a malformed
/// escape, a NUL, too many fields or too long a body is refused, naming the problem.
struct ConsoleForm: Sendable {
    static let maxBytes = 64 << 10
    static let maxFields = 512
    private(set) var values: [String: [String]] = [:]

    init() {}

    init(_ body: ByteBuffer) throws {
        guard body.readableBytes <= ConsoleForm.maxBytes else { throw ConsoleFailure(.contentTooLarge, "the form is larger than \(ConsoleForm.maxBytes) bytes") }
        let text = String(buffer: body)
        guard !text.isEmpty else { return }
        let pairs = text.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count <= ConsoleForm.maxFields else { throw ConsoleFailure(.badRequest, "the form has more than \(ConsoleForm.maxFields) fields") }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = ConsoleForm.decode(parts[0]), let value = ConsoleForm.decode(parts.count > 1 ? parts[1] : "") else {
                throw ConsoleFailure(.badRequest, "the form is not valid URL-encoded UTF-8")
            }
            guard !name.utf8.contains(0), !value.utf8.contains(0) else { throw ConsoleFailure(.badRequest, "form field \(Query.printable(name)) contains NUL") }
            values[name, default: []].append(value)
        }
    }

    static func decode(_ s: Substring) -> String? {
        String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The field's value, trimmed; nil when absent or empty.
    subscript(_ name: String) -> String? {
        guard let v = values[name]?.first?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        return v
    }

    func all(_ name: String) -> [String] { (values[name] ?? []).filter { !$0.isEmpty } }

    /// A whole number field within bounds; a bad one is refused naming the field.
    func integer(_ name: String, label: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = self[name] else { return nil }
        guard let n = Int(text), range.contains(n) else { throw ServiceError.validation("\(label) must be a whole number from \(range.lowerBound) to \(range.upperBound)") }
        return n
    }
}

/// A refusal the console shows as a page with this status.
struct ConsoleFailure: Error {
    var status: HTTPResponse.Status
    var message: String
    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Rendering and the headers every console answer carries.
enum ConsolePage {
    /// No inline script or style, nothing from elsewhere, no framing, forms post only here.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func securityHeaders(_ fields: inout HTTPFields) {
        fields[.contentSecurityPolicy] = contentSecurityPolicy
        fields[.xContentTypeOptions] = "nosniff"
        fields[HTTPField.Name("X-Frame-Options")!] = "DENY"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        fields[.cacheControl] = "no-store"
    }

    static func render(_ template: String, _ context: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html = ConsoleTemplates.library.render(context, withTemplate: template) ?? "template \(template) is missing"
        var fields = HTTPFields()
        fields[.contentType] = "text/html; charset=utf-8"
        securityHeaders(&fields)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// After a form post: the browser fetches `location` with GET (303).
    static func redirect(_ location: String, cookies: [Cookie] = []) -> Response {
        var fields = HTTPFields()
        fields[.location] = location
        securityHeaders(&fields)
        var response = Response(status: .seeOther, headers: fields)
        for c in cookies { response.setCookie(c) }
        return response
    }

    static func json(_ object: Any) -> Response {
        var response = JSONBody.response(object)
        securityHeaders(&response.headers)
        return response
    }
}
