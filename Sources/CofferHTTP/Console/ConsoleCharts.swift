import CofferModel
import CofferService
import CofferSystem
import Foundation

/// Server-drawn SVG: the numbers become coordinates here, the templates only place them.
enum ConsoleCharts {
    static let width = 440.0, height = 200.0, left = 64.0, right = 430.0, top = 10.0, bottom = 170.0

    /// Storage growth (stored and protected bytes) and dedup ratio over the vault's samples.
    static func usage(_ samples: [VaultUsageSample]) -> [[String: Any]] {
        let times = samples.map(\.at)
        let bytes = chart(caption: "Storage growth", times: times,
                          series: [("stored", samples.map { Double($0.usedBytes) }, "stored"), ("protected", samples.map { Double($0.protectedBytes) }, "protected")],
                          label: { formatBytes(Int64($0)) })
        let ratios = samples.map { $0.usedBytes > 0 ? Double($0.protectedBytes) / Double($0.usedBytes) : 1 }
        let dedup = chart(caption: "Dedup and compression ratio (protected ÷ stored)", times: times, series: [("ratio", ratios, "ratio")],
                          label: { String(format: "%.2f×", $0) })
        return [bytes, dedup]
    }

    static func chart(caption: String, times: [Int64], series: [(name: String, values: [Double], css: String)], label: (Double) -> String) -> [String: Any] {
        let t0 = Double(times.first ?? 0), t1 = Double(times.last ?? 0)
        let maxValue = max(series.flatMap(\.values).max() ?? 0, 1) * 1.1
        func x(_ t: Int64) -> Double { t1 > t0 ? left + (Double(t) - t0) / (t1 - t0) * (right - left) : (left + right) / 2 }
        func y(_ v: Double) -> Double { bottom - v / maxValue * (bottom - top) }
        func coordinate(_ v: Double) -> String { String(format: "%.1f", v) }
        let ticks = (0...4).map { i -> [String: Any] in
            let v = maxValue * Double(i) / 4
            return ["y": coordinate(y(v)), "label": label(v)]
        }
        return [
            "caption": caption, "width": Int(width), "height": Int(height), "left": left, "right": right, "top": top,
            "plotWidth": right - left, "plotHeight": bottom - top, "labelX": left - 4, "bottomLabelY": bottom + 16,
            "ticks": ticks, "from": times.first.map(ConsoleInput.time) ?? "", "to": times.last.map(ConsoleInput.time) ?? "",
            "series": series.map { s -> [String: Any] in
                // A single sample is drawn as a short flat line so it shows.
                var points = zip(times, s.values).map { "\(coordinate(x($0))),\(coordinate(y($1)))" }
                if points.count == 1 { points = ["\(coordinate(left)),\(coordinate(y(s.values[0])))", "\(coordinate(right)),\(coordinate(y(s.values[0])))"] }
                return ["points": points.joined(separator: " "), "css": s.css]
            },
            "legend": series.enumerated().map { i, s -> [String: Any] in ["x": left + 6 + Double(i) * 90, "y": top + 14, "label": s.name, "css": s.css] },
        ]
    }

    static let timelineWidth = 900.0, maxBars = 240

    /// The retention simulation: one line per backup, from when it is made to when retention
    /// deletes it (to the end of the span when it is still kept), a day grid below.
    static func timeline(_ simulation: Simulation) -> [String: Any]? {
        let backups = simulation.backups.prefix(maxBars)
        guard !backups.isEmpty, simulation.end > simulation.start else { return nil }
        let span = Double(simulation.end - simulation.start), left = 36.0, right = timelineWidth - 36
        let row = max(2.0, min(8.0, 400 / Double(backups.count)))
        let bottom = Double(backups.count) * row + 8
        func x(_ t: Int64) -> String { String(format: "%.1f", left + Double(t - simulation.start) / span * (right - left)) }
        let days = Int(span / 86_400_000)
        let step = max(1, days / 10)
        return [
            "width": Int(timelineWidth), "height": Int(bottom + 20),
            "days": stride(from: 0, through: days, by: step).map { d -> [String: Any] in
                let t = simulation.start + Int64(d) * 86_400_000
                return ["x": x(t), "bottom": bottom, "labelY": bottom + 14, "label": String(ConsoleInput.time(t).prefix(10))]
            },
            "bars": backups.enumerated().map { i, b -> [String: Any] in
                ["x1": x(b.createdAt), "x2": x(b.deletedAt ?? simulation.end), "y": String(format: "%.1f", 4 + Double(i) * row),
                 "css": b.deletedAt == nil ? "kept" : "deleted"]
            },
        ]
    }
}
