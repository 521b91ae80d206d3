/// How the monitor runs.
public struct MonitorOptions: Sendable {
    /// Frames drawn per second (keys are handled between frames at once).
    public var framesPerSecond: Double
    /// Live engine, replay (arrows scrub, a replay badge) or watch (records other processes write).
    public var mode: MonitorMode
    public var replay: Bool { mode == .replay }
    /// Clicks select, double clicks open the spectrum, the wheel moves the compare cursor (off with `--no-mouse`).
    public var mouse = true
    /// ASCII glyphs and labels even on a UTF-8 terminal (`--ascii`).
    public var forceASCII: Bool
    /// The theme to start with; `t` cycles on through the built-in ones.
    /// Load it with `ThemeLoader` and put any error into `MonitorInfo.status`.
    public var theme: Theme
    /// New data is drawn at most this often (seconds). Every new snapshot
    /// shifts the resampled sparklines under nearly every cell, so drawing
    /// data at the full frame rate would send several times more bytes to
    /// the terminal (the SSH budget) for motion the eye cannot follow; keys
    /// and resizes still redraw at once, within one frame.
    public var dataInterval: Double

    public init(framesPerSecond: Double = 10, replay: Bool = false, mode: MonitorMode? = nil, forceASCII: Bool = false,
                theme: Theme = .default, dataInterval: Double = 0.25) {
        self.framesPerSecond = framesPerSecond
        self.dataInterval = dataInterval
        self.mode = mode ?? (replay ? .replay : .live)
        self.forceASCII = forceASCII
        self.theme = theme
    }
}
