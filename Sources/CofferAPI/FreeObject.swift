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
