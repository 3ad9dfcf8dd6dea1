import CofferTestSupport
import Foundation
import Testing

/// The web console in a real browser (Debian's chromium + chromedriver, Selenium,
/// Tests/interop/console_browser.py) against `coffer serve`: what a user does, and what
/// a hostile page or another project's user cannot. Here: the bytes the console's
/// restore wrote, and the pattern the schedule builder stored, read back independently.
/// Screenshots of every page: .build/console-screenshots.
@Suite struct ConsoleInBrowser {
    @Test func aUserBacksUpRestoresAndSchedulesFromTheConsole() async throws {
        let chromium = FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
        // scripts/ensure-deps.sh --test installs them; a machine without them fails here rather than skipping.
        try #require(chromium, "chromium and chromium-driver are missing: run scripts/ensure-deps.sh --test")
        let served = try ServedCoffer()
        let shots = packageRoot() + "/.build/console-screenshots"
        try? FileManager.default.removeItem(atPath: shots)
        let resultPath = served.temp.path + "/console-result.json"
        let script = try run(try interopPython(), [packageRoot() + "/Tests/interop/console_browser.py", served.endpoint, served.credentialsPath,
                                                   served.resourceRoot, shots, resultPath])
        // The whole story, for CI's artefacts: each page's time, every failed check, the server's log.
        let story = "console_browser.py exit \(script.status)\n\(script.stdout)\n\(script.stderr)\nserver log:\n\(served.logData.text.suffix(20000))"
        try? Data(story.utf8).write(to: URL(fileURLWithPath: shots + "/console_browser.log"))
        #expect(script.status == 0, "\(story.suffix(6000).replacingOccurrences(of: "'", with: "\""))")
        guard script.status == 0 else { return }
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: resultPath))) as? [String: Any])
        let source = try #require(result["source"] as? String), restored = try #require(result["restored_to"] as? String)
        let original = contents(of: source), copy = contents(of: restored)
        #expect(!original.isEmpty && original == copy, "the console's restore wrote the backed-up tree byte for byte (\(original.count) files, \(copy.count) restored)")
        #expect(((result["progress_seen"] as? [Int]) ?? []).last == 100, "\(result)")

        let stored = try storedPolicy(dataDirectory: served.dataDirectory, policy: try #require(result["policy_id"] as? String))
        #expect(stored.contains("FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=03;BYMINUTE=15"), "the builder's pattern is what the catalog holds: \(stored)")
        let screenshots = (try? FileManager.default.contentsOfDirectory(atPath: shots)) ?? []
        #expect(screenshots.filter { $0.hasSuffix(".png") }.count >= 15, "a screenshot of each page: \(screenshots.sorted())")
    }

    /// The policy's row in the catalog, read with sqlite3's own reader (not the server's code).
    func storedPolicy(dataDirectory: String, policy: String) throws -> String {
        let read = try run("/usr/bin/python3", ["-c", """
            sqlite3, sys = __import__("sqlite3"), __import__("sys")
            db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
            print(db.execute("SELECT patterns FROM policies WHERE id = ?", (sys.argv[2],)).fetchone()[0])
            """, dataDirectory + "/catalog.sqlite", policy])
        guard read.status == 0 else { throw SupportError("reading the catalog: \(read.stderr)") }
        return read.stdout
    }
}
