// SPDX-License-Identifier: MIT
//
// argquote: joins an argument vector into one Windows command line with the
// quoting rules of the Microsoft C runtime (and CommandLineToArgvW), so that
// the child's argv is the one we were given. Pure: compiled and fuzzed on
// Linux too, against a CommandLineToArgvW-equivalent splitter in the tests.
#ifndef PP_ARGQUOTE_H
#define PP_ARGQUOTE_H

#include <stddef.h>
#include <wchar.h>

/// Writes the command line for argv[0..argc-1] into `out` (terminated) and
/// returns its length in characters, without the terminator. Returns
/// (size_t)-1 when argv[0] contains a double quote: the rules for the
/// program name have no escape for it. When `out` is NULL or too small,
/// nothing is written and the length is still returned (so a caller can
/// ask for the size first).
size_t pp_argquote_join(int argc, const wchar_t *const *argv, wchar_t *out, size_t capacity);

#endif
