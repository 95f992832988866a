// SPDX-License-Identifier: MIT
//
// libFuzzer target: the control line parser and the reply formatting
// (control_line.c). The whole input is one line. Checks: no crash or
// sanitizer report; a static reason on failure; values in range on
// success, and pp_format_request writes a line that parses back to the
// same request; the JSON string of the input, and the input escaped as a
// JSON reply, hold no control byte, no C1 control, DEL, U+2028 or U+2029,
// and the JSON string only escapes JSON knows.
#include "control_line.h"
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/// No byte a terminal acts on (C0, DEL, the UTF-8 of C1, U+2028, U+2029),
/// and, when `escapes`, every backslash starts an escape JSON knows (a
/// reply's own backslashes are its own business).
static int json_safe(const char *text, size_t n, int escapes) {
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) return 0;
        if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) return 0;
        if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 && (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) return 0;
        if (escapes && p[i] == '\\') {
            if (i + 1 >= n || !strchr("\"\\/bfnrtu", p[i + 1])) return 0;
            i++;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pp_request request;
    const char *reason = NULL;
    if (pp_control_parse((const char *)data, size, &request, &reason) != 0) {
        if (!reason || !reason[0] || strchr(reason, '\n')) abort();
    } else {
        if (size > PP_CONTROL_LINE_MAX) abort();
        switch (request.kind) {
        case PP_REQUEST_RESIZE:
            if (request.cols < 1 || request.cols > PP_MAX_DIMENSION || request.rows < 1 || request.rows > PP_MAX_DIMENSION)
                abort();
            break;
        case PP_REQUEST_SIGNAL:
            if (request.signal_number < 1 || request.signal_number > 64) abort();
            break;
        default:
            break;
        }
        char line[PP_CONTROL_LINE_MAX + 1];
        pp_request again;
        size_t length = pp_format_request(line, sizeof line, &request);
        if (length == (size_t)-1 || pp_control_parse(line, length, &again, &reason) != 0 ||
            again.kind != request.kind || again.cols != request.cols || again.rows != request.rows ||
            again.signal_number != request.signal_number || again.force != request.force ||
            again.has_stdio != request.has_stdio || again.stdin_handle != request.stdin_handle ||
            again.stdout_handle != request.stdout_handle)
            abort();
    }
    static char json[6 * 4096 + 3];
    if (size > 4096) size = 4096;
    size_t n = pp_json_append_string(json, 0, sizeof json, (const char *)data, size);
    if (n == (size_t)-1 || n < 2 || json[0] != '"' || json[n - 1] != '"') abort();
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)json[i];
        if (c < 0x20) abort();
        if (c == '\\') { i++; continue; }  // an escape: skip its next character
        if (c == '"') abort();
    }
    if (!json_safe(json + 1, n - 2, 1)) abort();
    size_t escaped = pp_escape_json_reply((const char *)data, size, json, sizeof json);
    if (escaped >= sizeof json || json[escaped] || !json_safe(json, escaped, 0)) abort();
    // The status line holds the same string and stays one line.
    char reply[PP_CONTROL_LINE_MAX * 8];
    json[n] = 0;
    pp_status status = { .id = "fuzz", .command_json = "[]" };
    size_t length = pp_format_status(reply, sizeof reply, &status);
    if (length == (size_t)-1 || memchr(reply, '\n', length)) abort();
    return 0;
}
