// SPDX-License-Identifier: MIT
//
// Unit tests of the pure parts of issue 19 (a newer ConPTY, resize order):
// the resize queue (resize_queue.h), `new --conpty PATH` and the status
// reply's "conpty" key. Compiled with the native compiler and run on Linux:
// make -C windows native-test. Under Wine ResizePseudoConsole is not
// implemented, so the order and the coalescing of resizes are checked here,
// on the queue itself.
#include "cli.h"
#include "control_line.h"
#include "resize_queue.h"

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "check.h"

/// The replies of one pass, joined by '|', after a call that returned `error`.
static void replies(const pp_resize_queue *queue, const char *error, char *out, size_t capacity) {
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < queue->count; i++) {
        if (queue->requests[i].client < 0) continue;
        char line[128];
        pp_resize_reply(line, sizeof line, &queue->requests[i], error);
        used += (size_t)snprintf(out + used, capacity - used, "%s%d:%s", used ? "|" : "", queue->requests[i].client, line);
    }
}

static void test_nothing_queued_means_no_call(void) {
    pp_resize_queue queue;
    unsigned cols = 7, rows = 7;
    pp_resize_queue_clear(&queue);
    CHECK(pp_resize_queue_target(&queue, &cols, &rows) == 0);
    CHECK(cols == 7 && rows == 7);
}

static void test_burst_collapses_to_the_last_size(void) {
    pp_resize_queue queue;
    unsigned cols = 0, rows = 0;
    pp_resize_queue_clear(&queue);
    CHECK(pp_resize_queue_push(&queue, 3, 100, 30) == 0);
    CHECK(pp_resize_queue_push(&queue, 0, 120, 40) == 0);
    CHECK(pp_resize_queue_push(&queue, 5, 90, 25) == 0);
    CHECK(pp_resize_queue_target(&queue, &cols, &rows) == 1);
    CHECK(cols == 90 && rows == 25);
    // Each is answered, in the order the requests arrived (not slot order),
    // with its own size: the protocol echoes what was asked.
    char out[512];
    replies(&queue, NULL, out, sizeof out);
    CHECK(strcmp(out, "3:ok 100 30|0:ok 120 40|5:ok 90 25") == 0);
}

static void test_failure_is_every_request_s_answer(void) {
    pp_resize_queue queue;
    pp_resize_queue_clear(&queue);
    pp_resize_queue_push(&queue, 1, 100, 30);
    pp_resize_queue_push(&queue, 2, 101, 31);
    char out[512];
    replies(&queue, "Not implemented (HRESULT 0x80004001)", out, sizeof out);
    CHECK(strcmp(out, "1:error resize failed: Not implemented (HRESULT 0x80004001)|"
                      "2:error resize failed: Not implemented (HRESULT 0x80004001)") == 0);
}

static void test_request_without_reply_still_counts(void) {
    // conpty_proxy.exe's client writes "W H" and closes: nobody is answered,
    // but its size takes part in the order like any other.
    pp_resize_queue queue;
    unsigned cols = 0, rows = 0;
    pp_resize_queue_clear(&queue);
    pp_resize_queue_push(&queue, 4, 100, 30);
    pp_resize_queue_push(&queue, -1, 132, 43);
    CHECK(pp_resize_queue_target(&queue, &cols, &rows) == 1 && cols == 132 && rows == 43);
    char out[512];
    replies(&queue, NULL, out, sizeof out);
    CHECK(strcmp(out, "4:ok 100 30") == 0);
    pp_resize_queue_push(&queue, 6, 80, 24);  // a later arrival wins again
    CHECK(pp_resize_queue_target(&queue, &cols, &rows) == 1 && cols == 80 && rows == 24);
}

static void test_passes_are_applied_in_order(void) {
    // Two passes: each applies its own last size, the later pass after.
    pp_resize_queue queue;
    unsigned applied[4][2], calls = 0, cols, rows;
    static const unsigned passes[2][3][2] = { { { 10, 10 }, { 20, 20 }, { 30, 30 } }, { { 40, 40 }, { 5, 5 }, { 0, 0 } } };
    pp_resize_queue_clear(&queue);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 3 && passes[pass][i][0]; i++) pp_resize_queue_push(&queue, i, passes[pass][i][0], passes[pass][i][1]);
        if (pp_resize_queue_target(&queue, &cols, &rows)) { applied[calls][0] = cols; applied[calls][1] = rows; calls++; }
        pp_resize_queue_clear(&queue);
        if (pp_resize_queue_target(&queue, &cols, &rows)) calls++;  // a cleared queue makes no call
    }
    CHECK(calls == 2);
    CHECK(applied[0][0] == 30 && applied[0][1] == 30);
    CHECK(applied[1][0] == 5 && applied[1][1] == 5);
}

static void test_full_queue_refuses(void) {
    pp_resize_queue queue;
    pp_resize_queue_clear(&queue);
    for (int i = 0; i < PP_RESIZE_QUEUE_CAPACITY; i++) CHECK(pp_resize_queue_push(&queue, i, 80, 24) == 0);
    CHECK(pp_resize_queue_push(&queue, 99, 81, 25) == -1);
    unsigned cols = 0, rows = 0;
    CHECK(pp_resize_queue_target(&queue, &cols, &rows) == 1 && cols == 80 && rows == 24);  // the refused one is not in
}

static void test_reply_is_cut_to_fit(void) {
    pp_resize_request request = { 0, 32767, 32767 };
    char out[8];
    size_t n = pp_resize_reply(out, sizeof out, &request, NULL);
    CHECK(n == 7 && strcmp(out, "ok 3276") == 0);
}

// ---- new --conpty PATH, and "conpty" in the status reply ------------------

static int parse(int argc, wchar_t **argv, pp_invocation *inv) {
    wchar_t message[PP_MESSAGE_CAPACITY];
    return pp_cli_parse(argc, argv, inv, message);
}

static void test_conpty_option(void) {
    static pp_invocation inv;
    wchar_t *given[] = { L"ptyproxy", L"new", L"--conpty", L"C:\\tools\\conpty.dll", L"id", L"80", L"24", L"cmd.exe" };
    CHECK(parse(8, given, &inv) == 0 && inv.conpty && wcscmp(inv.conpty, L"C:\\tools\\conpty.dll") == 0);
    CHECK(inv.command_index == 7);
    wchar_t *joined[] = { L"ptyproxy", L"new", L"--conpty=D:\\c.dll", L"id", L"80", L"24", L"cmd.exe" };
    CHECK(parse(7, joined, &inv) == 0 && wcscmp(inv.conpty, L"D:\\c.dll") == 0);
    wchar_t *none[] = { L"ptyproxy", L"new", L"id", L"80", L"24", L"cmd.exe" };
    CHECK(parse(6, none, &inv) == 0 && inv.conpty == NULL);
    wchar_t *empty[] = { L"ptyproxy", L"new", L"--conpty=", L"id", L"80", L"24", L"cmd.exe" };
    CHECK(parse(7, empty, &inv) == -1);
    wchar_t *missing[] = { L"ptyproxy", L"new", L"--conpty" };
    CHECK(parse(3, missing, &inv) == -1);
    // After CMD it is CMD's own argument.
    wchar_t *after[] = { L"ptyproxy", L"new", L"id", L"80", L"24", L"cmd.exe", L"--conpty", L"x" };
    CHECK(parse(8, after, &inv) == 0 && inv.conpty == NULL && inv.command_count == 3);
}

static void test_status_names_the_conpty(void) {
    char reply[512];
    pp_status status = { .id = "t1", .pid = 10, .child_pid = 11, .cols = 80, .rows = 24, .uptime_ms = 5,
                         .command_json = "[\"cmd.exe\"]", .conpty_json = "\"system\"" };
    CHECK(pp_format_status(reply, sizeof reply, &status) == strlen(reply));
    CHECK(strstr(reply, ",\"command\":[\"cmd.exe\"],\"conpty\":\"system\"}") != NULL);
    status.conpty_json = "\"C:\\\\t\\\\conpty.dll\"";
    CHECK(pp_format_status(reply, sizeof reply, &status) == strlen(reply));
    CHECK(strstr(reply, "\"conpty\":\"C:\\\\t\\\\conpty.dll\"}") != NULL);
    status.conpty_json = NULL;  // the Linux-shaped reply has no such key
    CHECK(pp_format_status(reply, sizeof reply, &status) == strlen(reply) && strstr(reply, "conpty") == NULL);
}

int main(void) {
    test_conpty_option();
    test_status_names_the_conpty();
    test_nothing_queued_means_no_call();
    test_burst_collapses_to_the_last_size();
    test_failure_is_every_request_s_answer();
    test_request_without_reply_still_counts();
    test_passes_are_applied_in_order();
    test_full_queue_refuses();
    test_reply_is_cut_to_fit();
    printf("conpty_tests: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
