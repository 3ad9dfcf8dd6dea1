import ArgumentParser
import CofferCLI

/// The executable's root: `@main` on an AsyncParsableCommand is what makes
/// ArgumentParser take its asynchronous entry point.
@main
struct Coffer: AsyncParsableCommand {
    static let configuration = CofferCommand.configuration

    static func main() async {
        CofferCommand.prepareProcess()
        await main(nil)
    }
}
