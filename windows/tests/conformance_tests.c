// SPDX-License-Identifier: MIT
//
// The conformance cases of docs/conformance/ run against the pure parsers of
// ptyproxy.exe, compiled with the native compiler:
//   make -C windows native-test
//   ./build/native/conformance_tests ../docs/conformance
// The same cases run against the Swift program (ConformanceTests.swift) and
// against ptyproxy.exe under Wine (e2e/test_conformance_wine.py), so a
// difference between the two programs is a failure here or there. Cases of
// platform `posix` are counted, not run.
#include "arg_encoding.h"
#include "cli.h"
#include "control_line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, ran, elsewhere;

static void failed(const char *file, const char *name, const char *format, const char *detail) {
    failures++;
    fprintf(stderr, "%s: %s: ", file, name);
    fprintf(stderr, format, detail);
    fputc('\n', stderr);
}

// ---- reading the case files ------------------------------------------------

enum { MAX_FIELDS = 40, FIELD_CAPACITY = 2048 };

/// One field, unescaped (docs/conformance/README.md): bytes and their count.
typedef struct {
    char bytes[FIELD_CAPACITY];
    size_t length;
} field;

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Unescapes text[0..length) into `out`. Returns 0, or -1 for a bad escape.
static int unescape(const char *text, size_t length, field *out) {
    out->length = 0;
    for (size_t i = 0; i < length;) {
        char c = text[i++];
        size_t repeat = 1;
        if (c == '\\') {
            if (i >= length) return -1;
            char e = text[i++];
            if (e == '\\') c = '\\';
            else if (e == 't') c = '\t';
            else if (e == 'n') c = '\n';
            else if (e == 'r') c = '\r';
            else if (e == 'x') {
                if (i + 2 > length || hex_digit(text[i]) < 0 || hex_digit(text[i + 1]) < 0) return -1;
                c = (char)(hex_digit(text[i]) * 16 + hex_digit(text[i + 1]));
                i += 2;
                if (i < length && text[i] == '*') {
                    repeat = 0;
                    for (i++; i < length && text[i] >= '0' && text[i] <= '9'; i++) repeat = repeat * 10 + (size_t)(text[i] - '0');
                }
            } else {
                return -1;
            }
        }
        if (out->length + repeat >= FIELD_CAPACITY) return -1;
        memset(out->bytes + out->length, c, repeat);
        out->length += repeat;
    }
    out->bytes[out->length] = 0;
    return 0;
}

typedef struct {
    field fields[MAX_FIELDS];
    int count;
} row;

/// Calls `each` for every case of `directory/name`. Returns -1 if the file
/// cannot be read or a line is malformed.
static int for_each_case(const char *directory, const char *name, int min_fields, void (*each)(const char *, row *)) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    FILE *file = fopen(path, "rb");
    if (!file) { failed(name, "open", "cannot read %s", path); return -1; }
    static char line[8192];
    static row current;
    int number = 0, status = 0;
    while (fgets(line, sizeof line, file)) {
        number++;
        size_t length = strlen(line);
        while (length && (line[length - 1] == '\n' || line[length - 1] == '\r')) line[--length] = 0;
        if (length == 0 || line[0] == '#') continue;
        current.count = 0;
        const char *start = line;
        for (;;) {
            const char *tab = memchr(start, '\t', (size_t)(line + length - start));
            size_t n = tab ? (size_t)(tab - start) : (size_t)(line + length - start);
            if (current.count == MAX_FIELDS || unescape(start, n, &current.fields[current.count]) != 0) {
                char where[32];
                snprintf(where, sizeof where, "line %d", number);
                failed(name, where, "%s", "malformed (a bad escape or too many fields)");
                status = -1;
                break;
            }
            current.count++;
            if (!tab) break;
            start = tab + 1;
        }
        if (status) break;
        if (current.count < min_fields) {
            char where[32];
            snprintf(where, sizeof where, "line %d", number);
            failed(name, where, "%s", "too few fields");
            status = -1;
            break;
        }
        const char *platform = current.fields[1].bytes;
        if (strcmp(platform, "posix") == 0) { elsewhere++; continue; }
        if (strcmp(platform, "all") != 0 && strcmp(platform, "windows") != 0) {
            failed(name, current.fields[0].bytes, "unknown platform '%s'", platform);
            continue;
        }
        ran++;
        each(name, &current);
    }
    fclose(file);
    return status;
}

/// `text` with every `{max-size}` replaced by this program's largest size.
static const char *expand_max_size(const char *text) {
    static char out[FIELD_CAPACITY + 64];
    size_t used = 0;
    const char *marker = "{max-size}";
    while (*text && used + 16 < sizeof out) {
        if (strncmp(text, marker, strlen(marker)) == 0) {
            used += (size_t)snprintf(out + used, sizeof out - used, "%d", PP_MAX_DIMENSION);
            text += strlen(marker);
        } else {
            out[used++] = *text++;
        }
    }
    out[used] = 0;
    return out;
}

// ---- cli.tsv ---------------------------------------------------------------

/// UTF-8 to wide characters (what Windows hands wmain); an invalid byte
/// becomes U+FFFD. Returns a pointer into `pool`, which has room for it.
static wchar_t *widen(const field *f, wchar_t *pool) {
    const unsigned char *s = (const unsigned char *)f->bytes;
    size_t i = 0, n = 0;
    while (i < f->length) {
        unsigned c = s[i], need = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
        unsigned value = need == 0 ? c : need == 1 ? (c & 0x1f) : need == 2 ? (c & 0x0f) : (c & 0x07);
        size_t k = 1;
        for (; need != 9 && k <= need && i + k < f->length && (s[i + k] & 0xc0) == 0x80; k++) value = value << 6 | (s[i + k] & 0x3f);
        if (need == 9 || k != need + 1) { value = 0xfffd; k = 1; }
        pool[n++] = (wchar_t)value;
        i += k;
    }
    pool[n] = 0;
    return pool;
}

static wchar_t *widen_text(const char *text, wchar_t *pool) {
    static field f;
    f.length = strlen(text);
    memcpy(f.bytes, text, f.length + 1);
    return widen(&f, pool);
}

/// Wide characters to UTF-8, for messages; `out` has 4 bytes per character.
static void utf8(const wchar_t *text, char *out) {
    size_t n = 0;
    for (; *text; text++) {
        unsigned long c = (unsigned long)*text;
        if (c < 0x80) { out[n++] = (char)c; continue; }
        if (c < 0x800) { out[n++] = (char)(0xc0 | c >> 6); }
        else if (c < 0x10000) { out[n++] = (char)(0xe0 | c >> 12); out[n++] = (char)(0x80 | (c >> 6 & 0x3f)); }
        else { out[n++] = (char)(0xf0 | c >> 18); out[n++] = (char)(0x80 | (c >> 12 & 0x3f)); out[n++] = (char)(0x80 | (c >> 6 & 0x3f)); }
        out[n++] = (char)(0x80 | (c & 0x3f));
    }
    out[n] = 0;
}

static const char *verb_name(pp_verb verb) {
    static const char *const names[] = { "new", "resize", "signal", "status", "list", "attach", "help", "version" };
    return names[verb];
}

/// Checks what the program's first steps made of a case's argv: `result`
/// and `message` from decoding and parsing, `inv` when both succeeded.
static void check_outcome(const char *file, const row *r, int result, const pp_invocation *inv, const wchar_t *message) {
    const char *name = r->fields[0].bytes, *parser = r->fields[2].bytes, *stdout_shape = r->fields[4].bytes;
    const char *stderr_shape = r->fields[5].bytes;
    char narrow[PP_MESSAGE_CAPACITY * 4];
    utf8(message, narrow);
    if (strcmp(parser, "refuse") == 0) {
        if (result == 0) { failed(file, name, "accepted (verb %s), expected a usage error", verb_name(inv->verb)); return; }
        if (!message[0] || wcschr(message, L'\n')) failed(file, name, "the error is not one line: '%s'", narrow);
        if (strncmp(stderr_shape, "error~", 6) == 0) {
            // The message as a wide string, compared with the expected UTF-8 text widened.
            const char *text = expand_max_size(stderr_shape + 6);
            static wchar_t wide[FIELD_CAPACITY];
            if (!wcsstr(message, widen_text(text, wide))) {
                char both[PP_MESSAGE_CAPACITY * 4 + FIELD_CAPACITY];
                snprintf(both, sizeof both, "'%s' does not contain '%s'", narrow, text);
                failed(file, name, "error %s", both);
            }
        } else if (strcmp(stderr_shape, "error") != 0) {
            failed(file, name, "a refusal must expect stderr 'error', not '%s'", stderr_shape);
        }
        if (strcmp(r->fields[3].bytes, "125") != 0) failed(file, name, "a refusal exits 125, the case says %s", r->fields[3].bytes);
        return;
    }
    if (result != 0) { failed(file, name, "refused: '%s'", narrow); return; }
    if (strcmp(parser, "help") == 0) {
        if (inv->verb != PP_VERB_HELP) failed(file, name, "verb %s, expected help", verb_name(inv->verb));
        if (strcmp(stdout_shape, "usage") != 0 || wcsncmp(pp_cli_usage, L"usage: ptyproxy ", 16) != 0)
            failed(file, name, "%s", "help must print the usage, starting 'usage: ptyproxy '");
    } else if (strcmp(parser, "version") == 0) {
        if (inv->verb != PP_VERB_VERSION) failed(file, name, "verb %s, expected version", verb_name(inv->verb));
    } else if (strcmp(parser, "accept") == 0) {
        if (r->count < 7 || strcmp(verb_name(inv->verb), r->fields[6].bytes) != 0)
            failed(file, name, "parsed as verb %s, not the first argument", verb_name(inv->verb));
    } else {
        failed(file, name, "unknown parser outcome '%s'", parser);
    }
}

static void cli_case(const char *file, row *r) {
    static wchar_t pool[MAX_FIELDS * 4][FIELD_CAPACITY];
    wchar_t *argv[MAX_FIELDS * 4 + 2];
    int argc = 0;
    argv[argc++] = L"ptyproxy.exe";
    for (int i = 6; i < r->count; i++) {
        const char *text = r->fields[i].bytes;
        int code;
        if (sscanf(text, "{exit %d}", &code) == 1) {
            // What the Wine runner passes: a console program that exits with N.
            char last[32];
            snprintf(last, sizeof last, "exit %d", code);
            const char *words[] = { "conhelper.exe", "cmd.exe", "/c", last };
            for (size_t w = 0; w < 4; w++, argc++) argv[argc] = widen_text(words[w], pool[argc]);
        } else if (strncmp(text, "{shell ", 7) == 0 && r->fields[i].length > 8 && text[r->fields[i].length - 1] == '}') {
            // What the Wine runner passes: the script run by cmd.exe.
            static char script[FIELD_CAPACITY];
            snprintf(script, sizeof script, "%.*s", (int)(r->fields[i].length - 8), text + 7);
            const char *words[] = { "conhelper.exe", "cmd.exe", "/c", script };
            for (size_t w = 0; w < 4; w++, argc++) argv[argc] = widen_text(words[w], pool[argc]);
        } else if (strcmp(text, "{live}") == 0) {
            argv[argc] = widen_text("conformance-live", pool[argc]);
            argc++;
        } else if (strcmp(text, "{batch}") == 0) {
            argv[argc] = widen_text("C:\\conformance\\conformance.bat", pool[argc]);
            argc++;
        } else if (strcmp(text, "{not-executable}") == 0) {
            argv[argc] = widen_text("C:\\conformance\\not-a-program.exe", pool[argc]);
            argc++;
        } else if (strcmp(text, "{missing-dir}") == 0) {
            argv[argc] = widen_text("C:\\conformance\\no-such-dir", pool[argc]);
            argc++;
        } else {
            argv[argc] = widen(&r->fields[i], pool[argc]);
            argc++;
        }
    }
    argv[argc] = NULL;
    // As wmain: the arguments decoded first (--arg-encoding), then parsed.
    wchar_t **args = argv;
    int count = argc;
    static pp_invocation inv;
    wchar_t message[PP_MESSAGE_CAPACITY];
    int result = pp_arg_decode_argv(&count, &args, message);
    if (result == 0) result = pp_cli_parse(count, args, &inv, message);
    check_outcome(file, r, result, &inv, message);
    if (args != argv) free(args);  // the decoded vector, one block
}

// ---- control.tsv -----------------------------------------------------------

static int live_only;

static void control_case(const char *file, row *r) {
    const char *name = r->fields[0].bytes;
    if (strcmp(r->fields[3].bytes, "-") == 0) {
        // An unfinished line: only a live session (its deadline) answers it.
        live_only++;
        ran--;
        return;
    }
    pp_request request;
    const char *reason = NULL;
    char got[512];
    if (pp_control_parse(r->fields[2].bytes, r->fields[2].length, &request, &reason) != 0) {
        snprintf(got, sizeof got, "error %s", reason);
    } else if (pp_format_request(got, sizeof got, &request) == (size_t)-1) {
        snprintf(got, sizeof got, "(a request pp_format_request cannot write)");
    }
    const char *expected = expand_max_size(r->fields[3].bytes);
    if (strcmp(got, expected) != 0) {
        char both[2048];
        snprintf(both, sizeof both, "parsed as '%s', expected '%s'", got, expected);
        failed(file, name, "%s", both);
    }
}

// ---- json-strings.tsv ------------------------------------------------------

static void json_case(const char *file, row *r) {
    char out[FIELD_CAPACITY * 6];
    size_t n = pp_json_append_string(out, 0, sizeof out - 1, r->fields[2].bytes, r->fields[2].length);
    if (n == (size_t)-1) { failed(file, r->fields[0].bytes, "%s", "does not fit"); return; }
    out[n] = 0;
    if (strcmp(out, r->fields[3].bytes) != 0) {
        char both[FIELD_CAPACITY * 8];
        snprintf(both, sizeof both, "%s, expected %s", out, r->fields[3].bytes);
        failed(file, r->fields[0].bytes, "JSON %s", both);
    }
}

// ---- status.tsv ------------------------------------------------------------

/// The reply the status fields are checked against, and a cursor into it.
static const char *json;
static const char *const sample_command[] = { "cmd.exe", "/c", "echo a \"b\"" };

/// Skips one JSON string at `json`; copies its raw text (quotes excluded) to `out`.
static int scan_string(char *out, size_t capacity) {
    if (*json != '"') return -1;
    size_t n = 0;
    for (json++; *json && *json != '"'; json++) {
        if (*json == '\\' && json[1]) { if (n + 1 < capacity) out[n++] = *json; json++; }
        if (n + 1 < capacity) out[n++] = *json;
    }
    out[n] = 0;
    if (*json != '"') return -1;
    json++;
    return 0;
}

/// Checks the value at `json` against one line of status.tsv, and skips it.
static const char *check_value(const char *type, const char *value, const pp_status *sample) {
    static char text[1024];
    if (strcmp(type, "string") == 0) {
        if (scan_string(text, sizeof text) != 0) return "not a string";
        if (strcmp(value, "=id") == 0 && strcmp(text, sample->id) != 0) return "not the session's ID";
        if (strcmp(value, "=conpty") == 0 && strcmp(text, "system") != 0) return "not the system's ConPTY";
        return NULL;
    }
    if (strcmp(type, "strings") == 0) {
        if (*json++ != '[') return "not an array";
        char expected[1024];
        size_t count = 0;
        while (*json != ']') {
            if (count && *json++ != ',') return "array: no comma";
            if (scan_string(text, sizeof text) != 0) return "array: not a string";
            if (strcmp(value, "=command") == 0) {
                if (count >= 3) return "more arguments than the command has";
                size_t n = pp_json_append_string(expected, 0, sizeof expected - 1, sample_command[count], strlen(sample_command[count]));
                expected[n - 1] = 0;  // without the closing quote
                if (strcmp(text, expected + 1) != 0) return "an argument differs from the command's";
            }
            count++;
        }
        json++;
        if (strcmp(value, "=command") == 0 && count != 3) return "fewer arguments than the command has";
        return NULL;
    }
    // integer or seconds: digits, and for seconds '.' and exactly three digits.
    unsigned long long number = 0;
    size_t digits = 0;
    for (; *json >= '0' && *json <= '9'; json++, digits++) number = number * 10 + (unsigned)(*json - '0');
    if (!digits) return "not a number";
    if (strcmp(type, "seconds") == 0) {
        if (*json++ != '.') return "seconds without '.'";
        size_t fraction = 0;
        for (; *json >= '0' && *json <= '9'; json++) fraction++;
        if (fraction != 3) return "seconds without exactly three decimals";
    } else if (strcmp(type, "integer") != 0) {
        return "unknown type in status.tsv";
    }
    if (strcmp(value, ">0") == 0 && number == 0) return "zero";
    if (strcmp(value, "=cols") == 0 && number != sample->cols) return "not the session's COLS";
    if (strcmp(value, "=rows") == 0 && number != sample->rows) return "not the session's ROWS";
    return NULL;
}

static void status_field(const char *file, row *r) {
    static const pp_status *sample;
    static char reply[8192];
    if (!sample) {
        static char command[1024];
        size_t n = 0;
        command[n++] = '[';
        for (int i = 0; i < 3; i++) {
            if (i) command[n++] = ',';
            n = pp_json_append_string(command, n, sizeof command - 2, sample_command[i], strlen(sample_command[i]));
        }
        command[n++] = ']';
        command[n] = 0;
        static pp_status s = { .id = "conformance-1", .pid = 4242, .child_pid = 4343, .cols = 132, .rows = 43,
                               .bytes_in = 7, .bytes_out = 1ULL << 33, .uptime_ms = 5, .requests = 1,
                               .command_json = command, .conpty_json = "\"system\"" };
        sample = &s;
        if (pp_format_status(reply, sizeof reply, sample) == (size_t)-1 || strncmp(reply, "ok {", 4) != 0) {
            failed(file, "reply", "does not start 'ok {': %s", reply);
            json = "";
            return;
        }
        json = reply + 4;
    }
    const char *field_name = r->fields[0].bytes;
    char key[64];
    if (*json == ',') json++;
    if (scan_string(key, sizeof key) != 0 || *json++ != ':') { failed(file, field_name, "%s", "no field here"); return; }
    if (strcmp(key, field_name) != 0) { failed(file, field_name, "found field '%s' in its place", key); return; }
    // A row of status.tsv: field, type, value, platform.
    const char *problem = check_value(r->fields[1].bytes, r->fields[2].bytes, sample);
    if (problem) failed(file, field_name, "%s", problem);
}

/// status.tsv's rows for `all` and `windows`, in order; those for `posix` are counted.
static int for_each_status_field(const char *directory) {
    char path[1024];
    snprintf(path, sizeof path, "%s/status.tsv", directory);
    FILE *file = fopen(path, "rb");
    if (!file) { failed("status.tsv", "open", "cannot read %s", path); return -1; }
    char line[1024];
    static row current;
    while (fgets(line, sizeof line, file)) {
        size_t length = strcspn(line, "\r\n");
        line[length] = 0;
        if (length == 0 || line[0] == '#') continue;
        current.count = 0;
        for (char *word = strtok(line, "\t"); word && current.count < 4; word = strtok(NULL, "\t"))
            unescape(word, strlen(word), &current.fields[current.count++]);
        if (current.count != 4) { failed("status.tsv", line, "%s", "needs four fields"); continue; }
        if (strcmp(current.fields[3].bytes, "posix") == 0) { elsewhere++; continue; }
        ran++;
        status_field("status.tsv", &current);
    }
    fclose(file);
    if (json && *json != '}') failed("status.tsv", "reply", "has more fields than the table: %s", json);
    return 0;
}

int main(int argc, char **argv) {
    const char *directory = argc > 1 ? argv[1] : "../docs/conformance";
    for_each_case(directory, "cli.tsv", 6, cli_case);
    for_each_case(directory, "control.tsv", 5, control_case);
    for_each_case(directory, "json-strings.tsv", 4, json_case);
    for_each_status_field(directory);
    printf("conformance (Windows parsers): %d cases run, %d for POSIX only, %d for a live session only, %d failed\n",
           ran, elsewhere, live_only, failures);
    return failures || ran == 0 ? 1 : 0;
}
