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
    /// Accepted for time filters in queries.
    public static let queryForms = ["yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "yyyy-MM-dd"].map(UTCTimeFormat.init)
}
