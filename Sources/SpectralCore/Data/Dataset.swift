/// A supervised data set held in memory: inputs and either real-valued
/// targets (regression, MSE) or class labels (classification, cross-entropy).
public struct Dataset: Sendable {
    public enum Targets: Sendable, Equatable {
        /// Real targets, one row per sample, `outputs` columns.
        case values(Matrix<Float>)
        /// Class labels in `0..<classes`.
        case labels([Int], classes: Int)
    }

    /// Human-readable name, e.g. "teacher" or "digits".
    public var name: String
    /// Inputs, one row per sample: [samples, inputDim].
    public var inputs: Matrix<Float>
    public var targets: Targets

    public init(name: String, inputs: Matrix<Float>, targets: Targets) {
        self.name = name
        self.inputs = inputs
        self.targets = targets
    }

    public var count: Int { inputs.rows }
    public var inputDim: Int { inputs.cols }

    /// Network output dimension C: target columns or class count.
    public var outputDim: Int {
        switch targets {
        case .values(let y): return y.cols
        case .labels(_, let classes): return classes
        }
    }

    /// MSE for real targets, softmax cross-entropy for labels.
    public var lossKind: LossKind {
        switch targets {
        case .values: return .mse
        case .labels: return .crossEntropy
        }
    }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        let x = inputs.rows(indices)
        switch targets {
        case .values(let y): return Dataset(name: name, inputs: x, targets: .values(y.rows(indices)))
        case .labels(let l, let c): return Dataset(name: name, inputs: x, targets: .labels(indices.map { l[$0] }, classes: c))
        }
    }
}

/// The loss a model is trained with.
public enum LossKind: String, Sendable, CaseIterable {
    case mse
    case crossEntropy = "cross_entropy"
}
