// SPDX-License-Identifier: MIT
//
// Unit tests of arg_encoding (percent-encoded UTF-8 arguments), compiled
// with the native compiler and run on Linux by `make -C windows native-test`.
// wchar_t is UTF-32 here and UTF-16 on Windows: the checks compare whole
// strings written as wide literals, which mean the same text on both.
#include "arg_encoding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static wchar_t message[PP_MESSAGE_CAPACITY];
static wchar_t decoded[256];

static int decodes_to(const wchar_t *in, const wchar_t *want) {
    return pp_arg_decode(in, decoded, message) == 0 && wcscmp(decoded, want) == 0;
}

static int refused(const wchar_t *in, const wchar_t *reason) {
    message[0] = 0;
    return pp_arg_decode(in, decoded, message) == -1 && wcsstr(message, reason) != NULL;
}

static void test_decode(void) {
    CHECK(decodes_to(L"", L""));
    CHECK(decodes_to(L"plain ASCII, with spaces & \"quotes\"", L"plain ASCII, with spaces & \"quotes\""));
    CHECK(decodes_to(L"100%25", L"100%"));
    CHECK(decodes_to(L"C:\\Users\\Jos%C3%A9", L"C:\\Users\\Jos\u00e9"));
    CHECK(decodes_to(L"Jos%c3%a9", L"Jos\u00e9"));                // lower-case hex too
    CHECK(decodes_to(L"%E6%97%A5%E6%9C%AC", L"\u65e5\u672c"));    // 日本
    CHECK(decodes_to(L"%F0%9F%98%80!", L"\U0001F600!"));          // beyond the BMP: a surrogate pair on Windows
    CHECK(decodes_to(L"a%09b%0Ac%7F", L"a\tb\nc\x7f"));           // control characters are text like any other
    CHECK(decodes_to(L"%EF%BF%BF%F4%8F%BF%BF", L"\uFFFF\U0010FFFF"));
    CHECK(decodes_to(L"%41", L"A"));                              // needless escapes are fine
    CHECK(decodes_to(L"%25C3%25A9", L"%C3%A9"));                  // decoded once, not twice

    // The encoded form: only printable ASCII, escapes with two hex digits, no NUL.
    CHECK(refused(L"Jos\u00e9", L"character 4 (U+00E9) is not percent-encoded"));
    CHECK(refused(L"a\tb", L"is not percent-encoded"));
    CHECK(refused(L"100%", L"'%' at character 4 is not followed by two hex digits"));
    CHECK(refused(L"%4", L"not followed by two hex digits"));
    CHECK(refused(L"%G1", L"not followed by two hex digits"));
    CHECK(refused(L"%1G", L"not followed by two hex digits"));
    CHECK(refused(L"a%00b", L"NUL"));

    // UTF-8 only: stray continuation bytes, truncated sequences, overlong
    // forms, surrogates, values above U+10FFFF, bytes that never occur.
    CHECK(refused(L"%A9", L"not UTF-8"));
    CHECK(refused(L"Jos%C3", L"not UTF-8"));
    CHECK(refused(L"%C3A", L"not UTF-8"));
    CHECK(refused(L"%C3%41", L"not UTF-8"));
    CHECK(refused(L"%E6%97", L"not UTF-8"));
    CHECK(refused(L"%C0%AF", L"not UTF-8"));
    CHECK(refused(L"%C1%BF", L"not UTF-8"));
    CHECK(refused(L"%E0%80%AF", L"not UTF-8"));
    CHECK(refused(L"%F0%80%80%AF", L"not UTF-8"));
    CHECK(refused(L"%ED%A0%80", L"not UTF-8"));                   // U+D800
    CHECK(refused(L"%F4%90%80%80", L"not UTF-8"));                // U+110000
    CHECK(refused(L"%F8%88%80%80%80", L"not UTF-8"));
    CHECK(refused(L"%FF", L"not UTF-8"));
    CHECK(refused(L"%C3%A9%", L"not followed by two hex digits"));
}

#define ARGV(...) ((wchar_t *[]){ L"ptyproxy.exe", __VA_ARGS__, NULL })
static int count_of(wchar_t **argv) { int n = 0; while (argv[n]) n++; return n; }

static void test_argv(void) {
    // Without the option: nothing changes, whatever the arguments.
    wchar_t **argv = ARGV(L"new", L"id", L"80", L"24", L"Jos%C3%A9");
    wchar_t **original = argv;
    int argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == 0 && argv == original && argc == 6);
    argv = ARGV(L"resize", L"--arg-encoding", L"percent");
    original = argv;
    argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == 0 && argv == original);
    argv = ARGV(L"new", L"--arg-encodingx", L"percent");
    original = argv;
    argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == 0 && argv == original);

    // With it: the option is gone and every later argument is decoded, the
    // options of new, ID COLS ROWS and CMD alike.
    argv = ARGV(L"new", L"--arg-encoding", L"percent", L"--cwd", L"C:\\Users\\Jos%C3%A9", L"--", L"id", L"80",
                L"24", L"cmd.exe /c echo %E6%97%A5%E6%9C%AC 100%25");
    argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == 0);
    CHECK(argc == 9 && argv[argc] == NULL);
    CHECK(wcscmp(argv[0], L"ptyproxy.exe") == 0 && wcscmp(argv[1], L"new") == 0);
    CHECK(wcscmp(argv[2], L"--cwd") == 0 && wcscmp(argv[3], L"C:\\Users\\Jos\u00e9") == 0);
    CHECK(wcscmp(argv[4], L"--") == 0 && wcscmp(argv[5], L"id") == 0);
    CHECK(wcscmp(argv[8], L"cmd.exe /c echo \u65e5\u672c 100%") == 0);
    // ...and the result is what the parser reads.
    pp_invocation invocation;
    CHECK(pp_cli_parse(argc, argv, &invocation, message) == 0);
    CHECK(wcscmp(invocation.cwd, L"C:\\Users\\Jos\u00e9") == 0 && invocation.command_index == 8);
    free(argv);

    argv = ARGV(L"new", L"--arg-encoding=percent", L"id", L"1", L"1", L"%E6%97%A5");
    argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == 0 && argc == 6 && wcscmp(argv[5], L"\u65e5") == 0);
    free(argv);
    argv = ARGV(L"new", L"--arg-encoding", L"percent");
    argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == 0 && argc == 2 && argv[2] == NULL);
    free(argv);

    // Errors name the argument; nothing is replaced.
    argv = ARGV(L"new", L"--arg-encoding", L"percent", L"id", L"1", L"1", L"caf\u00e9");
    original = argv;
    argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == -1 && argv == original && argc == 8);
    CHECK(wcsstr(message, L"--arg-encoding percent: argument 4: character 4 (U+00E9) is not percent-encoded"));
    argv = ARGV(L"new", L"--arg-encoding", L"base64", L"id");
    argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == -1 && wcsstr(message, L"supports only 'percent'"));
    argv = ARGV(L"new", L"--arg-encoding");
    argc = count_of(argv);
    CHECK(pp_arg_decode_argv(&argc, &argv, message) == -1 && wcsstr(message, L"needs a value"));
}

int main(void) {
    test_decode();
    test_argv();
    printf("arg_encoding: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
