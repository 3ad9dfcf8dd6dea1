import CofferSystem
import ArgumentParser
import CofferAPI
import Foundation

// `coffer status` and the progress bars of the client commands that wait.

/// Percentage, rate and time left of a running operation, from the
/// percentages seen over time (the API reports percent, not bytes). A pure
/// state machine: the caller passes the time.
struct ProgressEstimate {
    private var first: (at: TimeInterval, percent: Double)?
    private(set) var latest: (at: TimeInterval, percent: Double)?

    mutating func observe(percent: Double, at time: TimeInterval) {
        let p = min(100, max(0, percent))
        // The rate counts from the last sample before it moved (not from the queue's wait), and again after it went back (a retry).
        if first == nil || p < (latest?.percent ?? 0) || p == first?.percent { first = (time, p) }
        latest = (time, p)
    }

    /// Percent per second since the first sample; nil until it moved.
    var rate: Double? {
        guard let first, let latest, latest.at > first.at, latest.percent > first.percent else { return nil }
        return (latest.percent - first.percent) / (latest.at - first.at)
    }

    /// Seconds left at that rate.
    var remaining: TimeInterval? {
        guard let rate, let latest, rate > 0 else { return nil }
        return (100 - latest.percent) / rate
    }
}

/// `[#######.............]  35%  1.2 MiB/s  ETA 0:42  label`: bytes per
/// second when the operation's size is known, else percent per minute.
func progressLine(_ label: String, _ estimate: ProgressEstimate, totalBytes: Int64? = nil, width: Int = 24) -> String {
    let percent = estimate.latest?.percent ?? 0
    let filled = Int((percent / 100 * Double(width)).rounded(.down))
    var line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + String(format: "%3d%%", Int(percent))
    if let rate = estimate.rate {
        if let totalBytes, totalBytes > 0 {
            line += "  " + formatBytes(Int64(rate / 100 * Double(totalBytes))) + "/s"
        } else {
            line += String(format: "  %.1f%%/min", rate * 60)
        }
        if let left = estimate.remaining { line += "  ETA " + elapsedText(left) }
    }
    return line + "  " + label
}

/// Writes one progress line over the previous on a terminal; nothing elsewhere (or with --json).
struct ProgressTicker {
    let enabled: Bool
    init(json: Bool) { enabled = !json && isatty(2) == 1 }
    func show(_ line: String) { if enabled { FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8)) } }
    func clear() { if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status",
                                                    abstract: "Every vault: last success, next scheduled run, failures in the last 24 h, use of its capacity; problems first.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let answer = try await options.client().call("GET", "/coffer/dashboard", as: Dashboard.Response.self)
        printResult(options, answer) { StatusCommand.table(answer) }
        if answer.problems > 0 { throw ExitCode(2) }
    }

    /// `2026-12-03T02:00:00.000000` -> `2026-12-03 02:00`.
    static func shortTime(_ text: String?) -> String {
        guard let text, text.count >= 16 else { return "-" }
        return text.prefix(10) + " " + text.dropFirst(11).prefix(5)
    }

    static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? String(s.prefix(n - 1)) + "…" : s + String(repeating: " ", count: n - s.count)
    }

    static func table(_ answer: Dashboard.Response) -> [String] {
        var lines = ["   " + pad("VAULT", 24) + " " + pad("LAST SUCCESS", 17) + " " + pad("NEXT RUN", 17) + " " + pad("FAILED 24H", 10) + " USED"]
        for v in answer.vaults {
            let filled = Int(min(100, max(0, v.usedPercent)) / 10)
            let used = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 10 - filled) + "] "
                + String(format: "%.1f%%", v.usedPercent) + " of \(v.sizeGB) GB"
            lines.append((v.problems.isEmpty ? "   " : " ! ") + pad(v.name, 24) + " " + pad(shortTime(v.lastSuccessAt), 17) + " "
                + pad(v.nextRunAt == nil ? "no policy" : shortTime(v.nextRunAt), 17) + " " + pad("\(v.failuresLast24h)", 10) + " " + used)
            for r in v.running { lines.append("     running: \(r.operationType) of \(r.resourceName), \(r.progress)%") }
            if !v.problems.isEmpty { lines.append("     " + v.problems.joined(separator: "; ")) }
        }
        lines.append("\(answer.count) vault\(answer.count == 1 ? "" : "s"), \(answer.problems) with problems")
        return lines
    }
}
