/* SPDX-License-Identifier: MIT
 * cmdline.h - shared by the test helpers: the rest of our own command line
 * after argv[0], exactly as it was passed, so that a helper can hand it to
 * CreateProcessW unchanged (no re-quoting: what the test wrote is what runs). */
#ifndef E2E_CMDLINE_H
#define E2E_CMDLINE_H
#include <wchar.h>

static inline wchar_t *skip_argv0(wchar_t *p) {
    if (*p == L'"') {
        p++;
        while (*p && *p != L'"')
            p++;
        if (*p)
            p++;
    } else {
        while (*p && *p != L' ' && *p != L'\t')
            p++;
    }
    while (*p == L' ' || *p == L'\t')
        p++;
    return p;
}
#endif
