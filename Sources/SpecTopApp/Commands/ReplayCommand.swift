import ArgumentParser
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", abstract: "Open the monitor on a recorded run.")
    @Argument(help: "A record written by `spectop run --out`.") var file: String
    func run() throws {}
}
