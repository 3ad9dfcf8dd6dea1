import CofferBlobStore
import CofferCrypto
import CofferRepository
import CofferS3
import Foundation

/// The repository URLs a `coffer` process opens: local disk, and `s3://`
/// configured from the AWS environment. A server keeps a metadata cache per
/// S3 repository under DATA_DIR/cache (disposable: rebuilt on demand).
enum RepositoryStores {
    static func factory(cacheRoot: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> BlobStoreFactory {
        let s3 = S3Stores.opener(environment: environment)
        return BlobStoreFactory(remote: ["s3": { url in
            let store = try s3(url)
            guard let cacheRoot else { return store }
            let name = String(Digest.sha256Hex(Array(url.utf8)).prefix(32))
            return CachingBlobStore(wrapping: store, directory: URL(fileURLWithPath: cacheRoot).appendingPathComponent(name))
        }])
    }

    /// Where `coffer repo` keeps remote repositories' metadata caches, as restic does:
    /// COFFER_CACHE_DIR, else $XDG_CACHE_HOME/coffer, else ~/.cache/coffer; "off" for none.
    static func userCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let dir = environment["COFFER_CACHE_DIR"], !dir.isEmpty { return dir == "off" ? nil : dir }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/coffer" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/coffer"
    }

    /// Refuses a store URL this process could not open, before anything starts (missing credentials, a bad bucket name).
    static func check(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if url.hasPrefix("s3://") {
            do { _ = try S3Location.resolve(url: url, environment: environment) } catch { throw CLIError("--store: \(error)") }
            return
        }
        guard url.hasPrefix("file:///") else { throw CLIError("--store must be file:///ABSOLUTE/PATH or s3://BUCKET[/PREFIX], not '\(url)'") }
    }
}
