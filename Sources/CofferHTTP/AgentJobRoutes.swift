import CofferAPI
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Coffer extension: an agent runs the jobs of its resources
/// (docs/agents.md). Every call names the agent; the caller must see it
/// (its own, for role agent) and the job must be running for it.
struct AgentJobRoutes {
    let work: AgentWork

    /// A pack (16 MiB by default) with room for its largest blob and header.
    static let objectLimit = 48 << 20

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        let add = routes.registrar(on: router)
        add(.post, "/v3/:project_id/agents/:agent_id/jobs/claim", claim)
        add(.post, "/v3/:project_id/agents/:agent_id/jobs/:job_id/held", held)
        add(.put, "/v3/:project_id/agents/:agent_id/jobs/:job_id/objects/:kind/:name", upload)
        add(.post, "/v3/:project_id/agents/:agent_id/jobs/:job_id/progress", progress)
        add(.post, "/v3/:project_id/agents/:agent_id/jobs/:job_id/complete", complete)
        add(.post, "/v3/:project_id/agents/:agent_id/jobs/:job_id/fail", fail)
        add(.get, "/v3/:project_id/agents/:agent_id/jobs/:job_id/snapshots/:snapshot_id", snapshot)
        add(.post, "/v3/:project_id/agents/:agent_id/jobs/:job_id/blobs", blobs)
    }

    /// `/v3/{p}/agents/{a}/jobs/{j}/objects/{kind}/{name}`
    static func isObjectUpload(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        return parts.count == 9 && parts.first == "v3" && Array(parts)[2] == "agents" && Array(parts)[4] == "jobs" && Array(parts)[6] == "objects"
    }

    static func assignment(_ a: AgentAssignment) -> AgentJobs.Assignment {
        AgentJobs.Assignment(jobID: a.jobID, kind: a.kind.rawValue, backupID: a.backupID, parts: a.parts.map {
            AgentJobs.Part(backupID: $0.backupID, resourceID: $0.resourceID, resourceType: $0.resourceType == .volume ? "volume" : "directory", path: $0.path,
                           excludePaths: $0.excludes, tags: $0.tags, labels: $0.labels, expectedBytes: $0.expectedBytes)
        }, items: a.kind == .restore ? a.items.map {
            AgentJobs.Item(backupID: $0.backupID, snapshotID: $0.snapshotID, targetPath: $0.targetPath, resourceID: $0.resourceID, resourcePath: $0.resourcePath,
                           resourceType: $0.resourceType == .volume ? "volume" : "directory", specialFiles: $0.specialFiles, expectedBytes: $0.expectedBytes)
        } : nil, maxBytesAdded: a.maxBytesAdded, repository: a.grant, leaseSeconds: a.leaseSeconds)
    }

    @Sendable func claim(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decodeOptional(AgentJobs.ClaimRequest.self, &request, context: context)
        let wait = body?.waitSeconds ?? 0
        guard (0...60).contains(wait) else { throw APIError.validation("wait_seconds must be 0 to 60") }
        let job = try await work.claim(caller: caller, agent: try context.parameters.require("agent_id"), wait: TimeInterval(wait))
        return try JSONBody.encoded(AgentJobs.ClaimResponse(job: job.map(AgentJobRoutes.assignment)))
    }

    @Sendable func held(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(AgentJobs.HeldRequest.self, &request, context: context)
        let held = try await work.held(caller: caller, agent: try context.parameters.require("agent_id"), job: try context.parameters.require("job_id"), ids: body.ids)
        return try JSONBody.encoded(AgentJobs.HeldResponse(held: held))
    }

    @Sendable func upload(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let (agent, job, kind) = (try context.parameters.require("agent_id"), try context.parameters.require("job_id"), try context.parameters.require("kind"))
        // Up to 48 MiB are read only for an agent that holds this job.
        try await work.checkUpload(caller: caller, agent: agent, job: job, kind: kind)
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let data = body.readableBytes >= AgentJobRoutes.pooledFrom
            ? body.withUnsafeReadableBytes { AgentJobRoutes.uploadBuffers.data(copying: $0.baseAddress!, count: $0.count) }
            : Data(buffer: body)
        try await work.accept(caller: caller, agent: agent, job: job, kind: kind, name: try context.parameters.require("name"), data: data,
                              verifiedSHA256: context.verifiedBodySHA256)
        return Response(status: .created)
    }

    /// Uploaded packs are copied into page-aligned buffers, which a local
    /// store writes with O_DIRECT as it does the server's own packs: the
    /// kernel's copy of each into the page cache was a third of the server's
    /// CPU during an agent's backup (docs/benchmarks.md). Two idle buffers at
    /// most, each keeping 20 MiB of touched pages.
    static let uploadBuffers = BufferPool(bufferSize: objectLimit, maxRetained: 2, residentLimit: 20 << 20)
    static let pooledFrom = 1 << 20

    @Sendable func progress(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(AgentJobs.ProgressRequest.self, &request, context: context)
        try await work.progress(caller: caller, agent: try context.parameters.require("agent_id"), job: try context.parameters.require("job_id"), percent: body.percent)
        return Response(status: .noContent)
    }

    @Sendable func complete(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(AgentJobs.CompleteRequest.self, &request, context: context)
        let (agent, job) = (try context.parameters.require("agent_id"), try context.parameters.require("job_id"))
        if let snapshots = body.snapshots {
            try await work.complete(caller: caller, agent: agent, job: job, snapshots: snapshots)
        } else {
            try await work.completeRestore(caller: caller, agent: agent, job: job, errors: body.errors ?? [], skipped: body.skipped ?? [])
        }
        return Response(status: .noContent)
    }

    @Sendable func snapshot(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        let data = try await work.snapshot(caller: caller, agent: try context.parameters.require("agent_id"), job: try context.parameters.require("job_id"),
                                           id: try context.parameters.require("snapshot_id"))
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    @Sendable func blobs(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(AgentJobs.BlobsRequest.self, &request, context: context)
        let data = try await work.blobs(caller: caller, agent: try context.parameters.require("agent_id"), job: try context.parameters.require("job_id"), ids: body.ids)
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    @Sendable func fail(_ request: Request, _ context: CofferContext) async throws -> Response {
        let caller = try context.caller()
        var request = request
        let body = try await JSONBody.decode(AgentJobs.FailRequest.self, &request, context: context)
        try await work.fail(caller: caller, agent: try context.parameters.require("agent_id"), job: try context.parameters.require("job_id"), message: body.message)
        return Response(status: .noContent)
    }
}
