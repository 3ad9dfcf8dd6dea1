import Foundation

/// A JSON object of any shape, kept but not interpreted (RDS `databases`
/// entries, CBR `extra_info`): written as `{}` when made here.
public struct FreeObject: Codable, Sendable, Equatable, SchemaDescribed {
    public init() {}
    public init(from decoder: any Decoder) throws { _ = try decoder.container(keyedBy: AnyKey.self) }
    public func encode(to encoder: any Encoder) throws { _ = encoder.container(keyedBy: AnyKey.self) }
    public static var schema: Schema { .object(properties: []) }
    public static var schemaSample: FreeObject { FreeObject() }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Any JSON value, kept as sent and written back (a vault resource's
/// `extra_info`, a bind rule): for the fields the cloud defines as free-form.
public enum JSONValue: Codable, Sendable, Equatable, SchemaDescribed {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public static var schema: Schema { .any }
    public static var schemaSample: JSONValue { .null }

    /// The object form, or nil for any other value.
    public var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
}

/// A JSON object of any shape whose content matters to the caller (a vault
/// resource's `extra_info`); `FreeObject` when it does not.
public typealias JSONObject = [String: JSONValue]

extension JSONValue {
    /// Compact JSON with keys in byte order: how free-form values are stored.
    public static func text(_ object: JSONObject) -> String {
        let data = (try? JSONEncoder.sorted.encode(object)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses stored text back; anything but an object reads as empty.
    public static func object(text: String) -> JSONObject {
        (try? JSONDecoder().decode(JSONObject.self, from: Data(text.utf8))) ?? [:]
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
