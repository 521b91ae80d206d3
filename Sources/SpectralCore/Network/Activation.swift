/// Elementwise non-linearities of the hidden layers. The readout is always
/// `identity`.
public enum Activation: String, Sendable, CaseIterable, Codable {
    case relu
    /// GELU in its exact form, x·Φ(x) with the erf-based normal CDF.
    case gelu
    /// GELU's tanh approximation (PyTorch `approximate="tanh"`).
    case geluTanh = "gelu_tanh"
    case tanh
    case identity

    /// Adds the bias to every row of `pre` ([rows, cols], h = h + t·b) and
    /// writes φ(h) to `post`, in one pass: a separate bias pass and activation
    /// pass would each stream the whole layer through the cache. Each element
    /// is computed exactly as the two passes would (same operations, same
    /// order), so the result is bit for bit the same.
    @inlinable
    func addBiasAndApply<Scalar: BLASScalar>(
        _ pre: UnsafeMutablePointer<Scalar>, bias: UnsafePointer<Scalar>, biasMultiplier t: Scalar,
        _ post: UnsafeMutablePointer<Scalar>, rows: Int, cols: Int
    ) {
        // The switch stays outside the row loop so each case is one tight
        // loop the compiler can vectorise.
        switch self {
        case .identity:
            for r in 0..<rows {
                let h = pre + r * cols, a = post + r * cols
                for j in 0..<cols {
                    let x = h[j] + t * bias[j]
                    h[j] = x
                    a[j] = x
                }
            }
        case .relu:
            for r in 0..<rows {
                let h = pre + r * cols, a = post + r * cols
                for j in 0..<cols {
                    let x = h[j] + t * bias[j]
                    h[j] = x
                    a[j] = x > 0 ? x : 0
                }
            }
        case .tanh:
            for r in 0..<rows {
                let h = pre + r * cols, a = post + r * cols
                for j in 0..<cols {
                    let x = h[j] + t * bias[j]
                    h[j] = x
                    a[j] = Scalar.tanh(x)
                }
            }
        case .gelu:
            let invSqrt2 = Scalar(0.70710678118654752440)
            for r in 0..<rows {
                let h = pre + r * cols, a = post + r * cols
                for j in 0..<cols {
                    let x = h[j] + t * bias[j]
                    h[j] = x
                    a[j] = x * (1 + Scalar.erf(x * invSqrt2)) / 2
                }
            }
        case .geluTanh:
            let k = Scalar(0.79788456080286535588)  // sqrt(2/pi)
            for r in 0..<rows {
                let h = pre + r * cols, a = post + r * cols
                for j in 0..<cols {
                    let x = h[j] + t * bias[j]
                    h[j] = x
                    a[j] = x * (1 + Scalar.tanh(k * (x + Scalar(0.044715) * x * x * x))) / 2
                }
            }
        }
    }

    /// φ'(h) for one element; `post` = φ(h) lets tanh reuse its forward value.
    /// The one formula both derivative passes below use.
    @inlinable @inline(__always)
    func derivative<Scalar: BLASScalar>(pre x: Scalar, post: Scalar) -> Scalar {
        switch self {
        case .identity:
            return 1
        case .relu:
            return x > 0 ? 1 : 0
        case .tanh:
            return 1 - post * post
        case .gelu:
            let cdf = (1 + Scalar.erf(x * Scalar(0.70710678118654752440))) / 2
            let pdf = Scalar(0.39894228040143267794) * Scalar.exp(-x * x / 2)
            return cdf + x * pdf
        case .geluTanh:
            let k = Scalar(0.79788456080286535588)
            let c = Scalar(0.044715)
            let th = Scalar.tanh(k * (x + c * x * x * x))
            let du = k * (1 + 3 * c * x * x)
            return (1 + th) / 2 + x * (1 - th * th) * du / 2
        }
    }

    /// Multiplies `delta` in place by the derivative φ'(pre); `post` = φ(pre)
    /// lets tanh reuse its forward value.
    @inlinable
    func multiplyByDerivative<Scalar: BLASScalar>(
        _ delta: UnsafeMutablePointer<Scalar>, pre: UnsafePointer<Scalar>, post: UnsafePointer<Scalar>, count: Int
    ) {
        switch self {
        case .identity:
            return
        case .relu:
            // A select on an unconditional load, not a conditional store, so
            // the loop vectorises; a NaN pre-activation still gives 0.
            for i in 0..<count {
                let value = delta[i]
                delta[i] = pre[i] > 0 ? value : 0
            }
        case .tanh, .gelu, .geluTanh:
            for i in 0..<count { delta[i] *= derivative(pre: pre[i], post: post[i]) }
        }
    }

    /// `multiplyByDerivative` on δ: [rows, cols], and in the same pass the
    /// column sums of the result into `columnSums` (overwritten): the bias
    /// gradient Σ_r δ[r, j] before its multiplier. The sums are accumulated
    /// row by row from 0, the order the separate pass used, so they are bit
    /// for bit the same; one pass over δ is saved.
    @inlinable
    func multiplyByDerivative<Scalar: BLASScalar>(
        _ delta: UnsafeMutablePointer<Scalar>, pre: UnsafePointer<Scalar>, post: UnsafePointer<Scalar>,
        rows: Int, cols: Int, columnSums: UnsafeMutablePointer<Scalar>
    ) {
        for j in 0..<cols { columnSums[j] = 0 }
        switch self {
        case .identity:
            for r in 0..<rows {
                let d = delta + r * cols
                for j in 0..<cols { columnSums[j] += d[j] }
            }
        case .relu:
            for r in 0..<rows {
                let d = delta + r * cols, h = pre + r * cols
                for j in 0..<cols {
                    let value = d[j]  // loaded unconditionally: a select, not a branch
                    let masked = h[j] > 0 ? value : 0
                    d[j] = masked
                    columnSums[j] += masked
                }
            }
        case .tanh, .gelu, .geluTanh:
            for r in 0..<rows {
                let d = delta + r * cols, h = pre + r * cols, a = post + r * cols
                for j in 0..<cols {
                    let scaled = d[j] * derivative(pre: h[j], post: a[j])
                    d[j] = scaled
                    columnSums[j] += scaled
                }
            }
        }
    }
}
