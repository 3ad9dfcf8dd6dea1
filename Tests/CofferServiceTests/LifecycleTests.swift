import CofferModel
import Testing

/// The lifecycles are pure functions: every (state, event) pair is decided here, without I/O.
@Suite struct LifecycleTests {
    @Test func backupTransitions() {
        let allowed: [(BackupStatus, BackupEvent, BackupStatus)] = [
            (.protecting, .made, .available), (.protecting, .failed, .error), (.available, .restoreQueued, .restoring),
            (.restoring, .restoreEnded, .available), (.available, .deleteQueued, .deleting), (.error, .deleteQueued, .deleting), (.deleting, .failed, .error),
        ]
        let events: [BackupEvent] = [.made, .failed, .restoreQueued, .restoreEnded, .deleteQueued]
        for state in BackupStatus.allCases {
            for event in events {
                let expected = allowed.first { $0.0 == state && $0.1 == event }?.2
                #expect(state.after(event) == expected, "\(state) on \(event)")
            }
        }
        // Only settled backups leave a vault deletable; only ones being made block a new backup.
        #expect(BackupStatus.allCases.filter { !$0.isBusy } == [.available, .error])
        #expect(BackupStatus.allCases.filter(\.isBeingMade) == [.protecting, .waitingProtect])
    }

    @Test func checkpointsSettleFromTheirBackups() {
        #expect(CheckpointStatus.settled(from: [.available, .protecting]) == .protecting)
        #expect(CheckpointStatus.settled(from: [.available, .available]) == .available)
        #expect(CheckpointStatus.settled(from: [.available, .error]) == .error)
        #expect(CheckpointStatus.settled(from: [.deleting]) == .error)
    }

    @Test func operationTransitions() {
        #expect(OperationStatus.waiting.after(.started) == .running)
        #expect(OperationStatus.running.after(.succeeded) == .success)
        #expect(OperationStatus.waiting.after(.failed) == .failed)
        // An operation that ended stays ended: a late failure does not rewrite a success.
        for ended in OperationStatus.allCases where ended.hasEnded {
            #expect(ended.after(.failed) == nil && ended.after(.succeeded) == nil && ended.after(.started) == nil)
        }
        #expect(OperationStatus.running.after(.started) == nil)
        #expect(OperationStatus.running.after(.requeued) == .waiting && OperationStatus.waiting.after(.requeued) == nil)
        #expect(OperationStatus.allCases.filter(\.hasEnded).allSatisfy { $0.after(.requeued) == nil })
    }

    @Test func jobTransitions() {
        #expect(JobStatus.queued.after(.claimed) == JobTransition(next: .running))
        #expect(JobStatus.running.after(.succeeded) == JobTransition(next: .succeeded))
        #expect(JobStatus.running.after(.failed(code: "X.1", reason: "r")) == JobTransition(next: .failed, actions: [.failTarget(code: "X.1", reason: "r")]))
        #expect(JobStatus.running.after(.leaseExpired(attempts: 2, maxAttempts: 3)) == JobTransition(next: .queued))
        let exhausted = JobStatus.running.after(.leaseExpired(attempts: 3, maxAttempts: 3))
        #expect(exhausted?.next == .failed)
        #expect(exhausted?.actions == [.failTarget(code: "internal_failure", reason: "the backup was interrupted 3 times (worker stopped or crashed)")])
        #expect(JobStatus.running.after(.handedBack) == JobTransition(next: .queued), "a shutdown requeues without failing anything")
        // Nothing moves a job that is not running, except a claim of a queued one.
        for state in [JobStatus.queued, .succeeded, .failed] {
            #expect(state.after(.succeeded) == nil && state.after(.failed(code: "", reason: "")) == nil)
            #expect(state.after(.leaseExpired(attempts: 1, maxAttempts: 3)) == nil && state.after(.handedBack) == nil)
        }
        #expect(JobStatus.running.after(.claimed) == nil)
    }
}
