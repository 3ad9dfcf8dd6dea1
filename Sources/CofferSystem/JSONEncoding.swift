import Foundation

extension JSONWriter {
    /// An `Encodable` value's JSON, with the bytes `write` gives the same
    /// value built as a tree of `[String: Any]` (keys in byte order, `null`
    /// for an absent value), written without building that tree: a listing
    /// of 100 backups spent 40 % of its time in dictionaries of `Any` and the
    /// casts that walked them.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        try JSONValueEncoder.write(value, into: &out, orders: KeyOrders())
        return out
    }
}

/// One JSON value being encoded. Scalars are written into `bytes` as they come;
/// an object keeps its members' bytes and orders them by key when it is
/// finished, since `Encodable` hands keys over in declaration order.
private final class JSONValueEncoder: Encoder {
    enum Shape { case empty, scalar, object, array }
    enum Member { case bytes(Range<Int>), nested(JSONValueEncoder) }

    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var shape = Shape.empty
    /// A scalar's bytes, or the members' bytes back to back.
    var bytes: [UInt8] = []
    var keys: [String] = []
    var members: [Member] = []
    /// The `CodingKey` type of an object, under which its key order is remembered.
    var keyType: ObjectIdentifier?
    let orders: KeyOrders

    init(orders: KeyOrders) { self.orders = orders }

    static func write<T: Encodable>(_ value: T, into out: inout [UInt8], orders: KeyOrders) throws {
        if writeScalar(value, into: &out) { return }
        let encoder = JSONValueEncoder(orders: orders)
        try value.encode(to: encoder)
        encoder.finish(into: &out)
    }

    /// The values JSON has a form for, written without an encoder. `anyInteger`
    /// also takes the integer types without a case of their own: they encode
    /// themselves as a single value of themselves, so a single-value container
    /// must write them or pass them back here forever; elsewhere the
    /// existential check would cost every struct encoded a conformance lookup.
    static func writeScalar<T>(_ value: T, into out: inout [UInt8], anyInteger: Bool = false) -> Bool {
        switch value {
        case let v as String: JSONWriter.writeString(v, into: &out)
        case let v as Bool: JSONWriter.writeBool(v, into: &out)
        case let v as Int: JSONWriter.writeInteger(v, into: &out)
        case let v as Int64: JSONWriter.writeInteger(v, into: &out)
        case let v as Double: JSONWriter.writeDouble(v, into: &out)
        case let v as any BinaryInteger where anyInteger: JSONWriter.writeInteger(v, into: &out)
        case let v as Float where anyInteger: JSONWriter.writeDouble(Double(v), into: &out)
        default: return false
        }
        return true
    }

    func finish(into out: inout [UInt8]) {
        switch shape {
        case .empty: out.append(contentsOf: "null".utf8)
        case .scalar: out.append(contentsOf: bytes)
        case .array:
            out.append(UInt8(ascii: "["))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(member, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object:
            out.append(UInt8(ascii: "{"))
            var first = true
            for i in orders.order(of: keys, type: keyType) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONWriter.writeString(keys[i], into: &out)
                out.append(UInt8(ascii: ":"))
                write(members[i], into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private func write(_ member: Member, into out: inout [UInt8]) {
        switch member {
        case .bytes(let range): out.append(contentsOf: bytes[range])
        case .nested(let child): child.finish(into: &out)
        }
    }

    /// Appends one member written by `body` (a key's value or an array element).
    func append(key: String?, _ body: (inout [UInt8]) throws -> Void) rethrows {
        let start = bytes.count
        try body(&bytes)
        if let key { keys.append(key) }
        members.append(.bytes(start..<bytes.count))
    }

    func appendNested(key: String?) -> JSONValueEncoder {
        let child = JSONValueEncoder(orders: orders)
        child.codingPath = codingPath
        if let key { keys.append(key) }
        members.append(.nested(child))
        return child
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if shape == .empty { shape = .object }
        keyType = ObjectIdentifier(Key.self)
        return KeyedEncodingContainer(KeyedContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if shape == .empty { shape = .array }
        return UnkeyedContainer(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleContainer(encoder: self) }

    private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: JSONValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        mutating func encodeNil(forKey key: Key) throws { encoder.append(key: key.stringValue) { $0.append(contentsOf: "null".utf8) } }
        mutating func encode(_ value: String, forKey key: Key) throws { encoder.append(key: key.stringValue) { JSONWriter.writeString(value, into: &$0) } }
        mutating func encode(_ value: Bool, forKey key: Key) throws { encoder.append(key: key.stringValue) { JSONWriter.writeBool(value, into: &$0) } }
        mutating func encode(_ value: Int, forKey key: Key) throws { encoder.append(key: key.stringValue) { JSONWriter.writeInteger(value, into: &$0) } }
        mutating func encode(_ value: Int64, forKey key: Key) throws { encoder.append(key: key.stringValue) { JSONWriter.writeInteger(value, into: &$0) } }
        mutating func encode(_ value: Double, forKey key: Key) throws { encoder.append(key: key.stringValue) { JSONWriter.writeDouble(value, into: &$0) } }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try encoder.append(key: key.stringValue) { try JSONValueEncoder.write(value, into: &$0, orders: encoder.orders) }
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            encoder.appendNested(key: key.stringValue).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            encoder.appendNested(key: key.stringValue).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder { encoder.appendNested(key: "super") }
        mutating func superEncoder(forKey key: Key) -> any Encoder { encoder.appendNested(key: key.stringValue) }
    }

    private struct UnkeyedContainer: UnkeyedEncodingContainer {
        let encoder: JSONValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }
        var count: Int { encoder.members.count }

        mutating func encodeNil() throws { encoder.append(key: nil) { $0.append(contentsOf: "null".utf8) } }
        mutating func encode(_ value: String) throws { encoder.append(key: nil) { JSONWriter.writeString(value, into: &$0) } }
        mutating func encode<T: Encodable>(_ value: T) throws { try encoder.append(key: nil) { try JSONValueEncoder.write(value, into: &$0, orders: encoder.orders) } }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            encoder.appendNested(key: nil).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { encoder.appendNested(key: nil).unkeyedContainer() }
        mutating func superEncoder() -> any Encoder { encoder.appendNested(key: nil) }
    }

    /// A value that encodes itself as one value (a wrapper, an enum's raw value).
    private struct SingleContainer: SingleValueEncodingContainer {
        let encoder: JSONValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        mutating func encodeNil() throws { set { $0.append(contentsOf: "null".utf8) } }
        mutating func encode<T: Encodable>(_ value: T) throws {
            var scalar: [UInt8] = []
            if JSONValueEncoder.writeScalar(value, into: &scalar, anyInteger: true) { return set { $0 = scalar } }
            try value.encode(to: encoder)
        }

        private func set(_ body: (inout [UInt8]) -> Void) {
            encoder.bytes.removeAll(keepingCapacity: true)
            body(&encoder.bytes)
            encoder.shape = .scalar
        }
    }
}

/// The order in which an object's members are written, remembered per
/// `CodingKey` type for one encoding: a listing's hundred objects of one type
/// are sorted once (sorting them each was 7 % of a listing's time).
private final class KeyOrders {
    private var known: [ObjectIdentifier: (keys: [String], order: [Int])] = [:]

    /// Positions of `keys` in byte order; of a key given twice only the last
    /// (as a dictionary would keep it).
    func order(of keys: [String], type: ObjectIdentifier?) -> [Int] {
        if let type, let hit = known[type], hit.keys == keys { return hit.order }
        let sorted = keys.indices.sorted { a, b in
            let c = JSONWriter.compareKeys(keys[a], keys[b])
            return c < 0 || (c == 0 && a < b)
        }
        let order = sorted.indices.filter { n in n + 1 == sorted.count || JSONWriter.compareKeys(keys[sorted[n + 1]], keys[sorted[n]]) != 0 }.map { sorted[$0] }
        if let type { known[type] = (keys, order) }
        return order
    }
}
