// SPDX-License-Identifier: MIT
// The one check macro of the native test programs: each program counts its
// checks and failures, names a failed check with its file and line, and
// reports the counts itself at the end.
#ifndef PTYPROXY_TESTS_CHECK_H
#define PTYPROXY_TESTS_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(condition)                                                               \
    do {                                                                               \
        checks++;                                                                      \
        if (!(condition)) {                                                            \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #condition);  \
        }                                                                              \
    } while (0)

#endif
