/// Everything the monitor's screen depends on besides the data: which view,
/// which model, which scales. A value, so a frame can be rendered from any
/// state in tests.
public struct MonitorState: Sendable, Equatable {
    public var view: ViewKind = .grid
    /// Where Enter/Esc returns to from the spectrum view.
    public var returnView: ViewKind = .grid
    /// The selected model's id; nil selects the first model shown.
    public var selectedModelID: String?
    public var showHelp = false
    /// The help's page: 0 the keys, 1 the glossary (`?` again turns the page).
    public var helpPage = 0
    /// The display shows a fixed snapshot while training goes on (`f`).
    public var displayFrozen = false
    /// The metric the `y` key rescales.
    public var focusedMetric: ChartMetric = .loss
    /// Log scale by default for every metric (METHOD.md display conventions).
    public var yScales: [ChartMetric: AxisScale] = [.loss: .log, .chiNet: .log, .chiPos: .log]
    /// Live engine, replay or watch: picks the key table and the header badge.
    public var mode: MonitorMode = .live
    /// Show the normalised factors χ_net/n and n·χ_loss instead of the raw ones (`n`).
    public var normalised = false
    /// Show only the models whose name matches (`/`): a glob with `*` and `?`,
    /// or text a name contains; case-insensitive. Nil: every model.
    public var modelFilter: String?
    /// Models whose name matches any of these (same rules as `modelFilter`)
    /// are hidden everywhere (`H` moves the `/` pattern here; `a` empties it).
    public var hiddenPatterns: [String] = []
    /// The filter being typed after `/` (nil when not typing).
    public var editingFilter: String?
    /// Compare view: the user scalar charted under the metrics (`u`), nil: none.
    public var userScalar: String?
    /// Compare view: a log x axis (`X`).
    public var xLog = false
    /// Compare view: log-schedule windows as their means with the spread (`W`).
    public var windowMeans = false
    /// Watch: show only this run's models (`r` cycles through the runs); nil shows all.
    public var runFilter: String?
    /// Compare view: the value cursor as a fraction of the visible x range
    /// (0 = left edge, 1 = latest); nil when it is off.
    public var cursor: Double?
    /// Compare view: models left out of the charts (`h`).
    public var hiddenModels: Set<String> = []
    /// Compare view: the x axis (`x`) and how much of it is shown (`z`).
    public var xAxis: CompareAxis = .step
    public var zoom: CompareZoom = .all
    /// The smoothing of sparklines and compare charts (`s`); values stay raw.
    public var smoothing: Smoothing = .off
    /// Nothing is drawn in colour (NO_COLOR, the mono theme, a terminal
    /// without colours): charts tell series apart by glyph, not by hue.
    public var monochrome = false
    /// Index into the monitor's theme list.
    public var themeIndex = 0

    public init(view: ViewKind = .grid, selectedModelID: String? = nil, mode: MonitorMode = .live) {
        self.view = view
        self.selectedModelID = selectedModelID
        self.mode = mode
    }

    public init(view: ViewKind = .grid, selectedModelID: String? = nil, replay: Bool) {
        self.init(view: view, selectedModelID: selectedModelID, mode: replay ? .replay : .live)
    }

    /// Replay mode: the replay key table and a replay badge in the header.
    public var replay: Bool { mode == .replay }

    /// The y scale of `metric`.
    public func yScale(_ metric: ChartMetric) -> AxisScale {
        metric.isSigned ? .linear : yScales[metric] ?? .log
    }
}
