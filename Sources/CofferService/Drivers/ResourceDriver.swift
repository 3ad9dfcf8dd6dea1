import CofferCrypto
import CofferEngine
import CofferModel
import CofferRepository
import CofferSystem
import Foundation

// The seam between the job runtime and the kinds of resource. The runtime
// leases a job, opens the vault's repository and reports progress; a driver
// knows how one kind of resource is read and written. Adding a kind of
// resource is one driver (and its wire mapping at the HTTP edge); adding a
// database engine is one `DatabaseEngine`.

/// What drivers may use of the rest of the service.
public struct DriverContext: Sendable {
    public let resources: ResourceService
    /// Where database copies are staged while they are archived.
    public let stagingDirectory: String
    public let clock: any Clock

    /// Database copies are staged under the data directory, one directory per instance.
    init(resources: ResourceService, vaults: VaultService, clock: any Clock) {
        self.resources = resources
        stagingDirectory = vaults.dataDirectory + "/staging"
        self.clock = clock
    }
}

/// Backs up and restores one kind of resource.
public protocol ResourceDriver: Sendable {
    var type: ResourceType { get }

    /// Turns a restore request into items, each target checked against what
    /// the caller owns. Runs when the request comes (so a bad target is
    /// answered at once with the API's error); the worker checks each item
    /// again when it restores it (`restore`).
    func planRestore(_ backup: BackupRecord, children: [BackupRecord], input: RestoreInput, project: String,
                     context: DriverContext) async throws -> [RestorePlan.Item]

    /// Makes one snapshot of `resource` (a top-level resource or one disk of a server).
    func backUp(_ resource: ResourceView, with archiver: Archiver, options: BackupOptions, context: DriverContext) async throws -> BackupResult

    /// Restores one planned item on the worker, after checking its target again.
    func restore(_ item: RestorePlan.Item, snapshot: Hash256, with restorer: Restorer, project: String,
                 progress: @escaping @Sendable (Int64) -> Void, context: DriverContext) async throws -> RestoreResult
}

/// The drivers of one process, by resource type; the composition root builds it.
public struct ResourceDrivers: Sendable {
    private let byType: [ResourceType: any ResourceDriver]
    /// Database engines by name, lowercased ("postgresql").
    public let engines: [String: any DatabaseEngine]

    public init(engines: [any DatabaseEngine]) {
        let byEngine = Dictionary(engines.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        self.engines = byEngine
        let drivers: [any ResourceDriver] = [FileSystemDriver(), VolumeDriver(), ServerDriver(), DatabaseDriver(engines: byEngine)]
        byType = Dictionary(uniqueKeysWithValues: drivers.map { ($0.type, $0) })
    }

    public func driver(for type: ResourceType) -> any ResourceDriver {
        // Every case of ResourceType has a driver (built above).
        byType[type]!
    }

    public func engine(named name: String) -> (any DatabaseEngine)? { engines[name.lowercased()] }
}
