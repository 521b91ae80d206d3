import ArgumentParser
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Run the benchmark suite.")
    @Flag(help: "Print JSON.") var json = false
    func run() throws {}
}
