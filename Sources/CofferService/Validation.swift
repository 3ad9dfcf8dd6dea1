import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A key/value tag: CBR vault tags and CSBS backup tags.
public struct Tag: Sendable, Codable, Equatable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// The field checks the APIs' rules are made of, each in one place. Every
/// failure names the field; `error` makes it the calling API's error
/// (`BackupService.9900` by default, `CSBS.1000` for CSBS).
enum Validate {
    typealias Failure = (String) -> ServiceError

    /// `[A-Za-z0-9_-]`: CSBS backup names and tags, RDS backup names.
    static let wordCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

    /// At most `max` characters, without `<` or `>` (CBR and CSBS descriptions).
    static func description(_ text: String, field: String, max: Int, error: Failure = ServiceError.validation) throws {
        guard text.count <= max, !text.contains("<"), !text.contains(">") else {
            throw error("\(field) must be at most \(max) characters without < or >")
        }
    }

    /// CBR's name pattern `^[\u4E00-\u9FA5\uf900-\ufa2da-zA-Z0-9_\-]*$`, 1 to `maxLength` characters.
    static func cbrName(_ name: String, field: String, maxLength: Int = 64) throws {
        guard (1...maxLength).contains(name.count) else { throw ServiceError.validation("\(field) must be 1 to \(maxLength) characters") }
        let ok = name.unicodeScalars.allSatisfy { s in
            (0x4E00...0x9FA5).contains(s.value) || (0xF900...0xFA2D).contains(s.value) || (s.isASCII && (CharacterSet.alphanumerics.contains(s) || s == "_" || s == "-"))
        }
        guard ok else { throw ServiceError.validation("\(field) may contain only letters, digits, '_' and '-'") }
    }

    /// 1 to 64 letters, digits, `-`, `_` and `.` (project and user names).
    static func identityName(_ name: String, field: String) throws {
        guard !name.isEmpty, name.count <= 64 else { throw ServiceError.validation("\(field) must be 1 to 64 characters") }
        guard name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }) else {
            throw ServiceError.validation("\(field) may contain only letters, digits, '-', '_' and '.'")
        }
    }

    /// 1 to 64 ASCII letters, digits, `-`, `_` and `.`, not `.` or `..` (agent
    /// and resource ids that stand alone in URL paths).
    static func asciiID(_ id: String, field: String) throws {
        let allowed = { (b: UInt8) in (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b) || b == 45 || b == 95 || b == 46 }
        guard (1...64).contains(id.utf8.count), id.utf8.allSatisfy(allowed), id != ".", id != ".." else {
            throw ServiceError.validation("\(field) must be 1 to 64 letters, digits, '-', '_' or '.'")
        }
    }

    /// Text of a length in `range`, without control characters, `<` or `>` (what an agent says of its host).
    static func printableText(_ text: String, field: String, range: ClosedRange<Int>) throws {
        guard range.contains(text.count) else { throw ServiceError.validation("\(field) must be \(range.lowerBound) to \(range.upperBound) characters") }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "<" || $0 == ">" }) else {
            throw ServiceError.validation("\(field) may not contain control characters, < or >")
        }
    }

    /// An IPv4 or IPv6 address literal.
    static func ipAddress(_ text: String, field: String) throws {
        var v4 = in_addr(), v6 = in6_addr()
        guard text.utf8.count <= 45, inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1 else {
            throw ServiceError.validation("\(field) must be an IPv4 or IPv6 address")
        }
    }

    /// An absolute path of at most 1 024 bytes without `.`, `..` or empty components or control characters.
    static func absolutePath(_ path: String, field: String) throws {
        guard path.hasPrefix("/"), path.utf8.count <= 1024 else { throw ServiceError.validation("\(field) must be an absolute path of at most 1024 bytes") }
        guard !path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ServiceError.validation("\(field) may not contain control characters")
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path == "/" || !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw ServiceError.validation("\(field) must be a plain path (no '.', '..', '//' or trailing '/')")
        }
    }

    /// 1 to 255 characters, no control characters (resource names: operators name their disks).
    static func resourceName(_ name: String, field: String) throws {
        guard !name.isEmpty, name.count <= 255 else { throw ServiceError.validation("\(field) must be 1 to 255 characters") }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ServiceError.validation("\(field) must not contain control characters")
        }
    }

    /// RDS seed 003: 4 to 64 characters, a letter first, then letters, digits, `_` and `-`.
    static func rdsBackupName(_ name: String, error: Failure) throws {
        guard (4...64).contains(name.count), let first = name.first, first.isASCII, first.isLetter, name.allSatisfy(wordCharacters.contains) else {
            throw error("name must be 4 to 64 characters: a letter, then letters, digits, _ or -")
        }
    }

    /// 1 to 255 characters of `[A-Za-z0-9_-]` (CSBS backup names).
    static func wordName(_ name: String, field: String, error: Failure) throws {
        guard (1...255).contains(name.count), name.allSatisfy(wordCharacters.contains) else {
            throw error("\(field) must be 1 to 255 letters, digits, _ or -")
        }
    }

    /// What a tag may hold, by API: CBR vault tags are printable text without
    /// `= * < > \ , | /` (keys trimmed); CSBS backup tags are `[A-Za-z0-9_-]`.
    enum TagCharacters { case printable, word }

    /// At most 10 tags, keys 1 to 36 characters and unique, values at most 43.
    static func tags(_ tags: [Tag], field: String, characters: TagCharacters, error: Failure = ServiceError.validation) throws {
        let forbidden = Set("=*<>\\,|/".unicodeScalars)
        switch characters {
        case .printable:
            guard !tags.isEmpty else { throw error("\(field) must not be empty when given") }
            guard tags.count <= 10 else { throw error("\(field) may hold at most 10 tags") }
        case .word:
            guard tags.count <= 10 else { throw error("\(field) holds at most 10 tags") }
        }
        var keys = Set<String>()
        for (i, tag) in tags.enumerated() {
            let key: String
            switch characters {
            case .printable:
                key = tag.key.trimmingCharacters(in: .whitespaces)
                guard !key.isEmpty, key.count <= 36 else { throw error("\(field)[\(i)].key must be 1 to 36 characters") }
                guard tag.value.count <= 43 else { throw error("\(field)[\(i)].value must be at most 43 characters") }
                for text in [tag.key, tag.value] where text.unicodeScalars.contains(where: { $0.value < 32 || forbidden.contains($0) }) {
                    throw error("\(field)[\(i)] must not contain control characters or = * < > \\ , | /")
                }
            case .word:
                key = tag.key
                guard (1...36).contains(key.count), key.allSatisfy(wordCharacters.contains) else {
                    throw error("\(field)[\(i)].key must be 1 to 36 letters, digits, _ or -")
                }
                guard tag.value.count <= 43, tag.value.allSatisfy(wordCharacters.contains) else {
                    throw error("\(field)[\(i)].value must be at most 43 letters, digits, _ or -")
                }
            }
            guard keys.insert(key).inserted else { throw error("\(field)[\(i)].key \(key) is repeated") }
        }
    }
}
