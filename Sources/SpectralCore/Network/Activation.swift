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

    /// Applies the activation to `count` values of `pre`, writing `post`.
    @inlinable
    func apply<Scalar: BLASScalar>(_ pre: UnsafePointer<Scalar>, _ post: UnsafeMutablePointer<Scalar>, count: Int) {
        switch self {
        case .identity:
            post.update(from: pre, count: count)
        case .relu:
            for i in 0..<count { post[i] = pre[i] > 0 ? pre[i] : 0 }
        case .tanh:
            for i in 0..<count { post[i] = Scalar.tanh(pre[i]) }
        case .gelu:
            let invSqrt2 = Scalar(0.70710678118654752440)
            for i in 0..<count {
                let x = pre[i]
                post[i] = x * (1 + Scalar.erf(x * invSqrt2)) / 2
            }
        case .geluTanh:
            let k = Scalar(0.79788456080286535588)  // sqrt(2/pi)
            for i in 0..<count {
                let x = pre[i]
                post[i] = x * (1 + Scalar.tanh(k * (x + Scalar(0.044715) * x * x * x))) / 2
            }
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
            for i in 0..<count where !(pre[i] > 0) { delta[i] = 0 }
        case .tanh:
            for i in 0..<count { delta[i] *= 1 - post[i] * post[i] }
        case .gelu:
            let invSqrt2 = Scalar(0.70710678118654752440)
            let invSqrt2Pi = Scalar(0.39894228040143267794)
            for i in 0..<count {
                let x = pre[i]
                let cdf = (1 + Scalar.erf(x * invSqrt2)) / 2
                let pdf = invSqrt2Pi * Scalar.exp(-x * x / 2)
                delta[i] *= cdf + x * pdf
            }
        case .geluTanh:
            let k = Scalar(0.79788456080286535588)
            let c = Scalar(0.044715)
            for i in 0..<count {
                let x = pre[i]
                let u = k * (x + c * x * x * x)
                let th = Scalar.tanh(u)
                let du = k * (1 + 3 * c * x * x)
                delta[i] *= (1 + th) / 2 + x * (1 - th * th) * du / 2
            }
        }
    }
}
