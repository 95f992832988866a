// SPDX-License-Identifier: MIT
//
// utf16: UTF-16 to UTF-8 for text read from a console in pieces
// (ReadConsoleW), where a surrogate pair can be split across two reads.
// Pure: unit-tested natively.
#ifndef PP_UTF16_H
#define PP_UTF16_H

#include <stddef.h>
#include <stdint.h>

/// What one read left over: a high surrogate waiting for its low half (0: none).
typedef struct {
    uint16_t pending;
} pp_utf16_state;

/// The most bytes pp_utf16_to_utf8 writes for `count` units.
#define PP_UTF16_TO_UTF8_MAX(count) (3 * (size_t)(count) + 3)

/// Converts `count` units to UTF-8 in `out` (room for
/// PP_UTF16_TO_UTF8_MAX(count) bytes) and returns the number of bytes. A
/// high surrogate at the end is kept in `state` for the next call; a
/// surrogate without its other half becomes U+FFFD.
size_t pp_utf16_to_utf8(pp_utf16_state *state, const uint16_t *units, size_t count, unsigned char *out);

#endif
