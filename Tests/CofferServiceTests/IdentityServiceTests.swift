import CofferCatalog
import CofferCrypto
import CofferSystem
import Foundation
import Logging
import Testing
@testable import CofferService

/// An identity service over a fresh in-memory catalog, closed afterwards
/// (SQLiteNIO requires connections to be closed explicitly).
func withIdentity(clock: ManualClock = ManualClock(), _ body: (IdentityService) async throws -> Void) async throws {
    let catalog = try await SQLCatalog.open(url: "sqlite::memory:", logger: Logger(label: "test"))
    let identity = IdentityService(catalog: catalog, secrets: SecretBox(keyBytes: randomBytes(32))!, clock: clock,
                                   tokenLifetime: 3600, passwordCost: 1 << 4)
    do { try await body(identity) } catch {
        await catalog.close()
        throw error
    }
    await catalog.close()
}

@Suite struct IdentityServiceTests {
    @Test func bootstrapCreatesAdminOnce() async throws {
        try await withIdentity { identity in
            let admin = try #require(try await identity.bootstrapIfEmpty())
            #expect(admin.project_name == "admin" && admin.user_name == "admin")
            #expect(admin.project_id.count == 32 && admin.access_key.count == 20 && admin.secret_key.count == 40)
            #expect(try await identity.bootstrapIfEmpty() == nil)
        }
    }

    @Test func passwordTokensExpireAndDieWithTheirProject() async throws {
        let clock = ManualClock()
        try await withIdentity(clock: clock) { identity in
            _ = try await identity.bootstrapIfEmpty()
            let p = try await identity.createProject(name: "team-a")
            let issued = try await identity.issueToken(userName: p.user_name, password: p.password, scope: .projectName("team-a"))
            #expect(issued.principal.projectID == p.project_id && issued.principal.role == .member)
            #expect(try await identity.validate(token: issued.token)?.projectID == p.project_id)
            await #expect(throws: ServiceError.self) { try await identity.issueToken(userName: p.user_name, password: "wrong", scope: nil) }
            await #expect(throws: ServiceError.self) { try await identity.issueToken(userName: p.user_name, password: p.password, scope: .projectName("admin")) }
            clock.advance(by: 3601)
            #expect(try await identity.validate(token: issued.token) == nil)
            let again = try await identity.issueToken(userName: p.user_name, password: p.password, scope: nil)
            try await identity.deleteProject(id: p.project_id)
            #expect(try await identity.validate(token: again.token) == nil)
        }
    }

    @Test func accessKeySecretsAreSealedAndSignaturesVerify() async throws {
        let clock = ManualClock(AKSKSignature.parseSdkDate("20250101T120000Z")!)
        try await withIdentity(clock: clock) { identity in
            let p = try await identity.createProject(name: "keys")
            let stored = try #require(try await identity.store.accessKey(p.access_key))
            #expect(!stored.secretSealed.contains(p.secret_key))
            let headers: [String: String] = ["host": "127.0.0.1:8088", "x-sdk-date": "20250101T120000Z", "content-type": "application/json"]
            var request = SignableRequest(method: "GET", rawPath: "/v3/\(p.project_id)/vaults", rawQuery: "", body: Data()) { headers[$0] }
            let auth = AKSKSignature.sign(request, accessKey: p.access_key, secret: p.secret_key, signedHeaders: ["content-type", "host", "x-sdk-date"])
            let signedHeaders = headers.merging(["authorization": auth]) { a, _ in a }
            request.header = { signedHeaders[$0] }
            let ok = try await identity.authenticate(signed: request)
            #expect((try? ok.get())?.projectID == p.project_id)
            try await identity.deleteAccessKey(project: p.project_id, accessKey: p.access_key)
            let gone = try await identity.authenticate(signed: request)
            if case let .failure(e) = gone { #expect(e.description.contains("not exist")) } else { Issue.record("deleted key still works") }
        }
    }

    @Test func namesAreValidatedAndUnique() async throws {
        try await withIdentity { identity in
            _ = try await identity.createProject(name: "dup")
            await #expect(throws: ServiceError.self) { try await identity.createProject(name: "dup") }
            await #expect(throws: ServiceError.self) { try await identity.createProject(name: "") }
            await #expect(throws: ServiceError.self) { try await identity.createProject(name: "bad name/with slash") }
            #expect(PasswordHash.verify("x", against: "garbage") == false)
        }
    }
}
