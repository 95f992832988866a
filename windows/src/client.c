// SPDX-License-Identifier: MIT
//
// client: `resize`, `signal`, `status` and `list`: one request line to a
// session's control pipe, one reply line back, every wait bounded (5 s; for
// `list`, 5 s for all the sessions together, asked at once).
//
// Whoever serves the pipe is checked before anything is sent, as the Linux
// client checks the socket's uid: the server process's user must be ours
// (a squatter that created the pipe of an ID first is refused).
// The client asks for SECURITY_IDENTIFICATION only, so a server cannot act
// as this user either. Reply text is printed escaped (pp_escape_reply):
// whatever a server sends, no control byte reaches the terminal.
#include "session.h"
#include "winerror.h"

#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLIENT_OK = 0, CLIENT_REFUSED = 1, CLIENT_FAILED = 2, CLIENT_NO_SESSION = 4 };
#define CLIENT_TIMEOUT_MS 5000
/// `list` asks at most this many sessions (one thread each, all at once).
#define LIST_MAX 512
/// An escaped text is at most 6 times as long (`\u00XX` per byte).
#define ESCAPED_CAPACITY (6 * PP_REPLY_CAPACITY + 1)

/// 0 when the process serving `pipe` runs as this user; otherwise writes
/// why not into `out`. Only real Windows has other users: under Wine every
/// process is the same user, so the refusal cannot be seen there.
static int check_server(HANDLE pipe, const wchar_t *name, char *out, size_t capacity) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3];
    BYTE ours[SECURITY_MAX_SID_SIZE], theirs[SECURITY_MAX_SID_SIZE];
    ULONG pid = 0;
    DWORD our_length = pp_token_user(GetCurrentProcess(), ours, sizeof ours), their_length = 0;
    HANDLE server = NULL;
    if (our_length && GetNamedPipeServerProcessId(pipe, &pid) &&
        (server = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid)) != NULL)
        their_length = pp_token_user(server, theirs, sizeof theirs);
    DWORD error = GetLastError();
    if (server) CloseHandle(server);
    if (!our_length || !their_length) {
        snprintf(out, capacity, "cannot tell who serves %ls (process %lu): %s; not trusting it", name,
                 (unsigned long)pid, pp_utf8(pp_error_text(error, text), narrow, sizeof narrow));
        return -1;
    }
    if (pp_same_sid(ours, our_length, theirs, their_length)) return 0;
    wchar_t *shown = NULL;
    ConvertSidToStringSidW((PSID)theirs, &shown);
    snprintf(out, capacity, "%ls is served by another user (%ls, process %lu), not by you; not trusting it", name,
             shown ? shown : L"?", (unsigned long)pid);
    if (shown) LocalFree(shown);
    return -1;
}

/// Waits for an overlapped operation until `deadline`; cancels it at the deadline.
static DWORD finish(HANDLE pipe, OVERLAPPED *overlapped, DWORD *count, ULONGLONG deadline) {
    ULONGLONG now = GetTickCount64();
    DWORD left = now >= deadline ? 0 : (DWORD)(deadline - now);
    if (WaitForSingleObject(overlapped->hEvent, left) != WAIT_OBJECT_0) {
        CancelIoEx(pipe, overlapped);
        GetOverlappedResult(pipe, overlapped, count, TRUE);
        return WAIT_TIMEOUT;
    }
    return GetOverlappedResult(pipe, overlapped, count, TRUE) ? 0 : GetLastError();
}

/// Sends `request` to session `id`, all by `deadline`. On CLIENT_OK, `out`
/// holds the text after "ok"; on CLIENT_REFUSED the reason after "error";
/// on CLIENT_FAILED a message. Reply text in `out` is escaped: an `ok`
/// reply's the JSON way when `json` (it stays JSON), else as `\xHH`.
static int request(const wchar_t *id, const char *line, int json, char *out, size_t capacity, ULONGLONG deadline) {
    wchar_t name[PP_PIPE_NAME_CAPACITY], text[PP_ERROR_TEXT_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3];
    if (pp_control_pipe_name(id, name, sizeof name / sizeof name[0]) != 0) {
        snprintf(out, capacity, "invalid ID '%ls'", id);
        return CLIENT_FAILED;
    }
    HANDLE pipe;
    out[0] = 0;
    for (;;) {
        pipe = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, NULL);
        if (pipe != INVALID_HANDLE_VALUE) break;
        DWORD error = GetLastError();
        if (error == ERROR_FILE_NOT_FOUND) return CLIENT_NO_SESSION;
        ULONGLONG now = GetTickCount64();
        if (error == ERROR_PIPE_BUSY && now < deadline) {
            WaitNamedPipeW(name, (DWORD)(deadline - now));
            continue;
        }
        snprintf(out, capacity, "cannot connect to %ls: %s", name, pp_utf8(pp_error_text(error, text), narrow, sizeof narrow));
        return CLIENT_FAILED;
    }
    if (check_server(pipe, name, out, capacity) != 0) {
        CloseHandle(pipe);
        return CLIENT_FAILED;
    }
    OVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!overlapped.hEvent) {
        CloseHandle(pipe);
        snprintf(out, capacity, "cannot create an event: %s", pp_utf8(pp_error_text(GetLastError(), text), narrow, sizeof narrow));
        return CLIENT_FAILED;
    }
    int result = CLIENT_FAILED;
    char message[PP_CONTROL_LINE_MAX + 2];
    int length = snprintf(message, sizeof message, "%s\n", line);
    DWORD count = 0, error = 0;
    if (!WriteFile(pipe, message, (DWORD)length, NULL, &overlapped) && GetLastError() != ERROR_IO_PENDING)
        error = GetLastError();
    else
        error = finish(pipe, &overlapped, &count, deadline);
    // A session that refuses us may answer and close before reading, so a
    // failed write may still have a reply waiting: read it anyway.
    char reply[PP_REPLY_CAPACITY];
    size_t used = 0;
    DWORD read_error = 0;
    for (;;) {
        OVERLAPPED fresh = { .hEvent = overlapped.hEvent };
        overlapped = fresh;
        if (used + 1 >= sizeof reply) break;
        if (!ReadFile(pipe, reply + used, (DWORD)(sizeof reply - 1 - used), NULL, &overlapped) &&
            GetLastError() != ERROR_IO_PENDING) {
            read_error = GetLastError();
            break;
        }
        read_error = finish(pipe, &overlapped, &count, deadline);
        if (read_error || count == 0) break;
        used += count;
        if (memchr(reply, '\n', used)) break;
    }
    reply[used] = 0;
    char *newline = memchr(reply, '\n', used);
    if (newline) *newline = 0;
    if (read_error == WAIT_TIMEOUT) {
        snprintf(out, capacity, "session '%ls' did not answer in time", id);
    } else if (used == 0 && error == WAIT_TIMEOUT) {
        snprintf(out, capacity, "session '%ls' did not take the request in time", id);
    } else if (used == 0) {
        result = CLIENT_NO_SESSION;  // it closed without a word: it is ending
    } else {
        size_t reply_length = newline ? (size_t)(newline - reply) : used;
        if (reply_length > 0 && reply[reply_length - 1] == '\r') reply_length--;
        if (reply_length == 2 && memcmp(reply, "ok", 2) == 0) {
            result = CLIENT_OK;
        } else if (reply_length >= 3 && memcmp(reply, "ok ", 3) == 0) {
            if (json)
                pp_escape_json_reply(reply + 3, reply_length - 3, out, capacity);
            else
                pp_escape_reply(reply + 3, reply_length - 3, out, capacity);
            result = CLIENT_OK;
        } else if (reply_length >= 6 && memcmp(reply, "error ", 6) == 0) {
            pp_escape_reply(reply + 6, reply_length - 6, out, capacity);
            result = CLIENT_REFUSED;
        } else {
            char quoted[4 * 80 + 1];
            pp_escape_reply(reply, reply_length < 80 ? reply_length : 80, quoted, sizeof quoted);
            snprintf(out, capacity, "unexpected reply from session '%ls': %s%s", id, quoted, reply_length > 80 ? "..." : "");
        }
    }
    CloseHandle(overlapped.hEvent);
    CloseHandle(pipe);
    return result;
}

static void print_line(const char *text) {
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    pp_write_utf8_bytes(out, text, strlen(text));
    pp_write_utf8_bytes(out, "\n", 1);
}

/// One stderr line from an escaped (so valid UTF-8) text.
static void print_failure(const wchar_t *prefix, const char *text) {
    static wchar_t wide[ESCAPED_CAPACITY];
    if (MultiByteToWideChar(CP_UTF8, 0, text, -1, wide, ESCAPED_CAPACITY) <= 0) wcscpy(wide, L"?");
    pp_print_error(L"%ls%ls", prefix, wide);
}

/// One control command; returns the exit code.
static int control(const wchar_t *id, const char *line, int json_reply) {
    static char out[ESCAPED_CAPACITY];
    wchar_t prefix[PP_MAX_ID_LENGTH + 32];
    switch (request(id, line, json_reply, out, sizeof out, GetTickCount64() + CLIENT_TIMEOUT_MS)) {
    case CLIENT_OK:
        if (json_reply) print_line(out);
        return 0;
    case CLIENT_NO_SESSION:
        pp_print_error(L"no session '%ls' is running", id);
        return 4;
    case CLIENT_REFUSED:
        swprintf(prefix, sizeof prefix / sizeof prefix[0], L"session '%ls' refused: ", id);
        print_failure(prefix, out);
        return 1;
    default:
        print_failure(L"", out);
        return 1;
    }
}

/// One session of a listing: asked on a thread of its own.
typedef struct {
    wchar_t id[PP_MAX_ID_LENGTH + 1];
    ULONGLONG deadline;
    int result;               // written by the entry's thread
    int late;                 // its thread had not ended by the deadline (written by the lister)
    HANDLE thread;
    char out[ESCAPED_CAPACITY];
} list_entry;

static DWORD WINAPI ask_status(void *argument) {
    list_entry *entry = argument;
    entry->result = request(entry->id, "status", 1, entry->out, sizeof entry->out, entry->deadline);
    return 0;
}

/// The IDs of the session files (at most `capacity`); how many there are.
static size_t session_ids(const wchar_t *dir, list_entry *entries, size_t capacity, size_t *skipped) {
    wchar_t pattern[MAX_PATH + 32];
    WIN32_FIND_DATAW found;
    size_t count = 0;
    *skipped = 0;
    swprintf(pattern, sizeof pattern / sizeof pattern[0], L"%ls\\*", dir);
    HANDLE search = FindFirstFileW(pattern, &found);
    if (search == INVALID_HANDLE_VALUE) return 0;
    do {
        if ((found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) || !pp_cli_valid_id(found.cFileName)) continue;
        if (count == capacity) { (*skipped)++; continue; }
        wcscpy(entries[count++].id, found.cFileName);
    } while (FindNextFileW(search, &found));
    FindClose(search);
    return count;
}

/// Every session is asked at once, so the whole listing takes at most
/// CLIENT_TIMEOUT_MS however many sessions do not answer. Those that
/// answer are printed `ID<TAB>JSON` on stdout; each that does not is named
/// on stderr; a file whose pipe is gone is removed.
static int list(void) {
    wchar_t dir[MAX_PATH + 16], path[MAX_PATH + 96], prefix[PP_MAX_ID_LENGTH + 32];
    if (pp_session_dir_path(dir, sizeof dir / sizeof dir[0]) != 0) return 0;  // no sessions can be recorded
    list_entry *entries = calloc(LIST_MAX, sizeof *entries);
    if (!entries) { pp_print_error(L"out of memory"); return 1; }
    size_t skipped = 0, count = session_ids(dir, entries, LIST_MAX, &skipped);
    ULONGLONG deadline = GetTickCount64() + CLIENT_TIMEOUT_MS;
    for (size_t i = 0; i < count; i++) {
        entries[i].deadline = deadline;
        entries[i].result = CLIENT_FAILED;
        snprintf(entries[i].out, sizeof entries[i].out, "session '%ls' could not be asked", entries[i].id);
        entries[i].thread = CreateThread(NULL, 256 * 1024, ask_status, &entries[i], STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
        if (!entries[i].thread) ask_status(&entries[i]);  // no thread: ask here, still by the deadline
    }
    for (size_t i = 0; i < count; i++) {
        if (!entries[i].thread) continue;
        ULONGLONG now = GetTickCount64();
        // Each request ends by the deadline on its own; the margin covers
        // the thread's own end.
        DWORD left = now >= deadline + 1000 ? 0 : (DWORD)(deadline + 1000 - now);
        if (WaitForSingleObject(entries[i].thread, left) != WAIT_OBJECT_0) {
            entries[i].late = 1;  // still running: its entry stays its own
            continue;
        }
        CloseHandle(entries[i].thread);
    }
    for (size_t i = 0; i < count; i++) {
        list_entry *entry = &entries[i];
        if (entry->late) {
            pp_print_error(L"session '%ls' did not answer in time", entry->id);
            continue;
        }
        switch (entry->result) {
        case CLIENT_OK: {
            static char line[ESCAPED_CAPACITY + 80];
            snprintf(line, sizeof line, "%ls\t%s", entry->id, entry->out);
            print_line(line);
            break;
        }
        case CLIENT_NO_SESSION:
            // Stale: its pipe is gone. (A live session's file is open with
            // delete sharing; deleting it only happens when its pipe is gone.)
            swprintf(path, sizeof path / sizeof path[0], L"%ls\\%ls", dir, entry->id);
            DeleteFileW(path);
            break;
        case CLIENT_REFUSED:
            swprintf(prefix, sizeof prefix / sizeof prefix[0], L"session '%ls' refused: ", entry->id);
            print_failure(prefix, entry->out);
            break;
        default:  // the message names the session or its pipe
            print_failure(L"", entry->out);
            break;
        }
    }
    if (skipped) pp_print_error(L"%lu more sessions were not asked (at most %d at once)", (unsigned long)skipped, LIST_MAX);
    // A thread that has not ended still uses its entry: leave the memory to
    // the process's exit rather than free it under it.
    for (size_t i = 0; i < count; i++)
        if (entries[i].late) return 0;
    free(entries);
    return 0;
}

// ---- attach (issue 20) ---------------------------------------------------------

/// Reads one line from `pipe` into `line` (no newline), waiting at most
/// until `deadline` (0: as long as the session lives). Returns its length,
/// or -1 when the pipe ended first, -2 at the deadline.
static int read_line(HANDLE pipe, HANDLE event, char *line, size_t capacity, ULONGLONG deadline) {
    size_t used = 0;
    for (;;) {
        OVERLAPPED overlapped = { .hEvent = event };
        DWORD count = 0;
        ResetEvent(event);
        if (used + 1 >= capacity) return -1;
        if (!ReadFile(pipe, line + used, 1, NULL, &overlapped) && GetLastError() != ERROR_IO_PENDING) return -1;
        DWORD error;
        if (deadline) {
            error = finish(pipe, &overlapped, &count, deadline);
        } else {
            // Attached: the session's life is the bound (its end closes the pipe).
            WaitForSingleObject(event, INFINITE);
            error = GetOverlappedResult(pipe, &overlapped, &count, TRUE) ? 0 : GetLastError();
        }
        if (error == WAIT_TIMEOUT) return -2;
        if (error || count == 0) return -1;
        if (line[used] == '\n') {
            if (used > 0 && line[used - 1] == '\r') used--;
            line[used] = 0;
            return (int)used;
        }
        used++;
    }
}

/// Whether no pipe named `name` exists, or none does before `deadline`.
/// WaitNamedPipeW asks without connecting (so no instance is taken from a
/// live session): ERROR_FILE_NOT_FOUND once the last instance is closed.
static int pipe_gone(const wchar_t *name, ULONGLONG deadline) {
    for (;;) {
        if (!WaitNamedPipeW(name, 1) && GetLastError() == ERROR_FILE_NOT_FOUND) return 1;
        if (GetTickCount64() >= deadline) return 0;
        Sleep(10);
    }
}

/// The last line an attached host gets, `exit N` (also the whole answer to
/// an attach that comes after the program exited): 1 and N in `code`.
static int exit_line(const char *line, int length, int *code) {
    char *end = NULL;
    if (length <= 5 || strncmp(line, "exit ", 5) != 0 || line[5] < '0' || line[5] > '9') return 0;
    unsigned long value = strtoul(line + 5, &end, 10);
    if (*end != 0) return 0;
    *code = (int)value;
    return 1;
}

/// `attach ID [COLS ROWS] [--force]`: this process's stdin and stdout
/// become the session's host's. The session duplicates them from this
/// process (keep.c) and reads and writes them itself; this process only
/// waits for the last line: `exit N` (exits N, as `new` would) or
/// `detached REASON` (exits 3).
int pp_attach_run(const wchar_t *id, unsigned cols, unsigned rows, int force) {
    wchar_t name[PP_PIPE_NAME_CAPACITY], text[PP_ERROR_TEXT_CAPACITY];
    static char out[ESCAPED_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3];
    int code = pp_check_host_stdio();
    if (code) return code;
    if (pp_control_pipe_name(id, name, sizeof name / sizeof name[0]) != 0) return 125;
    ULONGLONG deadline = GetTickCount64() + CLIENT_TIMEOUT_MS;
    HANDLE pipe;
    for (;;) {
        pipe = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, NULL);
        if (pipe != INVALID_HANDLE_VALUE) break;
        DWORD error = GetLastError();
        if (error == ERROR_FILE_NOT_FOUND) { pp_print_error(L"no session '%ls' is running", id); return 4; }
        ULONGLONG now = GetTickCount64();
        if (error == ERROR_PIPE_BUSY && now < deadline) { WaitNamedPipeW(name, (DWORD)(deadline - now)); continue; }
        pp_print_error(L"cannot connect to %ls: %ls", name, pp_error_text(error, text));
        return 1;
    }
    if (check_server(pipe, name, out, sizeof out) != 0) {
        CloseHandle(pipe);
        print_failure(L"", out);
        return 1;
    }
    pp_request request = { .kind = PP_REQUEST_ATTACH, .cols = cols, .rows = rows, .force = force, .has_stdio = 1,
                           .stdin_handle = (uint32_t)(uintptr_t)GetStdHandle(STD_INPUT_HANDLE),
                           .stdout_handle = (uint32_t)(uintptr_t)GetStdHandle(STD_OUTPUT_HANDLE) };
    char line[PP_REPLY_CAPACITY];
    size_t length = pp_format_request(line, sizeof line - 1, &request);
    HANDLE event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (length == (size_t)-1 || !event) { CloseHandle(pipe); if (event) CloseHandle(event); return 125; }
    line[length++] = '\n';
    OVERLAPPED overlapped = { .hEvent = event };
    DWORD count = 0, error = 0;
    if (!WriteFile(pipe, line, (DWORD)length, NULL, &overlapped) && GetLastError() != ERROR_IO_PENDING) error = GetLastError();
    else error = finish(pipe, &overlapped, &count, deadline);
    // A refusal may come before the request is read: read the reply anyway.
    int got = read_line(pipe, event, line, sizeof line, deadline);
    if (got == -2 || (got < 0 && error == WAIT_TIMEOUT)) {
        pp_print_error(L"session '%ls' did not answer in time", id);
        code = 1;
    } else if (got < 0) {
        // It closed without a word: it is ending. Its pipe goes when its
        // server has ended, which after it stopped answering still closes
        // the pseudo console and reads its last output (each bounded by
        // 2 s, session.c): hence a bound of its own, from now.
        ULONGLONG now = GetTickCount64(), until = now + CLIENT_TIMEOUT_MS;
        if (pipe_gone(name, until > deadline ? until : deadline)) {
            pp_print_error(L"no session '%ls' is running", id);
            code = 4;
        } else {
            pp_print_error(L"session '%ls' did not answer the attach (it closed the connection)", id);
            code = 1;
        }
    } else if (exit_line(line, got, &code)) {
        // The program exited before the attach was taken: its status, as
        // an attached host gets it.
    } else if (strncmp(line, "error ", 6) == 0) {
        wchar_t prefix[PP_MAX_ID_LENGTH + 32];
        swprintf(prefix, sizeof prefix / sizeof prefix[0], L"session '%ls' refused: ", id);
        pp_escape_reply(line + 6, (size_t)got - 6, out, sizeof out);
        print_failure(prefix, out);
        code = 1;
    } else if (strncmp(line, "ok attached", 11) != 0) {
        pp_escape_reply(line, (size_t)got < 80 ? (size_t)got : 80, out, sizeof out);
        pp_print_error(L"unexpected reply from session '%ls': %hs", id, out);
        code = 125;
    } else {
        // Attached: the session's end or a detach, however long that takes.
        got = read_line(pipe, event, line, sizeof line, 0);
        if (exit_line(line, got, &code)) {
            // the program's status
        } else if (got > 9 && strncmp(line, "detached ", 9) == 0) {
            wchar_t prefix[PP_MAX_ID_LENGTH + 48];
            swprintf(prefix, sizeof prefix / sizeof prefix[0], L"session '%ls' detached from this host: ", id);
            pp_escape_reply(line + 9, (size_t)got - 9, out, sizeof out);
            print_failure(prefix, out);
            code = 3;
        } else {
            pp_print_error(L"session '%ls' ended without an exit status (its server was killed?)", id);
            code = 125;
        }
    }
    (void)narrow;
    CloseHandle(event);
    CloseHandle(pipe);
    return code;
}

int pp_client_run(const pp_invocation *inv) {
    char line[PP_CONTROL_LINE_MAX + 1];
    pp_request sent = { .cols = inv->cols, .rows = inv->rows, .signal_number = inv->signal_number };
    switch (inv->verb) {
    case PP_VERB_RESIZE: sent.kind = PP_REQUEST_RESIZE; break;
    case PP_VERB_SIGNAL: sent.kind = PP_REQUEST_SIGNAL; break;
    case PP_VERB_STATUS: sent.kind = PP_REQUEST_STATUS; break;
    case PP_VERB_LIST: return list();
    default: return 125;
    }
    if (pp_format_request(line, sizeof line, &sent) == (size_t)-1) return 125;
    return control(inv->id, line, inv->verb == PP_VERB_STATUS);
}
