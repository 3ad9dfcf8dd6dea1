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
        /// `backup` or `restore`.
        public var kind: String
        public var backupID: String
        public var parts: [Part]
        /// Restores: what to write where.
        public var items: [Item]?
        /// What the vault may still take, in bytes (absent: it grows).
        public var maxBytesAdded: Int64?
        /// The writer session: `config` (base64 JSON), `id_key`, `session_key` (base64), `chunker_seed`, `session` (hex).
        public var repository: [String: String]
        /// Report progress more often than this, or the job goes back to the queue.
        public var leaseSeconds: Int
        public init(jobID: String, kind: String, backupID: String, parts: [Part], items: [Item]? = nil, maxBytesAdded: Int64?, repository: [String: String],
                    leaseSeconds: Int) {
            self.items = items
            self.jobID = jobID
            self.kind = kind
            self.backupID = backupID
            self.parts = parts
            self.maxBytesAdded = maxBytesAdded
            self.repository = repository
            self.leaseSeconds = leaseSeconds
        }
        enum CodingKeys: String, CodingKey {
            case kind, parts, repository, items
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

    /// One tree or disk of a restore: written at `target_path`, never outside `resource_path`.
    public struct Item: Codable, Sendable {
        public var backupID: String
        public var snapshotID: String
        public var targetPath: String
        public var resourceID: String
        public var resourcePath: String
        /// `directory` or `volume`.
        public var resourceType: String
        public var specialFiles: Bool
        public var expectedBytes: Int64
        public init(backupID: String, snapshotID: String, targetPath: String, resourceID: String, resourcePath: String, resourceType: String,
                    specialFiles: Bool, expectedBytes: Int64) {
            self.backupID = backupID
            self.snapshotID = snapshotID
            self.targetPath = targetPath
            self.resourceID = resourceID
            self.resourcePath = resourcePath
            self.resourceType = resourceType
            self.specialFiles = specialFiles
            self.expectedBytes = expectedBytes
        }
        enum CodingKeys: String, CodingKey {
            case backupID = "backup_id", snapshotID = "snapshot_id", targetPath = "target_path", resourceID = "resource_id", resourcePath = "resource_path"
            case resourceType = "resource_type", specialFiles = "special_files", expectedBytes = "expected_bytes"
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

    /// POST .../jobs/{job_id}/complete. A backup: the snapshot (hex) of each part, by backup id.
    /// A restore: what could not be written (`errors`: the restore is incomplete) and what was left out.
    public struct CompleteRequest: Codable, Sendable {
        public var snapshots: [String: String]?
        public var errors: [String]?
        public var skipped: [String]?
        public init(snapshots: [String: String]? = nil, errors: [String]? = nil, skipped: [String]? = nil) {
            self.snapshots = snapshots
            self.errors = errors
            self.skipped = skipped
        }
    }

    /// POST .../jobs/{job_id}/blobs (restores): the plaintext of these blobs (hex, 1 to 1 024), answered as
    /// frames `id (32 bytes) ‖ u32 LE length ‖ bytes`; ask again for the ones an answer (at most ~32 MiB) left out.
    public struct BlobsRequest: Codable, Sendable {
        public var ids: [String]
        public init(ids: [String]) { self.ids = ids }
    }

    /// POST .../jobs/{job_id}/fail.
    public struct FailRequest: Codable, Sendable {
        public var message: String
        public init(message: String) { self.message = message }
    }
}
