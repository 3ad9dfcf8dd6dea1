import Foundation

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
