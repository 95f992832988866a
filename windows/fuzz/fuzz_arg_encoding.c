// SPDX-License-Identifier: MIT
//
// libFuzzer target: percent-encoded arguments (arg_encoding.c).
// 1. The input's bytes, percent-encoded the way Emacs sends them, decode to
//    text whose UTF-8 is those bytes again, or are refused.
// 2. The input read as characters (any, up to U+10FFFF) decodes to at most
//    as many characters, none of them a surrogate or NUL, or is refused with
//    a message.
#include "arg_encoding.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAPACITY 4096

/// UTF-8 of one code point (the decoder's inverse, for the round trip).
static size_t utf8(uint32_t cp, uint8_t *out) {
    if (cp < 0x80) { out[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { out[0] = (uint8_t)(0xC0 | cp >> 6); out[1] = (uint8_t)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12); out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18); out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)); out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static void round_trip(const uint8_t *data, size_t size) {
    static wchar_t encoded[3 * CAPACITY + 1], decoded[3 * CAPACITY + 1];
    static const char hex[] = "0123456789ABCDEF";
    wchar_t message[PP_MESSAGE_CAPACITY];
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] >= 0x20 && data[i] <= 0x7e && data[i] != '%') {
            encoded[n++] = data[i];
        } else {
            encoded[n++] = L'%';
            encoded[n++] = hex[data[i] >> 4];
            encoded[n++] = hex[data[i] & 15];
        }
    }
    encoded[n] = 0;
    message[0] = 0;
    if (pp_arg_decode(encoded, decoded, message) != 0) {
        if (!message[0]) abort();
        return;
    }
    static uint8_t again[4 * CAPACITY];
    size_t m = 0;
    for (size_t i = 0; decoded[i]; i++) {
        uint32_t cp = (uint32_t)decoded[i];
#if WCHAR_MAX <= 0xFFFF
        if (cp >= 0xD800 && cp <= 0xDBFF) cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)decoded[++i] - 0xDC00);
#endif
        m += utf8(cp, again + m);
    }
    if (m != size || memcmp(again, data, size) != 0) abort();
}

static void any_characters(const uint8_t *data, size_t size) {
    static wchar_t input[CAPACITY + 1], decoded[CAPACITY + 1];
    wchar_t message[PP_MESSAGE_CAPACITY];
    size_t n = 0;
    for (size_t i = 0; i + 2 < size && n < CAPACITY; i += 3) {
        uint32_t cp = ((uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2]) % 0x110000;
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF && WCHAR_MAX <= 0xFFFF)) cp = 'x';
        input[n++] = (wchar_t)cp;
    }
    input[n] = 0;
    message[0] = 0;
    if (pp_arg_decode(input, decoded, message) != 0) {
        if (!message[0]) abort();
        return;
    }
    size_t length = wcslen(decoded);
    if (length > n) abort();
#if WCHAR_MAX > 0xFFFF
    for (size_t i = 0; i < length; i++)
        if ((decoded[i] >= 0xD800 && decoded[i] <= 0xDFFF) || (uint32_t)decoded[i] > 0x10FFFF) abort();
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > CAPACITY) return 0;
    round_trip(data, size);
    any_characters(data, size);
    return 0;
}
