// SPDX-License-Identifier: MIT
//
// argsplit: splits a Windows command line into arguments by the rules of
// CommandLineToArgvW (and the Microsoft C runtime since 2008). Test-only:
// the native unit tests and the fuzzer check that argquote's output splits
// back into the arguments it was given. Written from the documented rules,
// not from argquote.c, so that the two can disagree.
#ifndef PP_ARGSPLIT_H
#define PP_ARGSPLIT_H

#include <stddef.h>
#include <wchar.h>

#define ARGSPLIT_MAX_ARGS 64

typedef struct {
    int argc;
    wchar_t *argv[ARGSPLIT_MAX_ARGS];
    wchar_t storage[8192];
} argsplit_result;

/// Returns 0, or -1 when the line has more arguments or characters than fit.
int argsplit(const wchar_t *line, argsplit_result *out);

#endif
