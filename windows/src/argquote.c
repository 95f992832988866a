// SPDX-License-Identifier: MIT
//
// argquote: see argquote.h. The rules, as CommandLineToArgvW and the
// Microsoft C runtime split a command line:
// - the program name (first word) ends at the next blank, or, if it starts
//   with a double quote, at the next double quote; backslashes are literal;
// - in every later word, 2n backslashes before a quote give n backslashes
//   and the quote toggles quoting; 2n+1 give n backslashes and a literal
//   quote; backslashes before anything else are literal.
// So a quoted argument doubles the backslashes that precede a quote or the
// closing quote, and escapes each quote with one more backslash.
#include "argquote.h"

static int needs_quotes(const wchar_t *arg) {
    if (!arg[0]) return 1;
    for (; *arg; arg++)
        if (*arg == L' ' || *arg == L'\t' || *arg == L'\n' || *arg == L'\v' || *arg == L'"') return 1;
    return 0;
}

size_t pp_argquote_join(int argc, const wchar_t *const *argv, wchar_t *out, size_t capacity) {
    size_t n = 0;
    int write = out != NULL;
#define PUT(c) do { if (write && n + 1 < capacity) out[n] = (c); else write = 0; n++; } while (0)
    for (int i = 0; i < argc; i++) {
        const wchar_t *arg = argv[i];
        if (i > 0) PUT(L' ');
        if (i == 0) {
            for (const wchar_t *p = arg; *p; p++)
                if (*p == L'"') return (size_t)-1;
            int quote = needs_quotes(arg);
            if (quote) PUT(L'"');
            for (const wchar_t *p = arg; *p; p++) PUT(*p);
            if (quote) PUT(L'"');
            continue;
        }
        if (!needs_quotes(arg)) {
            for (const wchar_t *p = arg; *p; p++) PUT(*p);
            continue;
        }
        PUT(L'"');
        size_t backslashes = 0;
        for (const wchar_t *p = arg;; p++) {
            if (*p == L'\\') { backslashes++; continue; }
            if (*p == 0) {
                // Before the closing quote: double them.
                for (size_t k = 0; k < 2 * backslashes; k++) PUT(L'\\');
                break;
            }
            if (*p == L'"') {
                for (size_t k = 0; k < 2 * backslashes + 1; k++) PUT(L'\\');
            } else {
                for (size_t k = 0; k < backslashes; k++) PUT(L'\\');
            }
            PUT(*p);
            backslashes = 0;
        }
        PUT(L'"');
    }
#undef PUT
    if (write && n < capacity) out[n] = 0;
    else if (out && capacity > 0) out[0] = 0;
    return n;
}

int pp_argquote_is_batch(const wchar_t *program) {
    size_t n = wcslen(program);
    while (n > 0 && (program[n - 1] == L'.' || program[n - 1] == L' ')) n--;
    if (n < 4 || program[n - 4] != L'.') return 0;
    wchar_t ext[3];
    for (int i = 0; i < 3; i++) {
        wchar_t c = program[n - 3 + i];
        ext[i] = c >= L'A' && c <= L'Z' ? (wchar_t)(c + 32) : c;
    }
    return (ext[0] == L'b' && ext[1] == L'a' && ext[2] == L't') || (ext[0] == L'c' && ext[1] == L'm' && ext[2] == L'd');
}

static int batch_safe(wchar_t c, int program) {
    if (c > 0x7F) return 1;
    if ((c >= L'a' && c <= L'z') || (c >= L'A' && c <= L'Z') || (c >= L'0' && c <= L'9')) return 1;
    if (program && (c == L'(' || c == L')')) return 1;
    return c != 0 && wcschr(L" -_.,;:/\\+=@#$~[]{}'`*?", c) != NULL;
}

int pp_argquote_batch_unsafe(int argc, const wchar_t *const *argv) {
    for (int i = 0; i < argc; i++)
        for (const wchar_t *p = argv[i]; *p; p++)
            if (!batch_safe(*p, i == 0)) return i;
    return -1;
}
