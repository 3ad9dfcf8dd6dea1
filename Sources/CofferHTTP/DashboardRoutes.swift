import CofferAPI
import CofferService
import CofferSystem
import Foundation
import Hummingbird

/// The project's dashboard (Coffer extension): what `coffer status` and the console show.
struct DashboardRoutes {
    let dashboard: DashboardService

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        routes.registrar(on: router)(.get, "/v3/:project_id/coffer/dashboard", show)
    }

    static func vault(_ row: VaultDashboardRow) -> Dashboard.Vault {
        func time(_ ms: Int64) -> String { UTCTimeFormat.cbrString(epochMilliseconds: ms) }
        let v = row.vault
        return Dashboard.Vault(id: v.id, name: v.name, objectType: v.objectType, sizeGB: v.sizeGB, usedBytes: v.usedBytes,
                               usedPercent: v.usedPercent, policyID: v.policyID,
                               policyName: row.policyName, nextRunAt: row.nextRunAt.map(time), lastSuccessAt: row.lastSuccessAt.map(time),
                               lastBackupFailed: row.lastBackupFailed, failuresLast24h: row.failuresLastDay,
                               running: row.running.map { .init(operationLogID: $0.id, operationType: $0.operationType, resourceName: $0.resourceName, progress: $0.progress,
                                                                startedAt: $0.startedAt.map(time)) },
                               problems: row.problems)
    }

    @Sendable func show(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        return try JSONBody.encoded(Dashboard.Response(vaults: try await dashboard.dashboard(caller: caller).map(DashboardRoutes.vault)))
    }
}
