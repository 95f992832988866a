// SPDX-License-Identifier: MIT
/*
 * alloccount.so: counts a process's heap allocations, for the benchmark
 * harness (heap allocations per MiB relayed).
 *
 *     ALLOCCOUNT_OUT=FILE LD_PRELOAD=/path/alloccount.so RELAY ...
 *
 * Interposes malloc, calloc, realloc, free and the aligned allocators (the
 * Swift runtime allocates through malloc and posix_memalign/aligned_alloc)
 * and forwards them to glibc's __libc_* entry points.  When the process
 * exits (exit(), return from main, or _exit) it writes
 * "allocs frees bytes" to FILE.  The constructor removes LD_PRELOAD and
 * ALLOCCOUNT_OUT from the environment, so the relay's child is not counted.
 *
 * Why not valgrind: valgrind 3.19 (Debian 12) cannot read the DWARF 5 of a
 * Swift binary and does not know pidfd_open.
 *
 * Build: cc -O2 -shared -fPIC -o alloccount.so alloccount.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong n_allocs, n_frees, n_bytes;
static char out_path[4096];
static pid_t owner;

static void count(size_t size) {
    atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, size, memory_order_relaxed);
}

void *malloc(size_t size) {
    count(size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
    count(n * size);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    count(size);
    return __libc_realloc(p, size);
}

void free(void *p) {
    if (p)
        atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
    __libc_free(p);
}

void *memalign(size_t align, size_t size) {
    count(size);
    return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size) {
    count(size);
    return __libc_memalign(align, size);
}

int posix_memalign(void **res, size_t align, size_t size) {
    if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0)
        return EINVAL;
    count(size);
    void *p = __libc_memalign(align, size);
    if (p == NULL)
        return ENOMEM;
    *res = p;
    return 0;
}

static void report(void) {
    if (out_path[0] == '\0' || getpid() != owner)
        return;
    char line[128];
    int n = snprintf(line, sizeof line, "%lu %lu %lu\n", atomic_load(&n_allocs),
                     atomic_load(&n_frees), atomic_load(&n_bytes));
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, line, (size_t)n);
        (void)w;
        close(fd);
    }
    out_path[0] = '\0';
}

__attribute__((constructor)) static void start(void) {
    const char *p = getenv("ALLOCCOUNT_OUT");
    if (p && strlen(p) < sizeof out_path) {
        strcpy(out_path, p);
        owner = getpid();
    }
    unsetenv("ALLOCCOUNT_OUT");
    unsetenv("LD_PRELOAD");
}

__attribute__((destructor)) static void stop(void) { report(); }

void _exit(int status) {
    report();
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}
