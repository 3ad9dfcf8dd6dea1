import CofferAPI
import CofferModel
import CofferService
import CofferSystem
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The web console at /console: server-rendered pages over the same services as the
/// API, called with the logged-in user's principal, so it sees exactly what that
/// user's token sees. The session is a Keystone token in an HttpOnly, SameSite=Strict
/// cookie; every form carries the session's anti-forgery value; logout revokes the token.
struct ConsoleRoutes {
    let services: APIServices
    var logger: Logger { services.logger }

    typealias Handler = @Sendable (Request, CofferContext, ConsoleSession, ConsoleForm) async throws -> Response

    func register(on router: Router<CofferContext>, routes: RouteTable) {
        func add(_ method: HTTPRequest.Method, _ path: RouterPath, _ handler: @escaping @Sendable (Request, CofferContext) async throws -> Response) {
            routes.on(router, method, path, handler)
        }
        add(.get, "/console/static/console.css") { _, _ in ConsoleAssets.response(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        add(.get, "/console/static/console.js") { _, _ in ConsoleAssets.response(ConsoleAssets.js, type: "text/javascript; charset=utf-8") }
        add(.get, "/console/login", loginPage)
        add(.post, "/console/login", login)
        add(.post, "/console/logout", page(logout))
        add(.get, "/console", page(dashboard))
        add(.get, "/console/operations", page(operations))
        add(.get, "/console/operations.json", page(operationProgress))
        let vaults = ConsoleVaultPages(console: self)
        add(.get, "/console/vaults", page(vaults.list))
        add(.post, "/console/vaults", page(vaults.create))
        add(.get, "/console/vaults/:vault_id", page(vaults.show))
        add(.post, "/console/vaults/:vault_id/checkpoint", page(vaults.checkpoint))
        add(.post, "/console/vaults/:vault_id/policy", page(vaults.bindPolicy))
        add(.post, "/console/vaults/:vault_id/resources", page(vaults.addResource))
        add(.post, "/console/vaults/:vault_id/resources/remove", page(vaults.removeResource))
        add(.post, "/console/vaults/:vault_id/delete", page(vaults.delete))
        add(.get, "/console/backups/:backup_id", page(vaults.backup))
        add(.post, "/console/backups/:backup_id/restore", page(vaults.restore))
        add(.post, "/console/backups/:backup_id/delete", page(vaults.deleteBackup))
        let policies = ConsolePolicyPages(console: self)
        add(.get, "/console/policies", page(policies.list))
        add(.post, "/console/policies", page(policies.create))
        add(.get, "/console/policies/:policy_id", page(policies.show))
        add(.post, "/console/policies/:policy_id/delete", page(policies.delete))
        let more = ConsoleInventoryPages(console: self)
        add(.get, "/console/rds", page(more.rds))
        add(.post, "/console/rds/:instance_id/backup", page(more.backupInstance))
        add(.get, "/console/admin", page(more.admin))
    }

    // MARK: sessions

    /// The session the request's cookie names, if its token is still valid.
    func session(_ request: Request) async throws -> ConsoleSession? {
        guard let token = request.cookies[ConsoleSession.cookie]?.value, token.hasPrefix("cft-"), token.utf8.count < 200,
              let caller = try await services.identity.validate(token: token), caller.role != .agent else { return nil }
        return ConsoleSession(token: token, caller: caller)
    }

    /// Wraps a page: no session → the login page (a form post is refused); a post must carry
    /// the session's anti-forgery value and a caller that may change things; any failure is
    /// shown as a page with its status, never as a stack or a 500 for what the client sent.
    func page(_ handler: @escaping Handler) -> @Sendable (Request, CofferContext) async throws -> Response {
        { request, context in
            var request = request
            guard let session = try await session(request) else {
                if request.method == .get && !request.uri.path.hasSuffix(".json") { return ConsolePage.redirect("/console/login") }
                return failure(ConsoleFailure(.unauthorized, "Your session has ended. Log in again."), session: nil)
            }
            do {
                var form = ConsoleForm()
                if request.method == .post {
                    form = try ConsoleForm(try await request.collectBody(upTo: ConsoleForm.maxBytes))
                    guard let submitted = form["csrf"], IdentityService.formTokenMatches(submitted, token: session.token) else {
                        throw ConsoleFailure(.forbidden, "The form token is missing or wrong: the form was not sent from this session's console. Nothing was changed.")
                    }
                    guard session.caller.canMutate || request.uri.path == "/console/logout" else {
                        throw ConsoleFailure(.forbidden, "Role readonly can look but not change anything.")
                    }
                }
                return try await handler(request, context, session, form)
            } catch {
                return failure(error, session: session, context: context)
            }
        }
    }

    func failure(_ error: Error, session: ConsoleSession?, context: CofferContext? = nil) -> Response {
        let status: HTTPResponse.Status, message: String
        switch error {
        case let e as ConsoleFailure: (status, message) = (e.status, e.message)
        case let e as ServiceError:
            let shown = ErrorFamily.cbr.error(e)
            (status, message) = (shown.status, shown.message)
        case let e as APIError: (status, message) = (e.status, e.message)
        case is NIOTooManyBytesError: (status, message) = (.contentTooLarge, "The form is larger than \(ConsoleForm.maxBytes) bytes.")
        default:
            let id = context?.requestID ?? ""
            logger.error("console request failed: \(String(describing: error))", metadata: ["request_id": .string(id)])
            (status, message) = (.internalServerError, "Internal error; quote request id \(id).")
        }
        var page: [String: Any] = session?.header(title: "Could not do that") ?? ["title": "Could not do that"]
        page["message"] = message
        page["back"] = session == nil ? "/console/login" : "/console"
        return ConsolePage.render("error", page, status: status)
    }

    // MARK: login and logout

    @Sendable func loginPage(_ request: Request, _ context: CofferContext) async throws -> Response {
        if try await session(request) != nil { return ConsolePage.redirect("/console") }
        return loginForm(error: nil, status: .ok)
    }

    func loginForm(error: String?, status: HTTPResponse.Status) -> Response {
        let value = IdentityService.newLoginFormToken()
        var page: [String: Any] = ["title": "Log in", "loginCSRF": value]
        if let error { page["error"] = error }
        var response = ConsolePage.render("login", page, status: status)
        response.setCookie(Cookie(name: ConsoleSession.loginCookie, value: value, maxAge: 3600, path: "/console/login", httpOnly: true, sameSite: .strict))
        return response
    }

    @Sendable func login(_ request: Request, _ context: CofferContext) async throws -> Response {
        var request = request
        let form: ConsoleForm
        do { form = try ConsoleForm(try await request.collectBody(upTo: ConsoleForm.maxBytes)) } catch {
            return failure(error, session: nil, context: context)
        }
        guard let expected = request.cookies[ConsoleSession.loginCookie]?.value, let submitted = form["csrf"],
              IdentityService.loginFormTokenMatches(cookie: expected, submitted: submitted) else {
            return loginForm(error: "The login form expired or was not sent from this console; try again.", status: .forbidden)
        }
        guard let user = form["user"], let password = form.values["password"]?.first, !password.isEmpty else {
            return loginForm(error: "User name and password are required.", status: .badRequest)
        }
        let issued: IssuedToken
        do {
            issued = try await services.identity.issueToken(userName: user, password: password, scope: form["project"].map { .projectName($0) },
                                                           source: context.remoteAddress)
        } catch let e as ServiceError where e.reason == .throttled {
            return loginForm(error: e.description, status: .tooManyRequests)
        } catch is ServiceError {
            return loginForm(error: "The user name, password or project is wrong.", status: .unauthorized)
        }
        guard issued.principal.role != .agent else {
            try? await services.identity.revoke(token: issued.token, by: issued.principal)
            return loginForm(error: "Agent credentials cannot log in to the console.", status: .forbidden)
        }
        let lifetime = max(60, Int(issued.record.expiresAt.timeIntervalSince(issued.record.issuedAt)))
        return ConsolePage.redirect("/console", cookies: [
            Cookie(name: ConsoleSession.cookie, value: issued.token, maxAge: lifetime, path: "/console", secure: ConsoleInput.isHTTPS(request), httpOnly: true, sameSite: .strict),
            Cookie(name: ConsoleSession.loginCookie, value: "", maxAge: 0, path: "/console/login", httpOnly: true, sameSite: .strict),
        ])
    }

    @Sendable func logout(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        try await services.identity.revoke(token: session.token, by: session.caller)
        return ConsolePage.redirect("/console/login", cookies: [
            Cookie(name: ConsoleSession.cookie, value: "", maxAge: 0, path: "/console", httpOnly: true, sameSite: .strict),
        ])
    }

    // MARK: dashboard

    @Sendable func dashboard(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let rows = try await services.dashboard.dashboard(caller: session.caller)
        var page = session.header(title: "Dashboard")
        page["count"] = rows.count
        page["problemCount"] = rows.filter { !$0.problems.isEmpty }.count
        page["vaults"] = rows.map { row -> [String: Any] in
            var v = ConsoleVaultPages.vaultFields(row.vault)
            v["policyName"] = row.policyName  // nil: no key (mustache shows a present nil as "nil")
            v["lastSuccess"] = row.lastSuccessAt.map(ConsoleInput.time) ?? "never"
            v["nextRun"] = row.nextRunAt.map(ConsoleInput.time) ?? "—"
            v["failures"] = row.failuresLastDay
            v["problems"] = row.problems
            v["problem"] = !row.problems.isEmpty
            v["running"] = row.running.map { ["operationType": $0.operationType, "progress": $0.progress] }
            return v
        }
        return ConsolePage.render("dashboard", page)
    }

    // MARK: operations and their live progress

    static let pageSize = 25

    @Sendable func operations(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let query = try Query(request)
        let offset = try query.int("offset", range: 0...1_000_000, default: 0)
        var filter = OperationLogFilter()
        if let vault = query["vault_id"] { filter.vaultID = try ConsoleInput.id(vault, field: "vault_id") }
        let (logs, total) = try await services.backups.operationLogs(project: session.caller.projectID, filter: filter, offset: offset, limit: ConsoleRoutes.pageSize)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var page = session.header(title: "Operations")
        page["operations"] = logs.map { ConsoleRoutes.operationFields($0, now: now) }
        page["pager"] = ConsoleInput.pager(base: "/console/operations", query: filter.vaultID.map { ["vault_id": $0] } ?? [:], offset: offset,
                                           count: logs.count, total: total, pageSize: ConsoleRoutes.pageSize)
        return ConsolePage.render("operations", page)
    }

    static func operationFields(_ log: OperationLogRecord, now: Int64) -> [String: Any] {
        var o: [String: Any] = ["id": log.id, "operationType": log.operationType, "vaultName": log.vaultName, "resourceName": log.resourceName,
                                "status": log.status.rawValue, "progress": log.progress, "started": log.startedAt.map(ConsoleInput.time) ?? (log.status.hasEnded ? "—" : "waiting"),
                                "eta": eta(log, now: now), "live": log.status == .running || log.status == .waiting]
        if let message = log.errorMsg, !message.isEmpty { o["errorMessage"] = message }
        return o
    }

    /// Time left at the rate so far (blank until there is a rate to go by).
    static func eta(_ log: OperationLogRecord, now: Int64) -> String {
        guard log.status == .running, let started = log.startedAt, log.progress > 0, log.progress < 100, now > started else {
            return log.status == .success ? "done" : "—"
        }
        let left = Double(now - started) / Double(log.progress) * Double(100 - log.progress) / 1000
        return left < 60 ? "\(Int(left.rounded())) s" : left < 3600 ? "\(Int((left / 60).rounded())) min" : String(format: "%.1f h", left / 3600)
    }

    /// What the page's script polls: the listed operations' status, progress and ETA.
    @Sendable func operationProgress(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let ids = (try Query(request)["ids"] ?? "").split(separator: ",").prefix(ConsoleRoutes.pageSize).map(String.init)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var out: [[String: Any]] = []
        for id in ids {
            guard let checked = try? ConsoleInput.id(id, field: "ids"),
                  let log = try? await services.backups.operationLog(project: session.caller.projectID, id: checked) else { continue }
            out.append(["id": log.id, "status": log.status.rawValue, "progress": log.progress, "eta": ConsoleRoutes.eta(log, now: now)])
        }
        return ConsolePage.json(["operations": out])
    }
}

/// Small shared pieces of the console's pages.
enum ConsoleInput {
    static func time(_ ms: Int64) -> String {
        let s = UTCTimeFormat.cbrString(epochMilliseconds: ms)
        return String(s.prefix(10)) + " " + String(s.dropFirst(11).prefix(5)) + " UTC"
    }

    static func time(_ date: Date) -> String { time(Int64(date.timeIntervalSince1970 * 1000)) }

    /// An id from a path or a field: what the catalog's ids look like, or refused naming the field.
    static func id(_ text: String, field: String) throws -> String {
        guard !text.isEmpty, text.utf8.count <= 64, text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || $0 == 45 || $0 == 95 }) else {
            throw ServiceError.validation("\(field) is not a valid id")
        }
        return text
    }

    static func parameter(_ context: CofferContext, _ name: String) throws -> String {
        try id(try context.parameters.require(name), field: name)
    }

    /// Behind a TLS-terminating proxy the session cookie is also marked Secure.
    static func isHTTPS(_ request: Request) -> Bool {
        request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    /// Newer/older links for a listing.
    static func pager(base: String, query: [String: String], offset: Int, count: Int, total: Int, pageSize: Int) -> [String: Any]? {
        guard total > pageSize || offset > 0 else { return nil }
        func link(_ o: Int) -> String {
            var items = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
            items.append(URLQueryItem(name: "offset", value: String(o)))
            var c = URLComponents()
            c.queryItems = items
            return base + "?" + (c.percentEncodedQuery ?? "")
        }
        var p: [String: Any] = ["range": count == 0 ? "none of \(total)" : "\(offset + 1)–\(offset + count) of \(total)"]
        if offset > 0 { p["previous"] = link(max(0, offset - pageSize)) }
        if offset + count < total { p["next"] = link(offset + pageSize) }
        return p
    }
}
