import CofferAPI
import CofferService
import Foundation

// Longer than ~400 lines while it is written by hand: one entry per route.
// Issue #10 replaces it with a document produced from the request and
// response types (docs/architecture.md, "One description of the API").

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
    static let nullableString: Schema = ["type": "string", "nullable": true]
    static let freeObject: Schema = ["type": "object"]
    static func string(_ values: [String]) -> Schema { ["type": "string", "enum": values] }
    static func string(max: Int, min: Int = 0) -> Schema { ["type": "string", "minLength": min, "maxLength": max] }
    static func integer(_ range: ClosedRange<Int>) -> Schema { ["type": "integer", "minimum": range.lowerBound, "maximum": range.upperBound] }
    static func array(_ items: Schema) -> Schema { ["type": "array", "items": items] }
    static func ref(_ name: String) -> Schema { ["$ref": "#/components/schemas/\(name)"] }
    /// The schema of one of the API's types, read off the type itself (CofferAPI).
    static func derived<T: Decodable>(_ type: T.Type) -> Schema {
        do { return try CofferAPI.Schema.of(type).openAPI } catch { preconditionFailure("\(T.self) has no derivable schema: \(error)") }
    }
    static func object(_ properties: [String: Schema], required: [String]? = nil) -> Schema {
        // OpenAPI 3.0 forbids an empty `required` list: leave it out instead.
        let names = required ?? properties.keys.sorted()
        return names.isEmpty ? ["type": "object", "properties": properties] : ["type": "object", "properties": properties, "required": names]
    }
    /// A request object whose listed fields are required and the rest optional.
    static func input(_ properties: [String: Schema], required: [String] = []) -> Schema {
        var o: Schema = ["type": "object", "properties": properties]
        if !required.isEmpty { o["required"] = required }
        return o
    }

    static let resourceTypes = ["OS::Cinder::Volume", "OS::Nova::Server", "OS::Sfs::Turbo", "OS::RDS::Instance"]
    static let backupStatuses = ["available", "protecting", "deleting", "restoring", "error", "waiting_protect", "waiting_delete", "waiting_restore"]

    static var schemas: [String: Schema] {
        let tag = object(["key": string, "value": string], required: ["key"])
        let backup = object([
            "id": string, "checkpoint_id": string, "project_id": string, "vault_id": string, "name": string, "description": string,
            "status": string(backupStatuses), "image_type": string(["backup", "replication"]), "provider_id": string, "resource_id": string,
            "resource_name": string, "resource_type": string(resourceTypes), "resource_size": integer, "resource_az": string,
            "created_at": string, "updated_at": string, "protected_at": nullableString, "expired_at": nullableString, "parent_id": nullableString,
            "incremental": boolean, "version": integer, "enterprise_project_id": string, "replication_records": array(freeObject),
            "extend_info": object(["auto_trigger": boolean, "bootable": boolean, "snapshot_id": string, "support_lld": boolean,
                                   "supported_restore_mode": string, "os_images_data": array(freeObject), "contain_system_disk": boolean,
                                   "encrypted": boolean, "system_disk": boolean, "is_multi_az": boolean]),
            "children": array(ref("Backup")), "fail_reason": string,
        ], required: ["id", "checkpoint_id", "project_id", "vault_id", "name", "description", "status", "image_type", "provider_id", "resource_id",
                      "resource_name", "resource_type", "resource_size", "resource_az", "created_at", "updated_at", "protected_at", "expired_at",
                      "parent_id", "enterprise_project_id", "replication_records", "extend_info", "children"])
        let vaultResource = object(["id": string, "name": string, "type": string(resourceTypes), "protect_status": string, "size": integer,
                                    "backup_size": integer, "backup_count": integer, "auto_protect": boolean, "extra_info": freeObject])
        let billing = object(["allocated": integer, "charging_mode": string, "cloud_type": string, "consistent_level": string, "object_type": string,
                              "protect_type": string, "size": integer, "spec_code": string, "status": string, "storage_unit": string, "used": integer,
                              "frozen_scene": string, "is_multi_az": boolean, "order_id": nullableString, "product_id": nullableString])
        let vault = object([
            "id": string, "name": string, "description": string, "project_id": string, "provider_id": string, "billing": billing,
            "resources": array(vaultResource), "tags": array(tag), "enterprise_project_id": string, "auto_bind": boolean,
            "bind_rules": freeObject, "user_id": string, "created_at": string, "updated_at": string, "auto_expand": boolean, "smn_notify": boolean,
            "threshold": integer, "sys_lock_source_service": string, "locked": boolean, "availability_zone": string, "backup_name_prefix": string,
            "demand_billing": boolean, "cbc_delete_count": integer, "frozen": boolean,
        ])
        let checkpointResource = object(["id": string, "name": string, "type": string(resourceTypes), "protect_status": string,
                                         "resource_size": string, "extra_info": string, "backup_size": string, "backup_count": string])
        let skipped = object(["id": string, "name": string, "type": string, "code": string, "reason": string])
        let checkpoint = object([
            "id": string, "project_id": string, "status": string(["available", "deleting", "protecting", "deleted", "error-deleting", "error"]),
            "created_at": string, "extra_info": object(["name": string, "description": string, "retention_duration": integer]),
            "vault": object(["id": string, "name": string, "resources": array(checkpointResource), "skipped_resources": array(skipped)]),
        ])
        let operationLog = object([
            "id": string, "project_id": string, "operation_type": string(["backup", "copy", "replication", "delete", "restore", "vault_delete", "remove_resource", "sync", "verify"]),
            "status": string(["success", "skipped", "failed", "running", "timeout", "waiting"]), "provider_id": string, "vault_id": string, "vault_name": string,
            "checkpoint_id": string, "created_at": string, "started_at": nullableString, "ended_at": nullableString, "updated_at": string,
            "error_info": object(["code": string, "message": string]),
            "extra_info": object(["common": object(["progress": integer(0...100), "request_id": string, "task_id": string], required: ["progress"]),
                                  "resource": object(["id": string, "name": string, "type": string]),
                                  // Coffer extension: what a tenant restore left out (device nodes, setuid/setgid bits).
                                  "restore": object(["skipped": array(string)]),
                                  // Coffer extension: what a verification read.
                                  "verify": object(["notes": array(string)])], required: ["common", "resource"]),
            "enterprise_project_id": string,
        ])
        let disk = object(["id": string, "name": string, "path": string, "bootable": boolean, "size_bytes": integer], required: ["id", "name", "path", "bootable"])
        let resource = object(["id": string, "name": string, "type": string(resourceTypes), "description": string, "project_id": string,
                               "created_at": string, "updated_at": string, "path": string, "size": integer, "size_bytes": integer, "disks": array(disk),
                               "restore_special_files": boolean,
                               "engine": string, "data_dir": string],
                              required: ["id", "name", "type", "description", "project_id", "created_at", "updated_at"])
        let protectable = object(["id": string, "name": string, "type": string(resourceTypes), "status": string, "size": integer,
                                  "detail": freeObject, "protectable": object(["result": boolean, "code": string, "reason": string, "message": string, "vault": ref("Vault")],
                                                                        required: ["result", "code", "reason", "message"]),
                                  "children": array(ref("Protectable"))], required: ["id", "name", "type", "status", "protectable", "children"])
        let error = object(["error_code": string, "error_msg": string], required: ["error_code", "error_msg"])
        let project = object(["id": string, "name": string, "domain_id": string, "description": string, "enabled": boolean])
        let token = object(["expires_at": string, "issued_at": string, "methods": array(string), "user": freeObject, "project": freeObject,
                            "roles": array(object(["id": string, "name": string])), "catalog": array(freeObject)])
        let volumeBackup = object(["id": string, "name": string, "status": string, "bootable": boolean, "incremental": boolean, "image_type": string,
                                   "average_speed": integer, "size": integer, "source_volume_id": string, "source_volume_size": integer,
                                   "source_volume_name": string, "space_saving_ratio": integer, "snapshot_id": string])
        let checkpointItem = object([
            "id": string, "checkpoint_id": string, "name": string, "description": string, "resource_id": string, "resource_type": string,
            "status": string(["waiting_protect", "protecting", "available", "waiting_restore", "restoring", "error", "waiting_delete", "deleting", "deleted"]),
            "created_at": string, "updated_at": string, "protected_at": nullableString,
            "backup_data": object(["__openstack_region_name": string, "cloudservicetype": string, "disk": integer, "imagetype": string, "ram": integer,
                                   "vcpus": integer, "eip": string, "private_ip": string]),
            "tags": array(ref("Tag")), "replication_records": array(freeObject),
            "extend_info": object(["auto_trigger": boolean, "average_speed": integer, "copy_from": string, "copy_status": string, "fail_code": freeObject,
                                   "fail_op": string, "fail_reason": string, "image_type": string, "incremental": boolean, "progress": integer(0...100),
                                   "resource_az": string, "resource_name": string, "resource_type": string, "size": integer, "space_saving_ratio": integer,
                                   "volume_backups": array(volumeBackup), "finished_at": string, "supported_restore_mode": string,
                                   "os_images_data": array(freeObject), "support_lld": boolean, "taskid": string, "hypervisor_type": string]),
        ])
        let protectCheckpoint = object(["id": string, "project_id": string, "status": string, "created_at": string, "resource_graph": nullableString,
                                        "extra_info": ["nullable": true], "protection_plan": object(["id": string, "name": string, "resources": array(freeObject)])])
        let check = object(["resource_id": string, "resource_type": string, "result": boolean, "error_code": string, "error_msg": string])
        let rdsBackup = derived(RDS.Backup.self)
        return ["RDSBackup": rdsBackup, "CheckpointItem": checkpointItem, "ProtectCheckpoint": protectCheckpoint, "Check": check,
                "Backup": backup, "Vault": vault, "Checkpoint": checkpoint, "OperationLog": operationLog, "Resource": resource,
                "Protectable": protectable, "Error": error, "Project": project, "Token": token, "Tag": tag]
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

    static func wrapped(_ key: String, _ schema: Schema) -> Schema { object([key: schema]) }
    static func listOf(_ key: String, _ item: String, paged: Bool = true) -> Schema {
        paged ? object([key: array(ref(item)), "count": integer, "offset": integer, "limit": integer]) : object([key: array(ref(item))])
    }

    static var paths: [String: Any] {
        let vaultResourceInput = input(["id": string, "type": string, "name": string, "extra_info": freeObject], required: ["id", "type"])
        let billingInput = input(["cloud_type": string(["public", "hybrid"]), "consistent_level": string, "object_type": string,
                                  "protect_type": string(["backup", "replication"]), "size": integer, "charging_mode": string], required: ["consistent_level", "object_type", "protect_type", "size"])
        let vaultCreate = input(["vault": input(["name": string(max: 64, min: 1), "description": string(max: 255), "billing": billingInput,
                                                 "resources": array(vaultResourceInput), "tags": array(ref("Tag")), "auto_bind": boolean, "auto_expand": boolean,
                                                 "backup_policy_id": string, "enterprise_project_id": string, "availability_zone": string],
                                                required: ["name", "billing", "resources"])], required: ["vault"])
        let vaultUpdate = input(["vault": input(["name": string(max: 64, min: 1), "billing": input(["size": integer, "consistent_level": string]),
                                                 "auto_bind": boolean, "auto_expand": boolean, "smn_notify": boolean, "threshold": integer(1...100), "locked": boolean])],
                                required: ["vault"])
        let resourceInput = input(["resource": input(["type": string(resourceTypes + ["rds"]), "name": string(max: 255, min: 1), "description": string,
                                                      "path": string, "project_id": string, "engine": string(["PostgreSQL"]), "connection": string, "data_dir": string,
                                                      "restore_special_files": boolean,
                                                      "disks": array(input(["name": string, "path": string, "bootable": boolean], required: ["name", "path"]))],
                                                     required: ["type", "name"])], required: ["resource"])
        let checkpointInput = input(["checkpoint": input(["vault_id": string, "parameters": input([
            "resources": array(string), "name": string(max: 255), "description": string(max: 255), "incremental": boolean, "auto_trigger": boolean])],
            required: ["vault_id"])], required: ["checkpoint"])
        let restoreInput = input(["restore": input(["volume_id": string, "server_id": string, "resource_id": string, "power_on": boolean,
                                                    "mappings": array(input(["backup_id": string, "volume_id": string], required: ["backup_id", "volume_id"])),
                                                    "details": input(["destination_path": string], required: ["destination_path"])])], required: ["restore"])
        let auth = input(["auth": input(["identity": input(["methods": array(string), "password": freeObject, "token": freeObject], required: ["methods"]),
                                         "scope": freeObject], required: ["identity"])], required: ["auth"])
        let ids = { (key: String) in input([key: array(string)], required: [key]) }
        let vaultPath = [project, path("vault_id")]
        let backupPath = [project, path("backup_id")]
        let resourcePath = [project, path("resource_id")]
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
        let tagInput = input(["key": string, "value": string], required: ["key"])
        let volumeTargets = array(input(["backup_id": string, "volume_id": string], required: ["backup_id", "volume_id"]))
        let csbs: [String: Any] = [
            "/v1/{project_id}/providers/{provider_id}/resources/{resource_id}/action": [
                "post": operation("csbsProtect", "CSBS: back up a server (seed 001)", parameters: [project, provider, path("resource_id")],
                                  body: input(["protect": input(["backup_name": string(max: 255, min: 1), "description": string(max: 255), "incremental": boolean,
                                                                 "resource_type": string(["OS::Nova::Server"]), "tags": array(tagInput), "extra_info": freeObject])],
                                              required: ["protect"]),
                                  ok: (200, wrapped("checkpoint", ref("ProtectCheckpoint")))),
            ],
            "/v1/{project_id}/providers/{provider_id}/resources/action": [
                "post": operation("csbsCheck", "CSBS: check_protectable or check_restorable", parameters: [project, provider],
                                  body: input(["check_protectable": array(input(["resource_id": string, "resource_type": string], required: ["resource_id"])),
                                               "check_restorable": array(input(["checkpoint_item_id": string,
                                                                                "target": input(["resource_id": string, "resource_type": string, "volumes": volumeTargets],
                                                                                                required: ["resource_id"])], required: ["checkpoint_item_id", "target"]))]),
                                  ok: (200, object(["protectable": array(ref("Check")), "restorable": array(ref("Check"))], required: []))),
            ],
            "/v1/{project_id}/checkpoint_items": [
                "get": operation("csbsListItems", "CSBS: list checkpoint items", parameters: [project] + itemFilters,
                                 ok: (200, object(["checkpoint_items": array(ref("CheckpointItem"))]))),
            ],
            "/v1/{project_id}/checkpoint_items/count": [
                "get": operation("csbsCountItems", "CSBS: count checkpoint items", parameters: [project] + itemFilters, ok: (200, object(["count": integer]))),
            ],
            "/v1/{project_id}/checkpoint_items/{checkpoint_item_id}": [
                "get": operation("csbsShowItem", "CSBS: one checkpoint item", parameters: [project, path("checkpoint_item_id")],
                                 ok: (200, wrapped("checkpoint_item", ref("CheckpointItem")))),
            ],
            "/v1/{project_id}/providers/{provider_id}/checkpoints/{checkpoint_id}": [
                "delete": operation("csbsDelete", "CSBS: delete a checkpoint's items (asynchronous)",
                                    parameters: [project, provider, path("checkpoint_id"), query("checkpoint_items")], ok: (200, freeObject)),
            ],
            "/v1/{project_id}/restores": [
                "post": operation("csbsRestore", "CSBS: restore a server backup", parameters: [project],
                                  body: input(["restore": input(["provider_id": string([ProtectionService.providerID]), "checkpoint_id": string, "restore_target": string,
                                                                 "parameters": input(["checkpoint_item_id": string, "power_on": boolean,
                                                                                      "targets": input(["server_id": string, "volumes": volumeTargets])],
                                                                                     required: ["checkpoint_item_id"])],
                                                                required: ["checkpoint_id", "parameters"])], required: ["restore"]),
                                  ok: (200, object(["restore": object(["id": string, "checkpoint_id": string, "status": string, "project_id": string, "provider_id": string],
                                                                      required: ["id", "checkpoint_id", "status"])]))),
            ],
            "/v1/{project_id}/quotas": [
                "get": operation("csbsQuotas", "CSBS: quotas", parameters: [project],
                                 ok: (200, object(["quotas": object(["resources": array(object(["type": string, "unit": string, "quota": integer, "used": integer]))])]))),
            ],
        ]
        let core: [String: Any] = [
            "/health": ["get": operation("health", "Service health", ok: (200, object(["status": string])), errors: [503], secured: false)],
            "/openapi.json": ["get": operation("openapi", "This document", ok: (200, freeObject), errors: [], secured: false)],
            "/": ["get": operation("listVersions", "Identity version discovery", ok: (300, freeObject), errors: [], secured: false)],
            "/v3": ["get": operation("showVersion", "Identity v3 version", ok: (200, freeObject), errors: [], secured: false)],
            "/v3/auth/tokens": [
                "post": operation("issueToken", "Keystone password or token authentication (429 with Retry-After after repeated failures)", body: auth,
                                  ok: (201, wrapped("token", ref("Token"))), errors: [400, 401, 429], secured: false),
                "get": operation("validateToken", "Validate X-Subject-Token", parameters: [["name": "X-Subject-Token", "in": "header", "required": true, "schema": string]],
                                 ok: (200, wrapped("token", ref("Token"))), errors: [400, 401, 404], secured: false),
                "delete": operation("revokeToken", "Revoke X-Subject-Token (its own user or the service admin)",
                                    parameters: [["name": "X-Subject-Token", "in": "header", "required": true, "schema": string]],
                                    ok: (204, nil), errors: [400, 404]),
            ],
            "/v3/projects": [
                "get": operation("listProjects", "Projects visible to the caller", ok: (200, listOf("projects", "Project", paged: false)), errors: []),
                "post": operation("createProject", "Create a project with its admin user and access key (service admin)",
                                  body: input(["project": input(["name": string(max: 64, min: 1), "description": string], required: ["name"])], required: ["project"]),
                                  ok: (201, object(["project": object(["id": string, "name": string]), "credentials": freeObject])), errors: [400, 409]),
            ],
            "/v3/projects/{project_id}": ["delete": operation("deleteProject", "Delete a project (service admin)", parameters: [project], ok: (204, nil))],
            "/v3/users": [
                "get": operation("listUsers", "Users of the caller's project", ok: (200, object(["users": array(freeObject)])), errors: []),
                "post": operation("createUser", "Create a user in the caller's project (project admin)",
                                  body: input(["user": input(["name": string(max: 64, min: 1), "role": string(["admin", "member", "readonly"])], required: ["name"])], required: ["user"]),
                                  ok: (201, object(["user": freeObject, "password": string])), errors: [400, 409]),
            ],
            "/v3/users/{user_id}": ["delete": operation("deleteUser", "Delete a user (project admin)", parameters: [path("user_id")], ok: (204, nil))],
            "/v3/credentials": [
                "get": operation("listCredentials", "Access keys of the caller's project", ok: (200, object(["credentials": array(freeObject)])), errors: []),
                "post": operation("createCredential", "Create an access key", body: input(["credential": input(["user_id": string, "description": string])], required: ["credential"]),
                                  ok: (201, object(["credential": object(["access": string, "secret": string, "user_id": string, "project_id": string])])), errors: [400, 404]),
            ],
            "/v3/credentials/{access_key}": ["delete": operation("deleteCredential", "Delete an access key", parameters: [path("access_key")], ok: (204, nil))],

            "/v3/{project_id}/coffer/resources": [
                "post": operation("registerResource", "Register a volume, server or directory (admin)", parameters: [project], body: resourceInput,
                                  ok: (200, wrapped("resource", ref("Resource"))), errors: [400, 404]),
                "get": operation("listResources", "Registered resources", parameters: [project] + paging + [query("type", string(resourceTypes)), query("name")],
                                 ok: (200, listOf("resources", "Resource"))),
            ],
            "/v3/{project_id}/coffer/resources/{resource_id}": [
                "get": operation("showResource", "One registered resource", parameters: resourcePath, ok: (200, wrapped("resource", ref("Resource")))),
                "put": operation("updateResource", "Rename or describe a resource", parameters: resourcePath,
                                 body: input(["resource": input(["name": string(max: 255, min: 1), "description": string])], required: ["resource"]),
                                 ok: (200, wrapped("resource", ref("Resource")))),
                "delete": operation("removeResource", "Unregister a resource", parameters: resourcePath, ok: (204, nil), errors: [400, 404]),
            ],
            "/v3/{project_id}/protectables/{protectable_type}/instances": [
                "get": operation("listProtectable", "CBR ListProtectable",
                                 parameters: [project, ["name": "protectable_type", "in": "path", "required": true, "schema": string(["server", "disk", "turbo"])]]
                                     + paging + ["name", "id", "status", "server_id", "marker"].map { query($0) },
                                 ok: (200, object(["instances": array(ref("Protectable"))]))),
            ],
            "/v3/{project_id}/protectables/{protectable_type}/instances/{instance_id}": [
                "get": operation("showProtectable", "CBR ShowProtectable",
                                 parameters: [project, ["name": "protectable_type", "in": "path", "required": true, "schema": string(["server", "disk", "turbo"])], path("instance_id")],
                                 ok: (200, wrapped("instance", ref("Protectable")))),
            ],
            "/v3/{project_id}/vaults": [
                "post": operation("createVault", "CBR CreateVault", parameters: [project], body: vaultCreate, ok: (200, wrapped("vault", ref("Vault")))),
                "get": operation("listVault", "CBR ListVault", parameters: [project] + vaultFilters, ok: (200, listOf("vaults", "Vault"))),
            ],
            "/v3/{project_id}/vaults/summary": [
                "get": operation("showSummary", "CBR ShowSummary", parameters: [project], ok: (200, object(["size": integer, "used_size": integer]))),
            ],
            "/v3/{project_id}/vaults/{vault_id}": [
                "get": operation("showVault", "CBR ShowVault", parameters: vaultPath, ok: (200, wrapped("vault", ref("Vault")))),
                "put": operation("updateVault", "CBR UpdateVault", parameters: vaultPath, body: vaultUpdate, ok: (200, wrapped("vault", ref("Vault")))),
                "delete": operation("deleteVault", "CBR DeleteVault", parameters: vaultPath, ok: (204, nil)),
            ],
            "/v3/{project_id}/vaults/{vault_id}/addresources": [
                "post": operation("addVaultResource", "CBR AddVaultResource", parameters: vaultPath,
                                  body: input(["resources": array(vaultResourceInput)], required: ["resources"]), ok: (200, object(["add_resource_ids": array(string)]))),
            ],
            "/v3/{project_id}/coffer/vaults/{vault_id}/verify": [
                "post": operation("verifyVault", "Coffer extension: verify the vault's data as a job (subset N/T or next/T, max_duration_seconds)", parameters: vaultPath,
                                  body: input(["verify": input(["subset": string, "max_duration_seconds": integer(1...604_800)])]), ok: (202, object(["operation_log_id": string]))),
            ],
            "/v3/{project_id}/vaults/{vault_id}/removeresources": [
                "post": operation("removeVaultResource", "CBR RemoveVaultResource", parameters: vaultPath, body: ids("resource_ids"),
                                  ok: (200, object(["remove_resource_ids": array(string)]))),
            ],
            "/v3/{project_id}/checkpoints": [
                "post": operation("createCheckpoint", "CBR CreateCheckpoint: back up the vault's resources", parameters: [project], body: checkpointInput,
                                  ok: (200, wrapped("checkpoint", ref("Checkpoint")))),
            ],
            "/v3/{project_id}/checkpoints/{checkpoint_id}": [
                "get": operation("showCheckpoint", "CBR ShowCheckpoint", parameters: [project, path("checkpoint_id")], ok: (200, wrapped("checkpoint", ref("Checkpoint")))),
            ],
            "/v3/{project_id}/backups": [
                "get": operation("listBackups", "CBR ListBackups; with instance_id, RDS list_backups", parameters: [project] + backupFilters
                                    + ["instance_id", "backup_id", "begin_time"].map { query($0) } + [query("backup_type", string(["auto", "manual", "fragment", "incremental"]))],
                                 ok: (200, ["oneOf": [listOf("backups", "Backup"), object(["backups": array(ref("RDSBackup")), "total_count": integer])]])),
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
                "get": operation("showBackup", "CBR ShowBackup", parameters: backupPath, ok: (200, wrapped("backup", ref("Backup")))),
                "put": operation("updateBackup", "CBR UpdateBackup", parameters: backupPath,
                                 body: input(["backup": input(["name": string(max: 255, min: 1)])]), ok: (200, wrapped("backup", ref("Backup")))),
                "delete": operation("deleteBackup", "CBR DeleteBackup (204); RDS delete_manual_backup for RDS backup ids (200)", parameters: backupPath,
                                    ok: (204, nil), alsoOK: [200], errors: [400, 404, 409]),
            ],
            "/v3/{project_id}/backups/{backup_id}/restore": [
                "post": operation("restoreBackup", "CBR RestoreBackup", parameters: backupPath, body: restoreInput, ok: (202, nil)),
            ],
            "/v3/{project_id}/operation-logs": [
                "get": operation("listOpLogs", "CBR ListOpLogs", parameters: [project] + logFilters, ok: (200, listOf("operation_logs", "OperationLog"))),
            ],
            "/v3/{project_id}/operation-logs/{operation_log_id}": [
                "get": operation("showOpLog", "CBR ShowOpLog", parameters: [project, path("operation_log_id")], ok: (200, wrapped("operation_log", ref("OperationLog")))),
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
