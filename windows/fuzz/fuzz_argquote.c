// SPDX-License-Identifier: MIT
//
// libFuzzer target: MSVC argument quoting (argquote.c), as a round trip.
// The input is read as 16-bit units, split into arguments at unit 0. The
// arguments are joined with pp_argquote_join and split again with the
// CommandLineToArgvW rules (tests/argsplit.c); the result must be the
// arguments we started from. A program name with a double quote must be
// refused, and only such a name. Arguments that pp_argquote_batch_unsafe
// accepts for a batch file must give a line without cmd.exe syntax.
#include "argquote.h"
#include "argsplit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static wchar_t storage[2048];
    const wchar_t *argv[MAX_ARGS];
    int argc = 0;
    size_t used = 0;
    argv[argc++] = storage;
    for (size_t i = 0; i + 1 < size && used + 1 < sizeof storage / sizeof storage[0]; i += 2) {
        wchar_t unit = (wchar_t)(data[i] | (data[i + 1] << 8));
        if (unit == 0) {
            storage[used++] = 0;
            if (argc >= MAX_ARGS) break;
            argv[argc++] = storage + used;
        } else {
            storage[used++] = unit;
        }
    }
    storage[used] = 0;

    static wchar_t line[8192];
    size_t length = pp_argquote_join(argc, argv, NULL, 0);
    if (length == (size_t)-1) {
        if (!wcschr(argv[0], L'"')) abort();
        return 0;
    }
    if (wcschr(argv[0], L'"')) abort();
    if (length >= sizeof line / sizeof line[0]) return 0;
    if (pp_argquote_join(argc, argv, line, sizeof line / sizeof line[0]) != length) abort();
    if (wcslen(line) != length) abort();
    // Batch files: arguments that pass the check give a line in which
    // cmd.exe finds none of its syntax (the quotes are the joiner's own).
    if (pp_argquote_batch_unsafe(argc, argv) < 0) {
        size_t program_end = wcslen(argv[0]) + 2;  // the program's path, quoted or not
        for (size_t i = 0; i < length; i++) {
            wchar_t c = line[i];
            if (c < 0x20 || wcschr(L"&|<>^%!", c)) abort();
            if ((c == L'(' || c == L')') && i >= program_end) abort();
        }
    }
    static argsplit_result split;
    if (argsplit(line, &split) != 0) return 0;  // more than the splitter holds
    if (split.argc != argc) abort();
    for (int i = 0; i < argc; i++)
        if (wcscmp(split.argv[i], argv[i]) != 0) abort();
    return 0;
}
