/// Batch targets in the model's precision, preallocated for `capacity` rows.
public final class TargetBuffer<Scalar: BLASScalar>: @unchecked Sendable {
    // @unchecked: owned by one worker together with its model.
    public let capacity: Int
    public let outputDim: Int
    public let kind: LossKind
    /// MSE targets: [capacity, C].
    public let values: UnsafeMutableBufferPointer<Scalar>
    /// Cross-entropy class labels: [capacity].
    public let labels: UnsafeMutableBufferPointer<Int>

    public init(kind: LossKind, outputDim: Int, capacity: Int) {
        self.kind = kind
        self.outputDim = outputDim
        self.capacity = capacity
        values = .allocate(capacity: kind == .mse ? capacity * outputDim : 0)
        values.initialize(repeating: 0)
        labels = .allocate(capacity: kind == .crossEntropy ? capacity : 0)
        labels.initialize(repeating: 0)
    }

    deinit {
        values.deallocate()
        labels.deallocate()
    }

    /// Copies the targets of the samples at `indices`.
    public func load(_ targets: Dataset.Targets, rows indices: UnsafeBufferPointer<Int>) {
        precondition(indices.count <= capacity)
        switch targets {
        case .values(let y):
            precondition(kind == .mse && y.cols == outputDim)
            y.storage.withUnsafeBufferPointer { src in
                for (r, i) in indices.enumerated() {
                    for c in 0..<outputDim { values[r * outputDim + c] = Scalar(src[i * outputDim + c]) }
                }
            }
        case .labels(let l, _):
            precondition(kind == .crossEntropy)
            for (r, i) in indices.enumerated() { labels[r] = l[i] }
        }
    }

    /// Copies the first `rows` targets.
    public func load(_ targets: Dataset.Targets, count rows: Int) {
        let indices = Array(0..<rows)
        indices.withUnsafeBufferPointer { load(targets, rows: $0) }
    }
}

/// The training losses, each returning the batch-mean loss and writing
/// ∂L/∂f (METHOD.md: g_i = (f_i − y_i)/n for MSE, (softmax(f_i) − onehot)/n
/// for cross-entropy).
public enum Loss {
    /// Mean loss over `rows`; writes ∂L/∂f into `gradient` ([rows, C]).
    /// Accumulates in Double so the reported loss does not depend on the
    /// model's precision.
    public static func evaluate<Scalar: BLASScalar>(
        _ kind: LossKind, outputs: UnsafePointer<Scalar>, targets: TargetBuffer<Scalar>, rows: Int,
        gradient: UnsafeMutablePointer<Scalar>
    ) -> Double {
        let c = targets.outputDim
        let invRows = 1 / Double(rows)
        var total = 0.0
        switch kind {
        case .mse:
            // ℓ = ½‖f − y‖²
            for r in 0..<rows {
                for j in 0..<c {
                    let diff = Double(outputs[r * c + j]) - Double(targets.values[r * c + j])
                    total += diff * diff / 2
                    gradient[r * c + j] = Scalar(diff * invRows)
                }
            }
        case .crossEntropy:
            for r in 0..<rows {
                let row = outputs + r * c
                var maxLogit = -Double.infinity
                for j in 0..<c { maxLogit = Swift.max(maxLogit, Double(row[j])) }
                var sum = 0.0
                for j in 0..<c { sum += Double.exp(Double(row[j]) - maxLogit) }
                let logSum = maxLogit + Double.log(sum)
                let label = targets.labels[r]
                total += logSum - Double(row[label])
                for j in 0..<c {
                    let p = Double.exp(Double(row[j]) - logSum)
                    gradient[r * c + j] = Scalar((p - (j == label ? 1 : 0)) * invRows)
                }
            }
        }
        return total * invRows
    }
}
