import CLinalg

/// Eigen-decomposition of a real symmetric matrix through LAPACKE `dsyevd`
/// (divide and conquer), in double precision.
public struct SymmetricEigen: Sendable {
    /// Eigenvalues in descending order.
    public let eigenvalues: [Double]
    /// Eigenvectors as the columns of a row-major matrix, in the same order
    /// as `eigenvalues`: `eigenvectors[i, k]` is component i of vector k.
    public let eigenvectors: Matrix<Double>

    public enum Failure: Error, CustomStringConvertible {
        case notSquare(rows: Int, cols: Int)
        case lapack(info: Int32)
        case nonFinite
        public var description: String {
            switch self {
            case .notSquare(let r, let c): return "eigen-decomposition needs a square matrix, got \(r)x\(c)"
            case .lapack(let info) where info < 0: return "LAPACK dsyevd rejected its argument \(-info) (info \(info))"
            case .lapack(let info): return "LAPACK dsyevd failed to converge (info \(info))"
            case .nonFinite: return "the matrix has NaN or infinite entries, so it has no eigen-decomposition"
            }
        }
    }

    /// Decomposes `matrix` (only its upper triangle is read).
    public init(_ matrix: Matrix<Double>, vectors: Bool = true) throws {
        guard matrix.rows == matrix.cols else { throw Failure.notSquare(rows: matrix.rows, cols: matrix.cols) }
        // LAPACKE answers NaN input with info -5 ("argument 5 is bad"): check first.
        guard matrix.storage.allSatisfy(\.isFinite) else { throw Failure.nonFinite }
        let n = matrix.rows
        if n == 0 {
            eigenvalues = []
            eigenvectors = Matrix(rows: 0, cols: 0)
            return
        }
        var a = matrix.storage
        var w = [Double](repeating: 0, count: n)
        let info = a.withUnsafeMutableBufferPointer { ap in
            w.withUnsafeMutableBufferPointer { wp in
                LAPACKE_dsyevd(
                    LAPACK_ROW_MAJOR, vectors ? CChar(UInt8(ascii: "V")) : CChar(UInt8(ascii: "N")),
                    CChar(UInt8(ascii: "U")), Int32(n), ap.baseAddress!, Int32(n), wp.baseAddress!)
            }
        }
        guard info == 0 else { throw Failure.lapack(info: info) }
        // LAPACK returns ascending order; spectop works head-first (descending).
        eigenvalues = Array(w.reversed())
        if vectors {
            var v = Matrix<Double>(rows: n, cols: n)
            for i in 0..<n {
                for k in 0..<n { v.storage[i * n + k] = a[i * n + (n - 1 - k)] }
            }
            eigenvectors = v
        } else {
            eigenvectors = Matrix(rows: 0, cols: 0)
        }
    }
}

extension SymmetricEigen {
    /// The double and integer workspace sizes `dsyevd` (eigenvectors, column-major)
    /// asks for at this order: its own query, for buffers allocated once and
    /// reused (`SpectrumWorkspace`, `MatrixFreeWorkspace`). `matrix` and
    /// `eigenvalues` are only passed through; the query reads neither.
    static func dsyevdWorkspaceSizes(order: Int, matrix: UnsafeMutablePointer<Double>,
                                     eigenvalues: UnsafeMutablePointer<Double>) -> (work: Int, integerWork: Int) {
        var workSize = 0.0
        var integerSize: Int32 = 0
        let n = Int32(max(1, order))
        _ = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "L")), n, matrix, n,
                                eigenvalues, &workSize, -1, &integerSize, -1)
        return (max(1, Int(workSize)), max(1, Int(integerSize)))
    }
}
