import Foundation

/// The first line of a record (`"type":"run"`): what the run is and which
/// models it has. Encoded and decoded here only, so the writer and the
/// readers cannot spell a field two ways (docs/RECORD.md, "The run line").
public struct RecordHeader: Sendable, Equatable {
    /// The data set as the header describes it (`"data"`).
    public struct DataInfo: Sendable, Equatable {
        public var name: String?
        /// Training and probe samples, input features, outputs per sample.
        public var train: Int?
        public var probe: Int?
        public var inputDim: Int?
        public var outputs: Int?
        /// The loss: `mse` or `cross_entropy`.
        public var loss: String?

        public init(name: String? = nil, train: Int? = nil, probe: Int? = nil, inputDim: Int? = nil, outputs: Int? = nil, loss: String? = nil) {
            self.name = name; self.train = train; self.probe = probe; self.inputDim = inputDim; self.outputs = outputs; self.loss = loss
        }
    }

    public var version: Int
    /// The run's own name (`"name"` in the header), when the writer gave one.
    public var name: String?
    /// The writer and its version (`spectop 0.1.0`, `spectop-probe 0.1.0`).
    public var toolVersion: String?
    public var seed: UInt64?
    public var preset: String?
    /// The experiment file the run used, as `--print-config` prints it.
    public var config: String?
    public var data: DataInfo?
    public var models: [RunRecord.ModelInfo] = []
    /// The OpenBLAS core the engine ran on (spectop's engine only).
    public var blas: String?
    /// The probe's PyTorch version and the device it measured on (`cpu`, `cuda:0 NVIDIA H100 …`).
    public var torch: String?
    public var device: String?
    public var workers: Int?
    /// When the run started, ISO 8601.
    public var started: String?
    /// Ids the header lists more than once (the first entry of each is kept).
    public var duplicateModelIDs: [String] = []

    public var dataName: String? {
        get { data?.name }
        set { if data == nil { data = DataInfo() }; data?.name = newValue }
    }

    public init(version: Int, name: String? = nil, models: [RunRecord.ModelInfo] = []) {
        self.version = version; self.name = name; self.models = models
    }

    // MARK: writing

    /// The run line, without its newline.
    public func encode() -> String {
        var json = JSONLine()
        json.add("type", "run")
        json.add("version", version)
        if let name { json.add("name", name) }
        if let toolVersion { json.add("tool", toolVersion) }
        // Seeds are written as JSON integers up to 2^63 - 1 (TOML's range, so any seed can be written back).
        if let seed { json.add("seed", Int(clamping: seed)) }
        if let preset { json.add("preset", preset) }
        if let config { json.add("config", config) }
        if let data {
            var inner = JSONLine()
            if let name = data.name { inner.add("name", name) }
            for (key, value) in [("train", data.train), ("probe", data.probe), ("input_dim", data.inputDim), ("outputs", data.outputs)] {
                if let value { inner.add(key, value) }
            }
            if let loss = data.loss { inner.add("loss", loss) }
            json.add("data", raw: inner.line)
        }
        json.add("models", raw: "[" + models.map(Self.encode).joined(separator: ",") + "]")
        if let blas { json.add("blas", blas) }
        if let torch { json.add("torch", torch) }
        if let device { json.add("device", device) }
        if let workers { json.add("workers", workers) }
        if let started { json.add("started", started) }
        return json.line
    }

    private static func encode(_ model: RunRecord.ModelInfo) -> String {
        var m = JSONLine()
        m.add("id", model.id)
        m.add("width", model.width)
        m.add("depth", model.depth)
        m.add("params", model.parameterCount)
        if let trainable = model.trainableParameterCount { m.add("trainable_params", trainable) }
        m.add("trainable", model.trainable)
        m.add("mode", model.mode.rawValue)
        if let parameterization = model.parameterization { m.add("parameterization", parameterization) }
        if let activation = model.activation { m.add("activation", activation) }
        if let scale = model.outputScale { m.add("output_scale", scale) }
        if let lr = model.learningRate { m.add("lr", lr) }
        m.add("steps", model.stepBudget)
        m.add("batch", model.batchSize)
        if let schedule = model.schedule { m.add("schedule", raw: schedule.json) }
        if let cross = model.cross { m.add("cross", cross) }
        return m.line
    }

    // MARK: reading

    /// Decodes and checks a header line; `file` only names it in errors.
    public static func decode(_ raw: Data, file: String) throws -> RecordHeader {
        guard !raw.isEmpty else { throw RecordError("\(file): empty file, not a spectop record") }
        guard raw.count <= RunRecord.maxLineBytes, let header = RecordJSON.object(raw), header["type"] as? String == "run" else {
            throw RecordError("\(file):1: not a spectop record (the first line must be a JSON object with \"type\":\"run\")")
        }
        guard let version = RecordJSON.int(header["version"]) else {
            guard let value = header["version"], !(value is NSNull) else { throw RecordError("\(file):1: the run line has no version") }
            throw RecordError("\(file):1: the run line's version is \(RecordJSON.describe(value)), not a version number (this spectop reads version \(RunRecord.supportedVersion))")
        }
        guard version == RunRecord.supportedVersion else {
            let newer = version > RunRecord.supportedVersion ? "; it was written by a newer spectop, so update this one" : ""
            throw RecordError("\(file):1: record version \(version) is not supported (this spectop reads version \(RunRecord.supportedVersion)\(newer))")
        }
        var result = RecordHeader(version: version)
        // Seeds use all 63 bits: read them as integers, not through Double.
        if let seed = header["seed"] as? NSNumber, !RecordJSON.isBoolean(seed), seed.int64Value >= 0,
           seed.doubleValue.rounded() == seed.doubleValue {
            result.seed = UInt64(seed.int64Value)
        }
        result.name = (header["name"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        result.preset = header["preset"] as? String
        result.config = header["config"] as? String
        result.blas = header["blas"] as? String
        result.toolVersion = header["tool"] as? String
        result.torch = (header["torch"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        result.device = (header["device"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        result.workers = RecordJSON.int(header["workers"])
        result.started = header["started"] as? String
        if let data = header["data"] as? [String: Any] {
            result.data = DataInfo(name: data["name"] as? String, train: RecordJSON.int(data["train"]), probe: RecordJSON.int(data["probe"]),
                                   inputDim: RecordJSON.int(data["input_dim"]), outputs: RecordJSON.int(data["outputs"]),
                                   loss: data["loss"] as? String)
        }
        var seen = Set<String>()
        for entry in header["models"] as? [[String: Any]] ?? [] {
            guard let id = entry["id"] as? String else { continue }
            // A model listed twice would double every row and count: the first entry stands.
            guard seen.insert(id).inserted else {
                if !result.duplicateModelIDs.contains(id) { result.duplicateModelIDs.append(id) }
                continue
            }
            let trainable = entry["trainable"] as? String ?? "all"
            var model = RunRecord.ModelInfo(
                id: id, width: RecordJSON.int(entry["width"]) ?? 0, depth: RecordJSON.int(entry["depth"]) ?? 0,
                parameterCount: RecordJSON.int(entry["params"]) ?? 0,
                trainableParameterCount: RecordJSON.int(entry["trainable_params"]),
                stepBudget: RecordJSON.int(entry["steps"]) ?? 0, trainable: trainable,
                mode: TrainingMode(rawValue: entry["mode"] as? String ?? "") ?? (trainable == "readout" ? .frozen : .active))
            model.batchSize = RecordJSON.int(entry["batch"]) ?? 0
            model.parameterization = entry["parameterization"] as? String
            model.activation = entry["activation"] as? String
            model.outputScale = RecordJSON.double(entry["output_scale"])
            model.learningRate = RecordJSON.double(entry["lr"])
            model.schedule = (entry["schedule"] as? [String: Any]).flatMap(MeasurementSchedule.init(json:))
            model.cross = (entry["cross"] as? String).flatMap { ["heldout", "train"].contains($0) ? $0 : nil }
            result.models.append(model)
        }
        return result
    }
}
