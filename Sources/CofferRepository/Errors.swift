import Foundation

/// The repository module's one error type: a code plus a message that names
/// the object involved.
public struct RepositoryError: Error, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case notARepository, alreadyExists, wrongKey, damaged, missing, unsupportedVersion, invalidArgument, concurrentPrune
    }
    public let code: Code
    public let description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
