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
        let tree = try TreeEncoder.encode(sample)
        let byHand: [String: Any] = ["id": "x/1", "size": 5, "ratio": 0.5, "ok": true, "kind": "server", "tags": [["key": "k"]], "protected_at": NSNull()]
        #expect(JSONWriter.bytes(tree) == JSONWriter.bytes(byHand))
        // And they decode back.
        let decoded = try JSONDecoder().decode(Sample.self, from: JSONWriter.data(tree))
        #expect(decoded.id == "x/1" && decoded.kind == .server && decoded.protectedAt == nil && decoded.tags == sample.tags)
        var present = sample
        present.protectedAt = "2026-01-01T00:00:00.000+00:00"
        #expect((try TreeEncoder.encode(present) as? [String: Any])?["protected_at"] as? String == "2026-01-01T00:00:00.000+00:00")
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
