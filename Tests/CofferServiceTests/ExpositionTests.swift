import Testing
@testable import CofferService

/// Prometheus' text format as /metrics writes it: label values escaped, values as Prometheus reads them.
@Suite struct ExpositionFormat {
    @Test func labelValuesAreEscapedAndValuesWritten() {
        var out = Exposition()
        out.family("coffer_x_total", "counter")
        out.sample("coffer_x_total", [("a", "plain"), ("b", "quote\" back\\slash\nnewline")], Int64(42))
        out.sample("coffer_y", [], 0.5)
        out.sample("coffer_y", [("c", "")], Double.infinity)
        out.sample("coffer_y", [], Double.nan)
        #expect(String(decoding: out.bytes, as: UTF8.self) == """
            # TYPE coffer_x_total counter
            coffer_x_total{a="plain",b="quote\\" back\\\\slash\\nnewline"} 42
            coffer_y 0.5
            coffer_y{c=""} +Inf
            coffer_y NaN

            """)
    }
}
