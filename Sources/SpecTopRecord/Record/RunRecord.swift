import Foundation

/// A recorded run read back from JSON Lines, for `replay`, `claims` and
/// `export`: every sample, spectrum and event, where `LiveRun` keeps a bounded
/// summary. What the lines say about each model — which models there are,
/// which stopped, when one was frozen — comes from the same reducer watch and
/// replay use (`LiveRun`), fed every line in file order; this type only keeps
/// the full histories beside it.
///
/// Tolerates a last line cut off by a killed process (it is dropped and a
/// warning says so) and a file still being written. Refuses files whose
/// first line is not a spectop `run` line or whose version is unknown, with a
/// `RecordError`. Needs no engine: histograms are binned by the contract's
/// `SpectrumHistogram`, the same code the engine bins with.
public struct RunRecord: Sendable {
    public struct ModelInfo: Sendable, Equatable {
        public var id: String
        public var width: Int
        public var depth: Int
        public var parameterCount: Int
        /// Trainable parameters, when the header says (the probe's `trainable_params`).
        public var trainableParameterCount: Int?
        /// The planned number of steps; 0 when the writer did not say.
        public var stepBudget: Int
        /// Training samples per step; 0 when the writer did not say.
        public var batchSize: Int = 0
        /// "all" or "readout".
        public var trainable: String
        public var mode: TrainingMode
        /// What spectop's engine records of its MLPs (nil from other writers):
        /// `ntk`/`mup`/…, the activation, the output scale, the learning rate.
        public var parameterization: String?
        public var activation: String?
        public var outputScale: Double?
        public var learningRate: Double?
        /// The steps it is measured at, when the writer said.
        public var schedule: MeasurementSchedule?
        /// Where the cross-batch measurement's batch B comes from: "heldout" or "train" (nil: none).
        public var cross: String?

        public init(id: String, width: Int, depth: Int, parameterCount: Int, trainableParameterCount: Int? = nil,
                    stepBudget: Int = 0, trainable: String, mode: TrainingMode) {
            self.id = id; self.width = width; self.depth = depth; self.parameterCount = parameterCount
            self.trainableParameterCount = trainableParameterCount; self.stepBudget = stepBudget
            self.trainable = trainable; self.mode = mode
        }
    }

    public struct Event: Sendable, Equatable {
        public var kind: RecordEventKind
        public var model: String?
        public var step: Int?
        public var wall: Double
        public var detail: String?
        /// The step it happened at: its own, or for a run-wide event without
        /// one the most advanced model's step when it was written (set by the reader).
        public var at: Int

        public init(kind: RecordEventKind, model: String?, step: Int?, wall: Double, detail: String?) {
            self.kind = kind; self.model = model; self.step = step; self.wall = wall; self.detail = detail
            at = step ?? 0
        }
    }

    public static let supportedVersion = 1

    public var file: String
    public var version: Int
    /// The header's run name, when it has one.
    public var name: String?
    public var seed: UInt64?
    public var preset: String?
    public var dataName: String?
    public var blas: String?
    public var toolVersion: String?
    /// What the probe ran on: its PyTorch version and device (the header's `torch`, `device`).
    public var torch: String?
    public var device: String?
    public var models: [ModelInfo] = []
    public var steps: [String: [MetricSample]] = [:]
    public var spectra: [String: [SpectrumSample]] = [:]
    /// The user's own numbers (`scalars` lines) per model, in record order.
    public var scalars: [String: [ScalarsSample]] = [:]
    public var events: [Event] = []
    /// The events charts mark (freeze, export, pause, resume, speed, divergence), with steps.
    public var marks: [RunMark] = []
    /// Models a `diverged` or `failed` event stopped (left out of every claim).
    public private(set) var divergedModels: Set<String> = []
    /// Each live-frozen model's freeze step (`freezeStep(of:)`).
    private var freezeSteps: [String: Int] = [:]
    /// The run line as read (an empty one for records combined with `combined`).
    public var header: RecordHeader { state.header }
    /// The reducer every line goes through; `models`, `divergedModels` and the
    /// freeze steps are read from it when the file is parsed.
    private var state: LiveRun
    /// The largest step read so far: where a run-wide event without a step happened.
    private var latestStep = 0
    public var endReason: String?
    public var endWall: Double?
    /// False for a log whose writer never writes an `end` line (TensorBoard,
    /// Lightning's CSV): its missing end line says nothing about how the run went.
    public var writesEndLine = true
    /// The writer's `usage` lines (its process's memory, CPU, step time, GPU),
    /// each at the step it was written at (the most advanced model's): what
    /// replay's header shows at its cursor. Empty for a combined record.
    public private(set) var usage: [UsageSample] = []

    public struct UsageSample: Sendable, Equatable {
        public var at: Int
        public var wall: Double
        public var usage: ProcessUsage
    }
    /// Problems the reader worked around (e.g. a cut-off last line).
    public var warnings: [String] = []

    /// Reads a record file.
    public static func read(path: String) throws -> RunRecord {
        try parse(try readBytes(path: path), file: path)
    }

    /// A record file's bytes, refusing what is no regular readable file.
    public static func readBytes(path: String) throws -> Data {
        var info = stat()
        if stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
            // A FIFO would block the read forever; a directory is no record.
            throw RecordError("\(path): not a regular file, so not a spectop record")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw RecordError(FileManager.default.fileExists(atPath: path)
                              ? "\(path): cannot read the file (permission denied)" : "\(path): no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw RecordError("\(path): cannot read the file") }
        return data
    }

    public static func parse(_ data: Data, file: String) throws -> RunRecord {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        if endsWithNewline, lines.last?.isEmpty == true { lines.removeLast() }
        let header = try RecordHeader.decode(lines.first.map { Data($0) } ?? Data(), file: file)
        var record = RunRecord(file: file, header: header)
        for (index, raw) in lines.enumerated().dropFirst() {
            let lineNumber = index + 1
            if raw.isEmpty { continue }
            guard raw.count <= maxLineBytes else {
                throw RecordError("\(file):\(lineNumber): line is longer than \(maxLineBytes >> 20) MiB, not a spectop record line")
            }
            guard let line = RecordLine.decode(Data(raw)) else {
                if index == lines.count - 1 && !endsWithNewline {
                    record.warnings.append("\(file):\(lineNumber): last line is cut off (the run was interrupted); using the \(index) complete lines before it")
                    break
                }
                throw RecordError("\(file):\(lineNumber): not a JSON object")
            }
            record.apply(line)
        }
        record.adoptState()
        return record
    }

    /// A run made of lines that were not read from a record file: a foreign
    /// log (TensorBoard, Lightning CSV) translated into spectop's lines goes
    /// through the same reducer as a record's. `warnings` are the reader's own.
    public static func assembled(file: String, header: RecordHeader, lines: [RecordLine], warnings: [String] = []) -> RunRecord {
        var record = RunRecord(file: file, header: header)
        for line in lines { record.apply(line) }
        record.adoptState()
        record.warnings += warnings
        return record
    }

    /// Takes the model state from the reducer: the models (a hand-written
    /// header's models that only the lines name included), the stopped ones and
    /// the freeze steps.
    private mutating func adoptState() {
        models = state.models
        divergedModels = state.stoppedModelIDs
        freezeSteps = Dictionary(uniqueKeysWithValues: models.compactMap { m in state.freezeStep(of: m.id).map { (m.id, $0) } })
        if state.droppedModelCount > 0 {
            let kept = Set(models.map(\.id))
            steps = steps.filter { kept.contains($0.key) }
            spectra = spectra.filter { kept.contains($0.key) }
            scalars = scalars.filter { kept.contains($0.key) }
            warnings.append("\(file): names more than \(LiveRun.modelLimit) models; the \(state.droppedModelCount) after the first \(LiveRun.modelLimit) are left out")
        }
    }

    init(file: String, header: RecordHeader) {
        self.file = file
        version = header.version
        name = header.name
        seed = header.seed
        preset = header.preset
        blas = header.blas
        toolVersion = header.toolVersion
        torch = header.torch
        device = header.device
        dataName = header.dataName
        models = header.models
        state = LiveRun(header: header, historyCapacity: 2)
        if !header.duplicateModelIDs.isEmpty {
            let ids = header.duplicateModelIDs
            warnings.append("\(file):1: the header lists \(ids.count == 1 ? "model" : "models") \(ids.prefix(5).joined(separator: ", "))\(ids.count > 5 ? ", …" : "") more than once; each is read once, as its first entry says")
        }
    }

    mutating func apply(_ line: RecordLine) {
        state.apply(line)
        switch line {
        case .step(let model, var sample):
            // A writer that does not say n: the header's probe size (RECORD.md).
            if sample.rows == 0, let n = state.header.data?.probe, n > 0 { sample.rows = n }
            steps[model, default: []].append(sample)
            latestStep = max(latestStep, sample.step)
        case .spectrum(let model, let spectrum): spectra[model, default: []].append(spectrum)
        case .event(var event):
            event.at = event.step ?? latestStep
            events.append(event)
            if let mark = RunMark.from(kind: event.kind, model: event.model, step: event.step, wall: event.wall, currentStep: latestStep) {
                marks.append(mark)
            }
        case .end(let reason, let wall, _):
            endReason = reason
            endWall = wall
        case .scalars(let model, let sample): scalars[model, default: []].append(sample)
        case .usage(let usage, let wall): self.usage.append(UsageSample(at: latestStep, wall: wall, usage: usage))
        case .ignored: break  // unknown line types from newer minor versions are skipped
        }
    }

    /// Several records as one experiment (`claims` on a sweep): every model is
    /// renamed `RUN/MODEL`, RUN being each record's run name or file stem, as
    /// watch names them (`RunNames.modelID`: a run named after its one model
    /// keeps the plain name).
    public static func combined(_ records: [RunRecord]) -> RunRecord {
        guard records.count > 1 else { return records.first ?? RunRecord(file: "", header: RecordHeader(version: supportedVersion)) }
        var result = RunRecord(file: records.map(\.file).joined(separator: ", "), header: RecordHeader(version: supportedVersion))
        let names = RunNames.unique(records.map { $0.runName })
        let presets = Set(records.compactMap(\.preset)), data = Set(records.compactMap(\.dataName))
        result.preset = presets.count == 1 ? presets.first : nil
        result.dataName = data.count == 1 ? data.first : nil
        for (record, run) in zip(records, names) {
            func renamed(_ id: String) -> String { RunNames.modelID(id, run: run, prefixing: true) }
            result.models += record.models.map { var m = $0; m.id = renamed(m.id); return m }
            for (id, samples) in record.steps { result.steps[renamed(id)] = samples }
            for (id, spectra) in record.spectra { result.spectra[renamed(id)] = spectra }
            for (id, scalars) in record.scalars { result.scalars[renamed(id)] = scalars }
            result.events += record.events.map { var e = $0; e.model = e.model.map(renamed); return e }
            result.marks += record.marks.map { var m = $0; m.model = m.model.map(renamed); return m }
            result.divergedModels.formUnion(record.divergedModels.map(renamed))
            for (id, step) in record.freezeSteps { result.freezeSteps[renamed(id)] = step }
            result.warnings += record.warnings
        }
        result.runCount = records.count
        result.writesEndLine = records.contains { $0.writesEndLine }
        let blas = Set(records.compactMap(\.blas)), tools = Set(records.compactMap(\.toolVersion))
        if blas.count == 1, records.allSatisfy({ $0.blas != nil }) { result.blas = blas.first }
        if tools.count == 1 { result.toolVersion = tools.first }
        // The probe's PyTorch and device, where every record names the same.
        let torches = Set(records.map(\.torch)), devices = Set(records.map(\.device))
        if torches.count == 1 { result.torch = torches.first ?? nil }
        if devices.count == 1 { result.device = devices.first ?? nil }
        let reasons = Set(records.map { $0.endReason ?? "running" })
        result.endReason = reasons.count == 1 ? reasons.first : reasons.sorted().joined(separator: "/")
        return result
    }

    /// How many records this one was combined from (1 for a file read as it is).
    public private(set) var runCount = 1

    /// The name a run goes by when several are shown: the header's name, else the file's stem.
    public var runName: String { name ?? RunNames.stem(of: file) }

    /// The step of a model's live freeze (`F`): the first step it trained and
    /// was measured with frozen features. Nil when it was never frozen live;
    /// a freeze event without a step counts from step 0.
    public func freezeStep(of model: String) -> Int? { freezeSteps[model] }

    /// Longer lines are no spectop record line (a spectrum of 4,096 modes is
    /// about 200 KB); refusing them bounds what one line can cost to parse.
    public static let maxLineBytes = 16 << 20
}
