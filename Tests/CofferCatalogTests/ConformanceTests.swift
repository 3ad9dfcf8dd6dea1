import CofferCatalog
import CofferCatalogTesting
import CofferModel
import Logging
import Testing

/// The catalog contract (CofferCatalogTesting) against SQLite in memory; each
/// check gets a fresh, migrated catalog.
@Suite struct SQLiteCatalogConformance {
    @Test(arguments: CatalogConformance.checks.map(\.name))
    func check(_ name: String) async throws {
        let run = try #require(CatalogConformance.checks.first { $0.name == name }).run
        let catalog = try await SQLCatalog.open(url: "sqlite::memory:", logger: Logger(label: "test"))
        do { try await run(catalog) } catch {
            await catalog.close()
            throw error
        }
        await catalog.close()
    }
}
