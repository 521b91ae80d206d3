import ArgumentParser
import SpecTopUI

/// The monitor's display flags, shared by `run` and `replay`.
package struct DisplayOptions: ParsableArguments {
    package init() {}

    @Option(help: "Monitor frame rate (keys and resizes; new data is drawn at most 4 times a second).") package var fps: Int = 10
    @Option(help: "Colour theme (default, light, solarized, mono, or a theme file).") package var theme: String?
    @Flag(help: "ASCII glyphs only (automatic when the locale is not UTF-8).") package var ascii = false
    @Flag(help: "Leave the mouse to the terminal (no click to select, no wheel), e.g. to select text over SSH.")
    package var noMouse = false

    /// The monitor's options for `mode` with these flags.
    package func monitorOptions(mode: MonitorMode, theme: Theme) -> MonitorOptions {
        var options = MonitorOptions(framesPerSecond: Double(fps), mode: mode, forceASCII: ascii, theme: theme)
        options.mouse = !noMouse
        return options
    }

    package func validate() throws {
        if fps < 1 || fps > 60 { throw ValidationError("--fps must be between 1 and 60, got \(fps)") }
    }
}
