/// What went wrong, in the service's own terms. The services raise reasons;
/// each API family shows them in its own codes, in one table per family at
/// the HTTP edge (CofferHTTP/ErrorCodes.swift). A failed job's operation log
/// keeps the reason's name, and the edge translates it when the log is read.
public enum Reason: String, Sendable, CaseIterable {
    // Requests and callers
    case invalidRequest = "invalid_request"
    case notAuthenticated = "not_authenticated"
    case throttled
    case forbidden
    /// An identity object (project, user, access key, token) the caller named.
    case notFound = "not_found"
    case alreadyExists = "already_exists"

    // Vaults and what they hold
    case vaultNotFound = "vault_not_found"
    case resourceNotFound = "resource_not_found"
    case backupNotFound = "backup_not_found"
    case checkpointNotFound = "checkpoint_not_found"
    case operationLogNotFound = "operation_log_not_found"
    case policyNotFound = "policy_not_found"
    case policyNotBound = "policy_not_bound"
    case policyNotApplicable = "policy_not_applicable"
    case policyTypeUnknown = "policy_type_unknown"
    case policyLimit = "policy_limit"
    /// Scheduled occurrences that passed while no server ran.
    case scheduleMissed = "schedule_missed"
    case resourceTypeMismatch = "resource_type_mismatch"
    case resourceAlreadyBound = "resource_already_bound"
    case listedTwice = "listed_twice"
    case tooManyResources = "too_many_resources"
    case capacityOutOfRange = "capacity_out_of_range"
    case resourceNotInVault = "resource_not_in_vault"
    case vaultLocked = "vault_locked"
    case vaultNotDeletable = "vault_not_deletable"
    case vaultUnavailable = "vault_unavailable"
    case vaultFull = "vault_full"
    case vaultBusy = "vault_busy"
    case vaultDamaged = "vault_damaged"
    case quotaVaults = "quota_vaults"
    case quotaCapacity = "quota_capacity"
    case quotaJobs = "quota_jobs"

    // Agents
    case agentNotFound = "agent_not_found"
    case quotaAgents = "quota_agents"
    case webhookNotFound = "webhook_not_found"
    case quotaWebhooks = "quota_webhooks"
    /// An agent's job waited longer than the service allows for its agent.
    case agentOffline = "agent_offline"
    /// The job is not (or no longer) running for the agent that asks about it.
    case agentJobGone = "agent_job_gone"

    // Backups and restores
    case nothingToBackUp = "nothing_to_back_up"
    case backupBusy = "backup_busy"
    case sourceUnreadable = "source_unreadable"
    case backupFailed = "backup_failed"
    case backupNotDeletable = "backup_not_deletable"
    /// An automatic backup in a locked vault, before it expires.
    case backupLocked = "backup_locked"
    case backupNotRestorable = "backup_not_restorable"
    case restoreVaultUnavailable = "restore_vault_unavailable"
    case restoreRunning = "restore_running"
    case restoreIncomplete = "restore_incomplete"

    // Servers (CSBS)
    case providerInvalid = "provider_invalid"
    case notAServer = "not_a_server"
    case serverHasNoDisks = "server_has_no_disks"
    case serverBeingBackedUp = "server_being_backed_up"
    case itemNotAvailable = "item_not_available"
    case backupNotOfItem = "backup_not_of_item"
    case volumeNotOfServer = "volume_not_of_server"

    // Database instances (RDS)
    case instanceNotFound = "instance_not_found"
    case instanceBusy = "instance_busy"
    case jobNotFound = "job_not_found"
    case descriptionInvalid = "description_invalid"
    case databaseFailure = "database_failure"

    case internalFailure = "internal_failure"

    /// The class of failure: what status it has where the family sets none.
    public var code: ServiceError.Code {
        switch self {
        case .notAuthenticated: .unauthorized
        case .throttled: .tooManyRequests
        case .forbidden: .forbidden
        case .notFound, .vaultNotFound, .resourceNotFound, .backupNotFound, .checkpointNotFound, .operationLogNotFound, .policyNotFound,
             .instanceNotFound, .jobNotFound, .policyNotBound, .agentNotFound, .webhookNotFound:
            .notFound
        case .alreadyExists, .instanceBusy, .agentJobGone: .conflict
        case .backupFailed, .restoreIncomplete, .databaseFailure, .internalFailure: .internalFailure
        default: .badRequest
        }
    }
}
