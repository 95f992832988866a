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
    PP_REQUEST_ATTACH,
} pp_request_kind;

typedef struct {
    pp_request_kind kind;
    unsigned cols, rows;   // resize
    int signal_number;     // signal (Linux numbering: INT 2, KILL 9, TERM 15)
    /// attach [COLS ROWS] [force] [stdio IN OUT]: cols/rows 0 when not
    /// given; IN and OUT are the client's stdin and stdout handle values
    /// (decimal, in the client process), which the session duplicates.
    int force;
    int has_stdio;
    uint32_t stdin_handle, stdout_handle;
} pp_request;

/// Parses one line (without its newline; blanks, tabs and CRs separate
/// words and are otherwise ignored). Returns 0 and fills `out`, or -1 and
/// sets `*reason` to a static string: the REASON of `error REASON`.
int pp_control_parse(const char *line, size_t length, pp_request *out, const char **reason);

/// A terminal dimension (COLS or ROWS) in `length` bytes: decimal digits
/// only, 1...PP_MAX_DIMENSION; 0 if invalid. The one size rule of both the
/// command line and the control protocol.
unsigned pp_parse_dimension(const char *text, size_t length);

/// The request line (no newline) that pp_control_parse reads back as
/// `request`: `resize COLS ROWS`, `signal NUMBER`, `status` or `ping`.
/// Returns its length, or (size_t)-1 if it does not fit in `capacity`
/// bytes with its terminator.
size_t pp_format_request(char *out, size_t capacity, const pp_request *request);

/// The signal number for a name (`INT`, `SIGINT`, `int`) or a decimal
/// number in 1..64; 0 when unknown. Names and numbers are Linux's, so that
/// one request means the same thing to both programs.
int pp_signal_number(const char *text, size_t length);

/// The canonical name (without SIG) of a signal number from the table, or NULL.
const char *pp_signal_name(int number);

/// Appends `text` (length bytes, UTF-8 or not) to `out` as a JSON string,
/// quotes included, escaped as the Linux program's ByteString.jsonQuoted
/// (docs/INTERFACE.md, Protocol): `"`, `\`, LF, CR, TAB in their short
/// forms; C0 and C1 controls, DEL, U+2028 and U+2029 as `\uXXXX`; each byte
/// that is not UTF-8 as `\u00XX`; other UTF-8 as it is. Returns the new
/// length, or (size_t)-1 if it does not fit.
size_t pp_json_append_string(char *out, size_t used, size_t capacity, const char *text, size_t length);

/// A status reply's fields.
typedef struct {
    const char *id;                 // ASCII (a valid ID)
    unsigned long pid, child_pid;
    unsigned cols, rows;
    uint64_t bytes_in, bytes_out;
    uint64_t uptime_ms;
    uint64_t requests;              // control requests carried out ([Windows] only)
    const char *command_json;       // a JSON array, already formatted
    const char *conpty_json;        // a JSON string ("system" or a DLL's path); NULL: no "conpty" key
    /// A session started with --keep adds "kept", "attached",
    /// "detached_since" (only while detached) and "buffered".
    int kept, attached;
    uint64_t detached_since_s, buffered;
} pp_status;

/// Writes `ok {"id":...}` (no newline). Returns the length, or (size_t)-1 if it does not fit.
size_t pp_format_status(char *out, size_t capacity, const pp_status *status);

/// Reply text made safe to print (docs/INTERFACE.md, as the Linux client's
/// ControlReply.escape): printable ASCII and well-formed UTF-8 stay; every
/// other byte (C0 and C1 controls, DEL, bytes that are not UTF-8) becomes
/// `\xHH`. Writes at most `capacity` - 1 bytes and a NUL into `out`
/// (capacity >= 1), never cutting an escape or a character; returns the length.
size_t pp_escape_reply(const char *text, size_t length, char *out, size_t capacity);

/// A JSON reply text (`status`) made safe to print and kept JSON, as the
/// Linux client's ControlReply.escapeJSON: C0 and C1 controls, DEL, U+2028
/// and U+2029 become `\uXXXX`, each byte that is not UTF-8 `\u00XX`;
/// the rest stays. Writes at most `capacity` - 1 bytes and a NUL into `out`
/// (capacity >= 1), never cutting an escape or a character; returns the length.
size_t pp_escape_json_reply(const char *text, size_t length, char *out, size_t capacity);

/// True when two SIDs (their bytes: revision 1, a sub-authority count of at
/// most 15, then 6 + 4 * count bytes) are well formed and the same. The
/// client trusts a pipe's server only when its process's user is ours.
int pp_same_sid(const void *a, size_t a_length, const void *b, size_t b_length);

#endif
