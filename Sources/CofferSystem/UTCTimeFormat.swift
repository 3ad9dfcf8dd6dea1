import Foundation

/// A fixed UTC date pattern (a subset of the Unicode date-pattern letters),
/// formatted and parsed by calendar arithmetic on bytes. Foundation's
/// DateFormatter goes through ICU: its first use in a process loaded ICU's
/// calendar data (tens of milliseconds of every cold `coffer` start, since
/// every S3 request is signed with a date), and each use takes a lock.
///
/// Letters: yyyy, MM, MMM (English abbreviation), dd, HH, mm, ss, S… (a
/// fraction: formatted to that many digits of the millisecond, parsed from
/// one to nine digits), EEE (English weekday, checked when parsed), Z
/// (+0800), XXX (Z or +08:00). Text in single quotes and any other
/// non-letter is literal. Parsing is strict: every field has its width and
/// range, nothing may follow.
public final class UTCTimeFormat: Sendable {
    enum Token: Sendable, Equatable {
        case literal([UInt8])
        case year, month, monthName, day, hour, minute, second, weekday
        case fraction(Int)
        case offset(colon: Bool, zulu: Bool)
    }

    let tokens: [Token]

    public init(_ pattern: String) {
        tokens = UTCTimeFormat.compile(Array(pattern.utf8))
    }

    /// To the millisecond below; a microsecond's nudge keeps a time made from whole milliseconds on its millisecond (Date counts from 2001 in a Double, so 1970 + 0.999 s reads back as 0.998999…).
    public func string(_ date: Date) -> String {
        string(epochMilliseconds: Int64((date.timeIntervalSince1970 * 1000 + 1e-3).rounded(.down)))
    }

    public func string(epochMilliseconds ms: Int64) -> String {
        let c = CivilTime(epochMilliseconds: ms)
        var out = [UInt8]()
        out.reserveCapacity(32)
        for token in tokens {
            switch token {
            case let .literal(bytes): out += bytes
            case .year: CivilTime.append(c.year, width: 4, to: &out)
            case .month: CivilTime.append(c.month, width: 2, to: &out)
            case .monthName: out += CivilTime.monthNames[c.month - 1]
            case .day: CivilTime.append(c.day, width: 2, to: &out)
            case .hour: CivilTime.append(c.hour, width: 2, to: &out)
            case .minute: CivilTime.append(c.minute, width: 2, to: &out)
            case .second: CivilTime.append(c.second, width: 2, to: &out)
            case let .fraction(n):
                for i in 0..<n { out.append(48 + UInt8(i == 0 ? c.millisecond / 100 : i == 1 ? c.millisecond / 10 % 10 : i == 2 ? c.millisecond % 10 : 0)) }
            case .weekday: out += CivilTime.weekdayNames[c.weekday]
            case let .offset(colon, zulu): out += zulu ? ByteScanner.zulu : colon ? ByteScanner.utcWithColon : ByteScanner.utc
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func date(_ text: String) -> Date? {
        var scanner = ByteScanner(Array(text.utf8))
        var year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, milliseconds = 0, offsetSeconds = 0
        var weekday: Int?
        for token in tokens {
            switch token {
            case let .literal(bytes): guard scanner.take(bytes) else { return nil }
            case .year: guard let v = scanner.number(4) else { return nil }; year = v
            case .month: guard let v = scanner.number(2) else { return nil }; month = v
            case .monthName: guard let v = scanner.oneOf(CivilTime.monthNames) else { return nil }; month = v + 1
            case .day: guard let v = scanner.number(2) else { return nil }; day = v
            case .hour: guard let v = scanner.number(2) else { return nil }; hour = v
            case .minute: guard let v = scanner.number(2) else { return nil }; minute = v
            case .second: guard let v = scanner.number(2) else { return nil }; second = v
            case .fraction: guard let v = scanner.fractionMilliseconds() else { return nil }; milliseconds = v
            case .weekday: guard let v = scanner.oneOf(CivilTime.weekdayNames) else { return nil }; weekday = v
            case let .offset(colon, zulu): guard let v = scanner.offset(colon: colon, zulu: zulu) else { return nil }; offsetSeconds = v
            }
        }
        guard scanner.atEnd,
              let ms = CivilTime.epochMilliseconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second, millisecond: milliseconds)
        else { return nil }
        let utc = ms - Int64(offsetSeconds) * 1000
        if let weekday, CivilTime(epochMilliseconds: ms).weekday != weekday { return nil }
        return Date(timeIntervalSince1970: Double(utc) / 1000)
    }

    static func compile(_ p: [UInt8]) -> [Token] {
        var tokens: [Token] = []
        var literal: [UInt8] = []
        func flush() { if !literal.isEmpty { tokens.append(.literal(literal)); literal = [] } }
        var i = 0
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "'") {
                i += 1
                while i < p.count && p[i] != UInt8(ascii: "'") { literal.append(p[i]); i += 1 }
                i += 1
                continue
            }
            guard (c >= 65 && c <= 90) || (c >= 97 && c <= 122) else { literal.append(c); i += 1; continue }
            var n = 1
            while i + n < p.count && p[i + n] == c { n += 1 }
            flush()
            switch (Character(UnicodeScalar(c)), n) {
            case ("y", 4): tokens.append(.year)
            case ("M", 2): tokens.append(.month)
            case ("M", 3): tokens.append(.monthName)
            case ("d", 2): tokens.append(.day)
            case ("H", 2): tokens.append(.hour)
            case ("m", 2): tokens.append(.minute)
            case ("s", 2): tokens.append(.second)
            case ("S", _): tokens.append(.fraction(n))
            case ("E", 3): tokens.append(.weekday)
            case ("Z", 1): tokens.append(.offset(colon: false, zulu: false))
            case ("X", 3): tokens.append(.offset(colon: true, zulu: true))
            default: preconditionFailure("UTCTimeFormat: unsupported pattern field \(String(decoding: p[i..<(i + n)], as: UTF8.self))")
            }
            i += n
        }
        flush()
        return tokens
    }

    /// Keystone's form: 2026-01-31T12:00:00.000000Z.
    public static let keystone = UTCTimeFormat("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
    /// CBR's form: 2020-02-05T10:38:34.209782 (UTC, no zone suffix).
    public static let cbr = UTCTimeFormat("yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
    /// X-Sdk-Date: 20250101T120000Z.
    public static let sdkDate = UTCTimeFormat("yyyyMMdd'T'HHmmss'Z'")
    /// RFC 3339 as repository objects store times: 2026-12-04T04:20:48.385Z.
    public static let rfc3339 = UTCTimeFormat("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
    static let rfc3339Whole = UTCTimeFormat("yyyy-MM-dd'T'HH:mm:ssXXX")

    /// RFC 3339 with or without a fraction, `Z` or an offset.
    public static func parseRFC3339(_ text: String) -> Date? { rfc3339.date(text) ?? rfc3339Whole.date(text) }

    /// CBR's form straight from epoch milliseconds (a listing formats four times per backup).
    public static func cbrString(epochMilliseconds ms: Int64) -> String {
        cbr.string(epochMilliseconds: ms)
    }

    /// RDS list filters: 2018-08-06T12:41:14+0800 as documented, or with Z / +08:00.
    public static let rdsQueryForms = ["yyyy-MM-dd'T'HH:mm:ssZ", "yyyy-MM-dd'T'HH:mm:ssXXX"].map(UTCTimeFormat.init)

    /// Accepted for time filters in queries.
    public static let queryForms = ["yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "yyyy-MM-dd"].map(UTCTimeFormat.init)
}

/// A UTC instant split into calendar fields (proleptic Gregorian), and back.
struct CivilTime {
    var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int
    /// 0 = Sunday.
    var weekday: Int

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map { Array($0.utf8) }
    static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].map { Array($0.utf8) }

    init(epochMilliseconds ms: Int64) {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        millisecond = Int(ms - seconds * 1000)
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = Int(seconds - days * 86400)
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
        weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday
        // H. Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
    }

    /// nil for a field out of its range (month 13, February 30, hour 24, second 60).
    static func epochMilliseconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int) -> Int64? {
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second), (0...999).contains(millisecond) else { return nil }
        // H. Hinnant's days_from_civil.
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return ((days * 86400 + Int64(hour * 3600 + minute * 60 + second)) * 1000) + Int64(millisecond)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func append(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        for _ in 0..<width { out.append(UInt8(48 + (v / divisor) % 10)); v %= divisor; divisor /= 10 }
    }
}

struct ByteScanner {
    static let zulu = Array("Z".utf8), utc = Array("+0000".utf8), utcWithColon = Array("+00:00".utf8), colon = Array(":".utf8)
    let bytes: [UInt8]
    var at = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { at == bytes.count }

    mutating func take(_ literal: [UInt8]) -> Bool {
        guard bytes.count - at >= literal.count, bytes[at..<(at + literal.count)].elementsEqual(literal) else { return false }
        at += literal.count
        return true
    }

    /// Exactly `width` ASCII digits.
    mutating func number(_ width: Int) -> Int? {
        guard bytes.count - at >= width else { return nil }
        var v = 0
        for b in bytes[at..<(at + width)] {
            guard b >= 48 && b <= 57 else { return nil }
            v = v * 10 + Int(b - 48)
        }
        at += width
        return v
    }

    /// One to nine digits of a fraction of a second, as whole milliseconds (the rest dropped).
    mutating func fractionMilliseconds() -> Int? {
        var digits = 0, ms = 0
        while at < bytes.count, bytes[at] >= 48, bytes[at] <= 57, digits < 9 {
            if digits < 3 { ms = ms * 10 + Int(bytes[at] - 48) }
            digits += 1
            at += 1
        }
        guard digits > 0 else { return nil }
        for _ in min(digits, 3)..<3 { ms *= 10 }
        return ms
    }

    mutating func oneOf(_ names: [[UInt8]]) -> Int? {
        for (i, name) in names.enumerated() where take(name) { return i }
        return nil
    }

    /// `Z` (when allowed) or ±HHMM / ±HH:MM, as seconds east of UTC.
    mutating func offset(colon: Bool, zulu: Bool) -> Int? {
        if zulu && take(ByteScanner.zulu) { return 0 }
        guard at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") else { return nil }
        let sign = bytes[at] == UInt8(ascii: "-") ? -1 : 1
        at += 1
        guard let hours = number(2), !colon || take(ByteScanner.colon), let minutes = number(2), hours <= 23, minutes <= 59 else { return nil }
        return sign * (hours * 3600 + minutes * 60)
    }
}
