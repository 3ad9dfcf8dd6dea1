import Foundation

// CofferAPI: the API's request and response types, shared by the HTTP edge
// and the CLI client, and what turns them into the OpenAPI description
// (schemas derived from the types' own Decodable conformance, so the
// document cannot drift from what the server decodes and writes).

/// A JSON Schema, as much of it as OpenAPI 3.0 needs here.
public indirect enum Schema: Equatable, Sendable {
    case string(format: String? = nil, values: [String]? = nil, minLength: Int? = nil, maxLength: Int? = nil)
    case integer(minimum: Int? = nil, maximum: Int? = nil)
    case number
    case boolean
    case array(Schema)
    /// Properties in the order the type declares them; `required` are those it decodes without `IfPresent`.
    case object(properties: [Property], additional: Schema? = nil)
    /// Any JSON value (a free-form object, a value of several shapes).
    case any
    case nullable(Schema)
    case reference(String)

    public struct Property: Equatable, Sendable {
        public var name: String
        public var schema: Schema
        public var required: Bool
        public init(_ name: String, _ schema: Schema, required: Bool) {
            self.name = name
            self.schema = schema
            self.required = required
        }
    }

    public static let string = Schema.string()
    public static let integer = Schema.integer()

    /// The OpenAPI 3.0 form, as JSON values.
    public var openAPI: [String: Any] {
        switch self {
        case let .string(format, values, minLength, maxLength):
            var o: [String: Any] = ["type": "string"]
            if let format { o["format"] = format }
            if let values { o["enum"] = values }
            if let minLength { o["minLength"] = minLength }
            if let maxLength { o["maxLength"] = maxLength }
            return o
        case let .integer(minimum, maximum):
            var o: [String: Any] = ["type": "integer"]
            if let minimum { o["minimum"] = minimum }
            if let maximum { o["maximum"] = maximum }
            return o
        case .number: return ["type": "number"]
        case .boolean: return ["type": "boolean"]
        case .array(let items): return ["type": "array", "items": items.openAPI]
        case let .object(properties, additional):
            var o: [String: Any] = ["type": "object"]
            if !properties.isEmpty { o["properties"] = Dictionary(properties.map { ($0.name, $0.schema.openAPI) }, uniquingKeysWith: { a, _ in a }) }
            // OpenAPI 3.0 forbids an empty `required` list: it is left out instead.
            let required = properties.filter(\.required).map(\.name).sorted()
            if !required.isEmpty { o["required"] = required }
            if let additional { o["additionalProperties"] = additional.openAPI }
            return o
        case .any: return [:]
        case .nullable(let inner):
            var o = inner.openAPI
            o["nullable"] = true
            return o
        case .reference(let name): return ["$ref": "#/components/schemas/\(name)"]
        }
    }
}

/// A type that states its own schema instead of having it derived (enums
/// with raw values, dictionaries, values of several shapes), with a sample
/// value the derivation can hand to the types that contain it.
public protocol SchemaDescribed {
    static var schema: Schema { get }
    static var schemaSample: Self { get }
}

extension SchemaDescribed where Self: RawRepresentable, Self: CaseIterable, RawValue == String {
    public static var schema: Schema { .string(values: allCases.map(\.rawValue)) }
    public static var schemaSample: Self { allCases.first! }
}

/// A type documented once under `components/schemas` and referred to by
/// name wherever it appears inside another type (the only way to describe a
/// type that contains itself, like a backup's children).
public protocol SchemaComponent: Decodable {
    static var componentName: String { get }
    init()
}

/// A type whose derived schema is narrowed for some properties (lengths,
/// ranges, allowed values): the API's limits, stated on the type.
public protocol SchemaRefined {
    static var refinements: [String: Schema] { get }
}

public struct SchemaDerivationError: Error, CustomStringConvertible {
    public let description: String
}

extension Schema {
    /// The schema of a Decodable type, read off its `init(from:)`: every
    /// `decode` is a required property, every `decodeIfPresent` an optional one.
    public static func of<T: Decodable>(_ type: T.Type) throws -> Schema {
        let decoder = SchemaDecoder()
        _ = try decoder.value(T.self)
        return decoder.root ?? .any
    }
}

/// Walks a type's `init(from:)` with placeholder values and records what it asks for.
final class SchemaDecoder: Decoder {
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]
    /// What the value decoded by this decoder turned out to be.
    var root: Schema?
    fileprivate var properties: [Schema.Property] = []
    /// Keys asked about with `contains` or `decodeNil` first: the standard
    /// library's `decodeIfPresent` for String, Int, ... does that before `decode`.
    fileprivate var optionalKeys: Set<String> = []
    /// False for the decoders of nested values: those name components instead of describing them.
    var isRoot = true

    func value<T: Decodable>(_ type: T.Type) throws -> T {
        if !isRoot, let component = T.self as? any SchemaComponent.Type {
            root = .reference(component.componentName)
            return component.init() as! T
        }
        if let described = T.self as? any SchemaDescribed.Type {
            root = described.schema
            return described.schemaSample as! T
        }
        if let (schema, sample) = SchemaDecoder.leaf(T.self) {
            root = schema
            return sample
        }
        let value = try T(from: self)
        if case .object = root ?? .any {
            let refinements = (T.self as? any SchemaRefined.Type)?.refinements ?? [:]
            root = .object(properties: properties.map { p in
                var p = p
                if let refined = refinements[p.name] { p.schema = refined }
                return p
            })
        }
        return value
    }

    static func leaf<T>(_ type: T.Type) -> (Schema, T)? {
        switch type {
        case is String.Type: return (.string, "" as! T)
        case is Int.Type: return (.integer, 0 as! T)
        case is Int64.Type: return (.integer, Int64(0) as! T)
        case is Int32.Type: return (.integer, Int32(0) as! T)
        case is UInt64.Type: return (.integer, UInt64(0) as! T)
        case is Double.Type: return (.number, 0.0 as! T)
        case is Bool.Type: return (.boolean, false as! T)
        default: return nil
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        root = .object(properties: [])
        return KeyedDecodingContainer(KeyedSchemaContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        UnkeyedSchemaContainer(decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleSchemaContainer(decoder: self)
    }

    /// Derives the schema of a nested value with a decoder of its own.
    func nested<T: Decodable>(_ type: T.Type) throws -> (Schema, T) {
        let inner = SchemaDecoder()
        inner.isRoot = false
        let value = try inner.value(T.self)
        return (inner.root ?? .any, value)
    }
}

private struct KeyedSchemaContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: SchemaDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool {
        decoder.optionalKeys.insert(key.stringValue)
        return true
    }

    func record(_ key: Key, _ schema: Schema, required: Bool) {
        guard !decoder.properties.contains(where: { $0.name == key.stringValue }) else { return }
        decoder.properties.append(Schema.Property(key.stringValue, schema, required: required))
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        decoder.optionalKeys.insert(key.stringValue)
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let (schema, value) = try decoder.nested(T.self)
        record(key, schema, required: !decoder.optionalKeys.contains(key.stringValue))
        return value
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        let (schema, _) = try decoder.nested(T.self)
        record(key, schema, required: false)
        return nil
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw SchemaDerivationError(description: "\(key.stringValue): nested containers are not derived; give the type a SchemaDescribed schema")
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw SchemaDerivationError(description: "\(key.stringValue): nested containers are not derived; give the type a SchemaDescribed schema")
    }

    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
}

/// An array: one element is decoded, for its schema.
private struct UnkeyedSchemaContainer: UnkeyedDecodingContainer {
    let decoder: SchemaDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { 1 }
    var currentIndex = 0
    var isAtEnd: Bool { currentIndex > 0 }

    init(decoder: SchemaDecoder) {
        self.decoder = decoder
        decoder.root = .array(.any)
    }

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (schema, value) = try decoder.nested(T.self)
        decoder.root = .array(schema)
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        throw SchemaDerivationError(description: "arrays of nested containers are not derived")
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw SchemaDerivationError(description: "arrays of nested containers are not derived")
    }

    mutating func superDecoder() throws -> any Decoder { decoder }
}

private struct SingleSchemaContainer: SingleValueDecodingContainer {
    let decoder: SchemaDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (schema, value) = try decoder.nested(T.self)
        decoder.root = schema
        return value
    }
}
