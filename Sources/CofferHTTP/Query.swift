import CofferSystem
import Foundation
import Hummingbird

/// A request's query string, and every parser of query values in one place.
/// Each parser returns a value or throws a 400 naming the parameter; none of
/// them may trap on anything a client can send (QueryFuzzTests feeds them
/// random and adversarial strings).
struct Query {
    let items: [(String, String)]

    /// Keys a client may repeat (the handler reads all of them).
    static let repeatable: Set<String> = ["status", "resource_type", "id", "agent_id"]

    init(_ request: Request) throws {
        try self.init(rawQuery: request.uri.query ?? "")
    }

    /// A query that does not decode (bad percent-encoding) is refused rather
    /// than read as empty; a repeated key is refused unless the handler reads
    /// every value, so what was signed is what is used.
    init(rawQuery: String) throws {
        guard !rawQuery.isEmpty else { items = []; return }
        guard rawQuery.utf8.count <= 8192 else { throw APIError.validation("query string must be at most 8192 bytes") }
        guard Query.percentEncodingIsWellFormed(rawQuery), let parsed = URLComponents(string: "?" + rawQuery)?.queryItems else {
            throw APIError.validation("query string is not valid percent-encoded text")
        }
        items = parsed.map { ($0.name, $0.value ?? "") }
        var seen = Set<String>()
        for (key, _) in items where !Query.repeatable.contains(key) {
            guard seen.insert(key).inserted else { throw APIError.validation("query parameter \(Query.printable(key)) is given more than once") }
        }
        if let bad = items.first(where: { $0.0.utf8.contains(0) || $0.1.utf8.contains(0) }) {
            throw APIError.validation("query parameter \(Query.printable(bad.0)) must not contain NUL")
        }
    }

    /// Every `%` starts two hex digits (Foundation would keep a stray one literally).
    static func percentEncodingIsWellFormed(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var i = 0
        func isHex(_ b: UInt8) -> Bool { (48...57).contains(b) || (65...70).contains(b) || (97...102).contains(b) }
        while i < bytes.count {
            if bytes[i] == 37 {
                guard i + 2 < bytes.count, isHex(bytes[i + 1]), isHex(bytes[i + 2]) else { return false }
                i += 3
            } else {
                i += 1
            }
        }
        return true
    }

    subscript(_ key: String) -> String? { items.first { $0.0 == key }?.1 }
    func all(_ key: String) -> [String] { items.filter { $0.0 == key }.map(\.1) }

    /// A key as it may appear in an error message: bounded, control characters escaped.
    static func printable(_ text: String) -> String { Printable.excerpt(text) }

    func int(_ key: String, range: ClosedRange<Int>, default value: Int) throws -> Int {
        guard let text = self[key] else { return value }
        guard let v = Int(text), range.contains(v) else { throw APIError.validation("\(key) must be an integer from \(range.lowerBound) to \(range.upperBound)") }
        return v
    }

    /// `true`/`false` in any case (the Python SDK sends `True`).
    func bool(_ key: String) throws -> Bool? {
        guard let v = self[key] else { return nil }
        switch v.lowercased() {
        case "true": return true
        case "false": return false
        default: throw APIError.validation("\(key) must be true or false")
        }
    }

    func oneOf(_ key: String, _ allowed: [String]) throws -> String? {
        guard let v = self[key] else { return nil }
        guard allowed.contains(v) else { throw APIError.validation("\(key) must be one of \(allowed.joined(separator: ", "))") }
        return v
    }

    static let sortKeys = ["created_at", "updated_at", "name", "status", "protected_at", "id"]

    /// `key[:asc|desc][,key[:asc|desc]]...`; an empty value means the default order.
    static func parseSort(_ text: String?) throws -> [(String, Bool)] {
        guard let text, !text.isEmpty else { return [("created_at", false)] }
        guard text.utf8.count <= 255 else { throw APIError.validation("sort must be at most 255 characters") }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count <= sortKeys.count else { throw APIError.validation("sort may name at most \(sortKeys.count) keys") }
        var seen = Set<String>()
        return try parts.map { part in
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            guard let first = pieces.first, pieces.count <= 2, sortKeys.contains(String(first)) else {
                throw APIError.validation("sort key \(printable(String(part))) must be one of \(sortKeys.joined(separator: ", ")) with :asc or :desc")
            }
            let key = String(first)
            guard seen.insert(key).inserted else { throw APIError.validation("sort names \(key) twice") }
            let direction = pieces.count == 2 ? String(pieces[1]) : "desc"
            guard direction == "asc" || direction == "desc" else { throw APIError.validation("sort direction of \(key) must be asc or desc") }
            return (key, direction == "asc")
        }
    }

    /// Times as epoch milliseconds, refused outside years 1970-9999 (beyond that the
    /// conversion to an integer would overflow and no backup can be there anyway).
    static func milliseconds(_ date: Date) -> Int64? {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, (0...253_402_300_799).contains(seconds) else { return nil }
        return Int64((seconds * 1000).rounded(.down))
    }

    /// CBR time filters: 2026-01-31T12:00:00Z and the other `UTCTimeFormat.queryForms`.
    static func parseTime(_ text: String?, field: String) throws -> Int64? {
        guard let text else { return nil }
        guard text.utf8.count <= 64 else { throw APIError.validation("\(field) must be a time like 2026-01-31T12:00:00Z") }
        for format in UTCTimeFormat.queryForms {
            if let d = format.date(text), let ms = milliseconds(d) { return ms }
        }
        throw APIError.validation("\(field) must be a time like 2026-01-31T12:00:00Z")
    }

    /// RDS time filters: 2018-08-06T12:41:14+0800 as documented, or with Z / +08:00.
    static func parseRDSTime(_ text: String, field: String) throws -> Int64 {
        guard text.utf8.count <= 64 else { throw APIError.validation("\(field) must be a time like 2026-01-31T12:00:00+0000") }
        for format in UTCTimeFormat.rdsQueryForms {
            if let d = format.date(text), let ms = milliseconds(d) { return ms }
        }
        throw APIError.validation("\(field) must be a time like 2026-01-31T12:00:00+0000")
    }
}
