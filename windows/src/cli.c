// SPDX-License-Identifier: MIT
//
// cli: argv -> pp_invocation. See cli.h. Hand-written for the same reasons as
// the Swift Invocation: `new` passes everything after CMD through untouched,
// it stays call-compatible with conpty_proxy.exe (`new ID W H CMD`), and a
// pure function can be fuzzed.
#include "cli.h"
#include "control_line.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const wchar_t pp_cli_usage[] =
    L"usage: ptyproxy new [OPTIONS] [--] ID COLS ROWS CMD [ARG...]\n"
    L"       ptyproxy resize ID COLS ROWS\n"
    L"       ptyproxy signal ID SIGNAL\n"
    L"       ptyproxy status ID\n"
    L"       ptyproxy list\n"
    L"       ptyproxy attach ID [COLS ROWS] [--force]\n"
    L"\n"
    L"Runs CMD on a pseudo console (ConPTY) of COLS x ROWS, relaying stdin to it\n"
    L"and its output to stdout, and exits with CMD's exit code. A single CMD is a\n"
    L"command line passed to CreateProcessW unchanged; several are joined with\n"
    L"the Microsoft C runtime's quoting rules. COLS and ROWS are 1.." PP_TEXT(PP_MAX_DIMENSION) L".\n"
    L"\n"
    L"Options of new:\n"
    L"  --term NAME              set TERM for CMD (default: inherited as it is)\n"
    L"  --cwd DIR                working directory for CMD\n"
    L"  --env NAME=VALUE         set a variable for CMD (repeatable)\n"
    L"  --hangup-grace SECONDS   console close to job kill when the host goes away (default 2)\n"
    L"  --output-buffers 1|2     single or double buffered output (default 2)\n"
    L"  --output-buffer-size N   output buffer size in bytes (default 131072)\n"
    L"  --stdout-pipe-size N     accepted for compatibility with Linux; ignored\n"
    L"  --conpty PATH            the conpty.dll to use (full path; default: the one beside\n"
    L"                           ptyproxy.exe if there, else the system's ConPTY)\n"
    L"  --keep                   the session outlives its host: it goes on detached and\n"
    L"                           `ptyproxy attach ID` makes the caller its host again\n"
    L"  --keep-buffer N          output kept while detached, in bytes (default 1048576)\n"
    L"  --arg-encoding percent   first after new: every later argument is UTF-8 with\n"
    L"                           %XX escapes (for hosts that cannot pass Unicode)\n"
    L"\n"
    L"ptyproxy -h, --help shows this help; ptyproxy --version the version.\n"
    L"\n"
    L"Control pipe: " PP_PIPE_PREFIX L"ID. Signals: INT, TERM, KILL.\n"
    L"Exit code of new: CMD's exit code, 129 after the host went away, 125 if\n"
    L"ptyproxy itself failed, 126 if CMD cannot run, 127 if not found.\n"
    L"Control commands: 0 done, 1 refused, 4 no such session, 125 bad arguments.\n";

static int fail(wchar_t *message, const wchar_t *format, ...) {
    va_list ap;
    va_start(ap, format);
    int n = vswprintf(message, PP_MESSAGE_CAPACITY, format, ap);
    va_end(ap);
    if (n < 0) message[PP_MESSAGE_CAPACITY - 1] = 0;  // truncated, still terminated
    return -1;
}

/// User text for a one-line message: control characters as '?', at most 80
/// characters then "...". Writes into `out` (capacity 96).
#define PRINTABLE_CAPACITY 96
static const wchar_t *printable(const wchar_t *text, wchar_t out[PRINTABLE_CAPACITY]) {
    size_t i = 0;
    for (; text[i] && i < 80; i++) out[i] = (text[i] < 0x20 || text[i] == 0x7f) ? L'?' : text[i];
    if (text[i]) { out[i++] = L'.'; out[i++] = L'.'; out[i++] = L'.'; }
    out[i] = 0;
    return out;
}

static int equals(const wchar_t *a, const wchar_t *b) { return wcscmp(a, b) == 0; }

static wchar_t upper(wchar_t c) { return (c >= L'a' && c <= L'z') ? (wchar_t)(c - L'a' + L'A') : c; }

/// The part before the first '.' is a DOS device name (Windows opens the
/// device for `nul`, `NUL.txt` and `nul.tar.gz` alike).
static int is_device_name(const wchar_t *id) {
    static const wchar_t *const plain[] = { L"CON", L"PRN", L"AUX", L"NUL" };
    size_t n = 0;
    while (id[n] && id[n] != L'.') n++;
    wchar_t base[5] = { 0 };
    if (n < 3 || n > 4) return 0;
    for (size_t i = 0; i < n; i++) base[i] = upper(id[i]);
    if (n == 3) {
        for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
            if (wcscmp(base, plain[k]) == 0) return 1;
        return 0;
    }
    return (wcsncmp(base, L"COM", 3) == 0 || wcsncmp(base, L"LPT", 3) == 0) && base[3] >= L'0' && base[3] <= L'9';
}

pp_id_problem pp_cli_id_problem(const wchar_t *id) {
    size_t n = 0;
    for (; id[n]; n++) {
        wchar_t c = id[n];
        int ok = (c >= L'A' && c <= L'Z') || (c >= L'a' && c <= L'z') || (c >= L'0' && c <= L'9') ||
                 c == L'.' || c == L'_' || c == L'-';
        if (!ok || n >= PP_MAX_ID_LENGTH) return PP_ID_CHARACTERS;
    }
    if (n == 0) return PP_ID_CHARACTERS;
    if (id[n - 1] == L'.') return PP_ID_TRAILING_DOT;
    if (is_device_name(id)) return PP_ID_DEVICE;
    return PP_ID_OK;
}

int pp_cli_valid_id(const wchar_t *id) { return pp_cli_id_problem(id) == PP_ID_OK; }

unsigned pp_cli_parse_dimension(const wchar_t *text) {
    char narrow[8];
    size_t n = 0;
    for (; text[n]; n++) {
        if (n >= sizeof narrow || text[n] < 0x21 || text[n] > 0x7e) return 0;
        narrow[n] = (char)text[n];
    }
    return pp_parse_dimension(narrow, n);
}

int pp_control_pipe_name(const wchar_t *id, wchar_t *out, size_t capacity) {
    if (capacity == 0) return -1;
    out[0] = 0;
    if (!pp_cli_valid_id(id)) return -1;
    int n = swprintf(out, capacity, L"%ls%ls", PP_PIPE_PREFIX, id);
    if (n < 0 || (size_t)n >= capacity) { out[0] = 0; return -1; }
    return 0;
}

/// A decimal number of at most 8 digits, or -1.
static long parse_count(const wchar_t *text) {
    long value = 0;
    size_t n = 0;
    for (; text[n]; n++) {
        if (text[n] < L'0' || text[n] > L'9' || n >= 8) return -1;
        value = value * 10 + (text[n] - L'0');
    }
    return n ? value : -1;
}

/// A decimal number of at most 10 digits, or -1 (for sizes up to 2^30).
static long long parse_big_count(const wchar_t *text) {
    long long value = 0;
    size_t n = 0;
    for (; text[n]; n++) {
        if (text[n] < L'0' || text[n] > L'9' || n >= 10) return -1;
        value = value * 10 + (text[n] - L'0');
    }
    return n ? value : -1;
}

/// Seconds as a decimal (`2`, `0.5`, at most 3 fraction digits) to
/// milliseconds, 0...3600 s; -1 if invalid. The same grammar as Linux.
static long parse_seconds(const wchar_t *text) {
    long whole = 0, fraction = 0;
    size_t i = 0, whole_digits = 0, fraction_digits = 0;
    for (; text[i] >= L'0' && text[i] <= L'9'; i++, whole_digits++) {
        if (whole_digits >= 4) return -1;
        whole = whole * 10 + (text[i] - L'0');
    }
    if (text[i] == L'.') {
        for (i++; text[i] >= L'0' && text[i] <= L'9'; i++, fraction_digits++) {
            if (fraction_digits >= 3) return -1;
            fraction = fraction * 10 + (text[i] - L'0');
        }
        if (fraction_digits == 0) return -1;
        for (size_t k = fraction_digits; k < 3; k++) fraction *= 10;
    } else if (whole_digits == 0) {
        return -1;
    }
    if (text[i]) return -1;
    long ms = whole * 1000 + fraction;
    return ms <= PP_MAX_HANGUP_GRACE_SECONDS * 1000L ? ms : -1;
}

/// A signal given on the command line: ASCII only, then the shared table.
static int signal_number(const wchar_t *text) {
    char narrow[16];
    size_t n = 0;
    for (; text[n]; n++) {
        if (n >= sizeof narrow || text[n] < 0x21 || text[n] > 0x7e) return 0;
        narrow[n] = (char)text[n];
    }
    return pp_signal_number(narrow, n);
}

/// An ID on the command line: the pipe name's grammar, and not starting
/// with `-`, so that a mistyped option (`new -h 80 24 cmd`) is refused as
/// an ID instead of becoming a session called `-h`.
static int valid_id(const wchar_t *id, wchar_t *message) {
    wchar_t shown[PRINTABLE_CAPACITY];
    switch (pp_cli_id_problem(id)) {
    case PP_ID_OK:
        if (id[0] == L'-')
            return fail(message, L"invalid ID '%ls': an ID may not start with '-' (options of new are --NAME)",
                        printable(id, shown));
        return 0;
    case PP_ID_TRAILING_DOT:
        return fail(message, L"invalid ID '%ls': an ID may not end with '.' (Windows drops it)", printable(id, shown));
    case PP_ID_DEVICE: {
        wchar_t base[5];
        size_t n = 0;
        for (; id[n] && id[n] != L'.' && n < 4; n++) base[n] = upper(id[n]);
        base[n] = 0;
        return fail(message, L"invalid ID '%ls': %ls is a Windows device name (also with an extension); choose another ID",
                    printable(id, shown), base);
    }
    default:
        return fail(message, L"invalid ID '%ls': use 1 to %d of A-Z a-z 0-9 . _ -", printable(id, shown),
                    PP_MAX_ID_LENGTH);
    }
}

static int size(const wchar_t *cols, const wchar_t *rows, pp_invocation *out, wchar_t *message) {
    wchar_t shown[PRINTABLE_CAPACITY];
    out->cols = pp_cli_parse_dimension(cols);
    if (!out->cols)
        return fail(message, L"invalid COLS '%ls': must be an integer in 1..%d", printable(cols, shown), PP_MAX_DIMENSION);
    out->rows = pp_cli_parse_dimension(rows);
    if (!out->rows)
        return fail(message, L"invalid ROWS '%ls': must be an integer in 1..%d", printable(rows, shown), PP_MAX_DIMENSION);
    return 0;
}

static int contains(const wchar_t *text, wchar_t c) { return wcschr(text, c) != NULL; }

/// Applies one option of `new`. `value` is never NULL here.
static int apply_option(const wchar_t *name, const wchar_t *value, pp_invocation *out, wchar_t *message) {
    wchar_t shown[PRINTABLE_CAPACITY];
    if (equals(name, L"term")) {
        if (!value[0]) return fail(message, L"--term needs a terminal type");
        out->term = value;
    } else if (equals(name, L"cwd")) {
        if (!value[0]) return fail(message, L"--cwd needs a directory");
        out->cwd = value;
    } else if (equals(name, L"env")) {
        const wchar_t *eq = wcschr(value, L'=');
        if (!eq || eq == value)
            return fail(message, L"--env needs NAME=VALUE, got '%ls'", printable(value, shown));
        if (out->env_count >= PP_MAX_ENV) return fail(message, L"too many --env options (limit %d)", PP_MAX_ENV);
        out->env[out->env_count++] = value;
    } else if (equals(name, L"hangup-grace")) {
        long ms = parse_seconds(value);
        if (ms < 0)
            return fail(message, L"--hangup-grace needs seconds between 0 and %d, got '%ls'", PP_MAX_HANGUP_GRACE_SECONDS,
                        printable(value, shown));
        out->hangup_grace_ms = (unsigned)ms;
    } else if (equals(name, L"output-buffers")) {
        if (!equals(value, L"1") && !equals(value, L"2")) return fail(message, L"--output-buffers must be 1 or 2");
        out->output_buffers = value[0] - L'0';
    } else if (equals(name, L"output-buffer-size")) {
        long bytes = parse_count(value);
        if (bytes < PP_MIN_OUTPUT_BUFFER_SIZE || bytes > PP_MAX_OUTPUT_BUFFER_SIZE)
            return fail(message, L"--output-buffer-size must be %ld..%ld bytes", PP_MIN_OUTPUT_BUFFER_SIZE,
                        PP_MAX_OUTPUT_BUFFER_SIZE);
        out->output_buffer_size = (unsigned)bytes;
    } else if (equals(name, L"stdout-pipe-size")) {
        long bytes = parse_count(value);
        if (bytes != 0 && (bytes < PP_MIN_STDOUT_PIPE_SIZE || bytes > PP_MAX_STDOUT_PIPE_SIZE))
            return fail(message, L"--stdout-pipe-size must be 0 (leave it alone) or %ld..%ld bytes",
                        PP_MIN_STDOUT_PIPE_SIZE, PP_MAX_STDOUT_PIPE_SIZE);
        out->stdout_pipe_size = (unsigned)bytes;
    } else if (equals(name, L"keep-buffer")) {
        long long bytes = parse_big_count(value);
        if (bytes < PP_MIN_KEEP_BUFFER || bytes > PP_MAX_KEEP_BUFFER)
            return fail(message, L"--keep-buffer must be %ld..%ld bytes", PP_MIN_KEEP_BUFFER, PP_MAX_KEEP_BUFFER);
        out->keep_buffer = (unsigned long)bytes;
    } else if (equals(name, L"conpty")) {  // issue 19: checked and loaded by conpty_loader.c
        if (!value[0]) return fail(message, L"--conpty needs the full path of a DLL");
        out->conpty = value;
    } else {
        return fail(message, L"unknown option '--%ls' (try: ptyproxy --help)", printable(name, shown));
    }
    return 0;
}

static int option_takes_value(const wchar_t *name) {
    static const wchar_t *const known[] = { L"term", L"cwd", L"env", L"hangup-grace", L"output-buffers",
                                            L"output-buffer-size", L"stdout-pipe-size", L"conpty", L"keep-buffer" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (equals(name, known[i])) return 1;
    return 0;
}

static int parse_new(int argc, wchar_t *const *argv, int index, pp_invocation *out, wchar_t *message) {
    const wchar_t *positional[3];
    int positional_count = 0, options_ended = 0;
    wchar_t shown[PRINTABLE_CAPACITY];
    while (index < argc) {
        const wchar_t *argument = argv[index++];
        if (!options_ended && equals(argument, L"--")) { options_ended = 1; continue; }
        int is_option = !options_ended && argument[0] == L'-' && argument[1] == L'-' && argument[2];
        if (positional_count == 3 && !is_option) {
            // CMD starts here; everything after it is CMD's own.
            out->command_index = index - 1;
            out->command_count = argc - (index - 1);
            break;
        }
        if (!is_option) { positional[positional_count++] = argument; continue; }
        // --name=value or --name value. The name is copied to cut it at '='.
        wchar_t name[32];
        const wchar_t *body = argument + 2, *value = NULL;
        size_t n = 0;
        while (body[n] && body[n] != L'=') n++;
        if (body[n] == L'=') value = body + n + 1;
        if (n >= sizeof name / sizeof name[0]) {
            wchar_t whole[PRINTABLE_CAPACITY];
            return fail(message, L"unknown option '%ls' (try: ptyproxy --help)", printable(argument, whole));
        }
        wmemcpy(name, body, n);
        name[n] = 0;
        if (equals(name, L"keep")) {  // the one option without a value
            if (value) return fail(message, L"--keep takes no value");
            out->keep = 1;
            continue;
        }
        if (!option_takes_value(name))
            return fail(message, L"unknown option '--%ls' (try: ptyproxy --help)", printable(name, shown));
        if (!value) {
            if (index >= argc) return fail(message, L"option --%ls needs a value", name);
            value = argv[index++];
        }
        if (apply_option(name, value, out, message) != 0) return -1;
    }
    if (positional_count < 3) {
        static const wchar_t *const missing[] = { L"ID COLS ROWS", L"COLS ROWS", L"ROWS" };
        return fail(message, L"missing %ls (usage: ptyproxy new [OPTIONS] ID COLS ROWS CMD [ARG...])",
                    missing[positional_count]);
    }
    if (out->command_count == 0)
        return fail(message, L"missing CMD (usage: ptyproxy new [OPTIONS] ID COLS ROWS CMD [ARG...])");
    if (!argv[out->command_index][0]) return fail(message, L"CMD is empty");
    if (out->command_count > 1 && contains(argv[out->command_index], L'"'))
        return fail(message, L"the program name '%ls' cannot contain a double quote when arguments follow it",
                    printable(argv[out->command_index], shown));
    if (valid_id(positional[0], message) != 0) return -1;
    out->id = positional[0];
    return size(positional[1], positional[2], out, message);
}

int pp_cli_parse(int argc, wchar_t *const *argv, pp_invocation *out, wchar_t message[PP_MESSAGE_CAPACITY]) {
    wchar_t shown[PRINTABLE_CAPACITY];
    memset(out, 0, sizeof *out);
    out->hangup_grace_ms = 2000;
    out->output_buffers = 2;
    out->output_buffer_size = 128 * 1024;
    out->keep_buffer = PP_DEFAULT_KEEP_BUFFER;
    message[0] = 0;
    if (argc < 2) return fail(message, L"missing command (try: ptyproxy --help)");
    const wchar_t *verb = argv[1];
    int rest = argc - 2;
    // Help and version only ever as the first argument: after a verb, `-h`
    // is a word like any other (an ID, refused as one, or CMD), so a host
    // that builds the command line from data never gets help text on stdout
    // instead of a session.
    if (equals(verb, L"-h") || equals(verb, L"--help") || equals(verb, L"help")) { out->verb = PP_VERB_HELP; return 0; }
    if (equals(verb, L"--version") || equals(verb, L"version")) { out->verb = PP_VERB_VERSION; return 0; }
    if (equals(verb, L"new")) { out->verb = PP_VERB_NEW; return parse_new(argc, argv, 2, out, message); }
    if (equals(verb, L"resize")) {
        out->verb = PP_VERB_RESIZE;
        if (rest != 3) return fail(message, L"usage: ptyproxy resize ID COLS ROWS");
        if (valid_id(argv[2], message) != 0) return -1;
        out->id = argv[2];
        return size(argv[3], argv[4], out, message);
    }
    if (equals(verb, L"signal")) {
        out->verb = PP_VERB_SIGNAL;
        if (rest != 2) return fail(message, L"usage: ptyproxy signal ID SIGNAL");
        out->signal_number = signal_number(argv[3]);
        if (!out->signal_number) return fail(message, L"unknown signal '%ls'", printable(argv[3], shown));
        if (valid_id(argv[2], message) != 0) return -1;
        out->id = argv[2];
        out->signal_name = argv[3];
        return 0;
    }
    if (equals(verb, L"status")) {
        out->verb = PP_VERB_STATUS;
        if (rest != 1) return fail(message, L"usage: ptyproxy status ID");
        if (valid_id(argv[2], message) != 0) return -1;
        out->id = argv[2];
        return 0;
    }
    if (equals(verb, L"attach")) {
        // attach ID [COLS ROWS] [--force], --force anywhere after the verb.
        const wchar_t *rest_words[3];
        int count = 0;
        out->verb = PP_VERB_ATTACH;
        for (int i = 2; i < argc; i++) {
            if (equals(argv[i], L"--force")) { out->force = 1; continue; }
            if (count == 3) { count = 4; break; }
            rest_words[count++] = argv[i];
        }
        if (count != 1 && count != 3) return fail(message, L"usage: ptyproxy attach ID [COLS ROWS] [--force]");
        if (valid_id(rest_words[0], message) != 0) return -1;
        out->id = rest_words[0];
        if (count == 1) return 0;
        out->size_given = 1;
        return size(rest_words[1], rest_words[2], out, message);
    }
    if (equals(verb, L"list")) {
        out->verb = PP_VERB_LIST;
        if (rest != 0) return fail(message, L"usage: ptyproxy list");
        return 0;
    }
    return fail(message, L"unknown command '%ls' (try: ptyproxy --help)", printable(verb, shown));
}
