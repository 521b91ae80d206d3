/// Where the probe set (the samples every metric and the eNTK are measured
/// on) comes from.
public enum ProbeSource: String, Sendable, CaseIterable {
    /// A fixed random subset of the training set; training uses every
    /// sample. This is the set-up METHOD.md describes.
    case train
    /// A fixed random subset removed from the training set, so the probe
    /// measures samples the models never train on.
    case heldOut = "held_out"
    /// New samples from the same teacher function; only data sets that can
    /// draw samples (the teacher) support it.
    case fresh
}

/// The training and probe sets of one run, with inputs standardised by the
/// training set's per-feature mean and standard deviation.
public struct DataSplit: Sendable {
    /// Draws `count` new samples from the data set's source, from the generator
    /// given, e.g. `Teacher.freshSampler`. Untyped `throws` so that a plain
    /// closure fits; errors other than `DataError` are reported as
    /// `DataError.freshProbeFailed`.
    public typealias FreshSampler = (_ count: Int, _ generator: inout SeededGenerator) throws -> Dataset

    /// Training samples, standardised.
    public var train: Dataset
    /// Probe samples, standardised with the training statistics.
    public var probe: Dataset
    /// Per-feature mean of the raw training inputs.
    public var inputMean: [Float]
    /// Per-feature standard deviation of the raw training inputs, with 1 in
    /// place of 0 so constant features (blank pixels) stay finite.
    public var inputStd: [Float]
    public var probeSource: ProbeSource
    /// Rows of the original data set that form the probe, ascending; empty
    /// for `.fresh`.
    public var probeIndices: [Int]

    /// Splits `dataset` into training and probe sets.
    ///
    /// Deterministic: the same data, arguments and generator state give a
    /// bit-identical split. For `.train` and `.heldOut` the probe indices are
    /// drawn uniformly without replacement and kept in data-set order; the
    /// training set keeps the data-set order too.
    ///
    /// - Parameters:
    ///   - probeSize: number of probe samples, at least 1; at most the data
    ///     size for `.train`, one less than it for `.heldOut` (training needs
    ///     a sample).
    ///   - freshProbe: for `.fresh`, draws new samples from the data's source
    ///     (`Teacher.freshSampler`); `.fresh` without it
    ///     throws `DataError.freshProbeUnavailable`.
    public static func make(
        from dataset: Dataset, probeSize: Int, probeSource: ProbeSource, generator: inout SeededGenerator,
        freshProbe: FreshSampler? = nil
    ) throws(DataError) -> DataSplit {
        guard probeSize >= 1 else {
            throw DataError.invalidParameter(owner: "split", parameter: "probe size", requirement: "at least 1", value: "\(probeSize)")
        }
        var train = dataset
        var probe: Dataset
        var probeIndices: [Int] = []
        switch probeSource {
        case .train, .heldOut:
            let available = probeSource == .train ? dataset.count : dataset.count - 1
            guard probeSize <= available else {
                throw DataError.probeTooLarge(requested: probeSize, available: max(0, available), source: probeSource.rawValue)
            }
            probeIndices = randomSubset(of: dataset.count, size: probeSize, generator: &generator)
            probe = dataset.subset(probeIndices)
            if probeSource == .heldOut {
                var isProbe = [Bool](repeating: false, count: dataset.count)
                for index in probeIndices { isProbe[index] = true }
                train = dataset.subset((0..<dataset.count).filter { !isProbe[$0] })
            }
        case .fresh:
            guard let freshProbe else { throw DataError.freshProbeUnavailable(dataset: dataset.name) }
            do {
                probe = try freshProbe(probeSize, &generator)
            } catch let error as DataError {
                throw error
            } catch {
                throw DataError.freshProbeFailed(dataset: dataset.name, detail: "\(error)")
            }
            try checkFresh(probe, matches: dataset, count: probeSize)
        }

        let (mean, std) = standardisation(of: train.inputs)
        standardise(&train.inputs, mean: mean, std: std)
        standardise(&probe.inputs, mean: mean, std: std)
        return DataSplit(
            train: train, probe: probe, inputMean: mean, inputStd: std, probeSource: probeSource,
            probeIndices: probeIndices)
    }

    /// Applies this split's standardisation to other raw inputs with the same
    /// features (e.g. a test set).
    public func standardised(_ inputs: Matrix<Float>) -> Matrix<Float> {
        var out = inputs
        Self.standardise(&out, mean: inputMean, std: inputStd)
        return out
    }

    /// Per-column mean and standard deviation (population, accumulated in
    /// Double) of `inputs`; a zero or non-finite deviation is reported as 1.
    public static func standardisation(of inputs: Matrix<Float>) -> (mean: [Float], std: [Float]) {
        let rows = inputs.rows, cols = inputs.cols
        guard rows > 0 else { return ([Float](repeating: 0, count: cols), [Float](repeating: 1, count: cols)) }
        var mean = [Double](repeating: 0, count: cols)
        var variance = [Double](repeating: 0, count: cols)
        inputs.storage.withUnsafeBufferPointer { x in
            for r in 0..<rows {
                for c in 0..<cols { mean[c] += Double(x[r * cols + c]) }
            }
            for c in 0..<cols { mean[c] /= Double(rows) }
            // Two passes, so a constant column gives exactly 0 rather than round-off.
            for r in 0..<rows {
                for c in 0..<cols {
                    let deviation = Double(x[r * cols + c]) - mean[c]
                    variance[c] += deviation * deviation
                }
            }
        }
        let std = variance.map { v -> Float in
            let s = Float((v / Double(rows)).squareRoot())
            return s > 0 && s.isFinite ? s : 1
        }
        return (mean.map { Float($0) }, std)
    }

    /// `(x − mean) / std` column by column, in place (no copy when `inputs`
    /// is uniquely referenced). Inputs of another width are left unchanged.
    static func standardise(_ inputs: inout Matrix<Float>, mean: [Float], std: [Float]) {
        guard inputs.cols == mean.count, inputs.cols == std.count, inputs.cols > 0 else { return }
        let cols = inputs.cols
        let inverseStd = std.map { 1 / $0 }
        mean.withUnsafeBufferPointer { mean in
            inverseStd.withUnsafeBufferPointer { inverseStd in
                inputs.storage.withUnsafeMutableBufferPointer { x in
                    for rowStart in stride(from: 0, to: x.count, by: cols) {
                        for c in 0..<cols { x[rowStart + c] = (x[rowStart + c] - mean[c]) * inverseStd[c] }
                    }
                }
            }
        }
    }

    /// `size` distinct indices in 0..<count, drawn by a partial Fisher–Yates
    /// shuffle and returned ascending.
    public static func randomSubset(of count: Int, size: Int, generator: inout SeededGenerator) -> [Int] {
        var indices = Array(0..<count)
        for i in 0..<size {
            let j = i + generator.index(below: count - i)
            indices.swapAt(i, j)
        }
        return indices[0..<size].sorted()
    }

    /// A sampler that returns the wrong shape is a wiring bug, but surfacing
    /// it as an error beats training on a probe the metrics cannot use.
    private static func checkFresh(_ probe: Dataset, matches dataset: Dataset, count: Int) throws(DataError) {
        func fail(_ detail: String) -> DataError { .freshProbeFailed(dataset: dataset.name, detail: detail) }
        guard probe.count == count else { throw fail("asked for \(count) samples, got \(probe.count)") }
        guard probe.inputDim == dataset.inputDim else {
            throw fail("input dimension \(probe.inputDim), training data has \(dataset.inputDim)")
        }
        guard probe.lossKind == dataset.lossKind, probe.outputDim == dataset.outputDim else {
            throw fail("targets have \(probe.outputDim) outputs (\(probe.lossKind.rawValue)), "
                + "training data has \(dataset.outputDim) (\(dataset.lossKind.rawValue))")
        }
    }
}
