import CofferAPI
import CofferModel

// What each API family calls Coffer's states: the one place where status
// strings meet the wire (the lifecycles themselves are CofferModel's enums).
// Each table is an exhaustive switch, so a new state cannot go unmapped.

/// CBR v3 (and CSBS, whose checkpoint items and checkpoints use CBR's words).
enum CBRWire {
    static func status(_ s: BackupStatus) -> String {
        switch s {
        case .protecting: return "protecting"
        case .available: return "available"
        case .error: return "error"
        case .restoring: return "restoring"
        case .deleting: return "deleting"
        case .waitingProtect: return "waiting_protect"
        case .waitingRestore: return "waiting_restore"
        case .waitingDelete: return "waiting_delete"
        }
    }

    static func status(_ s: CheckpointStatus) -> String {
        switch s {
        case .protecting: return "protecting"
        case .available: return "available"
        case .error: return "error"
        }
    }

    static func status(_ s: OperationStatus) -> String {
        switch s {
        case .waiting: return "waiting"
        case .running: return "running"
        case .success: return "success"
        case .failed: return "failed"
        case .skipped: return "skipped"
        case .timeout: return "timeout"
        }
    }

    /// The `status` filter of backup listings, in the order the error message lists them.
    static let backupFilterOrder: [BackupStatus] = [.available, .protecting, .deleting, .restoring, .error, .waitingProtect, .waitingDelete, .waitingRestore]
    static func backupStatus(_ wire: String) -> BackupStatus? { BackupStatus.allCases.first { status($0) == wire } }

    /// The `status` filter of operation logs, in the order the API documents them.
    static let operationFilterOrder: [OperationStatus] = [.success, .skipped, .failed, .running, .timeout, .waiting]
    static func operationStatus(_ wire: String) -> OperationStatus? { OperationStatus.allCases.first { status($0) == wire } }
}

/// CSBS v1 checkpoint items: CBR's words, plus `deleted` (an item that is gone: never listed).
enum CSBSWire {
    static let itemFilterOrder = ["waiting_protect", "protecting", "available", "waiting_restore", "restoring", "error", "waiting_delete", "deleting", "deleted"]
}

/// RDS v3 backups and jobs.
enum RDSWire {
    static func status(_ s: BackupStatus) -> RDS.BackupStatus {
        switch s {
        case .protecting, .waitingProtect: return .building
        case .available, .restoring, .waitingRestore: return .completed
        case .error: return .failed
        case .deleting, .waitingDelete: return .deleting
        }
    }

    /// The backups a `status` filter selects (a restore in progress is not a state of the backup in RDS).
    static func backupStatuses(_ wire: String) -> [BackupStatus] {
        BackupStatus.allCases.filter { status($0).rawValue == wire && ![.restoring, .waitingRestore].contains($0) }
    }

    static func jobStatus(_ s: OperationStatus) -> RDS.JobStatus {
        switch s {
        case .waiting, .running, .skipped, .timeout: return .running
        case .success: return .completed
        case .failed: return .failed
        }
    }
}
