#ifndef SPECTOP_ALLOCATION_COUNTER_H
#define SPECTOP_ALLOCATION_COUNTER_H

/// A counting malloc for the test binary: proves that a code path performs no
/// heap allocation.
///
/// The test executable defines malloc, calloc, realloc, free and the aligned
/// variants itself; glibc lets a program replace its allocator this way, and
/// every library in the process (the Swift runtime, Foundation, OpenBLAS)
/// then calls these. Each forwards to glibc's own implementation
/// (__libc_malloc and friends), so behaviour is unchanged; while counting is
/// on, each allocation is also counted, on every thread (OpenBLAS's worker
/// threads included). Allocations made by one named library can be counted
/// apart (`spectop_allocation_counter_attribute_library`): OpenBLAS 0.3.21's
/// threaded GEMM driver mallocs its job table on every multi-threaded call,
/// which no caller can avoid and a test must not blame on the caller.
///
/// Under a sanitizer (which brings its own allocator) nothing is replaced and
/// `spectop_allocation_counter_is_active()` returns 0: tests should skip.

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this binary's malloc is the counting one; 0 under a sanitizer.
int spectop_allocation_counter_is_active(void);

/// Zeroes the counters and starts counting.
void spectop_allocation_counter_start(void);

/// Stops counting; returns the number of allocations (malloc, calloc,
/// realloc, posix_memalign, aligned_alloc, memalign, valloc, pvalloc) made
/// on any thread since the matching start.
long spectop_allocation_counter_stop(void);

/// Allocations made since start by the thread that called start (valid after
/// stop). Lets a failure message say whether the caller or another thread
/// allocated.
long spectop_allocation_counter_calling_thread(void);

/// Attributes allocations called from inside the shared library that defines
/// `symbol` (e.g. "cblas_sgemm" for OpenBLAS) to that library: from then on
/// they are counted by `spectop_allocation_counter_library()` instead of
/// `stop()`. The caller is told apart by malloc's return address. Returns 1
/// on success, 0 when the symbol or its library cannot be found.
int spectop_allocation_counter_attribute_library(const char *symbol);

/// Allocations since start made directly by the attributed library.
long spectop_allocation_counter_library(void);

/// The largest single allocation (in bytes) requested since start by anyone
/// but the attributed library: shows that a phase allocates no buffer of a
/// given size.
unsigned long spectop_allocation_counter_largest(void);

#ifdef __cplusplus
}
#endif

#endif
