// SPDX-License-Identifier: MIT
//
// control_line: see control_line.h. The reasons are the Linux tool's words,
// so that a client sees the same `error ...` from both programs, except the
// size limit, which is Windows' (COORD is signed 16-bit).
#include "control_line.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct { const char *name; int number; } signal_table[] = {
    { "HUP", 1 },   { "INT", 2 },   { "QUIT", 3 },   { "ILL", 4 },   { "TRAP", 5 },  { "ABRT", 6 },
    { "BUS", 7 },   { "FPE", 8 },   { "KILL", 9 },   { "USR1", 10 }, { "SEGV", 11 }, { "USR2", 12 },
    { "PIPE", 13 }, { "ALRM", 14 }, { "TERM", 15 },  { "CHLD", 17 }, { "CONT", 18 }, { "STOP", 19 },
    { "TSTP", 20 }, { "TTIN", 21 }, { "TTOU", 22 },  { "URG", 23 },  { "XCPU", 24 }, { "XFSZ", 25 },
    { "VTALRM", 26 }, { "PROF", 27 }, { "WINCH", 28 }, { "IO", 29 }, { "SYS", 31 },
};

static char upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

int pp_signal_number(const char *text, size_t length) {
    if (length == 0) return 0;
    if (text[0] >= '0' && text[0] <= '9') {
        if (length > 2) return 0;
        int value = 0;
        for (size_t i = 0; i < length; i++) {
            if (text[i] < '0' || text[i] > '9') return 0;
            value = value * 10 + (text[i] - '0');
        }
        return (value >= 1 && value <= 64) ? value : 0;
    }
    if (length >= 3 && upper(text[0]) == 'S' && upper(text[1]) == 'I' && upper(text[2]) == 'G') {
        text += 3;
        length -= 3;
    }
    for (size_t k = 0; k < sizeof signal_table / sizeof signal_table[0]; k++) {
        const char *name = signal_table[k].name;
        if (strlen(name) != length) continue;
        size_t i = 0;
        while (i < length && upper(text[i]) == name[i]) i++;
        if (i == length) return signal_table[k].number;
    }
    return 0;
}

const char *pp_signal_name(int number) {
    for (size_t k = 0; k < sizeof signal_table / sizeof signal_table[0]; k++)
        if (signal_table[k].number == number) return signal_table[k].name;
    return NULL;
}

unsigned pp_parse_dimension(const char *text, size_t length) {
    if (length == 0 || length > sizeof PP_TEXT(PP_MAX_DIMENSION) - 1) return 0;
    unsigned value = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9') return 0;
        value = value * 10 + (unsigned)(text[i] - '0');
    }
    return (value >= 1 && value <= PP_MAX_DIMENSION) ? value : 0;
}

static int word_is(const char *word, size_t length, const char *lower) {
    if (strlen(lower) != length) return 0;
    for (size_t i = 0; i < length; i++) {
        char c = word[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != lower[i]) return 0;
    }
    return 1;
}

#define BAD_SIZE "size must be two integers in 1.." PP_TEXT(PP_MAX_DIMENSION)
#define ATTACH_USAGE "usage: attach [COLS ROWS] [force] [stdio IN OUT]"

/// A handle value: decimal, 1..2^32-1 (a handle's value fits in 32 bits
/// whatever the bitness, which is what lets 32- and 64-bit processes share
/// them); 0 if invalid.
static uint32_t parse_handle_value(const char *text, size_t length) {
    uint64_t value = 0;
    if (length == 0 || length > 10) return 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9') return 0;
        value = value * 10 + (uint64_t)(text[i] - '0');
    }
    return value <= 0xffffffffu ? (uint32_t)value : 0;
}

/// The words after `attach`: [COLS ROWS] [force] [stdio IN OUT], in this order.
static int parse_attach(const char *const *word, const size_t *length, size_t words, pp_request *out,
                        const char **reason) {
    size_t i = 0;
    out->kind = PP_REQUEST_ATTACH;
    if (i < words && !word_is(word[i], length[i], "force") && !word_is(word[i], length[i], "stdio")) {
        if (i + 1 >= words) { *reason = ATTACH_USAGE; return -1; }
        out->cols = pp_parse_dimension(word[i], length[i]);
        out->rows = pp_parse_dimension(word[i + 1], length[i + 1]);
        if (!out->cols || !out->rows) { *reason = BAD_SIZE; return -1; }
        i += 2;
    }
    if (i < words && word_is(word[i], length[i], "force")) { out->force = 1; i++; }
    if (i < words && word_is(word[i], length[i], "stdio")) {
        if (words - i != 3) { *reason = ATTACH_USAGE; return -1; }
        out->stdin_handle = parse_handle_value(word[i + 1], length[i + 1]);
        out->stdout_handle = parse_handle_value(word[i + 2], length[i + 2]);
        if (!out->stdin_handle || !out->stdout_handle) { *reason = "stdio needs two handle values in 1..4294967295"; return -1; }
        out->has_stdio = 1;
        i += 3;
    }
    if (i != words) { *reason = ATTACH_USAGE; return -1; }
    return 0;
}

int pp_control_parse(const char *line, size_t length, pp_request *out, const char **reason) {
    enum { MAX_WORDS = 8 };
    const char *word[MAX_WORDS];
    size_t word_length[MAX_WORDS];
    size_t words = 0;
    memset(out, 0, sizeof *out);
    if (length > PP_CONTROL_LINE_MAX) { *reason = "line too long (limit " PP_TEXT(PP_CONTROL_LINE_MAX) " bytes)"; return -1; }
    for (size_t i = 0; i < length;) {
        unsigned char c = (unsigned char)line[i];
        if (c == ' ' || c == '\t' || c == '\r') { i++; continue; }
        if (c < 0x21 || c > 0x7e) { *reason = "malformed request (control or non-ASCII bytes)"; return -1; }
        size_t start = i;
        while (i < length && (unsigned char)line[i] >= 0x21 && (unsigned char)line[i] <= 0x7e) i++;
        if (words < MAX_WORDS) { word[words] = line + start; word_length[words] = i - start; }
        words++;
    }
    if (words == 0) { *reason = "empty request"; return -1; }
    if (word_is(word[0], word_length[0], "resize")) {
        if (words != 3) { *reason = "usage: resize COLS ROWS"; return -1; }
        out->kind = PP_REQUEST_RESIZE;
        out->cols = pp_parse_dimension(word[1], word_length[1]);
        out->rows = pp_parse_dimension(word[2], word_length[2]);
        if (!out->cols || !out->rows) { *reason = BAD_SIZE; return -1; }
        return 0;
    }
    if (word_is(word[0], word_length[0], "signal")) {
        if (words != 2) { *reason = "usage: signal NAME|NUMBER"; return -1; }
        out->kind = PP_REQUEST_SIGNAL;
        out->signal_number = pp_signal_number(word[1], word_length[1]);
        if (!out->signal_number) { *reason = "unknown signal"; return -1; }
        return 0;
    }
    if (word_is(word[0], word_length[0], "status")) {
        if (words != 1) { *reason = "usage: status"; return -1; }
        out->kind = PP_REQUEST_STATUS;
        return 0;
    }
    if (word_is(word[0], word_length[0], "ping")) {
        if (words != 1) { *reason = "usage: ping"; return -1; }
        out->kind = PP_REQUEST_PING;
        return 0;
    }
    if (word_is(word[0], word_length[0], "attach")) {
        if (words > MAX_WORDS) { *reason = ATTACH_USAGE; return -1; }
        return parse_attach(word + 1, word_length + 1, words - 1, out, reason);
    }
    char first = word[0][0];
    if (words == 2 && ((first >= '0' && first <= '9') || first == '-' || first == '+')) {
        // The bare "W H" of conpty_proxy.exe clients.
        out->kind = PP_REQUEST_RESIZE;
        out->cols = pp_parse_dimension(word[0], word_length[0]);
        out->rows = pp_parse_dimension(word[1], word_length[1]);
        if (!out->cols || !out->rows) { *reason = BAD_SIZE; return -1; }
        return 0;
    }
    *reason = "unknown request (try: resize COLS ROWS, signal SIG, status, ping)";
    return -1;
}

size_t pp_format_request(char *out, size_t capacity, const pp_request *request) {
    int n;
    switch (request->kind) {
    case PP_REQUEST_RESIZE: n = snprintf(out, capacity, "resize %u %u", request->cols, request->rows); break;
    case PP_REQUEST_SIGNAL: n = snprintf(out, capacity, "signal %d", request->signal_number); break;
    case PP_REQUEST_STATUS: n = snprintf(out, capacity, "status"); break;
    case PP_REQUEST_PING: n = snprintf(out, capacity, "ping"); break;
    case PP_REQUEST_ATTACH: {
        char size[32] = "", stdio[40] = "";
        if (request->cols && request->rows) snprintf(size, sizeof size, " %u %u", request->cols, request->rows);
        if (request->has_stdio)
            snprintf(stdio, sizeof stdio, " stdio %lu %lu", (unsigned long)request->stdin_handle,
                     (unsigned long)request->stdout_handle);
        n = snprintf(out, capacity, "attach%s%s%s", size, request->force ? " force" : "", stdio);
        break;
    }
    default: n = -1; break;
    }
    return (n < 0 || (size_t)n >= capacity) ? (size_t)-1 : (size_t)n;
}

/// The length of the well-formed UTF-8 sequence at `p` (at most `left`
/// bytes), or 0; `*scalar` gets its value.
static size_t utf8_sequence(const unsigned char *p, size_t left, unsigned long *scalar) {
    unsigned char c = p[0];
    size_t length;
    unsigned char low = 0x80, high = 0xbf;
    if (c < 0x80) { *scalar = c; return 1; }
    if (c >= 0xc2 && c <= 0xdf) length = 2;
    else if (c >= 0xe0 && c <= 0xef) { length = 3; if (c == 0xe0) low = 0xa0; if (c == 0xed) high = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { length = 4; if (c == 0xf0) low = 0x90; if (c == 0xf4) high = 0x8f; }
    else return 0;
    if (left < length || p[1] < low || p[1] > high) return 0;
    unsigned long value = c & (0x7f >> length);
    for (size_t i = 1; i < length; i++) {
        if (i > 1 && (p[i] < 0x80 || p[i] > 0xbf)) return 0;
        value = (value << 6) | (p[i] & 0x3f);
    }
    *scalar = value;
    return length;
}

/// Characters a JSON text from ptyproxy writes as `\uXXXX` (as the Linux
/// program's ByteString.needsUnicodeEscape): C0 and C1 controls and DEL act on
/// a terminal, and some JavaScript parsers end a line at U+2028 and U+2029.
static int needs_unicode_escape(unsigned long scalar) {
    return scalar < 0x20 || (scalar >= 0x7f && scalar <= 0x9f) || scalar == 0x2028 || scalar == 0x2029;
}

/// The one JSON escaper of both directions: appends text[0..length) to
/// out[used..capacity), valid UTF-8 as it is except the characters above
/// (`\uXXXX`), each byte that is not UTF-8 as `\u00XX`. `quoted`: the
/// contents of a JSON string, so `"` and `\` are escaped too and LF, CR,
/// TAB take their short forms; otherwise a JSON text being made safe to
/// print, whose quotes and backslashes are its own. Returns the new length,
/// or (size_t)-1 if it does not fit.
static size_t json_escape(char *out, size_t used, size_t capacity, const char *text, size_t length, int quoted) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)text;
    size_t n = used;
#define PUT(c) do { if (n >= capacity) return (size_t)-1; out[n++] = (char)(c); } while (0)
    for (size_t i = 0; i < length;) {
        unsigned long scalar = 0;
        size_t sequence = utf8_sequence(p + i, length - i, &scalar);
        const char *short_form = NULL;
        if (quoted && sequence == 1) {
            switch (scalar) {
            case '"': short_form = "\\\""; break;
            case '\\': short_form = "\\\\"; break;
            case '\n': short_form = "\\n"; break;
            case '\r': short_form = "\\r"; break;
            case '\t': short_form = "\\t"; break;
            default: break;
            }
        }
        if (short_form) {
            PUT(short_form[0]); PUT(short_form[1]);
        } else if (sequence == 0 || needs_unicode_escape(scalar)) {
            unsigned long value = sequence == 0 ? p[i] : scalar;   // a stray byte stands for its value
            PUT('\\'); PUT('u');
            for (int shift = 12; shift >= 0; shift -= 4) PUT(hex[(value >> shift) & 15]);
        } else {
            for (size_t k = 0; k < sequence; k++) PUT(p[i + k]);
        }
        i += sequence ? sequence : 1;
    }
#undef PUT
    return n;
}

size_t pp_json_append_string(char *out, size_t used, size_t capacity, const char *text, size_t length) {
    if (used >= capacity) return (size_t)-1;
    out[used] = '"';
    size_t n = json_escape(out, used + 1, capacity, text, length, 1);
    if (n == (size_t)-1 || n >= capacity) return (size_t)-1;
    out[n] = '"';
    return n + 1;
}

size_t pp_escape_json_reply(const char *text, size_t length, char *out, size_t capacity) {
    size_t used = 0;
    for (size_t i = 0; i < length;) {   // a character at a time, so none is cut
        unsigned long scalar = 0;
        size_t sequence = utf8_sequence((const unsigned char *)text + i, length - i, &scalar);
        size_t step = sequence ? sequence : 1;
        size_t grown = json_escape(out, used, capacity - 1, text + i, step, 0);
        if (grown == (size_t)-1) break;
        used = grown;
        i += step;
    }
    out[used] = 0;
    return used;
}

size_t pp_format_status(char *out, size_t capacity, const pp_status *s) {
    int n = snprintf(out, capacity, "ok {\"id\":");
    if (n < 0 || (size_t)n >= capacity) return (size_t)-1;
    size_t used = pp_json_append_string(out, (size_t)n, capacity, s->id, strlen(s->id));
    if (used == (size_t)-1) return used;
    n = snprintf(out + used, capacity - used,
                 ",\"pid\":%lu,\"child_pid\":%lu,\"cols\":%u,\"rows\":%u,\"bytes_in\":%llu,\"bytes_out\":%llu"
                 ",\"uptime\":%llu.%03u,\"requests\":%llu,\"command\":%s%s%s}",
                 s->pid, s->child_pid, s->cols, s->rows, (unsigned long long)s->bytes_in,
                 (unsigned long long)s->bytes_out, (unsigned long long)(s->uptime_ms / 1000),
                 (unsigned)(s->uptime_ms % 1000), (unsigned long long)s->requests, s->command_json,
                 s->conpty_json ? ",\"conpty\":" : "", s->conpty_json ? s->conpty_json : "");
    if (n < 0 || (size_t)n >= capacity - used) return (size_t)-1;
    used += (size_t)n;
    if (!s->kept) return used;
    // Issue 20's fields go inside the object, before its closing brace.
    used--;
    char since[48] = "";
    if (!s->attached) snprintf(since, sizeof since, ",\"detached_since\":%llu", (unsigned long long)s->detached_since_s);
    n = snprintf(out + used, capacity - used, ",\"kept\":true,\"attached\":%s%s,\"buffered\":%llu}",
                 s->attached ? "true" : "false", since, (unsigned long long)s->buffered);
    if (n < 0 || (size_t)n >= capacity - used) return (size_t)-1;
    return used + (size_t)n;
}

size_t pp_escape_reply(const char *text, size_t length, char *out, size_t capacity) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)text;
    size_t used = 0, i = 0;
    while (i < length) {
        unsigned long scalar = 0;
        size_t n = utf8_sequence(p + i, length - i, &scalar);
        int printable = n > 0 && scalar >= 0x20 && !(scalar >= 0x7f && scalar <= 0x9f);
        if (printable) {
            if (used + n >= capacity) break;
            memcpy(out + used, p + i, n);
            used += n;
            i += n;
        } else {
            if (used + 4 >= capacity) break;
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = hex[p[i] >> 4];
            out[used++] = hex[p[i] & 15];
            i++;
        }
    }
    out[used] = 0;
    return used;
}

/// The length a SID's bytes claim, or 0 when they are not a SID.
static size_t sid_length(const unsigned char *sid, size_t length) {
    if (length < 8 || sid[0] != 1 || sid[1] > 15) return 0;
    size_t claimed = 8 + 4 * (size_t)sid[1];
    return claimed <= length ? claimed : 0;
}

int pp_same_sid(const void *a, size_t a_length, const void *b, size_t b_length) {
    size_t n = sid_length(a, a_length);
    return n > 0 && n == sid_length(b, b_length) && memcmp(a, b, n) == 0;
}
