// SPDX-License-Identifier: MIT
//
// libFuzzer target: the control line parser and the reply formatting
// (control_line.c). The whole input is one line. Checks: no crash or
// sanitizer report; a static reason on failure; values in range on
// success; the JSON string of the input escapes every control byte and
// every quote.
#include "control_line.h"
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    // The status line holds the same string and stays one line.
    char reply[PP_CONTROL_LINE_MAX * 8];
    json[n] = 0;
    pp_status status = { .id = "fuzz", .command_json = "[]" };
    size_t length = pp_format_status(reply, sizeof reply, &status);
    if (length == (size_t)-1 || memchr(reply, '\n', length)) abort();
    return 0;
}
