// SPDX-License-Identifier: MIT
//
// utf16: see utf16.h.
#include "utf16.h"

static size_t put(uint32_t c, unsigned char *out) {
    if (c < 0x80) { out[0] = (unsigned char)c; return 1; }
    if (c < 0x800) {
        out[0] = (unsigned char)(0xC0 | c >> 6);
        out[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (unsigned char)(0xE0 | c >> 12);
        out[1] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | c >> 18);
    out[1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

static int is_high(uint16_t u) { return u >= 0xD800 && u <= 0xDBFF; }
static int is_low(uint16_t u) { return u >= 0xDC00 && u <= 0xDFFF; }

size_t pp_utf16_to_utf8(pp_utf16_state *state, const uint16_t *units, size_t count, unsigned char *out) {
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        uint16_t u = units[i];
        if (state->pending) {
            uint16_t high = state->pending;
            state->pending = 0;
            if (is_low(u)) {
                n += put(0x10000 + ((uint32_t)(high - 0xD800) << 10) + (uint32_t)(u - 0xDC00), out + n);
                continue;
            }
            n += put(0xFFFD, out + n);
        }
        if (is_high(u)) state->pending = u;
        else n += put(is_low(u) ? 0xFFFD : u, out + n);
    }
    return n;
}
