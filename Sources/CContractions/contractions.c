#include "contractions.h"

// One copy per instruction set, chosen when the library loads (an ifunc).
// A build that defines SPECTOP_MULTIVERSION itself (empty, with -march=…)
// gets one copy for that instruction set: scripts/check-contraction-kernels.sh
// tests each copy that way, since a process only ever runs the one its CPU picks.
// The sanitizers' runtimes are not yet up when the loader runs an ifunc
// resolver (a thread-sanitized test binary crashed at start), so their builds
// get the baseline copy alone.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SPECTOP_SANITIZED 1
#endif
#endif
#ifndef SPECTOP_MULTIVERSION
#if defined(__x86_64__) && defined(__clang__) && !defined(SPECTOP_SANITIZED)
#define SPECTOP_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SPECTOP_MULTIVERSION
#endif
#endif

// Eight doubles: one AVX-512 register, two AVX2 or four SSE2 ones in the copies below.
typedef double lanes __attribute__((vector_size(64)));
enum { lane_count = 8 };

// Macros, not functions: a function taking or returning `lanes` would need
// AVX-512 for its calling convention in every copy.
#define load(p) ({ lanes v_; __builtin_memcpy(&v_, (p), sizeof v_); v_; })
#define store(p, v) do { lanes v_ = (v); __builtin_memcpy((p), &v_, sizeof v_); } while (0)
#define splat(a) ((lanes){0} + (a))
#define sum(v) ({ lanes s_ = (v); ((s_[0] + s_[4]) + (s_[1] + s_[5])) + ((s_[2] + s_[6]) + (s_[3] + s_[7])); })

SPECTOP_MULTIVERSION
void spectop_combine(const double *x, long vector_stride, const double *blocks, long sample_stride,
                     const double *derivative, double *scratch, long first, long last,
                     long outputs, long width, long vectors) {
    for (long i = first; i < last; i++) {
        const double *block = blocks + i * sample_stride;
        const double *scale = derivative ? derivative + i * width : 0;
        for (long j = 0; j < vectors; j++) {
            const double *coefficients = x + j * vector_stride + i * outputs;
            double *row = scratch + (i * vectors + j) * width;
            long k = 0;
            // Four registers of the row at a time, summed over the C block rows
            // in registers: one load of the block per multiply-add.
            for (; k + 4 * lane_count <= width; k += 4 * lane_count) {
                lanes a0 = splat(0), a1 = splat(0), a2 = splat(0), a3 = splat(0);
                for (long c = 0; c < outputs; c++) {
                    const double *source = block + c * width + k;
                    lanes w = splat(coefficients[c]);
                    a0 += w * load(source);
                    a1 += w * load(source + lane_count);
                    a2 += w * load(source + 2 * lane_count);
                    a3 += w * load(source + 3 * lane_count);
                }
                if (scale) {
                    a0 *= load(scale + k);
                    a1 *= load(scale + k + lane_count);
                    a2 *= load(scale + k + 2 * lane_count);
                    a3 *= load(scale + k + 3 * lane_count);
                }
                store(row + k, a0);
                store(row + k + lane_count, a1);
                store(row + k + 2 * lane_count, a2);
                store(row + k + 3 * lane_count, a3);
            }
            for (; k + lane_count <= width; k += lane_count) {
                lanes a = splat(0);
                for (long c = 0; c < outputs; c++) a += splat(coefficients[c]) * load(block + c * width + k);
                if (scale) a *= load(scale + k);
                store(row + k, a);
            }
            for (; k < width; k++) {
                double a = 0;
                for (long c = 0; c < outputs; c++) a += coefficients[c] * block[c * width + k];
                row[k] = scale ? a * scale[k] : a;
            }
        }
    }
}

// Σ_k block[c, k] · t[k] for four rows c..c+3 at once, t = scale ⊙ tangent
// (scale NULL: 1): the tangent is loaded once for the four.
static inline __attribute__((always_inline)) void dot4(const double *block, long width, const double *tangent,
                                                       const double *scale, double *target) {
    lanes s0 = splat(0), s1 = splat(0), s2 = splat(0), s3 = splat(0);
    long k = 0;
    for (; k + lane_count <= width; k += lane_count) {
        lanes t = load(tangent + k);
        if (scale) t *= load(scale + k);
        s0 += load(block + k) * t;
        s1 += load(block + width + k) * t;
        s2 += load(block + 2 * width + k) * t;
        s3 += load(block + 3 * width + k) * t;
    }
    double r0 = sum(s0), r1 = sum(s1), r2 = sum(s2), r3 = sum(s3);
    for (; k < width; k++) {
        double t = scale ? tangent[k] * scale[k] : tangent[k];
        r0 += block[k] * t;
        r1 += block[width + k] * t;
        r2 += block[2 * width + k] * t;
        r3 += block[3 * width + k] * t;
    }
    target[0] += r0; target[1] += r1; target[2] += r2; target[3] += r3;
}

static inline __attribute__((always_inline)) void dot1(const double *block, long width, const double *tangent,
                                                       const double *scale, double *target) {
    lanes s = splat(0);
    long k = 0;
    for (; k + lane_count <= width; k += lane_count) {
        lanes t = load(tangent + k);
        if (scale) t *= load(scale + k);
        s += load(block + k) * t;
    }
    double r = sum(s);
    for (; k < width; k++) r += block[k] * (scale ? tangent[k] * scale[k] : tangent[k]);
    *target += r;
}

SPECTOP_MULTIVERSION
void spectop_project(const double *scratch, const double *blocks, long sample_stride, const double *derivative,
                     double *y, long vector_stride, long first, long last,
                     long outputs, long width, long vectors) {
    for (long i = first; i < last; i++) {
        const double *block = blocks + i * sample_stride;
        const double *scale = derivative ? derivative + i * width : 0;
        for (long j = 0; j < vectors; j++) {
            const double *tangent = scratch + (i * vectors + j) * width;
            double *target = y + j * vector_stride + i * outputs;
            long c = 0;
            for (; c + 4 <= outputs; c += 4) dot4(block + c * width, width, tangent, scale, target + c);
            for (; c < outputs; c++) dot1(block + c * width, width, tangent, scale, target + c);
        }
    }
}
