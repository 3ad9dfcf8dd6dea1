import Foundation

/// Operator-set limits of one project; nil is no limit.
public struct ProjectQuota: Sendable, Equatable, Codable {
    public var maxVaults: Int?
    public var maxCapacityGB: Int?
    public var maxQueuedJobs: Int?

    enum CodingKeys: String, CodingKey {
        case maxVaults = "max_vaults"
        case maxCapacityGB = "max_capacity_gb"
        case maxQueuedJobs = "max_queued_jobs"
    }

    public init(maxVaults: Int? = nil, maxCapacityGB: Int? = nil, maxQueuedJobs: Int? = nil) {
        self.maxVaults = maxVaults
        self.maxCapacityGB = maxCapacityGB
        self.maxQueuedJobs = maxQueuedJobs
    }
}
