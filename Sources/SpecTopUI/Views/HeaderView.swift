import SpecTopRecord

/// The top row: tool, preset, data set, elapsed time, engine state, total
/// steps/s and BLAS core. Less important parts drop out when the row is narrow.
public struct HeaderView: Sendable {
    public var snapshot: EngineSnapshot
    public var info: MonitorInfo
    public var state: MonitorState

    public init(snapshot: EngineSnapshot, info: MonitorInfo, state: MonitorState) {
        self.snapshot = snapshot; self.info = info; self.state = state
    }

    struct Part {
        var text: String
        var role: ColorRole
        var attributes: CellAttributes = []
        /// Lower numbers survive longer when space runs out.
        var priority: Int
    }

    /// `37% ETA 2:10`: steps done of every budget, and the time until the
    /// slowest model still training reaches its budget at its current rate.
    private var progress: String {
        let budgets = snapshot.models.filter { $0.stepBudget > 0 }
        guard !budgets.isEmpty, snapshot.state == .running || snapshot.state == .paused else { return "" }
        // A model that stopped early counts as done: nothing more will come from it.
        let done = budgets.reduce(0.0) { $0 + ($1.status.stoppedEarly ? Double($1.stepBudget) : Double(min($1.step, $1.stepBudget))) }
        let total = budgets.reduce(0.0) { $0 + Double($1.stepBudget) }
        let percent = "\(Int((done / total * 100).rounded(.down)))%"
        guard snapshot.state == .running, let eta = snapshot.models.compactMap(\.secondsToGo).max() else { return percent }
        return percent + " ETA " + NumberFormat.duration(eta)
    }

    private var badge: String {
        switch state.mode {
        case .live: return ""
        case .replay: return "replay "
        case .watch: return "watch "
        }
    }

    /// Watch: how many runs are live, stale, finished… or, filtered to one, that run.
    private var runsPart: Part? {
        guard !snapshot.runs.isEmpty else {
            return state.mode == .watch ? Part(text: "no records yet: waiting", role: .warning, attributes: .bold, priority: 0) : nil
        }
        if let name = state.runFilter, let run = snapshot.runs.first(where: { $0.name == name }) {
            let detail = run.state == .finished ? run.detail.map { " (\($0))" } ?? "" : ""
            return Part(text: "run \(name): \(run.state.rawValue)\(detail)", role: .selection, attributes: .bold, priority: 0)
        }
        let counts = RunSummary.State.allCases.compactMap { state -> String? in
            let runs = snapshot.runs.filter { $0.state == state }
            guard !runs.isEmpty else { return nil }
            // How they ended, so a sweep quit at 17 % never reads as complete: `3 finished (quit, steps)`.
            var reasons: [String] = []
            if state == .finished { for run in runs { if let reason = run.detail, !reasons.contains(reason) { reasons.append(reason) } } }
            return "\(runs.count) \(state.rawValue)" + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: ", ")))")
        }
        let total = snapshot.runs.count
        return Part(text: "\(total) run\(total == 1 ? "" : "s"): " + counts.joined(separator: ", "),
                    role: snapshot.runs.contains { $0.state == .stale || $0.state == .refused } ? .warning : .text, priority: 1)
    }

    /// A process line as btop and nvitop show one: memory, CPU, step time,
    /// GPU memory and utilisation, each where known.
    static func usage(_ usage: ProcessUsage) -> String {
        var parts: [String] = []
        if usage.residentBytes > 0 { parts.append(NumberFormat.bytes(usage.residentBytes)) }
        if usage.cpuPercent.isFinite { parts.append("\(Int(usage.cpuPercent.rounded()))% CPU") }
        if let seconds = usage.stepSeconds { parts.append(NumberFormat.seconds(seconds) + "/step") }
        if let bytes = usage.gpuMemoryBytes {
            parts.append("GPU " + NumberFormat.bytes(bytes) + (usage.gpuUtilization.map { " \(Int($0.rounded()))%" } ?? ""))
        } else if let percent = usage.gpuUtilization {
            parts.append("GPU \(Int(percent.rounded()))%")
        }
        return parts.joined(separator: " ")
    }

    /// Watch: the process of the run shown alone (`r`) or of the selected
    /// model's run, from its latest `usage` line, while the run is live.
    private var watchedUsagePart: Part? {
        guard state.mode == .watch else { return nil }
        let name = state.runFilter ?? ModelOrder(snapshot.models).resolve(state.selectedModelID, in: snapshot.models).flatMap { snapshot.models[$0].run }
        guard let name, let usage = snapshot.runs.first(where: { $0.name == name })?.usage else { return nil }
        let text = HeaderView.usage(usage)
        guard !text.isEmpty else { return nil }
        return Part(text: (snapshot.runs.count > 1 ? name + ": " : "") + text, role: .muted, priority: 2)
    }

    public func render(into buffer: inout CellBuffer, row: Rect, glyphs: GlyphSet) {
        guard !row.isEmpty else { return }
        buffer.fill(row, with: Cell(" ", role: .text))
        let stateRole: ColorRole
        switch snapshot.state {
        case .running: stateRole = .active
        case .paused: stateRole = .warning
        case .finished, .stopped: stateRole = .muted
        }
        var parts: [Part] = [
            Part(text: info.toolName, role: .text, attributes: .bold, priority: 0),
            Part(text: info.preset, role: .text, priority: 3),
            Part(text: info.dataset, role: .text, priority: 4),
            // Training time: the clock stands while the run is paused.
            Part(text: NumberFormat.duration(max(0, snapshot.elapsed - snapshot.pausedSeconds)), role: .text, priority: 1),
            Part(text: badge + snapshot.state.rawValue, role: stateRole, attributes: .bold, priority: 0),
            // A rate only while steps are being taken and one is known: a paused,
            // finished or replayed run (or one too young to measure) has none, not 0.
            Part(text: snapshot.state == .running && snapshot.stepsPerSecond > 0 ? NumberFormat.rate(snapshot.stepsPerSecond) + " steps/s" : "",
                 role: .text, priority: 2),
            Part(text: progress, role: .text, priority: 1),
            // Replay: the recorded process at the cursor, kept as long as watch keeps the watched one.
            Part(text: snapshot.process.map(HeaderView.usage) ?? "", role: .muted, priority: state.mode == .replay ? 2 : 4),
            Part(text: info.blasCore, role: .muted, priority: 5),
        ]
        if let warning = info.warning {
            parts.insert(Part(text: warning, role: .warning, attributes: .bold, priority: 1), at: 1)
        }
        if state.smoothing != .off {
            parts.insert(Part(text: "smooth " + state.smoothing.label, role: .muted, priority: 2), at: 1)
        }
        // What `/` and `H` leave out, so a grid of fewer models never looks like the whole sweep.
        if !state.hiddenPatterns.isEmpty {
            parts.insert(Part(text: "hiding " + state.hiddenPatterns.joined(separator: ", "), role: .warning, priority: 1), at: 1)
        }
        if let filter = state.modelFilter {
            parts.insert(Part(text: "only /" + filter, role: .selection, attributes: .bold, priority: 1), at: 1)
        }
        if let usage = watchedUsagePart {
            parts.append(usage)
        }
        if let runs = runsPart {
            parts.insert(runs, at: 1)
        }
        if state.displayFrozen {
            parts.insert(Part(text: "display frozen", role: .warning, attributes: [.bold, .reverse], priority: 0), at: 1)
        }
        parts.removeAll { $0.text.isEmpty }
        let separator = glyphs.isUnicode ? " \u{2502} " : " | "
        func width(_ list: [Part]) -> Int {
            list.reduce(0) { $0 + $1.text.unicodeScalars.count } + max(0, list.count - 1) * separator.unicodeScalars.count + 1
        }
        while width(parts) > row.width, let drop = parts.indices.max(by: { parts[$0].priority < parts[$1].priority }), parts[drop].priority > 0 {
            parts.remove(at: drop)
        }
        var x = row.x + 1
        for (index, part) in parts.enumerated() {
            if index > 0 { x += buffer.put(separator, x: x, y: row.y, role: .muted, maxWidth: row.maxX - x) }
            x += buffer.put(part.text, x: x, y: row.y, role: part.role, attributes: part.attributes, maxWidth: row.maxX - x)
        }
    }
}
