import Foundation

// Coffer extension: the calls a `coffer agent` makes to run the jobs of its
// resources (docs/agents.md). Under /v3/{project_id}/agents/{agent_id}/jobs.

public enum AgentJobs {
    /// POST .../jobs/claim: waits up to `wait_seconds` (0-60) for a job.
    public struct ClaimRequest: Codable, Sendable {
        public var waitSeconds: Int?
        public init(waitSeconds: Int?) { self.waitSeconds = waitSeconds }
        enum CodingKeys: String, CodingKey { case waitSeconds = "wait_seconds" }
    }

    public struct ClaimResponse: Codable, Sendable {
        /// Absent when no job came within the wait.
        public var job: Assignment?
        public init(job: Assignment?) { self.job = job }
    }

    public struct Assignment: Codable, Sendable {
        public var jobID: String
        /// `backup`.
        public var kind: String
        public var backupID: String
        public var parts: [Part]
        /// What the vault may still take, in bytes (absent: it grows).
        public var maxBytesAdded: Int64?
        /// The writer session: `config` (base64 JSON), `id_key`, `session_key` (base64), `chunker_seed`, `session` (hex).
        public var repository: [String: String]
        /// Report progress more often than this, or the job goes back to the queue.
        public var leaseSeconds: Int
        public init(jobID: String, kind: String, backupID: String, parts: [Part], maxBytesAdded: Int64?, repository: [String: String], leaseSeconds: Int) {
            self.jobID = jobID
            self.kind = kind
            self.backupID = backupID
            self.parts = parts
            self.maxBytesAdded = maxBytesAdded
            self.repository = repository
            self.leaseSeconds = leaseSeconds
        }
        enum CodingKeys: String, CodingKey {
            case kind, parts, repository
            case jobID = "job_id", backupID = "backup_id", maxBytesAdded = "max_bytes_added", leaseSeconds = "lease_seconds"
        }
    }

    public struct Part: Codable, Sendable {
        public var backupID: String
        public var resourceID: String
        /// `directory` or `volume`.
        public var resourceType: String
        public var path: String
        public var excludePaths: [String]
        public var tags: [String]
        public var labels: [String: String]
        public var expectedBytes: Int64
        public init(backupID: String, resourceID: String, resourceType: String, path: String, excludePaths: [String], tags: [String],
                    labels: [String: String], expectedBytes: Int64) {
            self.backupID = backupID
            self.resourceID = resourceID
            self.resourceType = resourceType
            self.path = path
            self.excludePaths = excludePaths
            self.tags = tags
            self.labels = labels
            self.expectedBytes = expectedBytes
        }
        enum CodingKeys: String, CodingKey {
            case path, tags, labels
            case backupID = "backup_id", resourceID = "resource_id", resourceType = "resource_type", excludePaths = "exclude_paths", expectedBytes = "expected_bytes"
        }
    }

    /// POST .../jobs/{job_id}/held: which of these blob ids (hex, at most 10 000) the vault holds.
    public struct HeldRequest: Codable, Sendable {
        public var ids: [String]
        public init(ids: [String]) { self.ids = ids }
    }

    public struct HeldResponse: Codable, Sendable {
        public var held: [String]
        public init(held: [String]) { self.held = held }
    }

    /// POST .../jobs/{job_id}/progress (renews the job's lease).
    public struct ProgressRequest: Codable, Sendable {
        public var percent: Int
        public init(percent: Int) { self.percent = percent }
    }

    /// POST .../jobs/{job_id}/complete: the snapshot (hex) of each part, by backup id.
    public struct CompleteRequest: Codable, Sendable {
        public var snapshots: [String: String]
        public init(snapshots: [String: String]) { self.snapshots = snapshots }
    }

    /// POST .../jobs/{job_id}/fail.
    public struct FailRequest: Codable, Sendable {
        public var message: String
        public init(message: String) { self.message = message }
    }
}
