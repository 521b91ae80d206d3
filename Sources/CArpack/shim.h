#ifndef SPECTOP_CARPACK_SHIM_H
#define SPECTOP_CARPACK_SHIM_H
// ARPACK-NG's ISO C bindings of the symmetric implicitly restarted Lanczos
// routines (Debian libarpack2-dev, 32-bit integers). Declared here rather than
// by including <arpack/arpack.h> because that header also declares the complex
// drivers with C99 `_Complex` arguments, which spectop does not use.
// Reverse communication: dsaupd_c asks for products y = A x through `ido`;
// dseupd_c extracts the Ritz values and vectors afterwards.
void dsaupd_c(int *ido, char const *bmat, int n, char const *which, int nev, double tol, double *resid,
              int ncv, double *v, int ldv, int *iparam, int *ipntr, double *workd, double *workl,
              int lworkl, int *info);
void dseupd_c(int rvec, char const *howmny, int const *select, double *d, double *z, int ldz, double sigma,
              char const *bmat, int n, char const *which, int nev, double tol, double *resid, int ncv,
              double *v, int ldv, int *iparam, int *ipntr, double *workd, double *workl, int lworkl,
              int *info);
#endif
