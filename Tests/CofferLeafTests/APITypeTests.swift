import CofferAPI
import CofferSystem
import Foundation
import Testing

private enum Kind: String, Codable, CaseIterable, SchemaDescribed { case disk, server }

struct Inner: Codable, Equatable { var key: String; var value: String? }

private struct Sample: Codable {
    var id: String
    var size: Int64
    var ratio: Double
    var ok: Bool
    var kind: Kind
    var tags: [Inner]
    var note: String?
    @Nullable var protectedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, size, ratio, ok, kind, tags, note
        case protectedAt = "protected_at"
    }
}

@Suite struct APITypeTests {
    @Test func schemaIsReadOffTheDecodableConformance() throws {
        let schema = try Schema.of(Sample.self)
        guard case .object(let properties, _) = schema else { Issue.record("not an object: \(schema)"); return }
        #expect(properties.map(\.name) == ["id", "size", "ratio", "ok", "kind", "tags", "note", "protected_at"])
        #expect(properties.filter(\.required).map(\.name) == ["id", "size", "ratio", "ok", "kind", "tags", "protected_at"])
        let byName = Dictionary(uniqueKeysWithValues: properties.map { ($0.name, $0.schema) })
        #expect(byName["size"] == .integer())
        #expect(byName["ratio"] == .number && byName["ok"] == .boolean)
        #expect(byName["kind"] == .string(values: ["disk", "server"]))
        #expect(byName["tags"] == .array(.object(properties: [.init("key", .string, required: true), .init("value", .string, required: false)])))
        #expect(byName["protected_at"] == .nullable(.string))
        let openAPI = schema.openAPI
        #expect(openAPI["required"] as? [String] == ["id", "kind", "ok", "protected_at", "ratio", "size", "tags"])
        #expect((openAPI["properties"] as? [String: Any])?.count == 8)
        // An object with no required field leaves `required` out (OpenAPI 3.0 forbids it empty).
        #expect(Schema.object(properties: [.init("a", .string, required: false)]).openAPI["required"] == nil)
    }

    @Test func typesEncodeToTheBytesAHandBuiltBodyWouldHave() throws {
        let sample = Sample(id: "x/1", size: 5, ratio: 0.5, ok: true, kind: .server, tags: [Inner(key: "k", value: nil)], note: nil, protectedAt: nil)
        let byHand: [String: Any] = ["id": "x/1", "size": 5, "ratio": 0.5, "ok": true, "kind": "server", "tags": [["key": "k"]], "protected_at": NSNull()]
        #expect(try JSONWriter.encode(sample) == JSONWriter.bytes(byHand))
        // And they decode back.
        let decoded = try JSONDecoder().decode(Sample.self, from: Data(try JSONWriter.encode(sample)))
        #expect(decoded.id == "x/1" && decoded.kind == .server && decoded.protectedAt == nil && decoded.tags == sample.tags)
        var present = sample
        present.protectedAt = "2026-01-01T00:00:00.000+00:00"
        let object = try JSONSerialization.jsonObject(with: Data(try JSONWriter.encode(present))) as? [String: Any]
        #expect(object?["protected_at"] as? String == "2026-01-01T00:00:00.000+00:00")
    }

    /// Whatever the value, the encoder's bytes are what the tree writer gives
    /// the same JSON parsed back (keys in byte order, escapes, nesting, nulls).
    @Test func encodedBytesMatchTheTreeWriterForAnyShape() throws {
        func tree<T: Encodable>(_ value: T) throws -> String {
            String(decoding: JSONWriter.bytes(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value), options: .fragmentsAllowed)), as: UTF8.self)
        }
        func encoded<T: Encodable>(_ value: T) throws -> String { String(decoding: try JSONWriter.encode(value), as: UTF8.self) }
        let awkward = "quote \" back \\ slash / tab \t newline \n bell \u{7} nul \u{0} é 😀"
        let free: JSONValue = .object([
            "b": .array([.integer(-1 << 40), .integer(Int.max), .number(0.25), .number(-3.5), .bool(false), .null, .string(awkward)]),
            "B": .object([:]), "a": .array([]), "é": .string(""), "z": .object(["y": .object(["x": .array([.array([.null])])])]),
            "Z": .string(awkward), "aa": .bool(true),
        ])
        let (oursFree, treeFree) = (try encoded(free), try tree(free))
        #expect(oursFree == treeFree)
        let samples = [
            Sample(id: awkward, size: -1 << 40, ratio: 1e-3, ok: false, kind: .disk, tags: [], note: "n", protectedAt: "t"),
            Sample(id: "", size: 0, ratio: 2, ok: true, kind: .server, tags: [Inner(key: "a", value: "b"), Inner(key: awkward, value: nil)], note: nil, protectedAt: nil),
        ]
        let (oursSamples, treeSamples) = (try encoded(samples), try tree(samples))
        #expect(oursSamples == treeSamples)
        #expect(try JSONWriter.encode(FreeObject()) == Array("{}".utf8))
        #expect(try JSONWriter.encode(["k": [String?.none, "v"]]) == Array(#"{"k":[null,"v"]}"#.utf8))
        let (oursAwkward, treeAwkward) = (try encoded(awkward), try tree(awkward))
        #expect(oursAwkward == treeAwkward)
        #expect(try JSONWriter.encode(UInt8(7)) == Array("7".utf8))
        #expect(try encoded([Int64.min]) == "[-9223372036854775808]")
        // Integer types without a case of their own, and Float, in arrays and as object members.
        #expect(try encoded([Int32(-5)]) == "[-5]")
        #expect(try encoded(["a": UInt64.max]) == #"{"a":18446744073709551615}"#)
        #expect(try encoded(["f": Float(0.5)]) == #"{"f":0.5}"#)
        #expect(try encoded([Int8(-1): UInt16(2)]) == "[-1,2]")
        // A key written twice keeps its last value, as a dictionary would.
        #expect(try encoded(Twice()) == #"{"a":2,"b":{"c":[1]}}"#)
    }
}

private struct Twice: Encodable {
    enum Key: String, CodingKey { case a, b, c }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(1, forKey: .a)
        var nested = c.nestedContainer(keyedBy: Key.self, forKey: .b)
        try c.encode(2, forKey: .a)
        var list = nested.nestedUnkeyedContainer(forKey: .c)
        try list.encode(1)
    }
}

@Suite struct RequestDecoderTests {
    private struct Body: Decodable {
        var name: String
        var size: Int?
        var flag: Bool?
        var inner: Inner
        var list: [Inner]?
    }

    private func message(_ object: [String: Any]) -> String? {
        do { _ = try RequestDecoder.decode(Body.self, from: object); return nil } catch let e as RequestError { return e.message } catch { return "\(error)" }
    }

    /// The messages every family's clients already get from the hand-written field checks.
    @Test func messagesNameTheField() {
        let inner: [String: Any] = ["key": "k"]
        #expect(message(["inner": inner]) == "name is required")
        #expect(message(["name": 5, "inner": inner]) == "name must be a string")
        #expect(message(["name": "n", "size": true, "inner": inner]) == "size must be an integer")
        #expect(message(["name": "n", "size": 1.5, "inner": inner]) == "size must be an integer")
        #expect(message(["name": "n", "flag": 1, "inner": inner]) == "flag must be a boolean")
        #expect(message(["name": "n"]) == "inner is required")
        #expect(message(["name": "n", "inner": "x"]) == "inner must be an object")
        #expect(message(["name": "n", "inner": ["value": "v"]]) == "inner.key is required")
        #expect(message(["name": "n", "inner": inner, "list": [inner, ["key": 3]]]) == "list[1].key must be a string")
        #expect(message(["name": "n", "inner": inner, "list": "x"]) == "list must be an array")
        // Absent and null are alike for optional fields; unknown fields are ignored.
        #expect(message(["name": "n", "size": NSNull(), "inner": inner, "extra": [1, 2]]) == nil)
        let decoded = try? RequestDecoder.decode(Body.self, from: ["name": "n", "size": 3, "flag": false, "inner": inner])
        #expect(decoded?.size == 3 && decoded?.flag == false && decoded?.inner.key == "k")
    }
}
