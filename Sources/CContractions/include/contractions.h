#ifndef SPECTOP_CONTRACTIONS_H
#define SPECTOP_CONTRACTIONS_H

// The eNTK operator's two per-sample contractions over the C outputs
// (NTKOperator): for each sample i, a (b × C)(C × width) product and a
// (b × width)(width × C) one. They are batched small GEMMs, which OpenBLAS
// 0.3 has no call for (one call per sample cost more than the arithmetic),
// so they are written here: in C, because C can compile one copy per
// instruction set (AVX-512, AVX2, baseline x86-64) and pick one at load time,
// as OpenBLAS does for its own kernels; Swift compiles for the baseline only.
//
// Layouts (row-major doubles):
// - x_j, y_j: vector j at j·vector_stride, entry i·C + c;
// - the blocks: sample i's C × width block at i·sample_stride (the deltas,
//   sample_stride = C·width; or one shared block, sample_stride = 0);
// - scratch: [n, b, width], row (i, j) at (i·b + j)·width;
// - derivative: [n, width] or NULL; when given, the block of sample i is
//   taken times diag(derivative_i) (the factored last hidden layer).

/// scratch[i, j, :] = (Σ_c x_j[iC + c] · block_i[c, :]) ⊙ derivative_i, for samples first..<last.
void spectop_combine(const double *x, long vector_stride, const double *blocks, long sample_stride,
                     const double *derivative, double *scratch, long first, long last,
                     long outputs, long width, long vectors);

/// y_j[iC + c] += Σ_k block_i[c, k] · derivative_i[k] · scratch[i, j, k], for samples first..<last.
void spectop_project(const double *scratch, const double *blocks, long sample_stride, const double *derivative,
                     double *y, long vector_stride, long first, long last,
                     long outputs, long width, long vectors);

#endif
