import Foundation

/// The knobs of the synthetic teacher data set (see `Teacher` for exactly
/// what is generated). The defaults give a 16-dimensional, 4,096-sample
/// scalar regression problem that needs no files.
public struct TeacherConfig: Sendable, Equatable {
    /// Input dimension d.
    public var inputDim: Int
    /// Number of training samples N that `TeacherDataset.make` draws.
    public var samples: Int
    /// Number of target columns C.
    public var outputs: Int
    /// α: the teacher's coefficient variances decay as k^-(1+α) over its
    /// features k = 1…K, so the target power beyond feature k decays like k^-α.
    /// Larger α: an easier, head-dominated target; smaller α: more in the tail.
    public var exponent: Double
    /// a: the input covariance eigenvalues decay as k^-a (0 gives isotropic inputs).
    public var inputExponent: Double
    /// Number K of random tanh features the teacher sums.
    public var features: Int
    /// Standard deviation of the Gaussian label noise added after the
    /// targets are normalised to unit variance.
    public var noise: Double

    public init(
        inputDim: Int = 16, samples: Int = 4096, outputs: Int = 1, exponent: Double = 1.5,
        inputExponent: Double = 1.0, features: Int = 256, noise: Double = 0
    ) {
        self.inputDim = inputDim
        self.samples = samples
        self.outputs = outputs
        self.exponent = exponent
        self.inputExponent = inputExponent
        self.features = features
        self.noise = noise
    }

    // Limits that keep a typo (an extra zero or three) from allocating
    // gigabytes; they are far above anything spectop can train interactively.
    public static let maxInputDim = 10_000
    public static let maxOutputs = 1_000
    public static let maxFeatures = 100_000
    /// Largest number of input values (samples × inputDim) one draw may hold: 1 GiB of Float.
    public static let maxInputElements = 1 << 28
    /// Largest teacher weight matrix (features × inputDim).
    public static let maxWeightElements = 1 << 24

    /// Throws `DataError.invalidParameter` naming the first knob out of range.
    public func validate() throws(DataError) {
        func require(_ ok: Bool, _ parameter: String, _ requirement: String, _ value: CustomStringConvertible) throws(DataError) {
            if !ok {
                throw DataError.invalidParameter(
                    owner: TeacherDataset.name, parameter: parameter, requirement: requirement, value: value.description)
            }
        }
        try require(inputDim >= 1 && inputDim <= Self.maxInputDim, "inputDim", "between 1 and \(Self.maxInputDim)", inputDim)
        try require(samples >= 1, "samples", "at least 1", samples)
        try require(outputs >= 1 && outputs <= Self.maxOutputs, "outputs", "between 1 and \(Self.maxOutputs)", outputs)
        try require(features >= 1 && features <= Self.maxFeatures, "features", "between 1 and \(Self.maxFeatures)", features)
        try require(exponent.isFinite && exponent >= 0, "exponent", "a finite number ≥ 0", exponent)
        try require(inputExponent.isFinite && inputExponent >= 0, "inputExponent", "a finite number ≥ 0", inputExponent)
        try require(noise.isFinite && noise >= 0, "noise", "a finite number ≥ 0", noise)
        try require(
            samples <= Self.maxInputElements / inputDim, "samples × inputDim",
            "at most \(Self.maxInputElements)", "\(samples) × \(inputDim)")
        try require(
            features <= Self.maxWeightElements / inputDim, "features × inputDim",
            "at most \(Self.maxWeightElements)", "\(features) × \(inputDim)")
    }
}

/// A fixed random teacher function f*: R^d → R^C whose coefficient spectrum
/// follows a power law, together with the input distribution it is sampled on.
///
/// What it generates (k = 1…d indexes input coordinates, j = 1…K features,
/// c = 1…C outputs):
///
/// - Inputs `x ~ N(0, diag(λ))` with `λ_k ∝ k^-inputExponent`, scaled so that
///   `Σ_k λ_k = d` (the total variance is d, as for isotropic unit inputs).
/// - Features `φ_j(x) = tanh(w_j·x + b_j)` with `w_j ~ N(0, I/d)`, so the
///   pre-activation `w_j·x` has unit variance on average over teachers, and
///   `b_j ~ 0.5·N(0, 1)`.
/// - Raw targets `r_c(x) = Σ_j a_{j,c} φ_j(x)` with
///   `a_{j,c} ~ N(0, 1)·j^-(1+exponent)/2`: the coefficient variances decay as
///   `j^-(1+exponent)`.
/// - Targets `f*_c(x) = (r_c(x) − μ_c) / σ_c`, where μ_c and σ_c are the mean
///   and standard deviation of `r_c` over `calibrationSamples` inputs drawn
///   once when the teacher is made. Each target column therefore has mean ≈ 0
///   and variance ≈ 1 on the input distribution (to about 2%), and the
///   function does not depend on how many samples are later drawn from it.
/// - A sample is `(x, f*(x) + noise·ε)` with `ε ~ N(0, I_C)`, so its target
///   variance is about `1 + noise²`.
///
/// The teacher is fully determined by the configuration (all fields except
/// `samples` and `noise`) and the generator state it was made from.
public struct Teacher: Sendable, Equatable {
    /// The configuration the teacher was drawn from.
    public let config: TeacherConfig
    /// Standard deviation √λ_k of each input coordinate, length d.
    public let inputScales: [Double]
    /// Feature weights w_j as rows: [features, inputDim].
    public let featureWeights: Matrix<Double>
    /// Feature biases b_j, length K.
    public let featureBiases: [Double]
    /// Coefficients a_{j,c}: [features, outputs]. Row j has variance j^-(1+exponent).
    public let coefficients: Matrix<Double>
    /// μ_c: subtracted from the raw targets.
    public let targetMean: [Double]
    /// σ_c: divides the centred raw targets.
    public let targetScale: [Double]

    /// Inputs the normalisation μ, σ is estimated on.
    public static let calibrationSamples = 8192
    /// Stream id of the calibration draw, forked so that it does not shift
    /// the samples drawn after the teacher.
    static let calibrationStream: UInt64 = 0x7EAC_C0DE
    /// Rows evaluated per GEMM, bounding the [rows, features] workspace.
    static let evaluationChunk = 1024

    /// Draws the teacher's parameters from `generator` (validating `config`).
    public init(config: TeacherConfig, generator: inout SeededGenerator) throws(DataError) {
        try config.validate()
        self.config = config
        let d = config.inputDim, features = config.features, outputs = config.outputs

        let eigenvalues = (1...d).map { Foundation.pow(Double($0), -config.inputExponent) }
        let total = eigenvalues.reduce(0, +)
        inputScales = eigenvalues.map { ($0 * Double(d) / total).squareRoot() }

        var weights = Matrix<Double>(rows: features, cols: d)
        let weightScale = 1 / Double(d).squareRoot()
        for i in weights.storage.indices { weights.storage[i] = generator.gaussian() * weightScale }
        featureWeights = weights
        featureBiases = (0..<features).map { _ in 0.5 * generator.gaussian() }

        var coefficients = Matrix<Double>(rows: features, cols: outputs)
        for j in 0..<features {
            let amplitude = Foundation.pow(Double(j + 1), -(1 + config.exponent) / 2)
            for c in 0..<outputs { coefficients[j, c] = generator.gaussian() * amplitude }
        }
        self.coefficients = coefficients

        var calibration = generator.fork(Self.calibrationStream)
        let raw = Self.rawTargets(
            for: Self.drawInputs(count: Self.calibrationSamples, scales: inputScales, generator: &calibration),
            weights: weights, biases: featureBiases, coefficients: coefficients)
        var mean = [Double](repeating: 0, count: outputs)
        var variance = [Double](repeating: 0, count: outputs)
        for r in 0..<raw.rows { for c in 0..<outputs { mean[c] += raw[r, c] } }
        for c in 0..<outputs { mean[c] /= Double(raw.rows) }
        for r in 0..<raw.rows { for c in 0..<outputs { variance[c] += (raw[r, c] - mean[c]) * (raw[r, c] - mean[c]) } }
        targetMean = mean
        // A constant target (possible only in degenerate corners) is left unscaled.
        targetScale = variance.map { v in
            let std = (v / Double(raw.rows)).squareRoot()
            return std > 0 && std.isFinite ? std : 1
        }
    }

    /// Draws `count` fresh samples `(x, f*(x) + noise·ε)`: inputs first, then
    /// the noise, both from `generator`. Used for the training set and for a
    /// probe set of new samples from the same teacher.
    public func sample(count: Int, generator: inout SeededGenerator) throws(DataError) -> Dataset {
        guard count >= 0, count <= TeacherConfig.maxInputElements / config.inputDim else {
            throw DataError.invalidParameter(
                owner: TeacherDataset.name, parameter: "sample count",
                requirement: "between 0 and \(TeacherConfig.maxInputElements / config.inputDim)", value: "\(count)")
        }
        // Round the inputs to Float before evaluating so the targets are
        // exactly f* of what the network sees.
        let inputs = Self.drawInputs(count: count, scales: inputScales, generator: &generator).converted(to: Float.self)
        var targets = cleanTargets(for: inputs)
        if config.noise > 0 {
            for i in targets.storage.indices { targets.storage[i] += Float(config.noise * generator.gaussian()) }
        }
        return Dataset(name: TeacherDataset.name, inputs: inputs, targets: .values(targets))
    }

    /// `sample(count:generator:)` as the `freshProbe` argument of `DataSplit.make`.
    public var freshSampler: DataSplit.FreshSampler {
        { count, generator in try self.sample(count: count, generator: &generator) }
    }

    /// f*(x) without noise for each row of `inputs` ([n, inputDim] → [n, outputs]).
    /// Returns an empty matrix when the input width is not the teacher's.
    public func cleanTargets(for inputs: Matrix<Float>) -> Matrix<Float> {
        guard inputs.cols == config.inputDim else { return Matrix(rows: 0, cols: config.outputs) }
        let raw = Self.rawTargets(
            for: inputs.converted(to: Double.self), weights: featureWeights, biases: featureBiases, coefficients: coefficients)
        var out = Matrix<Float>(rows: raw.rows, cols: raw.cols)
        for r in 0..<raw.rows {
            for c in 0..<raw.cols { out[r, c] = Float((raw[r, c] - targetMean[c]) / targetScale[c]) }
        }
        return out
    }

    /// `count` inputs x ~ N(0, diag(scales²)) as [count, scales.count], row by row.
    private static func drawInputs(count: Int, scales: [Double], generator: inout SeededGenerator) -> Matrix<Double> {
        var x = Matrix<Double>(rows: count, cols: scales.count)
        for r in 0..<count {
            for k in 0..<scales.count { x[r, k] = generator.gaussian() * scales[k] }
        }
        return x
    }

    /// r(x) = tanh(x Wᵀ + b) A, chunked so the [rows, features] activations stay small.
    private static func rawTargets(
        for inputs: Matrix<Double>, weights featureWeights: Matrix<Double>, biases featureBiases: [Double],
        coefficients: Matrix<Double>
    ) -> Matrix<Double> {
        let d = inputs.cols, outputs = coefficients.cols
        var out = Matrix<Double>(rows: inputs.rows, cols: outputs)
        var start = 0
        while start < inputs.rows {
            let end = min(start + Self.evaluationChunk, inputs.rows)
            let chunk = Matrix<Double>(rows: end - start, cols: d, storage: Array(inputs.storage[(start * d)..<(end * d)]))
            var activations = chunk.multiplied(by: featureWeights, transposeOther: true)
            for r in 0..<activations.rows {
                for j in 0..<activations.cols {
                    activations[r, j] = Foundation.tanh(activations[r, j] + featureBiases[j])
                }
            }
            let y = activations.multiplied(by: coefficients)
            out.storage.replaceSubrange((start * outputs)..<(end * outputs), with: y.storage)
            start = end
        }
        return out
    }
}

/// The default, file-free data set: samples from a random `Teacher`.
public enum TeacherDataset {
    /// The `Dataset.name` of teacher data.
    public static let name = "teacher"

    /// Draws a teacher and `config.samples` training samples from it.
    ///
    /// Deterministic: the same config and generator state give bit-identical
    /// data. The teacher's parameters are drawn first, so changing `samples`
    /// or `noise` keeps the teacher function, and the first inputs of a
    /// larger draw are those of a smaller one.
    public static func make(_ config: TeacherConfig, generator: inout SeededGenerator) throws(DataError) -> Dataset {
        try makeWithTeacher(config, generator: &generator).dataset
    }

    /// Like `make`, also returning the teacher so that fresh samples (a probe
    /// set of new inputs, a test set) can be drawn from the same function.
    public static func makeWithTeacher(
        _ config: TeacherConfig, generator: inout SeededGenerator
    ) throws(DataError) -> (dataset: Dataset, teacher: Teacher) {
        let teacher = try Teacher(config: config, generator: &generator)
        let dataset = try teacher.sample(count: config.samples, generator: &generator)
        return (dataset, teacher)
    }
}
