import Foundation

/// A fixed UTC date pattern, formatted and parsed through one cached
/// formatter. Making a DateFormatter costs far more than using one, and
/// these run for every signed request and every timestamp in a listing.
public final class UTCTimeFormat: @unchecked Sendable {
    private let lock = NSLock()
    private let formatter: DateFormatter

    public init(_ pattern: String) {
        formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = pattern
    }

    public func string(_ date: Date) -> String { lock.withLock { formatter.string(from: date) } }
    public func date(_ text: String) -> Date? { lock.withLock { formatter.date(from: text) } }

    /// Keystone's form: 2026-01-31T12:00:00.000000Z.
    public static let keystone = UTCTimeFormat("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
    /// CBR's form: 2020-02-05T10:38:34.209782 (UTC, no zone suffix).
    public static let cbr = UTCTimeFormat("yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
    /// X-Sdk-Date: 20250101T120000Z.
    public static let sdkDate = UTCTimeFormat("yyyyMMdd'T'HHmmss'Z'")
    /// CBR's form straight from epoch milliseconds, by calendar arithmetic (no
    /// formatter, no lock): a listing formats four times per backup.
    public static func cbrString(epochMilliseconds ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let milliseconds = Int(ms - seconds * 1000)
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = Int(seconds - days * 86400)
        // Days to civil date (proleptic Gregorian), after H. Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
        var out = [UInt8]()
        out.reserveCapacity(26)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var v = value
            for _ in 0..<count { out.append(UInt8(48 + (v / divisor) % 10)); v %= divisor; divisor /= 10 }
        }
        digits(year, 4); out.append(45); digits(month, 2); out.append(45); digits(day, 2); out.append(84)
        digits(secondOfDay / 3600, 2); out.append(58); digits(secondOfDay / 60 % 60, 2); out.append(58); digits(secondOfDay % 60, 2)
        out.append(46); digits(milliseconds * 1000, 6)
        return String(decoding: out, as: UTF8.self)
    }

    /// RDS list filters: 2018-08-06T12:41:14+0800 as documented, or with Z / +08:00.
    public static let rdsQueryForms = ["yyyy-MM-dd'T'HH:mm:ssZ", "yyyy-MM-dd'T'HH:mm:ssXXX"].map(UTCTimeFormat.init)

    /// Accepted for time filters in queries.
    public static let queryForms = ["yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "yyyy-MM-dd"].map(UTCTimeFormat.init)
}
