// SPDX-License-Identifier: MIT
//
// error_text: tidies a system message for a one-line error. Pure (no
// Windows API), so that it is unit-tested natively with the parsers.
#ifndef PP_ERROR_TEXT_H
#define PP_ERROR_TEXT_H

#include <stddef.h>
#include <wchar.h>

/// Copies a FormatMessageW text into `out` (capacity >= 1) on one line:
/// insert placeholders such as `%1` or `%2!s!` (left in by
/// FORMAT_MESSAGE_IGNORE_INSERTS; Wine has "Bad EXE format for %1.") are
/// dropped, with a "for" they leave dangling at the end; line breaks and tabs
/// become spaces; runs of spaces become one; leading and trailing spaces and
/// trailing periods go. Returns the length.
size_t pp_error_clean(const wchar_t *text, wchar_t *out, size_t capacity);

#endif
