// SPDX-License-Identifier: MIT
//
// cli: the command line of ptyproxy.exe, parsed. A pure function of argv
// (no Windows API, no allocation), so that it also compiles on Linux, where
// it is unit-tested and fuzzed. The grammar is the Linux tool's
// (docs/INTERFACE.md), with the Windows limits marked there.
#ifndef PP_CLI_H
#define PP_CLI_H

#include <stddef.h>
#include <wchar.h>

/// A limit written into a message as text: PP_TEXT(PP_MAX_DIMENSION) is "32767".
#define PP_TEXT(value) PP_TEXT_(value)
#define PP_TEXT_(value) #value

/// COORD holds signed 16-bit values: the Windows program refuses larger sizes.
#define PP_MAX_DIMENSION 32767
/// IDs match [A-Za-z0-9._-]{1,64}, as on Linux.
#define PP_MAX_ID_LENGTH 64
/// --hangup-grace: 0 to this many seconds.
#define PP_MAX_HANGUP_GRACE_SECONDS 3600
/// --output-buffer-size: this many bytes at least, and at most.
#define PP_MIN_OUTPUT_BUFFER_SIZE 1024L
#define PP_MAX_OUTPUT_BUFFER_SIZE (16L << 20)
/// --stdout-pipe-size: 0, or this many bytes at least, and at most.
#define PP_MIN_STDOUT_PIPE_SIZE 4096L
#define PP_MAX_STDOUT_PIPE_SIZE (64L << 20)
/// --keep-buffer: this many bytes at least, at most, and by default.
#define PP_MIN_KEEP_BUFFER 4096L
#define PP_MAX_KEEP_BUFFER (1L << 30)
#define PP_DEFAULT_KEEP_BUFFER (1L << 20)
/// A session's control pipe is this prefix and its ID.
#define PP_PIPE_PREFIX L"\\\\.\\pipe\\conpty-proxy-ctrl-"
/// Room for a pipe name: the prefix, the longest ID and the terminator.
#define PP_PIPE_NAME_CAPACITY (sizeof PP_PIPE_PREFIX / sizeof(wchar_t) + PP_MAX_ID_LENGTH)
/// At most this many --env options (each is kept as a pointer into argv).
#define PP_MAX_ENV 256
/// Room for one error message (wide characters, terminated).
#define PP_MESSAGE_CAPACITY 512

typedef enum {
    PP_VERB_NEW,
    PP_VERB_RESIZE,
    PP_VERB_SIGNAL,
    PP_VERB_STATUS,
    PP_VERB_LIST,
    PP_VERB_ATTACH,
    PP_VERB_HELP,
    PP_VERB_VERSION,
} pp_verb;

/// The parsed command line. Every string points into the argv it came from:
/// arguments stay exactly as they arrived (UTF-16 on Windows), never converted.
typedef struct {
    pp_verb verb;
    const wchar_t *id;
    unsigned cols, rows;
    /// `signal`: the name as given, and its (Linux) number.
    const wchar_t *signal_name;
    int signal_number;
    /// `new`: options.
    const wchar_t *term;            // NULL: TERM is left as inherited
    const wchar_t *cwd;             // NULL: the proxy's own directory
    const wchar_t *env[PP_MAX_ENV]; // NAME=VALUE
    int env_count;
    unsigned hangup_grace_ms;       // default 2000
    int output_buffers;             // 1 or 2; default 2
    unsigned output_buffer_size;    // default 131072
    unsigned stdout_pipe_size;      // accepted for compatibility, unused on Windows
    const wchar_t *conpty;          // --conpty PATH (conpty_loader.h); NULL: beside the program, or the system's
    int keep;                       // --keep: the session outlives its host (issue 20)
    unsigned long keep_buffer;      // --keep-buffer N: output kept while detached; default 1 MiB
    /// `attach`: --force, and whether COLS ROWS were given.
    int force;
    int size_given;
    /// `new`: CMD is argv[command_index .. command_index + command_count - 1].
    int command_index;
    int command_count;
} pp_invocation;

/// Parses argv[1..argc-1]. Returns 0 and fills `out`, or -1 and writes one
/// line (no "ptyproxy: " prefix, no newline) into `message`.
int pp_cli_parse(int argc, wchar_t *const *argv, pp_invocation *out,
                 wchar_t message[PP_MESSAGE_CAPACITY]);

/// What is wrong with an ID (docs/INTERFACE.md).
typedef enum {
    PP_ID_OK,
    PP_ID_CHARACTERS,       // not [A-Za-z0-9._-]{1,64}
    PP_ID_TRAILING_DOT,     // Windows drops a trailing '.' from file names
    PP_ID_DEVICE,           // CON, PRN, AUX, NUL, COM0-9, LPT0-9, any case, with or without an extension
} pp_id_problem;

pp_id_problem pp_cli_id_problem(const wchar_t *id);

/// True when `id` has no problem: [A-Za-z0-9._-]{1,64}, not ending with '.',
/// and not a Windows device name. Windows compares IDs without case (pipe
/// and file names do), so `Foo` and `foo` are one session there.
int pp_cli_valid_id(const wchar_t *id);

/// A terminal dimension: decimal digits only, 1...PP_MAX_DIMENSION
/// (pp_parse_dimension's rule, for a wide argument). Returns 0 if invalid.
unsigned pp_cli_parse_dimension(const wchar_t *text);

/// The control pipe's name for session `id` (PP_PIPE_PREFIX then the ID)
/// into `out`. Returns 0, or -1 (and an empty `out`) when `id` is not a
/// valid ID or the name does not fit in `capacity` wide characters.
int pp_control_pipe_name(const wchar_t *id, wchar_t *out, size_t capacity);

/// The help text.
extern const wchar_t pp_cli_usage[];

#endif
