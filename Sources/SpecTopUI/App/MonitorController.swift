import Foundation
import SpecTopRecord

/// The monitor's state machine: turns key presses into UI state changes and
/// source commands, and pulls snapshots. It never touches the terminal, so
/// tests drive it with keys and a fake source.
public final class MonitorController {
    public let source: any MonitorSource
    public let info: MonitorInfo
    /// The keys of the current mode and view (the compare view adds its own).
    public var keyTable: KeyTable { .forMode(state.mode, view: state.view) }
    public private(set) var state: MonitorState
    /// The snapshot on screen (held still while the display is frozen).
    public private(set) var snapshot: EngineSnapshot
    /// Themes `t` cycles through; the first is the one the monitor started with.
    public let themes: [Theme]
    /// Set once the loop should end, with the reason.
    public private(set) var exitReason: MonitorExitReason?
    /// Messages for the footer, oldest first: each key's confirmation (the new
    /// theme's name, where the screen was saved) and, live, each new message of
    /// the source (a dump written). Each is shown for at least
    /// `messageSeconds` before the next replaces it, so none goes unseen.
    private var messages: [(text: String, shownSince: Date?)] = []
    /// The source's last message (live), standing in the footer once the queue is empty.
    private var lastSourceMessage: String?
    /// The clock the queue runs on (tests set it).
    public var clock: () -> Date = Date.init
    public static let messageSeconds = 2.0
    /// How long the last message stays when nothing follows it.
    public static let lastMessageSeconds = 10.0

    /// The newest confirmation a key produced (for tests), nil when none is queued.
    public var localStatus: String? { messages.last?.text }
    /// The size of the last frame, which `w` saves again (re-rendered, so no frame is copied per frame).
    private var lastSize = (width: 120, height: 40)
    /// Where `w` writes the screen (the working directory).
    public var screenDirectory = FileManager.default.currentDirectoryPath
    /// The glyphs of the last frame, for messages that name a metric (`χ_pos`, or `chi_pos` in ASCII).
    private var glyphs = GlyphSet.unicode

    public init(source: any MonitorSource, info: MonitorInfo, mode: MonitorMode = .live, theme: Theme = .default) {
        self.source = source
        self.info = info
        self.state = MonitorState(mode: mode)
        self.themes = [theme] + Theme.builtinNames.filter { $0 != theme.name }.compactMap(Theme.builtin(named:))
        self.snapshot = source.snapshot()
    }

    public convenience init(source: any MonitorSource, info: MonitorInfo, replay: Bool, theme: Theme = .default) {
        self.init(source: source, info: info, mode: replay ? .replay : .live, theme: theme)
    }

    /// The theme in use.
    public var theme: Theme { themes[state.themeIndex % themes.count] }

    /// Queues a confirmation for the footer.
    private func post(_ text: String) {
        // The same text twice in a row (a key pressed again) is one message, shown afresh.
        if messages.last?.text == text { messages.removeLast() }
        messages.append((text, nil))
    }

    /// The message for the footer now: the queue's head once it is due (each
    /// shown at least `messageSeconds`, the last up to `lastMessageSeconds`),
    /// else what stands — replay's position, watch's notices, a live source's
    /// last message — else the info's.
    public var status: String? {
        if let typed = state.editingFilter { return "show models matching: \(typed)_   (Enter applies, empty shows all; Esc cancels; * and ? match any text and one character)" }
        let now = clock()
        if state.mode == .live, let message = source.statusMessage(), message != lastSourceMessage {
            lastSourceMessage = message
            post(message)
        }
        while let head = messages.first, let since = head.shownSince,
              now.timeIntervalSince(since) >= (messages.count > 1 ? MonitorController.messageSeconds : MonitorController.lastMessageSeconds) {
            messages.removeFirst()
        }
        if !messages.isEmpty {
            if messages[0].shownSince == nil { messages[0].shownSince = now }
            return messages[0].text
        }
        return (state.mode == .live ? lastSourceMessage : source.statusMessage()) ?? info.status
    }

    /// Tells the views whether the terminal shows colour (the monitor loop calls it after each theme change).
    public func setMonochrome(_ monochrome: Bool) {
        state.monochrome = monochrome
    }

    /// Pulls the latest snapshot unless the display is frozen.
    public func refresh() {
        guard !state.displayFrozen else { return }
        snapshot = filtered(source.snapshot())
    }

    /// A key while the filter is typed: text, Backspace, Enter applies (empty:
    /// every model), Esc leaves the filter as it was.
    private func editFilter(_ typed: String, _ key: Key) {
        switch key {
        case .character(let c): state.editingFilter = typed + String(c)
        case .backspace: state.editingFilter = String(typed.dropLast())
        case .enter:
            state.editingFilter = nil
            state.modelFilter = typed.isEmpty ? nil : typed
            snapshot = filtered(source.snapshot())
            let shown = snapshot.models.count
            post(state.modelFilter.map { "showing \(shown) model\(shown == 1 ? "" : "s") matching \($0) (/ then Enter on nothing shows all)" } ?? "showing every model")
        case .escape, .controlC: state.editingFilter = nil
        default: break
        }
    }

    /// Whether `name` matches the model filter: a glob (`*`, `?`) matched
    /// against the whole name, else text the name contains; case-insensitive.
    public static func matches(_ name: String, filter: String) -> Bool {
        let name = Array(name.lowercased()), pattern = Array(filter.lowercased())
        guard pattern.contains("*") || pattern.contains("?") else { return name.count >= pattern.count && String(name).contains(String(pattern)) }
        // Glob by dynamic programming: matched[i][j] — pattern[..<i] matches name[..<j].
        var matched = Array(repeating: Array(repeating: false, count: name.count + 1), count: pattern.count + 1)
        matched[0][0] = true
        for i in 1...pattern.count {
            if pattern[i - 1] == "*" { matched[i][0] = matched[i - 1][0] }
            for j in Swift.stride(from: 1, through: name.count, by: 1) {
                switch pattern[i - 1] {
                case "*": matched[i][j] = matched[i - 1][j] || matched[i][j - 1]
                case "?": matched[i][j] = matched[i - 1][j - 1]
                default: matched[i][j] = matched[i - 1][j - 1] && pattern[i - 1] == name[j - 1]
                }
            }
        }
        return matched[pattern.count][name.count]
    }

    /// The snapshot with only the models of the run filter (watch) and the name
    /// filter (`/`), less those a hidden pattern (`H`) matches.
    private func filtered(_ full: EngineSnapshot) -> EngineSnapshot {
        var full = full
        if let filter = state.modelFilter { full.models = full.models.filter { MonitorController.matches($0.id, filter: filter) } }
        if !state.hiddenPatterns.isEmpty {
            full.models = full.models.filter { model in !state.hiddenPatterns.contains { MonitorController.matches(model.id, filter: $0) } }
        }
        guard let run = state.runFilter else { return full }
        guard full.runs.contains(where: { $0.name == run }) else {
            state.runFilter = nil
            return full
        }
        var only = full
        only.models = full.models.filter { $0.run == run }
        return only
    }

    /// `H`: the `/` pattern turns from "show only these" into "hide these":
    /// the pattern joins the hidden ones and every other model comes back.
    private func hideMatching() {
        guard let pattern = state.modelFilter else {
            post("type / and a pattern first: H then hides the models it matches")
            return
        }
        let all = source.snapshot().models
        let matching = all.filter { MonitorController.matches($0.id, filter: pattern) }.count
        state.modelFilter = nil
        if !state.hiddenPatterns.contains(pattern) { state.hiddenPatterns.append(pattern) }
        snapshot = filtered(source.snapshot())
        post("hid \(matching) model\(matching == 1 ? "" : "s") matching \(pattern), \(snapshot.models.count) shown (a shows every model)")
    }

    /// Watch: all runs → the first run only → the next … → all runs again.
    private func cycleRunFilter() {
        let names = source.snapshot().runs.map(\.name)
        guard !names.isEmpty else {
            post("only one run is shown")
            return
        }
        if let current = state.runFilter, let index = names.firstIndex(of: current), index + 1 < names.count {
            state.runFilter = names[index + 1]
        } else if state.runFilter == nil {
            state.runFilter = names[0]
        } else {
            state.runFilter = nil
        }
        post(state.runFilter.map { "showing run \($0) only (r: next, a: every model)" } ?? "showing all runs")
        snapshot = filtered(source.snapshot())
    }

    /// Handles one key press; returns false when the key does nothing (no
    /// redraw needed). A key of the live monitor pressed in replay or watch
    /// is not bound there but gets a message saying so.
    @discardableResult
    public func handle(_ key: Key) -> Bool {
        if let typed = state.editingFilter {
            editFilter(typed, key)
            return true
        }
        guard let action = keyTable.action(for: key) else {
            // A key of the live monitor pressed in replay or watch: say why nothing happens.
            if keyTable.mode != .live, let binding = KeyTable.live.bindings.first(where: { $0.keys.contains(key) }) {
                post("\(key.label) (\(binding.summary)) works in a live run only")
                return true
            }
            return false
        }
        perform(action)
        return true
    }

    /// Handles a mouse event: a click on a panel (grid) or legend entry
    /// (compare) selects that model, a double click opens its spectrum, the
    /// wheel moves the compare view's value cursor. False when it does nothing.
    @discardableResult
    public func handle(_ event: MouseEvent) -> Bool {
        switch event.kind {
        case .wheelUp, .wheelDown:
            guard state.view == .compare else { return false }
            perform(event.kind == .wheelUp ? .cursorForward : .cursorBackward)
            return true
        case .click, .doubleClick:
            guard let index = modelIndex(at: event) else { return false }
            state.selectedModelID = snapshot.models[index].id
            if event.kind == .doubleClick && state.view != .spectrum {
                state.returnView = state.view
                state.view = .spectrum
                state.showHelp = false
            }
            return true
        }
    }

    /// The model whose panel (grid) or legend row (compare) is at the event's cell.
    private func modelIndex(at event: MouseEvent) -> Int? {
        let body = Rect(x: 0, y: 1, width: lastSize.width, height: max(0, lastSize.height - 2))
        switch state.view {
        case .grid:
            let selected = ModelOrder(snapshot.models).resolve(state.selectedModelID, in: snapshot.models)
            guard let layout = GridLayout.display(models: snapshot.models, area: body, selected: selected) else { return nil }
            return layout.slots.first { $0.rect.contains(x: event.x, y: event.y) }?.modelIndex
        case .compare:
            // The legend column at the right (wide terminals): one row per model under its title.
            let order = ModelOrder(snapshot.models).flat
            let row = event.y - body.y - 1
            guard body.width >= 100, event.x >= body.maxX - 40, order.indices.contains(row) else { return nil }
            return order[row]
        case .scaling, .spectrum, .claims:
            return nil
        }
    }

    /// Ends the loop for `reason` and tells the source (every way out sends `.quit` once).
    public func finish(_ reason: MonitorExitReason) {
        guard exitReason == nil else { return }
        exitReason = reason
        source.perform(.quit)
    }

    /// Carries out one action.
    public func perform(_ action: MonitorAction) {
        switch action {
        case .quit: finish(.quitKey)
        case .togglePause: source.perform(.togglePause)
        case .singleStep: source.perform(.singleStep)
        case .faster: source.perform(.faster)
        case .slower: source.perform(.slower)
        case .export:
            source.perform(.export)
            post("export requested")
        case .scrubBackward: source.perform(.scrub(by: -1))
        case .scrubForward: source.perform(.scrub(by: 1))
        case .scrubBackwardFar: source.perform(.scrub(by: -10))
        case .scrubForwardFar: source.perform(.scrub(by: 10))
        case .jumpToStart: source.perform(.jumpToStart)
        case .jumpToEnd: source.perform(.jumpToEnd)
        case .selectNext: moveSelection(by: 1)
        case .selectPrevious: moveSelection(by: -1)
        case .selectNextSize: moveAcrossSizes(by: 1)
        case .selectPreviousSize: moveAcrossSizes(by: -1)
        case .selectUp: moveWithinSize(by: -1)
        case .selectDown: moveWithinSize(by: 1)
        case .toggleSpectrum:
            if state.view == .spectrum {
                state.view = state.returnView
            } else {
                state.returnView = state.view
                state.view = .spectrum
                state.showHelp = false
            }
        case .back:
            if state.showHelp {
                state.showHelp = false
            } else if state.view == .compare && state.cursor != nil {
                state.cursor = nil
            } else if state.view == .spectrum {
                state.view = state.returnView
            }
        case .cycleView:
            state.view = state.view.next
        case .cycleFocusedMetric:
            state.focusedMetric = state.focusedMetric.next(cross: snapshot.models.contains { $0.history.hasCross })
            post("y acts on \(state.focusedMetric.label(glyphs))")
        case .toggleYScale:
            if state.focusedMetric.isSigned {
                post("\(state.focusedMetric.label(glyphs)) can be negative: its axis stays linear")
            } else {
                state.yScales[state.focusedMetric] = state.yScale(state.focusedMetric).toggled
            }
        case .editModelFilter:
            state.editingFilter = state.modelFilter ?? ""
        case .cycleUserScalar:
            // Names in order of first appearance over the models, then none.
            var names: [String] = []
            for model in snapshot.models { for series in model.userScalars where !names.contains(series.name) { names.append(series.name) } }
            guard !names.isEmpty else {
                state.userScalar = nil
                post("no scalars of your own in this run (probe.log(step, name=value) records them)")
                break
            }
            let next = state.userScalar.flatMap { names.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
            state.userScalar = next < names.count ? names[next] : nil
            post(state.userScalar.map { "charting your scalar \($0) (\(next + 1) of \(names.count))" } ?? "your scalars hidden")
        case .toggleXLog:
            state.xLog.toggle()
            post(state.xLog ? "log x axis (step 0 and other x ≤ 0 are not drawn)" : "linear x axis")
        case .toggleWindowMeans:
            if snapshot.models.contains(where: { $0.history.hasWindows }) {
                state.windowMeans.toggle()
                post(state.windowMeans ? "each log-schedule window as its mean, with its spread (faint)" : "every measured step")
            } else {
                post("no model here is measured on a log schedule ([metrics] schedule = \"log\", every=\"log\")")
            }
        case .toggleNormalised:
            state.normalised.toggle()
            post(state.normalised
                ? "normalised factors: chi_net/n and n*chi_loss (n the probe rows; their product and chi_pos do not change)"
                : "raw factors: chi_net and chi_loss")
        case .toggleDisplayFreeze:
            state.displayFrozen.toggle()
            if !state.displayFrozen { snapshot = filtered(source.snapshot()) }
        case .freezeFeatures:
            freezeSelectedFeatures()
        case .cycleTheme:
            state.themeIndex = (state.themeIndex + 1) % themes.count
            post("theme \(theme.name)")
        case .toggleHelp:
            // Keys, then the glossary, then closed.
            if !state.showHelp {
                state.showHelp = true
                state.helpPage = 0
            } else if state.helpPage == 0 {
                state.helpPage = 1
            } else {
                state.showHelp = false
            }
        case .cursorBackward, .cursorForward:
            // One press moves about one chart column on a 120-column terminal; the first shows it at the latest point.
            let delta = action == .cursorForward ? 1.0 / 80 : -1.0 / 80
            state.cursor = state.cursor.map { min(1, max(0, $0 + delta)) } ?? 1
        case .toggleSeriesHidden:
            guard let index = selectedIndex else { break }
            let id = snapshot.models[index].id
            if state.hiddenModels.remove(id) == nil {
                state.hiddenModels.insert(id)
                post("\(id) hidden (h shows it again)")
            } else {
                post("\(id) shown")
            }
        case .cycleXAxis:
            state.xAxis = state.xAxis.next
            post("x axis: " + (state.xAxis == .compute ? "compute, FLOPs = 6 x trainable parameters x samples seen" : state.xAxis.label))
        case .cycleZoom:
            state.zoom = state.zoom.next
            post("showing the " + state.zoom.label)
        case .saveScreen:
            var buffer = CellBuffer(width: lastSize.width, height: lastSize.height, asciiOnly: !glyphs.isUnicode)
            FrameRenderer.render(snapshot, info: info, state: state, glyphs: glyphs, status: status, into: &buffer)
            do {
                post("screen saved to \(try ScreenExport.save(buffer, theme: theme, in: screenDirectory)) (and .svg)")
            } catch {
                post("cannot save the screen in \(screenDirectory): \(error.localizedDescription)")
            }
        case .cycleSmoothing:
            state.smoothing = state.smoothing.next
            post(state.smoothing == .off ? "smoothing off" : "smoothing \(state.smoothing.label) (the values shown stay raw)")
        case .cycleRunFilter:
            cycleRunFilter()
        case .showAll:
            let hidden = state.hiddenPatterns.count
            state.runFilter = nil
            state.modelFilter = nil
            state.hiddenPatterns = []
            snapshot = filtered(source.snapshot())
            post("showing every model (\(snapshot.models.count))" + (hidden > 0 ? ", \(hidden) hidden pattern\(hidden == 1 ? "" : "s") cleared" : ""))
        case .hideMatching:
            hideMatching()
        }
    }

    // MARK: - Selection

    private var order: ModelOrder { ModelOrder(snapshot.models) }

    private var selectedIndex: Int? { order.resolve(state.selectedModelID, in: snapshot.models) }

    private func select(_ index: Int?) {
        guard let index, snapshot.models.indices.contains(index) else { return }
        state.selectedModelID = snapshot.models[index].id
    }

    private func moveSelection(by delta: Int) {
        let flat = order.flat
        guard !flat.isEmpty else { return }
        let current = selectedIndex.flatMap { flat.firstIndex(of: $0) } ?? 0
        select(flat[((current + delta) % flat.count + flat.count) % flat.count])
    }

    private func moveAcrossSizes(by delta: Int) {
        let order = self.order
        guard let current = selectedIndex, let position = order.position(of: current) else { return select(order.flat.first) }
        let group = min(max(0, position.group + delta), order.groups.count - 1)
        let runs = order.groups[group]
        select(runs[min(position.run, runs.count - 1)])
    }

    private func moveWithinSize(by delta: Int) {
        let order = self.order
        guard let current = selectedIndex, let position = order.position(of: current) else { return select(order.flat.first) }
        let runs = order.groups[position.group]
        select(runs[min(max(0, position.run + delta), runs.count - 1)])
    }

    private func freezeSelectedFeatures() {
        guard let index = selectedIndex else {
            post("no model to freeze yet")
            return
        }
        let model = snapshot.models[index]
        if model.status != .training {
            post("\(model.id) has \(model.status == .finished ? "finished" : "stopped (\(model.status.rawValue))"): nothing to freeze")
        } else if model.mode != .active {
            post("\(model.id) is a frozen run already")
        } else if model.featuresFrozen {
            post("\(model.id): features already frozen")
        } else {
            source.perform(.freezeFeatures(modelID: model.id))
            post("freezing the features of \(model.id)")
        }
    }

    /// Draws the current frame into `buffer` (its size is the frame size).
    public func render(into buffer: inout CellBuffer, glyphs: GlyphSet) {
        self.glyphs = glyphs
        lastSize = (buffer.width, buffer.height)
        FrameRenderer.render(snapshot, info: info, state: state, glyphs: glyphs, status: status, into: &buffer)
    }
}
