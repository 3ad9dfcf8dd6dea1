import Foundation

/// A request body that does not fit its type; `message` names the field
/// (`backup_policy.keep_days is required`) and is what the client reads.
public struct RequestError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The field was absent or null (rather than of the wrong type).
    public let isMissing: Bool
    public var description: String { message }
    public init(_ message: String, isMissing: Bool = false) {
        self.message = message
        self.isMissing = isMissing
    }
    init(message: String) { self.init(message) }
    static func missing(_ path: String) -> RequestError { RequestError("\(path) is required", isMissing: true) }
}

extension KeyedDecodingContainer {
    /// `decode`, with a word of help added when the field is missing
    /// (`resources is required (send [] for none)`).
    public func decode<T: Decodable>(_ type: T.Type, forKey key: Key, hintIfMissing hint: String) throws -> T {
        do { return try decode(T.self, forKey: key) } catch let e as RequestError where e.isMissing { throw RequestError(e.message + " " + hint, isMissing: true) }
    }
}

/// Decodes a request type from a parsed JSON object, with the messages
/// clients of every family already get: `X is required`, `X must be a
/// string`, `X must be an integer`, `X must be a boolean`, `X must be an
/// object`, `X must be an array` (X the field's dotted path). Absent and
/// `null` are the same for optional fields; unknown fields are ignored, as
/// the cloud ignores them.
public enum RequestDecoder {
    public static func decode<T: Decodable>(_ type: T.Type, from object: [String: Any], path: String = "") throws -> T {
        try T(from: BodyDecoder(value: object, path: path))
    }
}

private struct BodyDecoder: Decoder {
    let value: Any
    let path: String
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let object = value as? [String: Any] else { throw RequestError(message: "\(path.isEmpty ? "request body" : path) must be an object") }
        return KeyedDecodingContainer(BodyObject<Key>(object: object, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let array = value as? [Any] else { throw RequestError(message: "\(path) must be an array") }
        return BodyArray(array: array, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { BodyValue(value: value, path: path) }
}

/// NSNumber bridges booleans and numbers; JSON's types are told apart here
/// (a parsed body holds NSNumber booleans, one built in Swift holds Bool).
private let booleanType = type(of: NSNumber(value: true))
private func isBoolean(_ value: Any) -> Bool { Swift.type(of: value) == booleanType || Swift.type(of: value) == Bool.self }

private func leaf<T>(_ value: Any, _ type: T.Type, path: String) throws -> T? {
    switch type {
    case is String.Type:
        guard let s = value as? String else { throw RequestError(message: "\(path) must be a string") }
        return (s as! T)
    case is Bool.Type:
        guard let b = value as? Bool, isBoolean(value) else { throw RequestError(message: "\(path) must be a boolean") }
        return (b as! T)
    case is Int.Type, is Int64.Type:
        guard !isBoolean(value), let n = value as? Int, !(value is Double && (value as! Double) != Double(n)) else {
            throw RequestError(message: "\(path) must be an integer")
        }
        return type is Int.Type ? (n as! T) : (Int64(n) as! T)
    case is [String].Type:
        guard let a = value as? [Any], let s = a as? [String] else { throw RequestError(message: "\(path) must be an array of strings") }
        return (s as! T)
    case is Double.Type:
        guard !isBoolean(value), let d = value as? Double else { throw RequestError(message: "\(path) must be a number") }
        return (d as! T)
    default:
        return nil
    }
}

private func decodeValue<T: Decodable>(_ value: Any, _ type: T.Type, path: String) throws -> T {
    if let v = try leaf(value, T.self, path: path) { return v }
    do {
        return try T(from: BodyDecoder(value: value, path: path))
    } catch let e as RequestError {
        throw e
    } catch {
        // An enum given a value it does not have, and the like.
        throw RequestError(message: "\(path) has an invalid value")
    }
}

private struct BodyObject<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: [String: Any]
    let path: String
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { object.keys.compactMap(Key.init(stringValue:)) }

    func name(_ key: Key) -> String { path.isEmpty ? key.stringValue : path + "." + key.stringValue }

    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    func decodeNil(forKey key: Key) throws -> Bool { object[key.stringValue] == nil || object[key.stringValue] is NSNull }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let value = object[key.stringValue], !(value is NSNull) else { throw RequestError.missing(name(key)) }
        return try decodeValue(value, T.self, path: name(key))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = object[key.stringValue], !(value is NSNull) else { return nil }
        return try decodeValue(value, T.self, path: name(key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        guard let value = object[key.stringValue] else { throw RequestError.missing(name(key)) }
        return try BodyDecoder(value: value, path: name(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        guard let value = object[key.stringValue] else { throw RequestError.missing(name(key)) }
        return try BodyDecoder(value: value, path: name(key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { BodyDecoder(value: object, path: path) }
    func superDecoder(forKey key: Key) throws -> any Decoder { BodyDecoder(value: object[key.stringValue] ?? NSNull(), path: name(key)) }
}

private struct BodyArray: UnkeyedDecodingContainer {
    let array: [Any]
    let path: String
    var codingPath: [any CodingKey] { [] }
    var count: Int? { array.count }
    var currentIndex = 0
    var isAtEnd: Bool { currentIndex >= array.count }

    init(array: [Any], path: String) {
        self.array = array
        self.path = path
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, array[currentIndex] is NSNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let element = "\(path)[\(currentIndex)]"
        guard !isAtEnd else { throw RequestError.missing(element) }
        defer { currentIndex += 1 }
        return try decodeValue(array[currentIndex], T.self, path: element)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        defer { currentIndex += 1 }
        return try BodyDecoder(value: array[currentIndex], path: "\(path)[\(currentIndex)]").container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        defer { currentIndex += 1 }
        return try BodyDecoder(value: array[currentIndex], path: "\(path)[\(currentIndex)]").unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { BodyDecoder(value: array, path: path) }
}

private struct BodyValue: SingleValueDecodingContainer {
    let value: Any
    let path: String
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { value is NSNull }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(value, T.self, path: path) }
}
