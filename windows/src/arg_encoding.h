// SPDX-License-Identifier: MIT
//
// arg_encoding: `ptyproxy new --arg-encoding percent ...`, arguments that
// carry UTF-8 in an ASCII-only form (docs/INTERFACE.md).
//
// Why it exists: Emacs on Windows encodes a process's arguments with the
// process's coding system (UTF-8 for a terminal's raw bytes) and starts it
// with CreateProcessA, which reads them in the ANSI code page, so any
// non-ASCII argument (a --cwd of C:\Users\José, a CMD with 日本) arrives
// garbled. ASCII survives every code page: the host sends each argument's
// UTF-8 bytes with '%' and every byte outside 0x20..0x7E as %XX, and the
// proxy decodes them back before parsing.
//
// Pure (no Windows API): compiled and tested on Linux too, where wchar_t is
// UTF-32 instead of UTF-16.
#ifndef PP_ARG_ENCODING_H
#define PP_ARG_ENCODING_H

#include "cli.h"

#include <stddef.h>
#include <wchar.h>

/// Decodes one percent-encoded argument into `out`, which has room for
/// wcslen(in) + 1 characters (the decoded text is never longer). Returns 0,
/// or -1 with one line in `message`: a literal character outside
/// 0x20..0x7E, a '%' not followed by two hex digits, %00, or bytes that are
/// not UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
int pp_arg_decode(const wchar_t *in, wchar_t *out, wchar_t message[PP_MESSAGE_CAPACITY]);

/// How many arguments the encoding option takes at argv[2] (after `new`):
/// 2 for `--arg-encoding percent`, 1 for `--arg-encoding=percent`, 0 when
/// argv does not start `PROGRAM new --arg-encoding`. -1 with a message when
/// the option is there with another value or none.
int pp_arg_encoding_span(int argc, wchar_t *const *argv, wchar_t message[PP_MESSAGE_CAPACITY]);

/// When argv starts `PROGRAM new --arg-encoding percent`, replaces *argc and
/// *argv with a vector without the option, every later argument decoded
/// (one allocation, kept for the life of the process). Otherwise leaves them
/// alone. Returns 0, or -1 with one line in `message` (a bad argument, no memory).
int pp_arg_decode_argv(int *argc, wchar_t ***argv, wchar_t message[PP_MESSAGE_CAPACITY]);

#endif
