import CofferService
import HTTPTypes
import Testing
@testable import CofferHTTP

/// The service raises reasons; each family shows them in its own codes.
@Suite struct ErrorFamilies {
    @Test func everyReasonHasACodeInEveryFamily() {
        for reason in Reason.allCases {
            for family in [ErrorFamily.cbr, .csbs, .rds] {
                let code = family.show(reason).code
                #expect(!code.isEmpty, "\(family) \(reason)")
                #expect(["BackupService.", "APIGW.", "CSBS.", "DBS.", "Coffer."].contains { code.hasPrefix($0) }, "\(family) \(reason): \(code)")
            }
        }
    }

    @Test func oneReasonThreeFamilies() {
        let busy = ServiceError(.backupNotDeletable, "backup b is protecting")
        #expect(ErrorFamily.cbr.error(busy).code == "BackupService.6201" && ErrorFamily.cbr.error(busy).status == .badRequest)
        #expect(ErrorFamily.csbs.error(busy).code == "CSBS.2003" && ErrorFamily.csbs.error(busy).status == .badRequest)
        #expect(ErrorFamily.rds.error(busy).code == "DBS.201205" && ErrorFamily.rds.error(busy).status == .conflict)
        let missing = ServiceError(.backupNotFound, "backup b does not exist")
        #expect([ErrorFamily.cbr, .csbs, .rds].map { $0.error(missing).code } == ["BackupService.6200", "CSBS.3001", "DBS.201010"])
        #expect(ErrorFamily.rds.error(missing).message == "backup b does not exist")
        let login = ServiceError(.notAuthenticated, "The request you have made requires authentication.")
        #expect([ErrorFamily.cbr, .csbs, .rds].allSatisfy { $0.error(login).code == "APIGW.0301" && $0.error(login).status == .unauthorized })
    }

    @Test func storedReasonsAreShownAndOldCodesPassThrough() {
        #expect(ErrorFamily.cbr.stored(Reason.vaultFull.rawValue) == "BackupService.6114")
        #expect(ErrorFamily.cbr.stored(Reason.databaseFailure.rawValue) == "DBS.200001")
        #expect(ErrorFamily.cbr.stored("BackupService.6215") == "BackupService.6215")
        #expect(ErrorFamily.cbr.stored("") == "")
    }

    @Test func edgeValidationTakesTheFamilysCode() {
        let e = APIError.validation("name is required")
        #expect((ErrorFamily.csbs.translate(e) as? APIError)?.code == "CSBS.1000")
        #expect((ErrorFamily.rds.translate(e) as? APIError)?.code == "DBS.200001")
        #expect((ErrorFamily.cbr.translate(e) as? APIError)?.code == "BackupService.9900")
    }
}
