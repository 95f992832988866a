// SPDX-License-Identifier: MIT
//
// error_text: see error_text.h.
#include "error_text.h"

size_t pp_error_clean(const wchar_t *text, wchar_t *out, size_t capacity) {
    size_t n = 0;
    for (const wchar_t *p = text; *p && n + 1 < capacity; p++) {
        if (*p == L'%' && p[1] >= L'0' && p[1] <= L'9') {
            p++;
            while (p[1] >= L'0' && p[1] <= L'9') p++;
            if (p[1] == L'!') {  // %1!s!
                p += 2;
                while (*p && *p != L'!') p++;
                if (!*p) break;
            }
            continue;
        }
        wchar_t c = (*p == L'\r' || *p == L'\n' || *p == L'\t') ? L' ' : *p;
        if (c == L' ' && (n == 0 || out[n - 1] == L' ')) continue;
        out[n++] = c;
    }
    for (;;) {
        while (n > 0 && (out[n - 1] == L' ' || out[n - 1] == L'.')) n--;
        if (n >= 4 && wcsncmp(out + n - 4, L" for", 4) == 0) { n -= 4; continue; }
        break;
    }
    out[n] = 0;
    return n;
}
