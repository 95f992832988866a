// SPDX-License-Identifier: MIT
//
// arg_encoding: percent-encoded UTF-8 arguments -> wide strings. See
// arg_encoding.h.
#include "arg_encoding.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int fail(wchar_t *message, const wchar_t *format, ...) {
    va_list ap;
    va_start(ap, format);
    int n = vswprintf(message, PP_MESSAGE_CAPACITY, format, ap);
    va_end(ap);
    if (n < 0) message[PP_MESSAGE_CAPACITY - 1] = 0;  // truncated, still terminated
    return -1;
}

static int hex_value(wchar_t c) {
    if (c >= L'0' && c <= L'9') return c - L'0';
    if (c >= L'a' && c <= L'f') return c - L'a' + 10;
    if (c >= L'A' && c <= L'F') return c - L'A' + 10;
    return -1;
}

/// The next byte of the encoded text at in[*i], or -1 with a message.
static int next_byte(const wchar_t *in, size_t *i, wchar_t *message) {
    wchar_t c = in[*i];
    if (c == L'%') {
        int high = hex_value(in[*i + 1]);
        int low = high < 0 ? -1 : hex_value(in[*i + 2]);
        if (low < 0) return fail(message, L"'%%' at character %u is not followed by two hex digits", (unsigned)(*i + 1));
        if (high == 0 && low == 0) return fail(message, L"%%00 at character %u: NUL cannot be an argument", (unsigned)(*i + 1));
        *i += 3;
        return high << 4 | low;
    }
    if (c < 0x20 || c > 0x7e)
        return fail(message, L"character %u (U+%04X) is not percent-encoded", (unsigned)(*i + 1), (unsigned)c);
    *i += 1;
    return (int)c;
}

/// Appends one code point as wide characters: UTF-16 where wchar_t has 16 bits.
static size_t put_code_point(wchar_t *out, size_t n, uint32_t cp) {
#if WCHAR_MAX <= 0xFFFF
    if (cp >= 0x10000) {
        cp -= 0x10000;
        out[n++] = (wchar_t)(0xD800 + (cp >> 10));
        out[n++] = (wchar_t)(0xDC00 + (cp & 0x3FF));
        return n;
    }
#endif
    out[n++] = (wchar_t)cp;
    return n;
}

int pp_arg_decode(const wchar_t *in, wchar_t *out, wchar_t message[PP_MESSAGE_CAPACITY]) {
    size_t i = 0, n = 0;
    while (in[i]) {
        size_t start = i;
        int byte = next_byte(in, &i, message);
        if (byte < 0) return -1;
        // UTF-8: the lead byte says how many continuation bytes follow and
        // the smallest value that length may carry (no overlong forms).
        int more;
        uint32_t cp, minimum;
        if (byte < 0x80) { more = 0; cp = (uint32_t)byte; minimum = 0; }
        else if ((byte & 0xE0) == 0xC0) { more = 1; cp = byte & 0x1F; minimum = 0x80; }
        else if ((byte & 0xF0) == 0xE0) { more = 2; cp = byte & 0x0F; minimum = 0x800; }
        else if ((byte & 0xF8) == 0xF0) { more = 3; cp = byte & 0x07; minimum = 0x10000; }
        else return fail(message, L"the bytes at character %u are not UTF-8", (unsigned)(start + 1));
        for (; more > 0; more--) {
            if (in[i] != L'%') return fail(message, L"the bytes at character %u are not UTF-8", (unsigned)(start + 1));
            int next = next_byte(in, &i, message);
            if (next < 0) return -1;
            if ((next & 0xC0) != 0x80) return fail(message, L"the bytes at character %u are not UTF-8", (unsigned)(start + 1));
            cp = cp << 6 | (uint32_t)(next & 0x3F);
        }
        if (cp < minimum || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(message, L"the bytes at character %u are not UTF-8", (unsigned)(start + 1));
        n = put_code_point(out, n, cp);
    }
    out[n] = 0;
    return 0;
}

int pp_arg_encoding_span(int argc, wchar_t *const *argv, wchar_t message[PP_MESSAGE_CAPACITY]) {
    static const wchar_t option[] = L"--arg-encoding";
    const size_t length = sizeof option / sizeof option[0] - 1;
    if (argc < 3 || wcscmp(argv[1], L"new") != 0 || wcsncmp(argv[2], option, length) != 0) return 0;
    const wchar_t *value;
    int span;
    if (argv[2][length] == L'=') { value = argv[2] + length + 1; span = 1; }
    else if (argv[2][length] == 0) { value = argc > 3 ? argv[3] : NULL; span = 2; }
    else return 0;  // another option that starts the same way: the parser's to judge
    if (!value) return fail(message, L"option --arg-encoding needs a value (percent)");
    if (wcscmp(value, L"percent") != 0) return fail(message, L"--arg-encoding supports only 'percent'");
    return span;
}

int pp_arg_decode_argv(int *argc, wchar_t ***argv, wchar_t message[PP_MESSAGE_CAPACITY]) {
    int span = pp_arg_encoding_span(*argc, *argv, message);
    if (span <= 0) return span;
    int first = 2 + span, count = *argc - span;
    // One block: the new vector, then every decoded argument (each at most
    // as long as its encoded form).
    size_t characters = 0;
    for (int k = first; k < *argc; k++) characters += wcslen((*argv)[k]) + 1;
    size_t vector_bytes = (size_t)(count + 1) * sizeof(wchar_t *);
    char *block = malloc(vector_bytes + characters * sizeof(wchar_t));
    if (!block) return fail(message, L"out of memory decoding the arguments");
    wchar_t **vector = (wchar_t **)block;
    wchar_t *text = (wchar_t *)(block + vector_bytes);
    vector[0] = (*argv)[0];
    vector[1] = (*argv)[1];
    for (int k = first; k < *argc; k++) {
        wchar_t reason[PP_MESSAGE_CAPACITY];
        if (pp_arg_decode((*argv)[k], text, reason) != 0) {
            free(block);
            return fail(message, L"--arg-encoding percent: argument %d: %ls", k - first + 1, reason);
        }
        vector[k - span] = text;
        text += wcslen(text) + 1;
    }
    vector[count] = NULL;
    *argc = count;
    *argv = vector;
    return 0;
}
