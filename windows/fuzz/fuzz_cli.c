// SPDX-License-Identifier: MIT
//
// libFuzzer target: the command line parser (cli.c). The input is split at
// NUL bytes into arguments; each byte becomes one wide character, and a
// 0xFF byte followed by two more gives any 16-bit unit (surrogates too).
// Checks the parser's promises on every input: no crash or sanitizer
// report, a terminated one-line message on failure, values in range and
// strings inside argv on success.
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static wchar_t storage[4096];
    wchar_t *argv[MAX_ARGS + 2];
    int argc = 0;
    size_t used = 0;
    argv[argc++] = L"ptyproxy.exe";
    argv[argc++] = storage;
    for (size_t i = 0; i < size && used + 2 < sizeof storage / sizeof storage[0]; i++) {
        if (data[i] == 0) {
            storage[used++] = 0;
            if (argc >= MAX_ARGS) break;
            argv[argc++] = storage + used;
        } else if (data[i] == 0xFF && i + 2 < size) {
            wchar_t unit = (wchar_t)((data[i + 1] << 8) | data[i + 2]);
            storage[used++] = unit ? unit : L'?';
            i += 2;
        } else {
            storage[used++] = data[i];
        }
    }
    storage[used] = 0;
    argv[argc] = NULL;

    static pp_invocation inv;
    wchar_t message[PP_MESSAGE_CAPACITY];
    if (pp_cli_parse(argc, argv, &inv, message) != 0) {
        size_t n = 0;
        while (n < PP_MESSAGE_CAPACITY && message[n]) n++;
        if (n == 0 || n >= PP_MESSAGE_CAPACITY) abort();
        for (size_t i = 0; i < n; i++)
            if (message[i] == L'\n' || message[i] == L'\r') abort();
        return 0;
    }
    // An ID on the command line never starts with '-' (a mistyped option is
    // refused, not a session), and help is only ever the first argument.
    if (inv.id && inv.id[0] == L'-') abort();
    if (inv.verb == PP_VERB_HELP && wcscmp(argv[1], L"-h") != 0 && wcscmp(argv[1], L"--help") != 0 &&
        wcscmp(argv[1], L"help") != 0)
        abort();
    switch (inv.verb) {
    case PP_VERB_NEW:
        if (!pp_cli_valid_id(inv.id)) abort();
        if (inv.cols < 1 || inv.cols > PP_MAX_DIMENSION || inv.rows < 1 || inv.rows > PP_MAX_DIMENSION) abort();
        if (inv.command_count < 1 || inv.command_index + inv.command_count != argc) abort();
        if (!argv[inv.command_index][0]) abort();
        if (inv.output_buffers != 1 && inv.output_buffers != 2) abort();
        if (inv.output_buffer_size < 1024 || inv.output_buffer_size > (16u << 20)) abort();
        if (inv.hangup_grace_ms > 3600000) abort();
        for (int i = 0; i < inv.env_count; i++) {
            const wchar_t *eq = wcschr(inv.env[i], L'=');
            if (!eq || eq == inv.env[i]) abort();
        }
        break;
    case PP_VERB_RESIZE:
        if (!pp_cli_valid_id(inv.id) || inv.cols < 1 || inv.cols > PP_MAX_DIMENSION) abort();
        break;
    case PP_VERB_SIGNAL:
        if (!pp_cli_valid_id(inv.id) || inv.signal_number < 1 || inv.signal_number > 64) abort();
        break;
    case PP_VERB_STATUS:
        if (!pp_cli_valid_id(inv.id)) abort();
        break;
    default:
        break;
    }
    return 0;
}
