import Foundation

/// Text a client sent, as it may appear in an error message: bounded, control characters escaped.
public enum Printable {
    public static func excerpt(_ text: String) -> String {
        let clipped = text.unicodeScalars.prefix(64).map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
        return text.unicodeScalars.count > 64 ? clipped + "…" : clipped
    }
}

/// A byte count for people: `512 B`, `1.5 MiB`.
public func formatBytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var v = Double(n), i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}
