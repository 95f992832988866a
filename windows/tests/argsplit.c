// SPDX-License-Identifier: MIT
//
// argsplit: see argsplit.h. The rules:
// - The program name: if it starts with '"', everything up to the next '"'
//   (backslashes are literal); otherwise everything up to a space or tab.
// - Later arguments are separated by spaces and tabs outside quotes.
//   2n backslashes + '"': n backslashes, and the quote toggles quoting;
//   2n+1 backslashes + '"': n backslashes and a literal '"';
//   n backslashes not before '"': n backslashes;
//   inside quotes, '""' is a literal '"' (quoting goes on).
#include "argsplit.h"

int argsplit(const wchar_t *line, argsplit_result *out) {
    size_t used = 0;
    const size_t capacity = sizeof out->storage / sizeof out->storage[0];
    const wchar_t *p = line;
    out->argc = 0;
#define PUT(c) do { if (used + 1 >= capacity) return -1; out->storage[used++] = (c); } while (0)
    // The program name.
    out->argv[out->argc++] = out->storage + used;
    if (*p == L'"') {
        for (p++; *p && *p != L'"'; p++) PUT(*p);
        if (*p == L'"') p++;
    } else {
        for (; *p && *p != L' ' && *p != L'\t'; p++) PUT(*p);
    }
    PUT(0);
    for (;;) {
        while (*p == L' ' || *p == L'\t') p++;
        if (!*p) break;
        if (out->argc >= ARGSPLIT_MAX_ARGS) return -1;
        out->argv[out->argc++] = out->storage + used;
        int quoted = 0;
        while (*p) {
            if (!quoted && (*p == L' ' || *p == L'\t')) break;
            if (*p == L'\\') {
                size_t n = 0;
                while (*p == L'\\') { n++; p++; }
                if (*p == L'"') {
                    for (size_t k = 0; k < n / 2; k++) PUT(L'\\');
                    if (n % 2) { PUT(L'"'); p++; }
                    // even: the quote is handled below as a quote
                } else {
                    for (size_t k = 0; k < n; k++) PUT(L'\\');
                }
                continue;
            }
            if (*p == L'"') {
                if (quoted && p[1] == L'"') { PUT(L'"'); p += 2; continue; }
                quoted = !quoted;
                p++;
                continue;
            }
            PUT(*p);
            p++;
        }
        PUT(0);
    }
#undef PUT
    return 0;
}
