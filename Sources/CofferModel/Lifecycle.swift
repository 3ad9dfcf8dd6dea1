import Foundation

// The lifecycles of backups, checkpoints, operations and jobs as enums with
// pure transition functions: given a state and an event, the next state (and
// for jobs, what else must happen), or nil when the event is not allowed in
// that state. The service applies each transition as one conditional update
// in the catalog (`... WHERE status = <the state it was decided from>`), so
// two requests racing over one backup cannot both move it.
//
// Raw values are the catalog's spelling of each state. What a client sees is
// decided at the HTTP edge, by one table per API family (CofferHTTP/WireStatus.swift).

/// A backup (one resource's copy in a checkpoint).
public enum BackupStatus: String, Codable, Sendable, CaseIterable {
    /// Being made.
    case protecting
    case available
    /// Making it or deleting it failed (`failReason` says why).
    case error
    /// Being restored from (it stays readable).
    case restoring
    case deleting
    /// CBR states for work queued behind other work; Coffer queues jobs
    /// instead, so it never enters them, but clients may filter by them.
    case waitingProtect = "waiting_protect"
    case waitingRestore = "waiting_restore"
    case waitingDelete = "waiting_delete"

    /// Work is running on it: its vault cannot be deleted.
    public var isBusy: Bool { ![.available, .error].contains(self) }
    /// Still being made: the resource cannot start another backup.
    public var isBeingMade: Bool { self == .protecting || self == .waitingProtect }

    public func after(_ event: BackupEvent) -> BackupStatus? {
        switch (self, event) {
        case (.protecting, .made): return .available
        case (.protecting, .failed): return .error
        case (.available, .restoreQueued): return .restoring
        case (.restoring, .restoreEnded): return .available
        case (.available, .deleteQueued), (.error, .deleteQueued): return .deleting
        case (.deleting, .failed): return .error
        default: return nil
        }
    }
}

public enum BackupEvent: Sendable, Equatable {
    /// The snapshot is stored.
    case made
    case failed
    case restoreQueued
    /// The restore job ended, either way: a failed restore leaves the backup as it was.
    case restoreEnded
    case deleteQueued
}

/// A checkpoint (one backup run over a vault's resources).
public enum CheckpointStatus: String, Codable, Sendable, CaseIterable {
    case protecting, available, error

    /// What a checkpoint becomes from its top-level backups: still
    /// protecting while any is being made, else available only if all are.
    public static func settled(from backups: [BackupStatus]) -> CheckpointStatus {
        if backups.contains(where: \.isBeingMade) { return .protecting }
        return backups.allSatisfy { $0 == .available } ? .available : .error
    }
}

/// An operation log (CBR's task record of a backup, restore, delete or verification).
public enum OperationStatus: String, Codable, Sendable, CaseIterable {
    case waiting, running, success, failed, skipped, timeout

    public var hasEnded: Bool { ![.waiting, .running].contains(self) }

    public func after(_ event: OperationEvent) -> OperationStatus? {
        switch (self, event) {
        case (.waiting, .started): return .running
        case (.waiting, .succeeded), (.running, .succeeded): return .success
        case (.waiting, .failed), (.running, .failed): return .failed
        case (.running, .requeued): return .waiting
        default: return nil
        }
    }
}

public enum OperationEvent: Sendable, Equatable {
    case started, succeeded, failed
    /// Its job was handed back (a lost lease, a shutdown): it waits for a worker, or its agent, again.
    case requeued
}

/// A job (the worker's unit of work behind an operation).
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed

    /// The failure recorded for a job that kept being interrupted: the service's `Reason.internalFailure`.
    public static let interruptedCode = "internal_failure"

    public func after(_ event: JobEvent) -> JobTransition? {
        switch (self, event) {
        case (.queued, .claimed):
            return JobTransition(next: .running)
        case (.running, .succeeded):
            return JobTransition(next: .succeeded)
        case (.running, .failed(let code, let reason)):
            return JobTransition(next: .failed, actions: [.failTarget(code: code, reason: reason)])
        case (.queued, .agentAbsent(let code, let reason)):
            return JobTransition(next: .failed, actions: [.failTarget(code: code, reason: reason)])
        case (.running, .handedBack):
            return JobTransition(next: .queued)
        case (.running, .leaseExpired(let attempts, let maxAttempts)):
            if attempts < maxAttempts { return JobTransition(next: .queued) }
            return JobTransition(next: .failed, actions: [.failTarget(code: JobStatus.interruptedCode, reason: "the backup was interrupted \(attempts) times (worker stopped or crashed)")])
        default:
            return nil
        }
    }
}

public enum JobEvent: Sendable, Equatable {
    case claimed
    case succeeded
    /// `code`: the API error code the operation log shows.
    case failed(code: String, reason: String)
    /// The worker holding it stopped renewing its lease; `attempts` so far.
    case leaseExpired(attempts: Int, maxAttempts: Int)
    /// Its worker is shutting down gracefully and gives it up unfinished (not counted as an attempt).
    case handedBack
    /// Queued for an agent that did not come for it in time.
    case agentAbsent(code: String, reason: String)
}

public struct JobTransition: Sendable, Equatable {
    public var next: JobStatus
    public var actions: [JobAction] = []
    public init(next: JobStatus, actions: [JobAction] = []) {
        self.next = next
        self.actions = actions
    }
}

public enum JobAction: Sendable, Equatable {
    /// Record the failure on what the job worked on (its backup, operation log, checkpoint).
    case failTarget(code: String, reason: String)
}

/// What a job does; the runtime hands each kind to its handler.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    case backup, restore, delete
    /// A database laid down as a data directory (in place or new).
    case databaseRestore = "db_restore"
    case verify
    /// Garbage collection of a vault's repository (the target is the vault):
    /// runs alone, never beside another job of that vault.
    case prune
}
