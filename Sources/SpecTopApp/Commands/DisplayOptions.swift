import ArgumentParser

/// The monitor's display flags, shared by `run` and `replay`.
struct DisplayOptions: ParsableArguments {
    @Option(help: "Monitor frame rate (keys and resizes; new data is drawn at most 4 times a second).") var fps: Int = 10
    @Option(help: "Colour theme (default, light, solarized, mono, or a theme file).") var theme: String?
    @Flag(help: "ASCII glyphs only (automatic when the locale is not UTF-8).") var ascii = false

    func validate() throws {
        if fps < 1 || fps > 60 { throw ValidationError("--fps must be between 1 and 60, got \(fps)") }
    }
}
