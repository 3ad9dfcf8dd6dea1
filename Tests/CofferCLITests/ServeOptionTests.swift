import CofferTestSupport
import Foundation
import Testing

/// `coffer serve` refuses bad scale-out options before opening anything, naming the option
/// (a NUL cannot reach it: argv ends a string there).
@Suite struct ServeOptions {
    @Test func badRoleRegionLeaseAndCatalogAreRefusedByName() throws {
        let temp = Temp("serve-options")
        for (args, words) in [(["--role", "boss"], "--role must be api, worker or all"), (["--role", ""], "--role must be"),
                              (["--region", ""], "--region must be"), (["--region", "eu:1"], "--region must be"),
                              (["--region", String(repeating: "r", count: 65)], "--region must be"),
                              (["--metrics-listen", "nowhere"], "--metrics-listen 'nowhere' is not HOST:PORT"), (["--metrics-listen", "127.0.0.1:99999"], "--metrics-listen"),
                              (["--job-lease", "-5"], "--job-lease must be"), (["--job-lease", "1e9"], "--job-lease must be"),
                              (["--catalog", "mysql://x"], "unsupported scheme"), (["--catalog", "postgres://u:p@127.0.0.1:5432/db?sslmode=maybe"], "sslmode=maybe")] {
            let r = try coffer(["serve", "--data-dir", temp.path + "/data", "--listen", "127.0.0.1:\(freePort())"] + args, env: [:])
            #expect(r.status != 0 && r.stderr.contains(words), "\(args): \(r.status) \(r.stderr)")
        }
    }

    @Test func aStoreThisProcessCannotOpenIsRefusedBeforeStarting() throws {
        let temp = Temp("serve-store")
        let noAWS = ["HOME": temp.path, "AWS_SHARED_CREDENTIALS_FILE": temp.path + "/none", "AWS_CONFIG_FILE": temp.path + "/none"]
        for (args, env, words) in [(["--store", "ftp://host/x"], noAWS, "--store must be file:///ABSOLUTE/PATH or s3://BUCKET[/PREFIX]"),
                                   (["--store", "file://relative"], noAWS, "--store must be"), (["--store", ""], noAWS, "--store must be"),
                                   (["--store", ":"], noAWS, "--store must be"),
                                   (["--store", "s3://" + String(repeating: "b", count: 10_000)], noAWS.merging(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]) { $1 }, "bucket name"),
                                   (["--store", "s3://bucket/\u{FFFD}x"], noAWS.merging(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]) { $1 }, "prefix"),
                                   (["--store", "s3://Bad_Bucket"], noAWS.merging(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]) { $1 }, "bucket name"),
                                   (["--store", "s3://coffer-vaults/eu"], noAWS, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
                                   ([], noAWS.merging(["COFFER_STORE": "s3://coffer-vaults"]) { $1 }, "AWS_ACCESS_KEY_ID")] {
            let r = try coffer(["serve", "--data-dir", temp.path + "/data", "--listen", "127.0.0.1:\(freePort())"] + args, env: env)
            #expect(r.status != 0 && r.stderr.contains(words), "\(args) \(env): \(r.status) \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: temp.path + "/data/catalog.sqlite"), "refused before the catalog was opened")
        }
    }

    /// `--metrics-listen`: /metrics without a token on its own address, and only /metrics there.
    @Test func aScraperReadsMetricsOnItsOwnAddressWithoutAToken() throws {
        let metricsPort = freePort()
        let served = try ServedCoffer(arguments: ["--metrics-listen", "127.0.0.1:\(metricsPort)"])
        var scraped = Run(status: 1, stdout: "", stderr: "")
        for _ in 0..<100 {
            scraped = try run("/usr/bin/curl", ["-sS", "-f", "http://127.0.0.1:\(metricsPort)/metrics"])
            if scraped.status == 0 { break }
            usleep(100_000)
        }
        #expect(scraped.status == 0 && scraped.stdout.contains("coffer_jobs_queued 0"), "\(scraped.stderr) \(served.logData.text.suffix(2000))")
        #expect(try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(metricsPort)/v3"]).stdout == "404", "nothing else is served there")
        #expect(try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", served.endpoint + "/metrics"]).stdout == "401", "the API port asks for a token")
    }
}
