import Foundation

/// Serialises the `[String: Any]` trees the HTTP layer builds, with keys in
/// byte order. Foundation's JSONSerialization on Linux sorts keys with ICU
/// collation and bridges every value, which made a 100-backup listing cost
/// tens of milliseconds; this writes the same JSON directly into bytes.
public enum JSONWriter {
    public static func data(_ value: Any) -> Data { Data(bytes(value)) }

    public static func bytes(_ value: Any) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(value, into: &out)
        return out
    }

    /// Object keys in UTF-8 byte order: negative, zero or positive.
    static func compareKeys(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = min(x.count, y.count)
                let c = common == 0 ? 0 : Int(memcmp(x.baseAddress!, y.baseAddress!, common))
                return c != 0 ? c : x.count - y.count
            }
        }
    }

    static let boolNumberType = type(of: NSNumber(value: true))

    static func write(_ value: Any, into out: inout [UInt8]) {
        switch value {
        case let v as String: writeString(v, into: &out)
        case let v as [String: Any]:
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in v.keys.sorted(by: { compareKeys($0, $1) < 0 }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(v[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case let v as [Any]:
            out.append(UInt8(ascii: "["))
            for (i, item) in v.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case is NSNull: out.append(contentsOf: "null".utf8)
        default: writeScalar(value, into: &out)
        }
    }

    static func writeScalar(_ value: Any, into out: inout [UInt8]) {
        let t = type(of: value)
        if t == Bool.self { writeBool(value as! Bool, into: &out); return }
        if t == Int.self { writeInteger(value as! Int, into: &out); return }
        if t == Int64.self { writeInteger(value as! Int64, into: &out); return }
        if t == Int32.self { writeInteger(value as! Int32, into: &out); return }
        if t == UInt64.self { writeInteger(value as! UInt64, into: &out); return }
        if t == UInt.self { writeInteger(value as! UInt, into: &out); return }
        if t == Double.self { writeDouble(value as! Double, into: &out); return }
        if t == Float.self { writeDouble(Double(value as! Float), into: &out); return }
        if let n = value as? NSNumber {
            if type(of: n) == boolNumberType { writeBool(n.boolValue, into: &out); return }
            let kind = String(cString: n.objCType)
            if kind == "d" || kind == "f" { writeDouble(n.doubleValue, into: &out) } else { out.append(contentsOf: n.stringValue.utf8) }
            return
        }
        // Optional.none wrapped in Any, or anything else unexpected.
        out.append(contentsOf: "null".utf8)
    }

    static func writeBool(_ b: Bool, into out: inout [UInt8]) { out.append(contentsOf: (b ? "true" : "false").utf8) }

    static func writeInteger<I: BinaryInteger>(_ i: I, into out: inout [UInt8]) { out.append(contentsOf: String(i).utf8) }

    static func writeDouble(_ d: Double, into out: inout [UInt8]) {
        guard d.isFinite else { out.append(contentsOf: "null".utf8); return }
        if d == d.rounded(), abs(d) < 1e15 { out.append(contentsOf: String(Int64(d)).utf8) } else { out.append(contentsOf: "\(d)".utf8) }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (ids, names, times) need no escaping: copy them whole.
        let plain: Bool? = s.utf8.withContiguousStorageIfAvailable { buffer in
            for byte in buffer where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
            out.append(contentsOf: buffer)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
