import Foundation

/// Just enough XML for S3's answers (listings, errors, multipart uploads,
/// batch deletes): the text of elements by name. Those documents are flat
/// records of simple elements, so no general parser (and no libxml2) is
/// needed. Scans bytes once per call: a 1 000-key listing is ~300 KB.
enum S3XML {
    /// The inner bytes of every `<name>` element (attributes allowed; same-name nesting is not S3's).
    static func elements(_ name: String, in xml: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        let open = Array("<\(name)".utf8), close = Array("</\(name)>".utf8)
        var out: [ArraySlice<UInt8>] = []
        var i = xml.startIndex
        while let start = find(open, in: xml, from: i) {
            let after = start + open.count
            guard after < xml.endIndex else { break }
            // `<NameX>` is another element.
            guard [UInt8(ascii: ">"), UInt8(ascii: " "), UInt8(ascii: "/")].contains(xml[after]) else { i = after; continue }
            guard let end = xml[after...].firstIndex(of: UInt8(ascii: ">")) else { break }
            if xml[end - 1] == UInt8(ascii: "/") {  // `<Name/>`
                out.append(xml[end..<end])
                i = end + 1
                continue
            }
            guard let closing = find(close, in: xml, from: end + 1) else { break }
            out.append(xml[(end + 1)..<closing])
            i = closing + close.count
        }
        return out
    }

    static func elements(_ name: String, in xml: Data) -> [ArraySlice<UInt8>] { elements(name, in: Array(xml)[...]) }

    /// The unescaped text of the first `<name>`, if any.
    static func value(_ name: String, in xml: ArraySlice<UInt8>) -> String? { elements(name, in: xml).first.map(unescape) }
    static func value(_ name: String, in xml: Data) -> String? { value(name, in: Array(xml)[...]) }

    static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>, from: Int) -> Int? {
        guard let first = needle.first, haystack.endIndex - from >= needle.count else { return nil }
        var i = from
        let last = haystack.endIndex - needle.count
        while i <= last {
            if haystack[i] == first {
                var k = 1
                while k < needle.count && haystack[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func unescape(_ bytes: ArraySlice<UInt8>) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("&") else { return text }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let code = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let code, let scalar = Unicode.Scalar(code) { out.unicodeScalars.append(scalar) } else { out += "&\(entity);" }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
