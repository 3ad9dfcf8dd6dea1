import CofferAPI
import CofferService
import Foundation

// Every body and answer here is derived from the CofferAPI types the routes
// decode and encode (docs/architecture.md, "One description of the API");
// what is written by hand is the list of operations and their parameters.

/// The OpenAPI 3.0 description of every route the server answers, served at
/// `/openapi.json` and kept in `docs/openapi.json` (a test holds the two equal).
/// Response schemas name the fields clients rely on as `required`, so the
/// schemathesis run catches a field that goes missing or changes type.
public enum OpenAPIDocument {
    typealias Schema = [String: Any]

    // MARK: schema vocabulary

    static let string: Schema = ["type": "string"]
    static let integer: Schema = ["type": "integer"]
    static let boolean: Schema = ["type": "boolean"]
    static let freeObject: Schema = ["type": "object"]
    static func string(_ values: [String]) -> Schema { ["type": "string", "enum": values] }
    static func integer(_ range: ClosedRange<Int>) -> Schema { ["type": "integer", "minimum": range.lowerBound, "maximum": range.upperBound] }
    static func array(_ items: Schema) -> Schema { ["type": "array", "items": items] }
    static func ref(_ name: String) -> Schema { ["$ref": "#/components/schemas/\(name)"] }
    /// The schema of one of the API's types, read off the type itself (CofferAPI).
    static func derived<T: Decodable>(_ type: T.Type) -> Schema {
        do { return try CofferAPI.Schema.of(type).openAPI } catch { preconditionFailure("\(T.self) has no derivable schema: \(error)") }
    }

    static let resourceTypes = CBR.resourceTypes
    static let backupStatuses = ["available", "protecting", "deleting", "restoring", "error", "waiting_protect", "waiting_delete", "waiting_restore"]

    /// The types other types refer to by name (`SchemaComponent`), and the error body every operation may answer.
    static var schemas: [String: Schema] {
        ["Backup": derived(CBR.Backup.self), "Vault": derived(CBR.Vault.self), "Protectable": derived(CBR.Protectable.self), "Error": derived(ErrorBody.self)]
    }

    // MARK: parameters and operations

    static func path(_ name: String) -> Schema { ["name": name, "in": "path", "required": true, "schema": string] }
    static func query(_ name: String, _ schema: Schema = string, explode: Bool = true) -> Schema {
        ["name": name, "in": "query", "required": false, "schema": schema, "explode": explode]
    }
    static let project = path("project_id")
    static let paging = [query("limit", integer(1...1000)), query("offset", integer(0...Int(Int32.max)))]
    static let timeWindow = [query("start_time"), query("end_time")]

    static func response(_ description: String, _ schema: Schema? = nil) -> Schema {
        var r: Schema = ["description": description]
        if let schema { r["content"] = ["application/json": ["schema": schema]] }
        return r
    }

    static func operation(_ id: String, _ summary: String, parameters: [Schema] = [], body: Schema? = nil,
                          ok: (Int, Schema?), alsoOK: [Int] = [], errors: [Int] = [400, 401, 403, 404], secured: Bool = true) -> Schema {
        var responses: [String: Any] = [String(ok.0): response("success", ok.1)]
        for status in alsoOK { responses[String(status)] = response("success", nil) }
        for status in errors { responses[String(status)] = response("error", ref("Error")) }
        if secured {
            responses["401"] = response("not authenticated", ref("Error"))
            responses["403"] = response("forbidden", ref("Error"))
        }
        responses["405"] = response("method not allowed", ref("Error"))
        responses["413"] = response("body too large", ref("Error"))
        var o: Schema = ["operationId": id, "summary": summary, "parameters": parameters, "responses": responses]
        if let body { o["requestBody"] = ["required": true, "content": ["application/json": ["schema": body]]] }
        if !secured { o["security"] = [Any]() }
        return o
    }

    static var paths: [String: Any] {
        let vaultPath = [project, path("vault_id")]
        let backupPath = [project, path("backup_id")]
        let resourcePath = [project, path("resource_id")]
        let agentJobPath = [project, path("agent_id"), path("job_id")]
        let backupFilters = paging + timeWindow + [
            "vault_id", "resource_id", "resource_name", "resource_az", "checkpoint_id", "name", "parent_id", "marker", "sort", "enterprise_project_id",
        ].map { query($0) } + [
            query("resource_type", string(resourceTypes)), query("status", string(backupStatuses)), query("image_type", string(["backup", "replication"])),
            query("incremental", boolean), query("dec", boolean), query("show_replication", boolean), query("used_percent", integer(1...100)),
            query("own_type", string(["all_granted", "private", "shared"])), query("member_status", string(["pending", "accepted", "rejected"])),
        ]
        let logFilters = paging + timeWindow + ["vault_id", "vault_name", "resource_id", "resource_name", "provider_id"].map { query($0) } + [
            query("operation_type", string(["backup", "copy", "replication", "delete", "restore", "vault_delete", "remove_resource", "sync", "verify"])),
            query("status", string(["success", "skipped", "failed", "running", "timeout", "waiting"])),
        ]
        let vaultFilters = paging + ["name", "policy_id", "status", "resource_ids", "object_type"].map { query($0) } + [
            query("id", array(string)), query("cloud_type", string(["public", "hybrid"])), query("protect_type", string(["backup", "replication"])),
        ]
        let provider: Schema = ["name": "provider_id", "in": "path", "required": true, "schema": string([ProtectionService.providerID])]
        let itemFilters = [query("limit", integer(1...1000)), query("offset", integer(0...Int(Int32.max)))] + timeWindow
            + ["marker", "sort", "name", "az", "resource_id", "resource_name", "policy_id", "checkpoint_id", "ip", "all_tenants"].map { query($0) }
            + [query("image_type", string(["backup", "replication"])),
               query("status", string(["waiting_protect", "protecting", "available", "waiting_restore", "restoring", "error", "waiting_delete", "deleting", "deleted"])),
               query("resource_type", string(["OS::Nova::Server", "OS::Ironic::BareMetalServer"]))]
        let csbs: [String: Any] = [
            "/v1/{project_id}/providers/{provider_id}/resources/{resource_id}/action": [
                "post": operation("csbsProtect", "CSBS: back up a server (seed 001)", parameters: [project, provider, path("resource_id")],
                                  body: derived(CSBS.ProtectRequest.self), ok: (200, derived(CSBS.ProtectResponse.self))),
            ],
            "/v1/{project_id}/providers/{provider_id}/resources/action": [
                "post": operation("csbsCheck", "CSBS: check_protectable or check_restorable", parameters: [project, provider],
                                  body: derived(CSBS.CheckRequest.self), ok: (200, derived(CSBS.CheckResponse.self))),
            ],
            "/v1/{project_id}/checkpoint_items": [
                "get": operation("csbsListItems", "CSBS: list checkpoint items", parameters: [project] + itemFilters,
                                 ok: (200, derived(CSBS.CheckpointItemList.self))),
            ],
            "/v1/{project_id}/checkpoint_items/count": [
                "get": operation("csbsCountItems", "CSBS: count checkpoint items", parameters: [project] + itemFilters, ok: (200, derived(CSBS.Count.self))),
            ],
            "/v1/{project_id}/checkpoint_items/{checkpoint_item_id}": [
                "get": operation("csbsShowItem", "CSBS: one checkpoint item", parameters: [project, path("checkpoint_item_id")],
                                 ok: (200, derived(CSBS.CheckpointItemResponse.self))),
            ],
            "/v1/{project_id}/providers/{provider_id}/checkpoints/{checkpoint_id}": [
                "delete": operation("csbsDelete", "CSBS: delete a checkpoint's items (asynchronous)",
                                    parameters: [project, provider, path("checkpoint_id"), query("checkpoint_items")], ok: (200, freeObject)),
            ],
            "/v1/{project_id}/restores": [
                "post": operation("csbsRestore", "CSBS: restore a server backup", parameters: [project],
                                  body: derived(CSBS.RestoreRequest.self), ok: (200, derived(CSBS.RestoreResponse.self))),
            ],
            "/v1/{project_id}/quotas": [
                "get": operation("csbsQuotas", "CSBS: quotas", parameters: [project],
                                 ok: (200, derived(CSBS.Quotas.self))),
            ],
        ]
        let core: [String: Any] = [
            "/health": ["get": operation("health", "Service health", ok: (200, derived(Health.self)), errors: [503], secured: false)],
            "/openapi.json": ["get": operation("openapi", "This document", ok: (200, freeObject), errors: [], secured: false)],
            "/": ["get": operation("listVersions", "Identity version discovery", ok: (300, freeObject), errors: [], secured: false)],
            "/v3": ["get": operation("showVersion", "Identity v3 version", ok: (200, freeObject), errors: [], secured: false)],
            "/v3/auth/tokens": [
                "post": operation("issueToken", "Keystone password or token authentication (429 with Retry-After after repeated failures)", body: derived(Identity.AuthRequest.self),
                                  ok: (201, derived(Identity.TokenResponse.self)), errors: [400, 401, 429], secured: false),
                "get": operation("validateToken", "Validate X-Subject-Token", parameters: [["name": "X-Subject-Token", "in": "header", "required": true, "schema": string]],
                                 ok: (200, derived(Identity.TokenResponse.self)), errors: [400, 401, 404], secured: false),
                "delete": operation("revokeToken", "Revoke X-Subject-Token (its own user or the service admin)",
                                    parameters: [["name": "X-Subject-Token", "in": "header", "required": true, "schema": string]],
                                    ok: (204, nil), errors: [400, 404]),
            ],
            "/v3/projects": [
                "get": operation("listProjects", "Projects visible to the caller", ok: (200, derived(Identity.ProjectList.self)), errors: []),
                "post": operation("createProject", "Create a project with its admin user and access key (service admin)",
                                  body: derived(Identity.ProjectCreateRequest.self), ok: (201, derived(Identity.ProjectCreated.self)), errors: [400, 409]),
            ],
            "/v3/projects/{project_id}": ["delete": operation("deleteProject", "Delete a project (service admin)", parameters: [project], ok: (204, nil))],
            "/v3/users": [
                "get": operation("listUsers", "Users of the caller's project", ok: (200, derived(Identity.UserList.self)), errors: []),
                "post": operation("createUser", "Create a user in the caller's project (project admin)",
                                  body: derived(Identity.UserCreateRequest.self), ok: (201, derived(Identity.UserCreated.self)), errors: [400, 409]),
            ],
            "/v3/users/{user_id}": ["delete": operation("deleteUser", "Delete a user (project admin)", parameters: [path("user_id")], ok: (204, nil))],
            "/v3/credentials": [
                "get": operation("listCredentials", "Access keys of the caller's project", ok: (200, derived(Identity.AccessKeyList.self)), errors: []),
                "post": operation("createCredential", "Create an access key", body: derived(Identity.AccessKeyCreateRequest.self),
                                  ok: (201, derived(Identity.AccessKeyCreated.self)), errors: [400, 404]),
            ],
            "/v3/credentials/{access_key}": ["delete": operation("deleteCredential", "Delete an access key", parameters: [path("access_key")], ok: (204, nil))],

            "/v3/{project_id}/coffer/resources": [
                "post": operation("registerResource", "Register a volume, server or directory (admin)", parameters: [project], body: derived(Inventory.RegisterRequest.self),
                                  ok: (200, derived(Inventory.ResourceResponse.self)), errors: [400, 404]),
                "get": operation("listResources", "Registered resources", parameters: [project] + paging + [query("type", string(resourceTypes)), query("name")],
                                 ok: (200, derived(Inventory.ResourceList.self))),
            ],
            "/v3/{project_id}/coffer/resources/{resource_id}": [
                "get": operation("showResource", "One registered resource", parameters: resourcePath, ok: (200, derived(Inventory.ResourceResponse.self))),
                "put": operation("updateResource", "Rename or describe a resource", parameters: resourcePath,
                                 body: derived(Inventory.UpdateRequest.self), ok: (200, derived(Inventory.ResourceResponse.self))),
                "delete": operation("removeResource", "Unregister a resource", parameters: resourcePath, ok: (204, nil), errors: [400, 404]),
            ],
            "/v3/{project_id}/protectables/{protectable_type}/instances": [
                "get": operation("listProtectable", "CBR ListProtectable",
                                 parameters: [project, ["name": "protectable_type", "in": "path", "required": true, "schema": string(["server", "disk", "turbo"])]]
                                     + paging + ["name", "id", "status", "server_id", "marker"].map { query($0) },
                                 ok: (200, derived(CBR.ProtectableList.self))),
            ],
            "/v3/{project_id}/protectables/{protectable_type}/instances/{instance_id}": [
                "get": operation("showProtectable", "CBR ShowProtectable",
                                 parameters: [project, ["name": "protectable_type", "in": "path", "required": true, "schema": string(["server", "disk", "turbo"])], path("instance_id")],
                                 ok: (200, derived(CBR.ProtectableResponse.self))),
            ],
            "/v3/{project_id}/vaults": [
                "post": operation("createVault", "CBR CreateVault", parameters: [project], body: derived(CBR.VaultCreateRequest.self), ok: (200, derived(CBR.VaultResponse.self))),
                "get": operation("listVault", "CBR ListVault", parameters: [project] + vaultFilters, ok: (200, derived(CBR.VaultList.self))),
            ],
            "/v3/{project_id}/vaults/summary": [
                "get": operation("showSummary", "CBR ShowSummary", parameters: [project], ok: (200, derived(CBR.VaultSummary.self))),
            ],
            "/v3/{project_id}/vaults/{vault_id}": [
                "get": operation("showVault", "CBR ShowVault", parameters: vaultPath, ok: (200, derived(CBR.VaultResponse.self))),
                "put": operation("updateVault", "CBR UpdateVault", parameters: vaultPath, body: derived(CBR.VaultUpdateRequest.self), ok: (200, derived(CBR.VaultResponse.self))),
                "delete": operation("deleteVault", "CBR DeleteVault", parameters: vaultPath, ok: (204, nil)),
            ],
            "/v3/{project_id}/vaults/{vault_id}/addresources": [
                "post": operation("addVaultResource", "CBR AddVaultResource", parameters: vaultPath,
                                  body: derived(CBR.AddResourcesRequest.self), ok: (200, derived(CBR.AddResourcesResponse.self))),
            ],
            "/v3/{project_id}/coffer/vaults/{vault_id}/verify": [
                "post": operation("verifyVault", "Coffer extension: verify the vault's data as a job (subset N/T or next/T, max_duration_seconds)", parameters: vaultPath,
                                  body: derived(CBR.VerifyRequest.self), ok: (202, derived(CBR.OperationLogID.self))),
            ],
            "/v3/{project_id}/coffer/dashboard": [
                "get": operation("showDashboard", "Coffer extension: every vault's last success, next run, failures in 24 h, use and running operations; problems first",
                                 parameters: [project], ok: (200, derived(Dashboard.Response.self))),
            ],
            "/v3/{project_id}/coffer/webhooks": [
                "post": operation("createWebhook", "Coffer extension: register an event webhook (project admin); the secret is answered only here",
                                  parameters: [project], body: derived(Webhooks.CreateRequest.self), ok: (201, derived(Webhooks.WebhookResponse.self)), errors: [400, 403]),
                "get": operation("listWebhooks", "Coffer extension: the project's webhooks", parameters: [project], ok: (200, derived(Webhooks.WebhookList.self))),
            ],
            "/v3/{project_id}/coffer/webhooks/{webhook_id}": [
                "get": operation("showWebhook", "Coffer extension: one webhook", parameters: [project, path("webhook_id")], ok: (200, derived(Webhooks.WebhookResponse.self))),
                "put": operation("updateWebhook", "Coffer extension: change a webhook (project admin); rotate_secret answers the new secret once",
                                 parameters: [project, path("webhook_id")], body: derived(Webhooks.UpdateRequest.self), ok: (200, derived(Webhooks.WebhookResponse.self)),
                                 errors: [400, 403, 404]),
                "delete": operation("deleteWebhook", "Coffer extension: delete a webhook and its deliveries (project admin)", parameters: [project, path("webhook_id")],
                                    ok: (204, nil), errors: [403, 404]),
            ],
            "/v3/{project_id}/coffer/webhooks/{webhook_id}/ping": [
                "post": operation("pingWebhook", "Coffer extension: queue a signed ping event to the webhook (project admin)", parameters: [project, path("webhook_id")],
                                  ok: (202, derived(Webhooks.DeliveryResponse.self)), errors: [403, 404]),
            ],
            "/v3/{project_id}/coffer/webhooks/{webhook_id}/deliveries": [
                "get": operation("listWebhookDeliveries", "Coffer extension: deliveries (newest first) with every attempt",
                                 parameters: [project, path("webhook_id"), query("status", string(["pending", "delivered", "failed"])),
                                              query("limit", integer(1...200)), query("offset", integer(0...Int(Int32.max)))],
                                 ok: (200, derived(Webhooks.DeliveryList.self))),
            ],
            "/v3/{project_id}/vaults/{vault_id}/removeresources": [
                "post": operation("removeVaultResource", "CBR RemoveVaultResource", parameters: vaultPath, body: derived(CBR.RemoveResourcesRequest.self),
                                  ok: (200, derived(CBR.RemoveResourcesResponse.self))),
            ],
            "/v3/{project_id}/checkpoints": [
                "post": operation("createCheckpoint", "CBR CreateCheckpoint: back up the vault's resources", parameters: [project], body: derived(CBR.CheckpointCreateRequest.self),
                                  ok: (200, derived(CBR.CheckpointResponse.self))),
            ],
            "/v3/{project_id}/checkpoints/{checkpoint_id}": [
                "get": operation("showCheckpoint", "CBR ShowCheckpoint", parameters: [project, path("checkpoint_id")], ok: (200, derived(CBR.CheckpointResponse.self))),
            ],
            "/v3/{project_id}/backups": [
                "get": operation("listBackups", "CBR ListBackups; with instance_id, RDS list_backups", parameters: [project] + backupFilters
                                    + ["instance_id", "backup_id", "begin_time"].map { query($0) } + [query("backup_type", string(["auto", "manual", "fragment", "incremental"]))],
                                 ok: (200, ["oneOf": [derived(CBR.BackupList.self), derived(RDS.BackupList.self)]])),
                "post": operation("rdsCreateBackup", "RDS create_manual_backup (seed 003)", parameters: [project],
                                  body: derived(RDS.CreateBackupRequest.self), ok: (200, derived(RDS.CreatedBackup.self)),
                                  errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/instances/{instance_id}/backups/policy": [
                "get": operation("rdsShowBackupPolicy", "RDS show_backup_policy", parameters: [project, path("instance_id")],
                                 ok: (200, derived(RDS.BackupPolicyResponse.self))),
                "put": operation("rdsSetBackupPolicy", "RDS set_backup_policy", parameters: [project, path("instance_id")],
                                 body: derived(RDS.SetBackupPolicyRequest.self),
                                 ok: (200, nil)),
            ],
            "/v3/{project_id}/instances/recovery": [
                "post": operation("rdsRestoreToExistingInstance", "RDS restore_to_existing_instance (target.data_dir: Coffer extension, a new data directory)",
                                  parameters: [project],
                                  body: derived(RDS.RecoveryRequest.self), ok: (200, derived(RDS.JobID.self)), errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/jobs": [
                "get": operation("rdsListJobInfo", "RDS list_job_info", parameters: [project, ["name": "id", "in": "query", "required": true, "schema": string]],
                                 ok: (200, derived(RDS.JobResponse.self))),
            ],
            "/v3/{project_id}/backups/{backup_id}": [
                "get": operation("showBackup", "CBR ShowBackup", parameters: backupPath, ok: (200, derived(CBR.BackupResponse.self))),
                "put": operation("updateBackup", "CBR UpdateBackup", parameters: backupPath,
                                 body: derived(CBR.BackupUpdateRequest.self), ok: (200, derived(CBR.BackupResponse.self))),
                "delete": operation("deleteBackup", "CBR DeleteBackup (204); RDS delete_manual_backup for RDS backup ids (200)", parameters: backupPath,
                                    ok: (204, nil), alsoOK: [200], errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/backups/{backup_id}/restore": [
                "post": operation("restoreBackup", "CBR RestoreBackup", parameters: backupPath, body: derived(CBR.RestoreRequest.self), ok: (202, derived(CBR.RestoreAccepted.self))),
            ],
            "/v3/{project_id}/policies": [
                "post": operation("createPolicy", "CBR CreatePolicy (backup policies; replication is refused until it exists)", parameters: [project],
                                  body: derived(CBR.PolicyCreateRequest.self), ok: (200, derived(CBR.PolicyResponse.self))),
                "get": operation("listPolicies", "CBR ListPolicies", parameters: [project, query("operation_type", string(["backup", "replication"])), query("vault_id"),
                                                                              query("marker")] + paging,
                                 ok: (200, derived(CBR.PolicyList.self))),
            ],
            "/v3/{project_id}/policies/{policy_id}": [
                "get": operation("showPolicy", "CBR ShowPolicy", parameters: [project, path("policy_id")], ok: (200, derived(CBR.PolicyResponse.self))),
                "put": operation("updatePolicy", "CBR UpdatePolicy (fields not sent keep their values)", parameters: [project, path("policy_id")],
                                 body: derived(CBR.PolicyUpdateRequest.self), ok: (200, derived(CBR.PolicyResponse.self))),
                "delete": operation("deletePolicy", "CBR DeletePolicy (bound vaults are left without one)", parameters: [project, path("policy_id")], ok: (204, nil)),
            ],
            "/v3/{project_id}/agents": [
                "post": operation("registerAgent", "CBR RegisterAgent (the same agent_id again refreshes it: the agent's heartbeat)", parameters: [project],
                                  body: derived(CBR.AgentRegisterRequest.self), ok: (200, derived(CBR.AgentResponse.self))),
                "get": operation("listAgent", "CBR ListAgent", parameters: [project, query("status", string(["online", "offline", "uninstalled"])), query("agent_id")] + paging,
                                 ok: (200, derived(CBR.AgentList.self))),
            ],
            "/v3/{project_id}/agents/{agent_id}": [
                "get": operation("showAgent", "CBR ShowAgent", parameters: [project, path("agent_id")], ok: (200, derived(CBR.AgentResponse.self))),
                "put": operation("updateAgent", "CBR UpdateAgent (the agent reports status uninstalled)", parameters: [project, path("agent_id")],
                                 body: derived(CBR.AgentUpdateRequest.self), ok: (200, derived(CBR.AgentResponse.self))),
                "delete": operation("unregisterAgent", "CBR UnregisterAgent (its paths go with it)", parameters: [project, path("agent_id")], ok: (200, nil)),
            ],
            "/v3/{project_id}/agents/{agent_id}/add-path": [
                "post": operation("addAgentPath", "CBR AddAgentPath (absolute plain paths; excludes below them)", parameters: [project, path("agent_id")],
                                  body: derived(CBR.AgentAddPathRequest.self), ok: (200, derived(CBR.AgentAddPathResponse.self))),
            ],
            "/v3/{project_id}/agents/{agent_id}/remove-path": [
                "post": operation("removeAgentPath", "CBR RemoveAgentPath", parameters: [project, path("agent_id")],
                                  body: derived(CBR.AgentRemovePathRequest.self), ok: (200, derived(CBR.AgentRemovePathResponse.self))),
            ],
            "/v3/{project_id}/agents/{agent_id}/jobs/claim": [
                "post": operation("claimAgentJob", "Coffer extension: the agent waits up to wait_seconds for a job of its resources (a writer session, never a key to older data)",
                                  parameters: [project, path("agent_id")], body: derived(AgentJobs.ClaimRequest.self), ok: (200, derived(AgentJobs.ClaimResponse.self))),
            ],
            "/v3/{project_id}/agents/{agent_id}/jobs/{job_id}/held": [
                "post": operation("agentJobHeldBlobs", "Coffer extension: which of these blob ids the vault holds", parameters: agentJobPath,
                                  body: derived(AgentJobs.HeldRequest.self), ok: (200, derived(AgentJobs.HeldResponse.self)), errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/agents/{agent_id}/jobs/{job_id}/objects/{kind}/{name}": {
                var upload = operation("agentJobUpload", "Coffer extension: stores a new pack, index file or snapshot of the job's session (named by its SHA-256; never overwrites)",
                                       parameters: agentJobPath + [path("kind"), path("name")], ok: (201, nil), errors: [400, 404, 409])
                upload["requestBody"] = ["required": true, "content": ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]]
                return ["put": upload]
            }(),
            "/v3/{project_id}/agents/{agent_id}/jobs/{job_id}/progress": [
                "post": operation("agentJobProgress", "Coffer extension: progress (renews the job's lease)", parameters: agentJobPath,
                                  body: derived(AgentJobs.ProgressRequest.self), ok: (204, nil), errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/agents/{agent_id}/jobs/{job_id}/complete": [
                "post": operation("agentJobComplete", "Coffer extension: the snapshot of each part; checked, then the backup is available", parameters: agentJobPath,
                                  body: derived(AgentJobs.CompleteRequest.self), ok: (204, nil), errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/agents/{agent_id}/jobs/{job_id}/snapshots/{snapshot_id}": [
                "get": operation("agentJobSnapshot", "Coffer extension: a snapshot a running restore reads (JSON)", parameters: agentJobPath + [path("snapshot_id")],
                                 ok: (200, ["type": "object"]), errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/agents/{agent_id}/jobs/{job_id}/blobs": {
                var read = operation("agentJobBlobs", "Coffer extension: the plaintext of blobs a running restore needs (frames: id, u32 LE length, bytes)",
                                     parameters: agentJobPath, body: derived(AgentJobs.BlobsRequest.self), ok: (200, nil), errors: [400, 404, 409])
                read["responses"] = (read["responses"] as? [String: Any] ?? [:]).merging(["200": ["description": "blob frames",
                    "content": ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]]]) { $1 }
                return ["post": read]
            }(),
            "/v3/{project_id}/agents/{agent_id}/jobs/{job_id}/fail": [
                "post": operation("agentJobFail", "Coffer extension: the agent could not do the job (its message goes to the operation log)", parameters: agentJobPath,
                                  body: derived(AgentJobs.FailRequest.self), ok: (204, nil), errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/agent/check": [
                "post": operation("checkAgent", "CBR CheckAgent (installed: an agent registered with the resource's id)", parameters: [project],
                                  body: derived(CBR.AgentCheckRequest.self), ok: (200, derived(CBR.AgentCheckResponse.self))),
            ],
            "/v3/{project_id}/vault/tags": [
                "get": operation("showVaultProjectTag", "CBR ShowVaultProjectTag: every tag key of the project's vaults with its values", parameters: [project],
                                 ok: (200, derived(CBR.ProjectTags.self))),
            ],
            "/v3/{project_id}/vault/{vault_id}/tags": [
                "get": operation("showVaultTag", "CBR ShowVaultTag", parameters: vaultPath, ok: (200, derived(CBR.VaultTags.self))),
                "post": operation("createVaultTags", "CBR CreateVaultTags (a key already there takes the new value)", parameters: vaultPath,
                                  body: derived(CBR.TagCreateRequest.self), ok: (204, nil)),
            ],
            "/v3/{project_id}/vault/{vault_id}/tags/action": [
                "post": operation("batchCreateAndDeleteVaultTags", "CBR BatchCreateAndDeleteVaultTags", parameters: vaultPath,
                                  body: derived(CBR.TagActionRequest.self), ok: (204, nil)),
            ],
            "/v3/{project_id}/vault/{vault_id}/tags/{key}": [
                "delete": operation("deleteVaultTag", "CBR DeleteVaultTag (a key the vault lacks: 404)", parameters: vaultPath + [path("key")], ok: (204, nil)),
            ],
            "/v3/{project_id}/coffer/policies/simulate": [
                "post": operation("simulatePolicy", "Coffer extension: which backups a policy (stored, or given inline) would make over a span and which its retention keeps, with the rule",
                                  parameters: [project], body: derived(PolicySimulation.Request.self), ok: (200, derived(PolicySimulation.Response.self))),
            ],
            "/v3/{project_id}/vaults/{vault_id}/associatepolicy": [
                "post": operation("associateVaultPolicy", "CBR AssociateVaultPolicy (one backup policy per vault)", parameters: vaultPath,
                                  body: derived(CBR.AssociatePolicyRequest.self), ok: (200, derived(CBR.AssociatePolicyResponse.self))),
            ],
            "/v3/{project_id}/vaults/{vault_id}/dissociatepolicy": [
                "post": operation("disassociateVaultPolicy", "CBR DisassociateVaultPolicy", parameters: vaultPath,
                                  body: derived(CBR.DissociatePolicyRequest.self), ok: (200, derived(CBR.DissociatePolicyResponse.self))),
            ],
            "/v3/{project_id}/operation-logs": [
                "get": operation("listOpLogs", "CBR ListOpLogs", parameters: [project] + logFilters, ok: (200, derived(CBR.OperationLogList.self))),
            ],
            "/v3/{project_id}/operation-logs/{operation_log_id}": [
                "get": operation("showOpLog", "CBR ShowOpLog", parameters: [project, path("operation_log_id")], ok: (200, derived(CBR.OperationLogResponse.self))),
            ],
        ]
        return core.merging(csbs) { a, _ in a }
    }

    public static var document: [String: Any] {
        ["openapi": "3.0.3",
         "info": ["title": "Coffer", "version": "1.0.0",
                  "description": "Huawei Cloud CBR v3 compatible backup service with Keystone-style identity and a resource inventory. See docs/api.md."],
         "paths": paths,
         "components": [
             "schemas": schemas,
             "securitySchemes": [
                 "token": ["type": "apiKey", "in": "header", "name": "X-Auth-Token"],
                 "aksk": ["type": "apiKey", "in": "header", "name": "Authorization", "description": "SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=..."],
             ],
         ] as [String: Any],
         "security": [["token": [Any]()], ["aksk": [Any]()]]]
    }

    /// Stable bytes (sorted keys) so the committed copy can be compared.
    public static var json: Data {
        (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data()
    }
}
