// The contraction kernels (Sources/CContractions) against plain loops, for
// one instruction-set copy: scripts/check-contraction-kernels.sh compiles this
// with each -march the kernels are cloned for. Sizes sweep every chunk and
// tail of both kernels (widths around 8 and 32, outputs around 4), shared and
// per-sample blocks, with and without the derivative, several vectors.
#include "contractions.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long long state = 0x5EC7;
static double uniform(void) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(state >> 11) / 9007199254740992.0 * 2 - 1;
}

static double *random_array(long count) {
    double *a = malloc(sizeof(double) * (count > 0 ? count : 1));
    for (long i = 0; i < count; i++) a[i] = uniform();
    return a;
}

static int check(const char *what, const double *got, const double *want, long count, long n, long c, long w, long b) {
    double scale = 0, error = 0;
    for (long i = 0; i < count; i++) {
        scale = fmax(scale, fabs(want[i]));
        error = fmax(error, fabs(got[i] - want[i]));
    }
    if (error > 1e-13 * fmax(1, scale)) {
        printf("%s: n %ld C %ld width %ld b %ld: max error %.3g (scale %.3g)\n", what, n, c, w, b, error, scale);
        return 1;
    }
    return 0;
}

int main(void) {
    int failures = 0, cases = 0;
    const long widths[] = {1, 3, 7, 8, 9, 31, 32, 33, 40, 70};
    for (long c = 1; c <= 9; c++) {
        for (unsigned wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
            long w = widths[wi];
            for (long b = 1; b <= 3; b++) {
                for (int shared = 0; shared <= 1; shared++) {
                    long n = 5, m = n * c, stride = shared ? 0 : c * w;
                    double *x = random_array(m * b), *blocks = random_array(shared ? c * w : n * c * w);
                    double *derivative = shared ? random_array(n * w) : NULL;
                    double *scratch = random_array(n * b * w), *want = malloc(sizeof(double) * n * b * w);
                    // combine, on a middle range of samples too (first > 0).
                    spectop_combine(x, m, blocks, stride, derivative, scratch, 0, 2, c, w, b);
                    spectop_combine(x, m, blocks, stride, derivative, scratch, 2, n, c, w, b);
                    for (long i = 0; i < n; i++)
                        for (long j = 0; j < b; j++)
                            for (long k = 0; k < w; k++) {
                                double s = 0;
                                for (long o = 0; o < c; o++) s += x[j * m + i * c + o] * blocks[i * stride + o * w + k];
                                want[(i * b + j) * w + k] = derivative ? s * derivative[i * w + k] : s;
                            }
                    failures += check("combine", scratch, want, n * b * w, n, c, w, b);
                    // project: adds into y.
                    double *y = random_array(m * b), *expected = malloc(sizeof(double) * m * b);
                    for (long k = 0; k < m * b; k++) expected[k] = y[k];
                    spectop_project(scratch, blocks, stride, derivative, y, m, 0, 3, c, w, b);
                    spectop_project(scratch, blocks, stride, derivative, y, m, 3, n, c, w, b);
                    for (long i = 0; i < n; i++)
                        for (long j = 0; j < b; j++)
                            for (long o = 0; o < c; o++) {
                                double s = 0;
                                for (long k = 0; k < w; k++) {
                                    double t = scratch[(i * b + j) * w + k];
                                    s += blocks[i * stride + o * w + k] * (derivative ? t * derivative[i * w + k] : t);
                                }
                                expected[j * m + i * c + o] += s;
                            }
                    failures += check("project", y, expected, m * b, n, c, w, b);
                    cases += 2;
                    free(x); free(blocks); free(derivative); free(scratch); free(want); free(y); free(expected);
                }
            }
        }
    }
    printf("%d of %d contraction cases wrong\n", failures, cases);
    return failures ? 1 : 0;
}
