// swift-tools-version:6.0
import PackageDescription

// Layers (docs/architecture.md): each target imports only the ones below it, and only
// what it declares here; scripts/check-layers.py (part of scripts/test.sh) enforces both.
//   coffer (executable) -> CofferCLI (composition root) -> CofferHTTP -> CofferService -> CofferModel
//                                    -> CofferCatalog (SQL, implements CofferModel's protocols) -> CofferModel
//   CofferService -> CofferEngine -> CofferRepository -> CofferBlobStore
//   leaves: CofferChunking, CofferCrypto (swift-crypto; blob AES-GCM over system libcrypto), CofferCompression (over system libzstd),
//           CofferSystem (blocking-I/O thread pool, async budget)
// Swift 5 language mode: the engine shares buffers between worker threads under
// explicit locks; strict Sendable checking would force copies on the hot path.
let swift5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "coffer",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "coffer", targets: ["coffer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        // Already in the graph through postgres-kit; named for the catalog's TLS setting (sslmode).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // Already in the graph through Hummingbird's testing library; the S3 store's HTTP client.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Already in the graph through Hummingbird and SQLiteKit; named so the targets that import NIO declare it.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Already in the graph through Hummingbird; the service's counters and gauges are swift-metrics handles.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // /metrics: swift-metrics handles rendered in Prometheus' text format.
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The console's server-rendered pages (escaping by default; no dependencies of its own).
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "CofferChunking", swiftSettings: swift5),
        .target(name: "CofferSystem", swiftSettings: swift5),
        // The API's request and response types (shared by the HTTP edge and the CLI) and the schema derivation behind the OpenAPI document.
        .target(name: "CofferAPI", swiftSettings: swift5),
        .target(name: "CofferCompression", dependencies: ["CZstd"], swiftSettings: swift5),
        // AES-256-GCM over a caller's buffer (swift-crypto's API allocates twice per sealed blob):
        // docs/architecture.md, "Why AES-GCM on blobs uses libcrypto".
        .systemLibrary(name: "COpenSSLCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "CofferCrypto", dependencies: [
            "COpenSSLCrypto",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ], swiftSettings: swift5),
        .target(name: "CofferBlobStore", dependencies: ["CofferSystem"], swiftSettings: swift5),
        // The BlobStore contract as checks, and the fault-injecting store: every backend's tests use them.
        .target(name: "CofferBlobStoreTesting", dependencies: ["CofferBlobStore"], swiftSettings: swift5),
        // The S3-compatible object store behind the BlobStore protocol: SigV4 of our own over async-http-client.
        .target(name: "CofferS3", dependencies: [
            "CofferBlobStore", "CofferCrypto", "CofferSystem",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            // Already built for async-http-client: a streamed body's buffers as Data without a copy.
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ], swiftSettings: swift5),
        .target(name: "CofferRepository", dependencies: [
            "CofferBlobStore", "CofferCrypto", "CofferCompression", "CofferSystem",
        ], swiftSettings: swift5),
        .target(name: "CofferEngine", dependencies: [
            "CofferRepository", "CofferChunking", "CofferCrypto", "CofferSystem",
        ], swiftSettings: swift5),
        // Control plane: model (records + catalog protocols) <- catalog (SQL) ; model <- service (use cases) <- HTTP edge (Hummingbird only here).
        .target(name: "CofferModel", swiftSettings: swift5),
        .target(name: "CofferCatalog", dependencies: [
            "CofferModel", "CofferSystem",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "SQLKit", package: "sql-kit"),
            .product(name: "SQLiteKit", package: "sqlite-kit"),
            .product(name: "PostgresKit", package: "postgres-kit"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift5),
        // The catalog contract as checks any implementation runs (tests and, later, PostgreSQL integration tests).
        .target(name: "CofferCatalogTesting", dependencies: ["CofferModel"], swiftSettings: swift5),
        .target(name: "CofferService", dependencies: [
            "CofferModel", "CofferCrypto", "CofferEngine", "CofferRepository", "CofferBlobStore", "CofferSystem",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ], swiftSettings: swift5),
        // The PostgreSQL database engine (pg_basebackup, pg_ctl, psql) behind the service's DatabaseEngine protocol.
        .target(name: "CofferPostgres", dependencies: ["CofferService", "CofferSystem"], swiftSettings: swift5),
        .target(name: "CofferHTTP", dependencies: [
            "CofferService", "CofferModel", "CofferAPI", "CofferSystem",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Mustache", package: "swift-mustache"),
        ], swiftSettings: swift5),
        .target(name: "CofferCLI", dependencies: [
            "CofferEngine", "CofferHTTP", "CofferService", "CofferPostgres", "CofferS3", "CofferAPI", "CofferModel", "CofferCatalog", "CofferRepository", "CofferBlobStore", "CofferCrypto", "CofferSystem",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: swift5),
        .executableTarget(name: "coffer", dependencies: ["CofferCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: swift5),
        .testTarget(name: "CofferLeafTests", dependencies: [
            "CofferChunking", "CofferCompression", "CofferCrypto", "CofferSystem", "CofferAPI",
        ], swiftSettings: swift5),
        .testTarget(name: "CofferBlobStoreTests", dependencies: ["CofferBlobStore", "CofferBlobStoreTesting"], swiftSettings: swift5),
        .testTarget(name: "CofferS3Tests", dependencies: ["CofferS3", "CofferBlobStore", "CofferCrypto", "CofferSystem",
                                                      .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                      .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")],
                    swiftSettings: swift5),
        .testTarget(name: "CofferRepositoryTests", dependencies: ["CofferRepository", "CofferBlobStore", "CofferCrypto", "CofferSystem"], swiftSettings: swift5),
        .testTarget(name: "CofferEngineTests", dependencies: ["CofferEngine", "CofferRepository", "CofferBlobStore", "CofferBlobStoreTesting", "CofferCrypto"], swiftSettings: swift5),
        .testTarget(name: "CofferCatalogTests", dependencies: ["CofferCatalog", "CofferCatalogTesting", "CofferModel",
                                                            .product(name: "SQLKit", package: "sql-kit"), .product(name: "PostgresKit", package: "postgres-kit"), .product(name: "Logging", package: "swift-log")], swiftSettings: swift5),
        .testTarget(name: "CofferServiceTests", dependencies: ["CofferService", "CofferModel", "CofferCatalog", "CofferCrypto", "CofferSystem",
                                                            .product(name: "Logging", package: "swift-log")], swiftSettings: swift5),
        .testTarget(name: "CofferHTTPTests", dependencies: [
            "CofferHTTP", "CofferCLI", "CofferService", "CofferModel", "CofferCatalog", "CofferEngine", "CofferRepository", "CofferBlobStore", "CofferCrypto", "CofferSystem",
            "CofferTestSupport", "CofferAPI",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift5),
        // Depends on the executable so `swift test` builds the binary it drives.
        .testTarget(name: "CofferCLITests", dependencies: ["CofferCLI", "CofferAPI", "CofferSystem", "CofferTestSupport", "coffer",
                                                        .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: swift5),
        // What the test targets share: an in-process server, the binary, fixtures.
        .target(name: "CofferTestSupport", dependencies: [
            "CofferHTTP", "CofferCLI", "CofferService", "CofferSystem",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/CofferTestSupport", swiftSettings: swift5),
        // Tests that start PostgreSQL or drive the server with the official Python clients:
        // slower, kept out of the unit targets (run with --filter CofferIntegrationTests).
        .testTarget(name: "CofferIntegrationTests", dependencies: [
            "CofferTestSupport", "CofferHTTP", "CofferService", "CofferSystem", "CofferCatalog", "CofferCatalogTesting", "CofferModel", "coffer",
            "CofferS3", "CofferBlobStore", "CofferBlobStoreTesting",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: swift5),
    ]
)
