/// A dense, contiguous, row-major matrix. Products go through BLAS GEMM.
///
/// `Matrix` is a value type for data sets, probe sets, kernels and tests. The
/// training hot loop works on views into one preallocated buffer instead (see
/// `MLP`), so that nothing is allocated per step.
public struct Matrix<Scalar: BLASScalar>: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    public var storage: [Scalar]

    public init(rows: Int, cols: Int, repeating value: Scalar = 0) {
        precondition(rows >= 0 && cols >= 0, "matrix dimensions must be non-negative")
        self.rows = rows
        self.cols = cols
        self.storage = Array(repeating: value, count: rows * cols)
    }

    public init(rows: Int, cols: Int, storage: [Scalar]) {
        precondition(storage.count == rows * cols, "storage does not match \(rows)x\(cols)")
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    @inlinable
    public subscript(row: Int, col: Int) -> Scalar {
        get { storage[row * cols + col] }
        set { storage[row * cols + col] = newValue }
    }

    /// Row `i` as an array (copies).
    public func row(_ i: Int) -> [Scalar] { Array(storage[(i * cols)..<((i + 1) * cols)]) }

    /// The rows at `indices`, in that order.
    public func rows(_ indices: [Int]) -> Matrix {
        var out = Matrix(rows: indices.count, cols: cols)
        for (r, i) in indices.enumerated() {
            for c in 0..<cols { out.storage[r * cols + c] = storage[i * cols + c] }
        }
        return out
    }

    public var transposed: Matrix {
        var out = Matrix(rows: cols, cols: rows)
        for i in 0..<rows { for j in 0..<cols { out.storage[j * rows + i] = storage[i * cols + j] } }
        return out
    }

    /// Converts element type (e.g. Float32 activations into a Float64 kernel).
    public func converted<Other: BLASScalar>(to: Other.Type = Other.self) -> Matrix<Other> {
        Matrix<Other>(rows: rows, cols: cols, storage: storage.map { Other($0) })
    }

    /// `op(self) * op(other)` through GEMM.
    public func multiplied(by other: Matrix, transposeSelf: Bool = false, transposeOther: Bool = false) -> Matrix {
        let m = transposeSelf ? cols : rows
        let k = transposeSelf ? rows : cols
        let k2 = transposeOther ? other.cols : other.rows
        let n = transposeOther ? other.rows : other.cols
        precondition(k == k2, "inner dimensions differ: \(k) vs \(k2)")
        var out = Matrix(rows: m, cols: n)
        if m == 0 || n == 0 { return out }
        if k == 0 { return out }
        storage.withUnsafeBufferPointer { a in
            other.storage.withUnsafeBufferPointer { b in
                out.storage.withUnsafeMutableBufferPointer { c in
                    Scalar.gemm(
                        transA: transposeSelf, transB: transposeOther, m: m, n: n, k: k,
                        alpha: 1, a: a.baseAddress!, lda: cols, b: b.baseAddress!, ldb: other.cols,
                        beta: 0, c: c.baseAddress!, ldc: n)
                }
            }
        }
        return out
    }

    /// `self * selfᵀ`: the Gram matrix of the rows.
    public func gram() -> Matrix { multiplied(by: self, transposeOther: true) }

    /// `self * selfᵀ` written into `out` (rows × rows, row-major), which the
    /// caller allocated once: the spectrum phase reuses its buffers.
    public func gram(into out: UnsafeMutablePointer<Scalar>) {
        guard rows > 0 else { return }
        guard cols > 0 else {
            out.initialize(repeating: 0, count: rows * rows)
            return
        }
        storage.withUnsafeBufferPointer { a in
            Scalar.gemm(transA: false, transB: true, m: rows, n: rows, k: cols, alpha: 1, a: a.baseAddress!, lda: cols,
                        b: a.baseAddress!, ldb: cols, beta: 0, c: out, ldc: rows)
        }
    }

    /// The upper triangle (column ≥ row) of `self * selfᵀ` written into
    /// `out` (rows × rows, row-major) by SYRK: half the flops of `gram(into:)`.
    /// The lower triangle is left as it was.
    public func upperGram(into out: UnsafeMutablePointer<Scalar>) {
        guard rows > 0 else { return }
        guard cols > 0 else {
            out.initialize(repeating: 0, count: rows * rows)
            return
        }
        storage.withUnsafeBufferPointer { a in
            Scalar.syrkUpper(n: rows, k: cols, alpha: 1, a: a.baseAddress!, lda: cols, beta: 0, c: out, ldc: rows)
        }
    }

    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, cols: n)
        for i in 0..<n { m[i, i] = 1 }
        return m
    }

    public var trace: Scalar {
        precondition(rows == cols)
        var t: Scalar = 0
        for i in 0..<rows { t += storage[i * cols + i] }
        return t
    }
}
