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

/// True when `program` names a batch file (.bat or .cmd, in any case,
/// also followed by dots or spaces, which Windows drops from file names):
/// CreateProcessW runs it through cmd.exe, which parses the command line
/// again, with & | < > ^ % ! ( ) as its own syntax (CVE-2024-24576).
int pp_argquote_is_batch(const wchar_t *program);

/// For a batch file given as an argument vector: the index of the first
/// argument that holds a character cmd.exe could take as syntax, or -1 when
/// all are safe. Safe: ASCII letters and digits, space,
/// - _ . , ; : / \ + = @ # $ ~ [ ] { } ' ` * ? and every character above
/// U+007F; argv[0], the program's path, may also hold ( and ).
int pp_argquote_batch_unsafe(int argc, const wchar_t *const *argv);

#endif
