// See include/AllocationCounter.h. Kept minimal on purpose: this code runs
// inside every allocation of the test process.

#define _GNU_SOURCE
#include "AllocationCounter.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define SPECTOP_UNDER_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SPECTOP_UNDER_SANITIZER 1
#endif

#if defined(__linux__) && !defined(SPECTOP_UNDER_SANITIZER)

// glibc's allocator under its internal names: what our replacements forward to.
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

static atomic_int counting;
static atomic_long allocations;
// The thread that called start, and its own count. pthread_self() only
// reads the thread pointer, so it is safe to call from inside malloc.
static atomic_ulong startingThread;
static atomic_long startingThreadAllocations;

// Executable segments of the attributed library, written once before
// counting starts (never while another thread counts).
#define MAX_RANGES 8
static uintptr_t rangeStart[MAX_RANGES], rangeEnd[MAX_RANGES];
static atomic_int rangeCount;
static atomic_long libraryAllocations;
// The largest single request since start, from any caller but the attributed library.
static atomic_ulong largestRequest;

static inline void note_size(size_t size) {
    unsigned long seen = atomic_load_explicit(&largestRequest, memory_order_relaxed);
    while (size > seen && !atomic_compare_exchange_weak_explicit(&largestRequest, &seen, size, memory_order_relaxed, memory_order_relaxed)) {}
}

static inline int from_attributed_library(uintptr_t caller) {
    int count = atomic_load_explicit(&rangeCount, memory_order_acquire);
    for (int i = 0; i < count; i++) {
        if (caller >= rangeStart[i] && caller < rangeEnd[i]) return 1;
    }
    return 0;
}

static inline void note_allocation_from(uintptr_t caller) {
    if (from_attributed_library(caller)) {
        atomic_fetch_add_explicit(&libraryAllocations, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    if (atomic_load_explicit(&startingThread, memory_order_relaxed) == (unsigned long)pthread_self()) {
        atomic_fetch_add_explicit(&startingThreadAllocations, 1, memory_order_relaxed);
    }
}

// A macro, not a function, so that __builtin_return_address(0) is taken in
// the replacement itself: the address in malloc's caller.
#define note_allocation_of(size)                                                 \
    do {                                                                         \
        if (atomic_load_explicit(&counting, memory_order_relaxed)) {             \
            uintptr_t caller = (uintptr_t)__builtin_return_address(0);           \
            note_allocation_from(caller);                                        \
            if (!from_attributed_library(caller)) note_size(size);               \
        }                                                                        \
    } while (0)

void *malloc(size_t size) {
    note_allocation_of(size);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    note_allocation_of(count * size);
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    note_allocation_of(size);
    return __libc_realloc(pointer, size);
}

void free(void *pointer) { __libc_free(pointer); }

void *memalign(size_t alignment, size_t size) {
    note_allocation_of(size);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    note_allocation_of(size);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    // POSIX: a power of two and a multiple of sizeof(void *), else EINVAL.
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0) return EINVAL;
    note_allocation_of(size);
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}

void *valloc(size_t size) {
    note_allocation_of(size);
    return __libc_valloc(size);
}

void *pvalloc(size_t size) {
    note_allocation_of(size);
    return __libc_pvalloc(size);
}

int spectop_allocation_counter_is_active(void) { return 1; }

static const void *wantedBase;

static int find_segments(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if ((const void *)info->dlpi_addr != wantedBase) return 0;
    int count = 0;
    for (int i = 0; i < info->dlpi_phnum && count < MAX_RANGES; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || !(segment->p_flags & PF_X)) continue;
        rangeStart[count] = info->dlpi_addr + segment->p_vaddr;
        rangeEnd[count] = rangeStart[count] + segment->p_memsz;
        count++;
    }
    atomic_store_explicit(&rangeCount, count, memory_order_release);
    return 1;
}

int spectop_allocation_counter_attribute_library(const char *symbol) {
    void *address = dlsym(RTLD_DEFAULT, symbol);
    if (address == NULL) return 0;
    Dl_info info;
    if (dladdr(address, &info) == 0 || info.dli_fbase == NULL) return 0;
    wantedBase = info.dli_fbase;
    atomic_store(&rangeCount, 0);
    dl_iterate_phdr(find_segments, NULL);
    return atomic_load(&rangeCount) > 0;
}

long spectop_allocation_counter_library(void) { return atomic_load(&libraryAllocations); }

void spectop_allocation_counter_start(void) {
    atomic_store(&counting, 0);
    atomic_store(&largestRequest, 0);
    atomic_store(&allocations, 0);
    atomic_store(&libraryAllocations, 0);
    atomic_store(&startingThreadAllocations, 0);
    atomic_store(&startingThread, (unsigned long)pthread_self());
    atomic_store(&counting, 1);
}

long spectop_allocation_counter_stop(void) {
    atomic_store(&counting, 0);
    return atomic_load(&allocations);
}

long spectop_allocation_counter_calling_thread(void) { return atomic_load(&startingThreadAllocations); }

unsigned long spectop_allocation_counter_largest(void) { return atomic_load(&largestRequest); }

#else

int spectop_allocation_counter_is_active(void) { return 0; }
void spectop_allocation_counter_start(void) {}
long spectop_allocation_counter_stop(void) { return 0; }
long spectop_allocation_counter_calling_thread(void) { return 0; }
int spectop_allocation_counter_attribute_library(const char *symbol) {
    (void)symbol;
    return 0;
}
long spectop_allocation_counter_library(void) { return 0; }
unsigned long spectop_allocation_counter_largest(void) { return 0; }

#endif
