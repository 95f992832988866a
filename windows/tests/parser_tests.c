// SPDX-License-Identifier: MIT
//
// Unit tests of the pure parsers of ptyproxy.exe (cli, control_line,
// argquote), compiled with the native compiler and run on Linux:
//   make -C windows native-test
// Every check names what it expects; the run fails if any check fails.
// What an argv or a request line becomes, as both programs must agree on
// it, is a case of docs/conformance/ (conformance_tests.c runs them); the
// checks here are what the cases cannot say: parsed values, the Windows
// API of the parsers, and messages beyond the cases' text.
#include "argquote.h"
#include "argsplit.h"
#include "cli.h"
#include "control_line.h"
#include "ring.h"
#include "error_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

// ---- cli ----------------------------------------------------------------

static pp_invocation inv;
static wchar_t message[PP_MESSAGE_CAPACITY];

#define PARSE(...) parse((const wchar_t *[]){ L"ptyproxy.exe", __VA_ARGS__, NULL })
static int parse(const wchar_t **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    return pp_cli_parse(argc, (wchar_t *const *)argv, &inv, message);
}

static int message_has(const wchar_t *text) { return wcsstr(message, text) != NULL; }

static void test_cli(void) {
    // conpty_proxy.exe's form: one CMD argument, passed as it is.
    CHECK(PARSE(L"new", L"vterm1", L"80", L"24", L"powershell.exe -NoLogo") == 0);
    CHECK(inv.verb == PP_VERB_NEW);
    CHECK(wcscmp(inv.id, L"vterm1") == 0);
    CHECK(inv.cols == 80 && inv.rows == 24);
    CHECK(inv.command_index == 5 && inv.command_count == 1);
    CHECK(inv.output_buffers == 2 && inv.output_buffer_size == 131072 && inv.hangup_grace_ms == 2000);
    CHECK(inv.term == NULL && inv.cwd == NULL && inv.env_count == 0);

    // Options anywhere before CMD, both spellings; everything after CMD is CMD's.
    CHECK(PARSE(L"new", L"--cwd", L"C:\\x y", L"id", L"--env=A=1", L"100", L"--env", L"B=2=3", L"30",
                L"--output-buffers=1", L"cmd.exe", L"/c", L"--env", L"x") == 0);
    CHECK(wcscmp(inv.cwd, L"C:\\x y") == 0);
    CHECK(inv.env_count == 2 && wcscmp(inv.env[0], L"A=1") == 0 && wcscmp(inv.env[1], L"B=2=3") == 0);
    CHECK(inv.output_buffers == 1);
    CHECK(inv.cols == 100 && inv.rows == 30);
    CHECK(inv.command_index == 11 && inv.command_count == 4);

    CHECK(PARSE(L"new", L"--", L"id", L"1", L"1", L"--term", L"x") == 0);
    CHECK(inv.command_count == 2 && inv.term == NULL);
    CHECK(PARSE(L"new", L"--term", L"xterm", L"--hangup-grace", L"0.25", L"--output-buffer-size", L"65536",
                L"--stdout-pipe-size", L"0", L"id", L"1", L"1", L"c") == 0);
    CHECK(wcscmp(inv.term, L"xterm") == 0 && inv.hangup_grace_ms == 250 && inv.output_buffer_size == 65536);

    // Sizes: 1..32767 on Windows (COORD is signed 16-bit).
    CHECK(PARSE(L"new", L"id", L"32767", L"32767", L"c") == 0);
    CHECK(PARSE(L"new", L"id", L"80", L"65535", L"c") == -1 && message_has(L"invalid ROWS"));
    CHECK(PARSE(L"new", L"id", L"+80", L"24", L"c") == -1);
    CHECK(PARSE(L"new", L"id", L"080", L"024", L"c") == 0 && inv.cols == 80 && inv.rows == 24);

    // IDs.
    CHECK(PARSE(L"new", L"a.b_c-D9", L"1", L"1", L"c") == 0);
    CHECK(PARSE(L"new", L"", L"1", L"1", L"c") == -1);
    CHECK(pp_cli_valid_id(L"0123456789012345678901234567890123456789012345678901234567890123") == 1);
    CHECK(pp_cli_valid_id(L"01234567890123456789012345678901234567890123456789012345678901234") == 0);
    CHECK(pp_cli_valid_id(L"a\\b") == 0 && pp_cli_valid_id(L"\x00e9") == 0);

    // Errors: one line, the user's text made printable and bounded.
    CHECK(PARSE(L"new", L"--hangup-grace", L".5", L"id", L"1", L"1", L"c") == 0 && inv.hangup_grace_ms == 500);
    CHECK(PARSE(L"bo\x1b[2Jgus") == -1 && message_has(L"'bo?[2Jgus'"));
    {
        wchar_t long_id[300];
        for (int i = 0; i < 299; i++) long_id[i] = L'x';
        long_id[299] = 0;
        CHECK(PARSE(L"status", long_id) == -1 && message_has(L"...'") && wcslen(message) < 200);
    }
    // Several arguments: the program name cannot hold a quote (no escape exists for it).
    CHECK(PARSE(L"new", L"id", L"1", L"1", L"\"C:\\Program Files\\x.exe\" -y") == 0);

    // Help and version only as the first argument; after a verb they are
    // refused (an unknown option, an ID starting with '-') or are CMD.
    CHECK(PARSE(L"new", L"-h", L"80", L"24", L"c") == -1 && message_has(L"may not start with '-'"));
    CHECK(PARSE(L"new", L"x1", L"80", L"24", L"-h") == 0 && inv.verb == PP_VERB_NEW && inv.command_index == 5);
    CHECK(PARSE(L"resize", L"-h", L"80", L"24") == -1 && message_has(L"may not start with '-'"));

    // Control commands.
    CHECK(PARSE(L"resize", L"id", L"120", L"40") == 0 && inv.verb == PP_VERB_RESIZE && inv.cols == 120 && inv.rows == 40);
    CHECK(PARSE(L"resize", L"id", L"40000", L"40") == -1);
    CHECK(PARSE(L"signal", L"id", L"INT") == 0 && inv.signal_number == 2);
    CHECK(PARSE(L"signal", L"id", L"sigterm") == 0 && inv.signal_number == 15);
    CHECK(PARSE(L"signal", L"id", L"9") == 0 && inv.signal_number == 9);
}

// ---- control_line -------------------------------------------------------

static pp_request request;
static const char *reason;

static int control(const char *line) {
    reason = NULL;
    return pp_control_parse(line, strlen(line), &request, &reason);
}

static void test_control_line(void) {
    CHECK(control("resize 120 40") == 0 && request.kind == PP_REQUEST_RESIZE && request.cols == 120 && request.rows == 40);
    CHECK(control("RESIZE\t120  40\r") == 0 && request.cols == 120);
    CHECK(control("120 40") == 0 && request.kind == PP_REQUEST_RESIZE && request.rows == 40);  // conpty_proxy.exe
    CHECK(control("32767 1") == 0);
    CHECK(control("32768 1") == -1 && strstr(reason, "1..32767"));
    CHECK(control("0 5") == -1);
    CHECK(control("resize 1") == -1 && strcmp(reason, "usage: resize COLS ROWS") == 0);
    CHECK(control("signal sigkill") == 0 && request.signal_number == 9);
    CHECK(control("signal 100") == -1);
    CHECK(control(" \r\t") == -1 && strcmp(reason, "empty request") == 0);
    {
        char line[300];
        memset(line, 'a', sizeof line);
        CHECK(pp_control_parse(line, 257, &request, &reason) == -1 && strstr(reason, "too long"));
    }
    CHECK(pp_signal_number("SIGWINCH", 8) == 28 && pp_signal_number("sig", 3) == 0 && pp_signal_number("64", 2) == 64);
    CHECK(strcmp(pp_signal_name(15), "TERM") == 0 && pp_signal_name(16) == NULL);

    // JSON strings: quotes, backslashes, control bytes escaped; other bytes kept.
    char json[64];
    size_t n = pp_json_append_string(json, 0, sizeof json, "a\"b\\c\n\x01\xc3\xa9", 9);
    CHECK(n != (size_t)-1);
    json[n] = 0;
    CHECK(strcmp(json, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"") == 0);
    CHECK(pp_json_append_string(json, 0, 4, "abcdef", 6) == (size_t)-1);

    char reply[512];
    pp_status status = { .id = "t1", .pid = 10, .child_pid = 11, .cols = 80, .rows = 24, .bytes_in = 5,
                         .bytes_out = 1ULL << 40, .uptime_ms = 61005, .requests = 7, .command_json = "[\"cmd.exe\"]" };
    n = pp_format_status(reply, sizeof reply, &status);
    CHECK(n != (size_t)-1 && n == strlen(reply));
    CHECK(strcmp(reply, "ok {\"id\":\"t1\",\"pid\":10,\"child_pid\":11,\"cols\":80,\"rows\":24,\"bytes_in\":5,"
                        "\"bytes_out\":1099511627776,\"uptime\":61.005,\"requests\":7,\"command\":[\"cmd.exe\"]}") == 0);
    CHECK(pp_format_status(reply, 20, &status) == (size_t)-1);
}

// ---- issue 20: new --keep, attach ----------------------------------------

static void test_keep(void) {
    CHECK(PARSE(L"new", L"--keep", L"k1", L"80", L"24", L"cmd.exe") == 0);
    CHECK(inv.keep == 1 && inv.keep_buffer == 1048576 && inv.command_count == 1);
    CHECK(PARSE(L"new", L"k1", L"80", L"24", L"cmd.exe") == 0 && inv.keep == 0);
    CHECK(PARSE(L"new", L"--keep-buffer", L"4096", L"--keep", L"k1", L"80", L"24", L"cmd.exe", L"--keep") == 0);
    CHECK(inv.keep == 1 && inv.keep_buffer == 4096);                 // the last --keep is CMD's
    CHECK(PARSE(L"new", L"--keep-buffer=1073741824", L"k1", L"80", L"24", L"cmd.exe") == 0 && inv.keep_buffer == 1UL << 30);
    CHECK(PARSE(L"new", L"--keep-buffer", L"1073741825", L"k1", L"80", L"24", L"cmd.exe") == -1 &&
          message_has(L"--keep-buffer must be 4096..1073741824 bytes"));
    CHECK(PARSE(L"new", L"--keep-buffer", L"4095", L"k1", L"80", L"24", L"cmd.exe") == -1);
    CHECK(PARSE(L"new", L"--keep-buffer", L"99999999999", L"k1", L"80", L"24", L"cmd.exe") == -1);
    CHECK(PARSE(L"new", L"--keep=1", L"k1", L"80", L"24", L"cmd.exe") == -1 && message_has(L"--keep takes no value"));

    CHECK(PARSE(L"attach", L"k1") == 0 && inv.verb == PP_VERB_ATTACH && wcscmp(inv.id, L"k1") == 0);
    CHECK(!inv.force && !inv.size_given);
    CHECK(PARSE(L"attach", L"--force", L"k1", L"100", L"30") == 0 && inv.force && inv.size_given && inv.cols == 100);
    CHECK(PARSE(L"attach", L"k1", L"100", L"30", L"--force") == 0 && inv.force && inv.rows == 30);
    CHECK(PARSE(L"attach", L"k1", L"100") == -1 && message_has(L"usage: ptyproxy attach"));
    CHECK(PARSE(L"attach", L"k1", L"100", L"30", L"1") == -1 && message_has(L"usage: ptyproxy attach"));
    CHECK(PARSE(L"attach", L"k1", L"0", L"30") == -1 && message_has(L"invalid COLS"));
    CHECK(PARSE(L"attach", L"--force") == -1);
    CHECK(PARSE(L"attach", L"nul") == -1 && message_has(L"device name"));

    // The request line: attach [COLS ROWS] [force] [stdio IN OUT].
    CHECK(control("attach stdio 12 16") == 0 && request.kind == PP_REQUEST_ATTACH && request.has_stdio);
    CHECK(request.stdin_handle == 12 && request.stdout_handle == 16 && !request.force && request.cols == 0);
    CHECK(control("attach 100 30 force stdio 4294967295 8") == 0 && request.cols == 100 && request.rows == 30 &&
          request.force && request.stdin_handle == 4294967295u);
    CHECK(control("attach") == 0 && !request.has_stdio);             // the Linux form: refused later, by the session
    CHECK(control("attach force") == 0 && request.force);
    CHECK(control("attach stdio 4294967296 8") == -1 && strstr(reason, "handle values"));
    CHECK(control("attach stdio 0 8") == -1);
    CHECK(control("attach stdio 8") == -1 && strstr(reason, "usage: attach"));
    CHECK(control("attach 100 force") == -1);
    CHECK(control("attach 0 30") == -1 && strstr(reason, "1..32767"));
    CHECK(control("attach force 100 30") == -1);                     // the order is fixed
    CHECK(control("attach stdio 1 2 3") == -1);
    CHECK(control("attach 1 2 force stdio 3 4 x") == -1);
    pp_request sent = { .kind = PP_REQUEST_ATTACH, .cols = 90, .rows = 20, .force = 1, .has_stdio = 1,
                        .stdin_handle = 7, .stdout_handle = 9 };
    char line[PP_CONTROL_LINE_MAX + 1];
    size_t n = pp_format_request(line, sizeof line, &sent);
    CHECK(n != (size_t)-1 && strcmp(line, "attach 90 20 force stdio 7 9") == 0);
    CHECK(control(line) == 0 && request.cols == 90 && request.force && request.stdout_handle == 9);

    // The status fields of a kept session.
    char reply[512];
    pp_status status = { .id = "k", .pid = 1, .child_pid = 2, .cols = 80, .rows = 24, .command_json = "[]",
                         .kept = 1, .attached = 0, .detached_since_s = 12, .buffered = 345 };
    n = pp_format_status(reply, sizeof reply, &status);
    CHECK(n != (size_t)-1 && n == strlen(reply));
    CHECK(strstr(reply, ",\"command\":[],\"kept\":true,\"attached\":false,\"detached_since\":12,\"buffered\":345}") != NULL);
    status.attached = 1;
    status.buffered = 0;
    n = pp_format_status(reply, sizeof reply, &status);
    CHECK(n != (size_t)-1 && strstr(reply, ",\"kept\":true,\"attached\":true,\"buffered\":0}") && !strstr(reply, "detached_since"));
}

// ---- issue 20: the ring and its replay boundary ---------------------------

/// The kept bytes in order, into `out` (NUL-terminated); their count.
static size_t ring_text(const pp_ring *ring, char *out) {
    pp_ring copy = *ring;
    size_t n = 0, piece = 0;
    while (copy.count) {
        const unsigned char *front = pp_ring_front(&copy, &piece);
        memcpy(out + n, front, piece);
        n += piece;
        pp_ring_consume(&copy, piece);
    }
    out[n] = 0;
    return n;
}

static void test_ring(void) {
    static unsigned char storage[8192];
    static char text[8192 + 1], big[20000];
    pp_ring ring = { .bytes = storage, .capacity = 16 };
    // Nothing dropped: everything, exactly, across the wrap.
    pp_ring_append(&ring, (const unsigned char *)"0123456789", 10);
    pp_ring_consume(&ring, 8);
    pp_ring_append(&ring, (const unsigned char *)"abcdefghijkl", 12);
    CHECK(ring.count == 14 && ring_text(&ring, text) == 14 && strcmp(text, "89abcdefghijkl") == 0);
    // Dropped: from right after the first line feed...
    pp_ring_append(&ring, (const unsigned char *)"mn\nop", 5);
    CHECK(ring_text(&ring, text) == 2 && strcmp(text, "op") == 0);
    // ... or at the first ESC, whichever comes first.
    ring.start = ring.count = 0;
    pp_ring_append(&ring, (const unsigned char *)"abcdefghijklmnop", 16);
    pp_ring_append(&ring, (const unsigned char *)"q\x1b[1mx\ny", 8);
    CHECK(ring_text(&ring, text) == 7 && strcmp(text, "\x1b[1mx\ny") == 0);
    // Neither: at the first byte that is no UTF-8 continuation byte.
    ring.start = ring.count = 0;
    pp_ring_append(&ring, (const unsigned char *)"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 16);
    pp_ring_append(&ring, (const unsigned char *)"\xc3", 1);   // drops one byte: the kept ones begin with 0xa9
    CHECK(ring.count == 15 && ring.bytes[ring.start] == 0xc3);
    // More than the capacity at once: only its end, from a boundary.
    ring.start = ring.count = 0;
    pp_ring_append(&ring, (const unsigned char *)"aaaaaaaaaaaaaaaaaaaa\nbbbbb", 26);
    CHECK(ring_text(&ring, text) == 5 && strcmp(text, "bbbbb") == 0);
    // Exactly the capacity into an empty ring drops nothing.
    ring.start = ring.count = 0;
    pp_ring_append(&ring, (const unsigned char *)"x\ny\nzzzzzzzzzzzz", 16);
    CHECK(ring.count == 16);
    // The boundary is looked for in the first 4096 bytes only.
    pp_ring large = { .bytes = storage, .capacity = 8192 };
    memset(big, 'a', sizeof big);
    big[4500] = '\n';
    pp_ring_append(&large, (const unsigned char *)big, 8192);
    pp_ring_append(&large, (const unsigned char *)big, 1);       // one byte dropped: no LF or ESC in the window
    CHECK(large.count == 8192);                                     // 'a' is a character: nothing more skipped
    memset(big, 0x80, 5000);                                        // continuation bytes throughout the window
    large.start = large.count = 0;
    pp_ring_append(&large, (const unsigned char *)big, 8192);
    pp_ring_append(&large, (const unsigned char *)"z", 1);
    CHECK(large.count == 8192 - 4096);                              // the whole window is dropped
    // Consuming all of it starts again at 0.
    pp_ring_consume(&large, large.count);
    CHECK(large.count == 0 && large.start == 0);
    // Older bytes put in front, across the wrap: they come out first.
    ring.start = ring.count = 0;
    pp_ring_append(&ring, (const unsigned char *)"0123", 4);
    pp_ring_consume(&ring, 2);
    pp_ring_append(&ring, (const unsigned char *)"456", 3);
    pp_ring_prepend(&ring, (const unsigned char *)"abcdef", 6);
    CHECK(ring.count == 11 && ring_text(&ring, text) == 11 && strcmp(text, "abcdef23456") == 0);
    // More than the room: their start is dropped, then up to a boundary.
    pp_ring_prepend(&ring, (const unsigned char *)"xxxx\nyz", 7);
    CHECK(ring_text(&ring, text) == 13 && strcmp(text, "yzabcdef23456") == 0);
    pp_ring_prepend(&ring, (const unsigned char *)"q\nw", 3);
    CHECK(ring.count == 16 && ring_text(&ring, text) == 16 && strcmp(text, "q\nwyzabcdef23456") == 0);
    // A full ring keeps its (newer) bytes as they are.
    pp_ring_prepend(&ring, (const unsigned char *)"r\ns", 3);
    CHECK(ring_text(&ring, text) == 16 && strcmp(text, "q\nwyzabcdef23456") == 0);
}

// ---- argquote -----------------------------------------------------------

/// Joins, splits back, and compares with the original arguments.
static int round_trip(int argc, const wchar_t **argv) {
    wchar_t line[4096];
    size_t n = pp_argquote_join(argc, argv, line, 4096);
    if (n == (size_t)-1 || n >= 4096) return 0;
    static argsplit_result split;
    if (argsplit(line, &split) != 0 || split.argc != argc) return 0;
    for (int i = 0; i < argc; i++)
        if (wcscmp(split.argv[i], argv[i]) != 0) return 0;
    return 1;
}

#define ROUND_TRIP(...) round_trip(sizeof((const wchar_t *[]){ __VA_ARGS__ }) / sizeof(wchar_t *), \
                                   (const wchar_t *[]){ __VA_ARGS__ })

static int joins_to(const wchar_t *expected, int argc, const wchar_t **argv) {
    wchar_t line[512];
    size_t n = pp_argquote_join(argc, argv, line, 512);
    return n == wcslen(expected) && wcscmp(line, expected) == 0;
}
#define JOINS_TO(expected, ...) joins_to(expected, sizeof((const wchar_t *[]){ __VA_ARGS__ }) / sizeof(wchar_t *), \
                                         (const wchar_t *[]){ __VA_ARGS__ })

static void test_argquote(void) {
    // The documented examples of the Microsoft C runtime, in reverse.
    CHECK(JOINS_TO(L"cmd.exe /c echo", L"cmd.exe", L"/c", L"echo"));
    CHECK(JOINS_TO(L"p \"a b\" c", L"p", L"a b", L"c"));
    CHECK(JOINS_TO(L"p \"ab\\\"c\" \\ d", L"p", L"ab\"c", L"\\", L"d"));
    CHECK(JOINS_TO(L"p a\\\\\\b \"de fg\" h", L"p", L"a\\\\\\b", L"de fg", L"h"));
    CHECK(JOINS_TO(L"p \"a\\\\\\\"b\" c d", L"p", L"a\\\"b", L"c", L"d"));
    CHECK(JOINS_TO(L"p \"a\\\\b c\\\\\"", L"p", L"a\\\\b c\\"));  // trailing backslash doubled before the quote
    CHECK(JOINS_TO(L"p \"\"", L"p", L""));
    CHECK(JOINS_TO(L"\"C:\\Program Files\\x\\\" y", L"C:\\Program Files\\x\\", L"y"));  // program name: literal
    CHECK(JOINS_TO(L"\"\" y", L"", L"y"));
    {
        const wchar_t *bad[] = { L"a\"b", L"x" };
        CHECK(pp_argquote_join(2, bad, NULL, 0) == (size_t)-1);
    }
    // Size first, then the text.
    {
        const wchar_t *args[] = { L"p", L"a b" };
        wchar_t small[4];
        CHECK(pp_argquote_join(2, args, NULL, 0) == 7);
        CHECK(pp_argquote_join(2, args, small, 4) == 7 && small[0] == 0);
    }
    CHECK(ROUND_TRIP(L"p", L"", L"\"", L"\\", L"\\\\\"", L"a b\\", L" ", L"\t", L"x\"y\"z", L"\\\\server\\share\\"));
    CHECK(ROUND_TRIP(L"C:\\a b\\c.exe", L"\"\"", L"\\\"\\\"", L"end\\"));
    CHECK(ROUND_TRIP(L"p", L"line\nbreak", L"\x00e9\x20ac", L"*?"));
    // The splitter's own cases, so that the round trips test something.
    {
        static argsplit_result split;
        CHECK(argsplit(L"\"C:\\a b\\p.exe\" \"x y\" z\\\\\\\"w \"\"\"\"", &split) == 0);
        CHECK(split.argc == 4);
        CHECK(wcscmp(split.argv[0], L"C:\\a b\\p.exe") == 0);
        CHECK(wcscmp(split.argv[1], L"x y") == 0);
        CHECK(wcscmp(split.argv[2], L"z\\\"w") == 0);
        CHECK(wcscmp(split.argv[3], L"\"") == 0);
        CHECK(argsplit(L"p  a\\\\\"b c\"", &split) == 0 && split.argc == 2 && wcscmp(split.argv[1], L"a\\b c") == 0);
    }
}

// ---- error_text ---------------------------------------------------------

static int cleans_to(const wchar_t *raw, const wchar_t *expected) {
    wchar_t out[128];
    size_t n = pp_error_clean(raw, out, 128);
    return n == wcslen(out) && wcscmp(out, expected) == 0;
}

static void test_error_text(void) {
    CHECK(cleans_to(L"Bad EXE format for %1.\r\n", L"Bad EXE format"));  // Wine, error 193
    CHECK(cleans_to(L"%1 is not a valid Win32 application.\r\n", L"is not a valid Win32 application"));
    CHECK(cleans_to(L"The system cannot find the file specified.\r\n", L"The system cannot find the file specified"));
    CHECK(cleans_to(L"A %1!s! B %23 C\tD\n\nE", L"A B C D E"));
    CHECK(cleans_to(L"100% sure %", L"100% sure %"));
    CHECK(cleans_to(L"%1!s", L""));
    CHECK(cleans_to(L"", L""));
    wchar_t small[6];
    CHECK(pp_error_clean(L"abcdefghij", small, 6) == 5 && wcscmp(small, L"abcde") == 0);
}

// IDs that Windows cannot keep apart (issue 16.5): a trailing '.', device
// names in any case, with or without an extension. Their neighbours pass.
static void test_ids(void) {
    static const wchar_t *const refused[] = { L"t.", L"a..", L".", L"..", L"con", L"CON", L"Nul", L"aux.txt",
                                              L"prn.tar.gz", L"com1", L"COM9.log", L"lpt1", L"LPT0", L"nul." };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK(pp_cli_valid_id(refused[i]) == 0);
        CHECK(PARSE(L"status", refused[i]) == -1 && message_has(L"invalid ID") && message_has(L"Windows"));
        CHECK(PARSE(L"new", refused[i], L"80", L"24", L"cmd.exe") == -1 && message_has(L"Windows"));
    }
    CHECK(pp_cli_id_problem(L"t.") == PP_ID_TRAILING_DOT && pp_cli_id_problem(L"nul.txt") == PP_ID_DEVICE);
    CHECK(PARSE(L"resize", L"com3.x", L"80", L"24") == -1 && message_has(L"COM3 is a Windows device name"));
    static const wchar_t *const accepted[] = { L"console", L"nulls", L"com10", L"lpt", L"x.con", L"aux_1",
                                               L"t.x", L"a.b_c-1", L"co", L".hidden" };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        CHECK(pp_cli_valid_id(accepted[i]) == 1);
        CHECK(PARSE(L"status", accepted[i]) == 0);
    }
}

// Reply text printed by the client (issue 16.4): printable UTF-8 stays,
// everything else is \xHH, never cut in the middle.
static int escapes_to(const char *in, size_t length, const char *expected) {
    char out[256];
    size_t n = pp_escape_reply(in, length, out, sizeof out);
    return n == strlen(expected) && strcmp(out, expected) == 0;
}

static void test_escape_reply(void) {
    CHECK(escapes_to("ok 80 24", 8, "ok 80 24"));
    CHECK(escapes_to("\x1b[31m\x07", 6, "\\x1b[31m\\x07"));
    CHECK(escapes_to("a\0b", 3, "a\\x00b"));
    CHECK(escapes_to("\x7f\xff\xfe", 3, "\\x7f\\xff\\xfe"));
    CHECK(escapes_to("\xc3\xa9t\xc3\xa9", 5, "\xc3\xa9t\xc3\xa9"));             // é stays
    CHECK(escapes_to("\xc2\x9b", 2, "\\xc2\\x9b"));                               // C1 CSI
    CHECK(escapes_to("\xc2\xa0", 2, "\xc2\xa0"));                                   // U+00A0 stays
    CHECK(escapes_to("\xc0\xaf", 2, "\\xc0\\xaf"));                               // overlong
    CHECK(escapes_to("\xed\xa0\x80", 3, "\\xed\\xa0\\x80"));                     // surrogate
    CHECK(escapes_to("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"));                 // U+1F600 stays
    CHECK(escapes_to("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"));           // above U+10FFFF
    CHECK(escapes_to("\xe2\x82", 2, "\\xe2\\x82"));                               // cut short
    char small[6];
    CHECK(pp_escape_reply("ab\x1b", 3, small, sizeof small) == 2 && strcmp(small, "ab") == 0);  // no half escape
    CHECK(pp_escape_reply("\xc3\xa9\xc3\xa9\xc3\xa9", 6, small, sizeof small) == 4);      // no half character
}

static int json_escapes_to(const char *in, size_t length, const char *expected) {
    char out[256];
    size_t n = pp_escape_json_reply(in, length, out, sizeof out);
    return n == strlen(expected) && strcmp(out, expected) == 0;
}

// A status reply is printed the JSON way (ControlReply.escapeJSON on Linux):
// what a terminal acts on becomes \uXXXX, and the line stays JSON.
static void test_escape_json_reply(void) {
    CHECK(json_escapes_to("{\"id\":\"a\\\"b\"}", 13, "{\"id\":\"a\\\"b\"}"));      // quotes and \ are the JSON's own
    CHECK(json_escapes_to("\x1b[31m\x07\n", 7, "\\u001b[31m\\u0007\\u000a"));
    CHECK(json_escapes_to("\x7f\xc2\x80\xc2\x9b\xc2\x9f", 7, "\\u007f\\u0080\\u009b\\u009f"));  // DEL, C1
    CHECK(json_escapes_to("\xe2\x80\xa8\xe2\x80\xa9", 6, "\\u2028\\u2029"));
    CHECK(json_escapes_to("\xc2\xa0\xe2\x80\xa7\xf0\x9f\x98\x80", 9, "\xc2\xa0\xe2\x80\xa7\xf0\x9f\x98\x80"));  // stay
    CHECK(json_escapes_to("\xff\xe9t\xc3\xa9", 5, "\\u00ff\\u00e9t\xc3\xa9"));  // not UTF-8: \u00XX
    CHECK(json_escapes_to("\xed\xa0\x80", 3, "\\u00ed\\u00a0\\u0080"));         // a surrogate is not UTF-8
    char small[8];
    CHECK(pp_escape_json_reply("ab\x1b", 3, small, sizeof small) == 2 && strcmp(small, "ab") == 0);  // no half escape
    CHECK(pp_escape_json_reply("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, small, sizeof small) == 6);  // no half character
    // The status line's strings and a reply printed from it escape alike.
    char quoted[64];
    size_t n = pp_json_append_string(quoted, 0, sizeof quoted, "\xc2\x85\xe2\x80\xa8\x7f\xff", 7);
    CHECK(n != (size_t)-1 && memcmp(quoted, "\"\\u0085\\u2028\\u007f\\u00ff\"", n) == 0 && n == 26);
    CHECK(pp_json_append_string(quoted, 0, 5, "abcd", 4) == (size_t)-1);
    CHECK(pp_json_append_string(quoted, 0, 6, "abcd", 4) == 6);
}

// The client's check of the pipe server's user (issue 16.4), on SID bytes.
static void test_same_sid(void) {
    // S-1-5-21-1-2-3-1001 and S-1-5-21-1-2-3-1002
    static const unsigned char me[] = { 1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
                                        0xe9, 3, 0, 0 };
    static const unsigned char other[] = { 1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
                                           0xea, 3, 0, 0 };
    static const unsigned char system_sid[] = { 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0 };   // S-1-5-18
    unsigned char copy[sizeof me + 4];
    memcpy(copy, me, sizeof me);
    memset(copy + sizeof me, 0xaa, 4);
    CHECK(pp_same_sid(me, sizeof me, me, sizeof me) == 1);
    CHECK(pp_same_sid(me, sizeof me, copy, sizeof copy) == 1);          // room beyond the SID is not compared
    CHECK(pp_same_sid(me, sizeof me, other, sizeof other) == 0);        // another user
    CHECK(pp_same_sid(me, sizeof me, system_sid, sizeof system_sid) == 0);
    CHECK(pp_same_sid(me, sizeof me - 1, me, sizeof me - 1) == 0);      // truncated
    CHECK(pp_same_sid(me, 0, me, 0) == 0);
    copy[0] = 2;
    CHECK(pp_same_sid(copy, sizeof me, copy, sizeof me) == 0);          // not revision 1
}

// ---- one home per protocol fact (issue 17, item 4) ------------------------

/// The request line pp_format_request writes reads back as the same request.
static int round_trips(pp_request sent) {
    char line[PP_CONTROL_LINE_MAX + 1];
    size_t length = pp_format_request(line, sizeof line, &sent);
    if (length == (size_t)-1 || length != strlen(line)) return 0;
    if (control(line) != 0) return 0;
    return request.kind == sent.kind && request.cols == sent.cols && request.rows == sent.rows &&
           request.signal_number == sent.signal_number;
}

static void test_one_home(void) {
    // The pipe name: one function, its prefix in one macro.
    wchar_t name[PP_PIPE_NAME_CAPACITY];
    CHECK(pp_control_pipe_name(L"vterm1", name, PP_PIPE_NAME_CAPACITY) == 0);
    CHECK(wcscmp(name, L"\\\\.\\pipe\\conpty-proxy-ctrl-vterm1") == 0);
    const wchar_t *longest = L"0123456789012345678901234567890123456789012345678901234567890123";
    CHECK(pp_control_pipe_name(longest, name, PP_PIPE_NAME_CAPACITY) == 0 && wcslen(name) == PP_PIPE_NAME_CAPACITY - 1);
    CHECK(pp_control_pipe_name(L"vterm1", name, 10) == -1 && name[0] == 0);      // does not fit
    CHECK(pp_control_pipe_name(L"a\\..\\b", name, PP_PIPE_NAME_CAPACITY) == -1 && name[0] == 0);  // not an ID
    CHECK(wcsstr(pp_cli_usage, PP_PIPE_PREFIX L"ID") != NULL);

    // The request encoder: what the client sends is what the server parses.
    CHECK(round_trips((pp_request){ .kind = PP_REQUEST_RESIZE, .cols = 1, .rows = 1 }));
    CHECK(round_trips((pp_request){ .kind = PP_REQUEST_RESIZE, .cols = PP_MAX_DIMENSION, .rows = 80 }));
    CHECK(round_trips((pp_request){ .kind = PP_REQUEST_SIGNAL, .signal_number = 2 }));
    CHECK(round_trips((pp_request){ .kind = PP_REQUEST_SIGNAL, .signal_number = 64 }));
    CHECK(round_trips((pp_request){ .kind = PP_REQUEST_STATUS }));
    CHECK(round_trips((pp_request){ .kind = PP_REQUEST_PING }));
    char small[8];
    CHECK(pp_format_request(small, sizeof small, &(pp_request){ .kind = PP_REQUEST_RESIZE, .cols = 80, .rows = 24 }) ==
          (size_t)-1);
    CHECK(pp_format_request(small, sizeof small, &(pp_request){ .kind = PP_REQUEST_STATUS }) == 6 &&
          strcmp(small, "status") == 0);

    // One dimension rule: the command line and the control line agree on every text.
    static const char *const sizes[] = { "1", "80", "080", "00080", "000080", "32767", "32768", "65535", "99999",
                                         "100000", "0", "00000", "-1", "+1", "1.5", "1a", "", "4294967297" };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        wchar_t wide[16];
        char line[64];
        size_t n = strlen(sizes[i]);
        for (size_t k = 0; k <= n; k++) wide[k] = (wchar_t)(unsigned char)sizes[i][k];
        unsigned expected = pp_parse_dimension(sizes[i], n);
        CHECK(pp_cli_parse_dimension(wide) == expected);
        snprintf(line, sizeof line, "resize %s 1", sizes[i]);
        CHECK(expected ? control(line) == 0 && request.cols == expected : control(line) == -1);
    }
    CHECK(pp_parse_dimension("32767", 5) == PP_MAX_DIMENSION && pp_parse_dimension("32768", 5) == 0);
    CHECK(pp_parse_dimension("12", 1) == 1);   // a length, not a terminator

    // The limits in messages are the constants'.
    CHECK(PARSE(L"resize", L"id", L"0", L"1") == -1 && message_has(L"1.." PP_TEXT(PP_MAX_DIMENSION)));
    CHECK(PARSE(L"status", L"a/b") == -1 && message_has(L"1 to " PP_TEXT(PP_MAX_ID_LENGTH) L" of"));
    CHECK(PARSE(L"new", L"--hangup-grace", L"9999", L"id", L"1", L"1", L"c") == -1 &&
          message_has(L"0 and " PP_TEXT(PP_MAX_HANGUP_GRACE_SECONDS)));
    CHECK(PARSE(L"new", L"--output-buffer-size", L"1", L"id", L"1", L"1", L"c") == -1 &&
          message_has(L"1024..16777216"));
    CHECK(PARSE(L"new", L"--stdout-pipe-size", L"1", L"id", L"1", L"1", L"c") == -1 &&
          message_has(L"4096..67108864"));
    CHECK(wcsstr(pp_cli_usage, L"1.." PP_TEXT(PP_MAX_DIMENSION)) != NULL);
    CHECK(control("0 1") == -1 && strstr(reason, "1.." PP_TEXT(PP_MAX_DIMENSION)));
    char too_long[PP_CONTROL_LINE_MAX + 2];
    memset(too_long, 'x', sizeof too_long);
    CHECK(pp_control_parse(too_long, sizeof too_long, &request, &reason) == -1 &&
          strstr(reason, "limit " PP_TEXT(PP_CONTROL_LINE_MAX) " bytes"));
}

int main(void) {
    test_one_home();
    test_escape_reply();
    test_escape_json_reply();
    test_same_sid();
    test_error_text();
    test_cli();
    test_ids();
    test_control_line();
    test_keep();
    test_ring();
    test_argquote();
    printf("parser tests: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
