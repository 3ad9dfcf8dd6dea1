import ArgumentParser
@testable import CofferCLI
import Testing

@Suite struct CommandNames {
    /// Without an explicit name ArgumentParser derives one with `String(describing:)` of the
    /// command's type, which scans every protocol conformance in the (static) binary: 28 ms of
    /// every `coffer` invocation's start-up for 31 commands (docs/benchmarks.md, session 18).
    @Test func everyCommandNamesItself() {
        var missing: [String] = []
        var seen: Set<ObjectIdentifier> = []
        func visit(_ command: ParsableCommand.Type, path: String) {
            guard seen.insert(ObjectIdentifier(command)).inserted else { return }
            let configuration = command.configuration
            let name = configuration.commandName ?? command._commandName
            if configuration.commandName == nil && command != CofferCommand.self { missing.append("\(path) \(name) (\(command))") }
            for sub in configuration.subcommands { visit(sub, path: path + " " + name) }
        }
        visit(CofferCommand.self, path: "")
        #expect(missing.isEmpty, "commands without commandName: \(missing.joined(separator: "; "))")
    }
}
