/// How the monitor runs.
public struct MonitorOptions: Sendable {
    /// Frames drawn per second (keys are handled between frames at once).
    public var framesPerSecond: Double
    /// Replay mode: the replay key table (arrows scrub) and a replay badge.
    public var replay: Bool
    /// ASCII glyphs and labels even on a UTF-8 terminal (`--ascii`).
    public var forceASCII: Bool
    /// The theme to start with; `t` cycles on through the built-in ones.
    /// Load it with `ThemeLoader` and put any error into `MonitorInfo.status`.
    public var theme: Theme

    public init(framesPerSecond: Double = 10, replay: Bool = false, forceASCII: Bool = false, theme: Theme = .default) {
        self.framesPerSecond = framesPerSecond
        self.replay = replay
        self.forceASCII = forceASCII
        self.theme = theme
    }
}
