import CArpack
import Foundation

/// The k largest eigenpairs of the eNTK through its products alone: ARPACK's
/// implicitly restarted Lanczos (`dsaupd`/`dseupd`, reverse communication),
/// asking `NTKOperator` for each Θv.
public enum TopEigenpairs {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// k must be at least 1 and below m (ARPACK needs nev < ncv ≤ m).
        case badCount(k: Int, size: Int)
        /// ARPACK's own error code (its documentation of dsaupd/dseupd lists them).
        case arpack(routine: String, info: Int32)
        /// LAPACK's (dstev for the quadrature's tridiagonal matrices).
        case lapack(routine: String, info: Int32)
        /// Fewer than k Ritz values met the tolerance within the restart budget.
        case notConverged(converged: Int, requested: Int)
        /// The caller's `interrupted` said stop between two products.
        case interrupted

        public var description: String {
            switch self {
            case .badCount(let k, let m):
                return "top-k of \(k) eigenpairs needs 1 ≤ k < m, and the kernel has m = \(m) rows"
            case .arpack(let routine, let info): return "ARPACK \(routine) failed (info \(info))"
            case .lapack(let routine, let info): return "LAPACK \(routine) failed (info \(info))"
            case .notConverged(let converged, let requested):
                return "ARPACK found \(converged) of \(requested) eigenpairs within its restart budget"
            case .interrupted: return "interrupted"
            }
        }
    }

    /// λ_1 ≥ … ≥ λ_k; their unit eigenvectors are in `workspace.ritzVectors`
    /// (vector j at j·m, head first) until the workspace's next solve.
    public struct Result: @unchecked Sendable {
        // @unchecked: the workspace belongs to the caller's worker.
        public var eigenvalues: [Double]
        /// Products Θv ARPACK asked for.
        public var products: Int
        public let workspace: MatrixFreeWorkspace

        /// The eigenvectors as one array (a copy of m·k doubles: for tests and one-off uses).
        public var eigenvectors: [Double] {
            Array(UnsafeBufferPointer(start: workspace.ritzVectors, count: workspace.size * eigenvalues.count))
        }
    }

    /// ARPACK keeps its iteration state in Fortran SAVE variables (dsaupd,
    /// dsaup2, dsaitr), so two solves must never run at once in one process:
    /// the engine's workers take turns here.
    private static let arpackLock = NSLock()

    /// The top `k` eigenpairs of `op`. `tolerance` is ARPACK's relative
    /// residual bound ‖Θv − λv‖ ≤ tol·|λ|; for a symmetric matrix the eigenvalue
    /// error is at most the residual, so 1e-10 gives eigenvalues to 1e-10
    /// relative. The start vector comes from `seed`, so a solve is repeatable
    /// (ARPACK's own random start carries state from call to call).
    ///
    /// Every buffer of size m or more comes from `workspace` (one is made
    /// when none is given), so a model's repeated solves allocate only the
    /// k eigenvalues.
    public static func compute(_ op: NTKOperator, k: Int, tolerance: Double = 1e-10, seed: UInt64 = 0x70B,
                               maxRestarts: Int = 300, workspace given: MatrixFreeWorkspace? = nil,
                               interrupted: () -> Bool = { false }) throws(Failure) -> Result {
        let m = op.size
        guard k >= 1, k < m else { throw .badCount(k: k, size: m) }
        let workspace = given ?? MatrixFreeWorkspace(size: m, settings: MatrixFreeSettings(topK: k, starts: 2, steps: 1))
        precondition(workspace.size == m && workspace.topK >= k, "matrix-free workspace too small")
        // ncv = 2k + 1 Lanczos vectors is ARPACK's usual advice (at least 2k);
        // on the benchmark's m = 10,240 operator 3k and 4k took more products (185, 204 against 174).
        let ncv = Int32(min(m, 2 * k + 1))
        precondition(Int(ncv) <= workspace.lanczosCount)
        let n = Int32(m), nev = Int32(k)
        let resid = workspace.resid, v = workspace.lanczosBasis, workd = workspace.arpackWork, workl = workspace.arpackLocalWork
        var generator = SeededGenerator(seed: seed)
        for i in 0..<m { resid[i] = generator.gaussian() }
        let lworkl = ncv * (ncv + 8)
        var iparam = [Int32](repeating: 0, count: 11)
        var ipntr = [Int32](repeating: 0, count: 11)
        iparam[0] = 1                      // exact shifts
        iparam[2] = Int32(maxRestarts)     // restart budget
        iparam[6] = 1                      // mode 1: standard problem A x = λ x
        var ido: Int32 = 0
        var info: Int32 = 1                // 1: use `resid` as the start vector

        arpackLock.lock()
        defer { arpackLock.unlock() }
        var stopped = false
        repeat {
            dsaupd_c(&ido, "I", n, "LA", nev, tolerance, resid, ncv, v, n, &iparam, &ipntr, workd, workl, lworkl, &info)
            if ido == -1 || ido == 1 {
                if interrupted() { stopped = true; break }
                op.apply(UnsafePointer(workd + Int(ipntr[0]) - 1), workd + Int(ipntr[1]) - 1, count: 1)
            }
        } while ido == -1 || ido == 1
        if stopped { throw .interrupted }
        // info 1: the restart budget ran out; iparam[4] says how many converged.
        if info == 1 { throw .notConverged(converged: Int(iparam[4]), requested: k) }
        guard info == 0 else { throw .arpack(routine: "dsaupd", info: info) }

        var select = [Int32](repeating: 0, count: Int(ncv))
        var d = [Double](repeating: 0, count: k)
        let z = workspace.ritzVectors
        var extractInfo: Int32 = 0
        dseupd_c(1, "A", &select, &d, z, n, 0, "I", n, "LA", nev, tolerance, resid, ncv, v, n,
                 &iparam, &ipntr, workd, workl, lworkl, &extractInfo)
        guard extractInfo == 0 else { throw .arpack(routine: "dseupd", info: extractInfo) }
        let converged = Int(iparam[4])
        guard converged >= k else { throw .notConverged(converged: converged, requested: k) }
        // dseupd returns ascending Ritz values; spectop works head-first, so
        // the vectors are reversed in place (swapping whole vectors).
        for j in 0..<(k / 2) {
            let a = z + j * m, b = z + (k - 1 - j) * m
            for i in 0..<m { let t = a[i]; a[i] = b[i]; b[i] = t }
        }
        return Result(eigenvalues: Array(d.reversed()), products: Int(iparam[8]), workspace: workspace)
    }
}
