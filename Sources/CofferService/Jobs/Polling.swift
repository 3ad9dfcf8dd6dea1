import CofferSystem
import Foundation
import Logging

/// The loop of the background services that drain a queue in the catalog
/// (jobs, webhook deliveries): a pass, and a sleep of `interval` on `clock`
/// when it found nothing or failed (logged as `what`), until cancelled.
func pollUntilCancelled(clock: any Clock, interval: TimeInterval, logger: Logger, what: String, _ pass: () async throws -> Int) async {
    while !Task.isCancelled {
        do {
            if try await pass() == 0 { try await clock.sleep(for: interval) }
        } catch is CancellationError {
            return
        } catch {
            logger.error("\(what): \(ServiceError.logText(error))")
            try? await clock.sleep(for: interval)
        }
    }
}
