// SPDX-License-Identifier: MIT
//
// control_line: one request of the control protocol (docs/INTERFACE.md),
// parsed from the bytes of one line, and the replies formatted. Pure: no
// Windows API, no allocation, so it is unit-tested and fuzzed on Linux too.
#ifndef PP_CONTROL_LINE_H
#define PP_CONTROL_LINE_H

#include <stddef.h>
#include <stdint.h>

/// The longest request line accepted, newline excluded (as on Linux).
#define PP_CONTROL_LINE_MAX 256

typedef enum {
    PP_REQUEST_RESIZE,
    PP_REQUEST_SIGNAL,
    PP_REQUEST_STATUS,
    PP_REQUEST_PING,
} pp_request_kind;

typedef struct {
    pp_request_kind kind;
    unsigned cols, rows;   // resize
    int signal_number;     // signal (Linux numbering: INT 2, KILL 9, TERM 15)
} pp_request;

/// Parses one line (without its newline; blanks, tabs and CRs separate
/// words and are otherwise ignored). Returns 0 and fills `out`, or -1 and
/// sets `*reason` to a static string: the REASON of `error REASON`.
int pp_control_parse(const char *line, size_t length, pp_request *out, const char **reason);

/// The signal number for a name (`INT`, `SIGINT`, `int`) or a decimal
/// number in 1..64; 0 when unknown. Names and numbers are Linux's, so that
/// one request means the same thing to both programs.
int pp_signal_number(const char *text, size_t length);

/// The canonical name (without SIG) of a signal number from the table, or NULL.
const char *pp_signal_name(int number);

/// Appends `text` (length bytes, UTF-8 or not) to `out` as a JSON string,
/// quotes included. Bytes >= 0x80 are copied as they are; control bytes are
/// escaped. Returns the new length, or (size_t)-1 if it does not fit.
size_t pp_json_append_string(char *out, size_t used, size_t capacity, const char *text, size_t length);

/// A status reply's fields.
typedef struct {
    const char *id;                 // ASCII (a valid ID)
    unsigned long pid, child_pid;
    unsigned cols, rows;
    uint64_t bytes_in, bytes_out;
    uint64_t uptime_ms;
    const char *command_json;       // a JSON array, already formatted
    const char *conpty_json;        // a JSON string ("system" or a DLL's path); NULL: no "conpty" key
} pp_status;

/// Writes `ok {"id":...}` (no newline). Returns the length, or (size_t)-1 if it does not fit.
size_t pp_format_status(char *out, size_t capacity, const pp_status *status);

#endif
