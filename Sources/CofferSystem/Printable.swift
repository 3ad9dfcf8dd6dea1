/// Text a client sent, as it may appear in an error message: bounded, control characters escaped.
public enum Printable {
    public static func excerpt(_ text: String) -> String {
        let clipped = text.unicodeScalars.prefix(64).map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
        return text.unicodeScalars.count > 64 ? clipped + "…" : clipped
    }
}
