import Foundation

/// Encodes a value into JSON values (`[String: Any]`, `[Any]`, `String`,
/// `Int`, `Double`, `Bool`, `NSNull`), for the edge's one JSON writer: the
/// bytes on the wire are the same whether a body is built from a type or by hand.
public enum TreeEncoder {
    public static func encode<T: Encodable>(_ value: T) throws -> Any {
        let encoder = Node()
        try value.encode(to: encoder)
        return encoder.result
    }
}

/// A value that is always written, as `null` when absent (CBR answers
/// `"protected_at": null` rather than leaving the key out): a required,
/// nullable property. For responses; request fields that may be left out are optionals.
@propertyWrapper
public struct Nullable<T: Codable & Sendable>: Codable, Sendable {
    public var wrappedValue: T?
    public init(wrappedValue: T?) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? nil : try c.decode(T.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}

extension Nullable: Equatable where T: Equatable {}

extension Nullable: SchemaDescribed {
    public static var schema: Schema { .nullable((try? Schema.of(T.self)) ?? .any) }
    public static var schemaSample: Nullable<T> { Nullable(wrappedValue: nil) }
}

/// One value being built; containers write into their node.
private final class Node: Encoder {
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]
    var value: Any?
    var object: [String: Node]?
    var array: [Node]?

    var result: Any {
        if let object { return object.mapValues(\.result) }
        if let array { return array.map(\.result) }
        return value ?? NSNull()
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if object == nil { object = [:] }
        return KeyedEncodingContainer(KeyedNode<Key>(node: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if array == nil { array = [] }
        return UnkeyedNode(node: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleNode(node: self) }

    func set(_ v: Any) { value = v }

    func encodeChild<T: Encodable>(_ v: T) throws -> Node {
        let child = Node()
        if let leaf = Node.leaf(v) { child.value = leaf } else { try v.encode(to: child) }
        return child
    }

    static func leaf(_ v: Any) -> Any? {
        switch v {
        case let s as String: return s
        case let b as Bool: return b
        case let i as Int: return i
        case let i as Int64: return i
        case let i as Int32: return Int(i)
        case let d as Double: return d
        default: return nil
        }
    }
}

private struct KeyedNode<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    var codingPath: [any CodingKey] { node.codingPath }

    mutating func encodeNil(forKey key: Key) throws {
        let child = Node()
        child.value = NSNull()
        node.object?[key.stringValue] = child
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        node.object?[key.stringValue] = try node.encodeChild(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = Node()
        node.object?[key.stringValue] = child
        return child.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = Node()
        node.object?[key.stringValue] = child
        return child.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { node }
    mutating func superEncoder(forKey key: Key) -> any Encoder { node }
}

private struct UnkeyedNode: UnkeyedEncodingContainer {
    let node: Node
    var codingPath: [any CodingKey] { node.codingPath }
    var count: Int { node.array?.count ?? 0 }

    mutating func encodeNil() throws {
        let child = Node()
        child.value = NSNull()
        node.array?.append(child)
    }

    mutating func encode<T: Encodable>(_ value: T) throws { node.array?.append(try node.encodeChild(value)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = Node()
        node.array?.append(child)
        return child.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = Node()
        node.array?.append(child)
        return child.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { node }
}

private struct SingleNode: SingleValueEncodingContainer {
    let node: Node
    var codingPath: [any CodingKey] { node.codingPath }

    mutating func encodeNil() throws { node.set(NSNull()) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        if let leaf = Node.leaf(value) { node.set(leaf); return }
        try value.encode(to: node)
    }
}
