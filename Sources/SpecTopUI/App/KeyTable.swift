/// The keys of the monitor. The same table dispatches key presses and
/// generates the help overlay and footer, so they cannot drift apart.
public struct KeyTable: Sendable {
    public let bindings: [KeyBinding]
    /// Which monitor the table is for.
    public let mode: MonitorMode
    /// True for the replay variant.
    public var isReplay: Bool { mode == .replay }

    public init(bindings: [KeyBinding], mode: MonitorMode) {
        self.bindings = bindings
        self.mode = mode
    }

    /// The table for live training, replay or watch.
    public static func forMode(_ mode: MonitorMode) -> KeyTable {
        switch mode {
        case .live: return .live
        case .replay: return .replay
        case .watch: return .watch
        }
    }

    public static func forMode(replay: Bool) -> KeyTable { replay ? .replay : .live }

    /// The table for `mode` in `view`: the compare view adds its cursor,
    /// hide, axis and zoom keys, and there ←/→ move the cursor (in replay
    /// they keep scrubbing; `<`/`>` move the cursor everywhere).
    public static func forMode(_ mode: MonitorMode, view: ViewKind) -> KeyTable {
        let base = forMode(mode)
        guard view == .compare else { return base }
        var extra = [
            KeyBinding([.character("<")], .cursorBackward, "value cursor left", footer: "cursor"),
            KeyBinding([.character(">")], .cursorForward, "value cursor right"),
            KeyBinding([.character("h")], .toggleSeriesHidden, "hide/show the selected model"),
            KeyBinding([.character("x")], .cycleXAxis, "x axis: step/wall/FLOPs", footer: "x axis"),
            KeyBinding([.character("z")], .cycleZoom, "zoom: latest 1/2, 1/4, 1/10"),
            KeyBinding([.character("X")], .toggleXLog, "log/linear x axis"),
            KeyBinding([.character("u")], .cycleUserScalar, "chart your own scalars"),
            KeyBinding([.character("W")], .toggleWindowMeans, "log-schedule windows: means"),
        ]
        if mode != .replay {
            extra[0].keys.insert(.left, at: 0)
            extra[1].keys.insert(.right, at: 0)
        }
        let taken = Set(extra.flatMap(\.keys))
        let rest = base.bindings.compactMap { binding -> KeyBinding? in
            var binding = binding
            binding.keys.removeAll { taken.contains($0) }
            return binding.keys.isEmpty ? nil : binding
        }
        // quit first, then the view's own keys, then the rest.
        return KeyTable(bindings: Array(rest.prefix(1)) + extra + rest.dropFirst(), mode: mode)
    }

    /// The action bound to `key`, nil if none.
    public func action(for key: Key) -> MonitorAction? {
        bindings.first { $0.keys.contains(key) }?.action
    }

    /// Keys shared by both modes, after the mode-specific ones.
    private static let common: [KeyBinding] = [
        KeyBinding([.tab], .selectNext, "select next model"),
        KeyBinding([.backTab], .selectPrevious, "select previous model"),
        KeyBinding([.enter], .toggleSpectrum, "spectrum of selected model", footer: "spectrum"),
        KeyBinding([.escape], .back, "back (close help/spectrum)"),
        KeyBinding([.character("v")], .cycleView, "grid/compare/scale/claims", footer: "view"),
        KeyBinding([.character("m")], .cycleFocusedMetric, "focus next metric (for y)"),
        KeyBinding([.character("y")], .toggleYScale, "toggle log/linear y", footer: "log/lin"),
        KeyBinding([.character("n")], .toggleNormalised, "raw/normalised chi factors"),
        KeyBinding([.character("s")], .cycleSmoothing, "line smoothing (EMA)", footer: "smooth"),
        KeyBinding([.character("f")], .toggleDisplayFreeze, "freeze/unfreeze display"),
        KeyBinding([.character("t")], .cycleTheme, "next colour theme", footer: "theme"),
        KeyBinding([.character("w")], .saveScreen, "save screen (txt, svg)"),
        KeyBinding([.character("/")], .editModelFilter, "filter models by name"),
        KeyBinding([.character("H")], .hideMatching, "hide the models / matches"),
        KeyBinding([.character("a")], .showAll, "show every model again"),
        KeyBinding([.character("?")], .toggleHelp, "this help", footer: "help"),
    ]

    /// Live training.
    public static let live = KeyTable(bindings: [
        KeyBinding([.character("q"), .controlC], .quit, "quit", footer: "quit"),
        KeyBinding([.character(" ")], .togglePause, "pause / resume training", footer: "pause"),
        KeyBinding([.character(".")], .singleStep, "one step while paused"),
        KeyBinding([.character("+"), .character("=")], .faster, "train faster"),
        KeyBinding([.character("-")], .slower, "train slower"),
        KeyBinding([.left], .selectPreviousSize, "select smaller size"),
        KeyBinding([.right], .selectNextSize, "select larger size"),
        KeyBinding([.up], .selectUp, "select run above"),
        KeyBinding([.down], .selectDown, "select run below"),
        KeyBinding([.character("F")], .freezeFeatures, "freeze selected features"),
        KeyBinding([.character("e")], .export, "export a state dump", footer: "export"),
    ] + common, mode: .live)

    /// Playing back a recording: arrows scrub, so selection uses Up/Down/Tab.
    public static let replay = KeyTable(bindings: [
        KeyBinding([.character("q"), .controlC], .quit, "quit", footer: "quit"),
        KeyBinding([.character(" ")], .togglePause, "play / pause", footer: "play"),
        KeyBinding([.left], .scrubBackward, "back 1% of the run", footer: "scrub"),
        KeyBinding([.right], .scrubForward, "forward 1% of the run"),
        KeyBinding([.pageUp], .scrubBackwardFar, "back 10% of the run"),
        KeyBinding([.pageDown], .scrubForwardFar, "forward 10% of the run"),
        KeyBinding([.home, .character("g")], .jumpToStart, "jump to the start"),
        KeyBinding([.end, .character("G")], .jumpToEnd, "jump to the end"),
        KeyBinding([.character(".")], .singleStep, "one step while paused"),
        KeyBinding([.character("+"), .character("=")], .faster, "play faster"),
        KeyBinding([.character("-")], .slower, "play slower"),
        KeyBinding([.up], .selectPrevious, "select previous model"),
        KeyBinding([.down], .selectNext, "select next model"),
    ] + common, mode: .replay)

    /// Watching records other processes write: nothing to control, only to look at.
    public static let watch = KeyTable(bindings: [
        KeyBinding([.character("q"), .controlC], .quit, "quit (the writers go on)", footer: "quit"),
        KeyBinding([.character("r")], .cycleRunFilter, "each run in turn, then all", footer: "run"),
        KeyBinding([.left], .selectPreviousSize, "select prev. size or run"),
        KeyBinding([.right], .selectNextSize, "select next size or run"),
        KeyBinding([.up], .selectUp, "select model above"),
        KeyBinding([.down], .selectDown, "select model below"),
    ] + common, mode: .watch)
}
