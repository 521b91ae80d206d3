#ifndef SPECTOP_CLINALG_SHIM_H
#define SPECTOP_CLINALG_SHIM_H
// OpenBLAS (CBLAS + its extensions such as openblas_get_corename) and LAPACKE.
// Debian's libopenblas-dev installs cblas.h through the alternatives system at
// /usr/include/x86_64-linux-gnu/cblas.h; that path is on the default search path.
#include <cblas.h>
#include <lapacke.h>

// openblas_get_corename is declared in OpenBLAS's cblas.h but not in the
// reference CBLAS header; declare it here so the module is the same either way.
char *openblas_get_corename(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
