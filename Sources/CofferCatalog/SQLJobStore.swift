import CofferModel
import Foundation
import SQLKit

/// Jobs, claimed under the catalog's transaction (on PostgreSQL this becomes FOR UPDATE SKIP LOCKED).
struct SQLJobStore: JobStore {
    let catalog: SQLCatalog
    var sql: any SQLDatabase { catalog.sql }

    func insert(_ job: JobRecord) async throws { try await insertRow(job, into: "jobs", on: sql) }

    func job(id: String) async throws -> JobRecord? {
        try await sql.select().column("*").from("jobs").where("id", .equal, SQLBind(id)).first(decoding: JobRecord.self)
    }

    /// Takes a queued job, leasing it to `owner` until `leaseUntil`: the
    /// oldest job of the project whose turn is longest ago, so one tenant's
    /// thousand queued restores do not starve another's backup. A prune
    /// waits while any job of its vault runs, and every job of a vault waits
    /// while its prune runs.
    func claim(owner: String, now: Int64, leaseUntil: Int64) async throws -> JobRecord? {
        try await catalog.withTransaction { db in
            guard let job = try await db.raw("""
                SELECT jobs.* FROM jobs LEFT JOIN job_turns ON job_turns.project_id = jobs.project_id WHERE jobs.status = \(bind: JobStatus.queued.rawValue)
                AND jobs.agent_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM jobs busy WHERE busy.status = \(bind: JobStatus.running.rawValue) AND busy.vault_id = jobs.vault_id
                    AND (busy.kind = \(bind: JobKind.prune.rawValue) OR jobs.kind = \(bind: JobKind.prune.rawValue)))
                ORDER BY COALESCE(job_turns.last_claimed_at, 0), jobs.created_at, jobs.id LIMIT 1
                """).first(decoding: JobRecord.self) else { return nil }
            try await db.raw("""
                INSERT INTO job_turns (project_id, last_claimed_at) VALUES (\(bind: job.projectId), \(bind: now))
                ON CONFLICT (project_id) DO UPDATE SET last_claimed_at = excluded.last_claimed_at
                """).run()
            return try await lease(job, to: owner, now: now, until: leaseUntil, on: db)
        }
    }

    /// An agent's job: the oldest queued job of `project` for `agent`, under the same prune rule.
    func claim(agent: String, project: String, owner: String, now: Int64, leaseUntil: Int64) async throws -> JobRecord? {
        try await catalog.withTransaction { db in
            guard let job = try await db.raw("""
                SELECT jobs.* FROM jobs WHERE jobs.status = \(bind: JobStatus.queued.rawValue) AND jobs.project_id = \(bind: project) AND jobs.agent_id = \(bind: agent)
                AND NOT EXISTS (SELECT 1 FROM jobs busy WHERE busy.status = \(bind: JobStatus.running.rawValue) AND busy.vault_id = jobs.vault_id
                    AND (busy.kind = \(bind: JobKind.prune.rawValue) OR jobs.kind = \(bind: JobKind.prune.rawValue)))
                ORDER BY jobs.created_at, jobs.id LIMIT 1
                """).first(decoding: JobRecord.self) else { return nil }
            return try await lease(job, to: owner, now: now, until: leaseUntil, on: db)
        }
    }

    /// Marks a claimed job running under `owner`'s lease, counting the attempt.
    private func lease(_ job: JobRecord, to owner: String, now: Int64, until: Int64, on db: any SQLDatabase) async throws -> JobRecord {
        var job = job
        job.status = .running
        job.owner = owner
        job.leaseUntil = until
        job.attempts += 1
        job.updatedAt = now
        try await db.update("jobs").set(model: job, nilEncodingStrategy: .asNil).where("id", .equal, SQLBind(job.id)).run()
        return job
    }

    /// Agents' jobs queued since before `createdBefore` (their agent has not come for them).
    func waitingForAgents(queuedBefore: Int64) async throws -> [JobRecord] {
        try await sql.select().column("*").from("jobs").where("status", .equal, SQLBind(JobStatus.queued.rawValue))
            .where("agent_id", .isNot, SQLLiteral.null).where("updated_at", .lessThan, SQLBind(queuedBefore)).all(decoding: JobRecord.self)
    }

    func setPayload(job: String, owner: String, payload: String) async throws -> Bool {
        try await !sql.update("jobs").set("payload", to: SQLBind(payload)).where("id", .equal, SQLBind(job)).where("owner", .equal, SQLBind(owner))
            .where("status", .equal, SQLBind(JobStatus.running.rawValue)).returning("id").all().isEmpty
    }

    func extendLease(job: String, owner: String, until: Int64) async throws -> Bool {
        try await !sql.update("jobs").set("lease_until", to: SQLBind(until)).where("id", .equal, SQLBind(job)).where("owner", .equal, SQLBind(owner))
            .where("status", .equal, SQLBind(JobStatus.running.rawValue)).returning("id").all().isEmpty
    }

    func transition(_ job: JobRecord, to status: JobStatus, error: String?, now: Int64) async throws -> Bool {
        var q = sql.update("jobs").set("status", to: SQLBind(status.rawValue)).set("lease_until", to: SQLLiteral.null).set("updated_at", to: SQLBind(now))
        if status == .queued { q = q.set("owner", to: SQLLiteral.null) } else { q = q.set("last_error", to: SQLBind(error)) }
        q = q.where("id", .equal, SQLBind(job.id)).where("status", .equal, SQLBind(job.status.rawValue))
        q = job.owner.map { q.where("owner", .equal, SQLBind($0)) } ?? q.where("owner", .is, SQLLiteral.null)
        return try await !q.returning("id").all().isEmpty
    }

    func handBack(_ job: JobRecord, now: Int64) async throws -> Bool {
        guard let owner = job.owner else { return false }
        return try await !sql.update("jobs").set("status", to: SQLBind(JobStatus.queued.rawValue)).set("owner", to: SQLLiteral.null)
            .set("lease_until", to: SQLLiteral.null).set("updated_at", to: SQLBind(now)).set("attempts", to: SQLBind(max(0, job.attempts - 1)))
            .where("id", .equal, SQLBind(job.id)).where("status", .equal, SQLBind(JobStatus.running.rawValue)).where("owner", .equal, SQLBind(owner))
            .returning("id").all().isEmpty
    }

    func countByStatus() async throws -> [JobStatus: Int] {
        var counts: [JobStatus: Int] = [:]
        for row in try await sql.raw("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").all() {
            if let status = JobStatus(rawValue: try row.decode(column: "status", as: String.self)) { counts[status] = try row.decode(column: "n", as: Int.self) }
        }
        return counts
    }

    /// Running jobs whose lease ran out (their worker died).
    func expired(now: Int64) async throws -> [JobRecord] {
        try await sql.select().column("*").from("jobs").where("status", .equal, SQLBind(JobStatus.running.rawValue)).where("lease_until", .lessThan, SQLBind(now))
            .all(decoding: JobRecord.self)
    }

}
