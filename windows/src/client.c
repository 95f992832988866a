// SPDX-License-Identifier: MIT
//
// client: `resize`, `signal`, `status` and `list`: one request line to a
// session's control pipe, one reply line back, every wait bounded (5 s).
// The client asks for SECURITY_IDENTIFICATION only, so a pipe server that is
// not the session cannot act as this user.
#include "session.h"
#include "winerror.h"

#include <stdio.h>
#include <string.h>

enum { CLIENT_OK = 0, CLIENT_REFUSED = 1, CLIENT_FAILED = 2, CLIENT_NO_SESSION = 4 };
#define CLIENT_TIMEOUT_MS 5000

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

/// Sends `request` to session `id`. On CLIENT_OK, `out` holds the text after
/// "ok"; on CLIENT_REFUSED the reason after "error"; on CLIENT_FAILED a message.
static int request(const wchar_t *id, const char *line, char *out, size_t capacity) {
    wchar_t name[128], text[PP_ERROR_TEXT_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3];
    swprintf(name, 128, L"\\\\.\\pipe\\conpty-proxy-ctrl-%ls", id);
    ULONGLONG deadline = GetTickCount64() + CLIENT_TIMEOUT_MS;
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
    } else if (strcmp(reply, "ok") == 0) {
        result = CLIENT_OK;
    } else if (strncmp(reply, "ok ", 3) == 0) {
        snprintf(out, capacity, "%s", reply + 3);
        result = CLIENT_OK;
    } else if (strncmp(reply, "error ", 6) == 0) {
        snprintf(out, capacity, "%s", reply + 6);
        result = CLIENT_REFUSED;
    } else {
        snprintf(out, capacity, "unexpected reply from session '%ls'", id);
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

/// One control command; returns the exit code.
static int control(const wchar_t *id, const char *line, int print_reply) {
    char out[PP_REPLY_CAPACITY];
    wchar_t wide[PP_REPLY_CAPACITY];
    switch (request(id, line, out, sizeof out)) {
    case CLIENT_OK:
        if (print_reply) print_line(out);
        return 0;
    case CLIENT_NO_SESSION:
        pp_print_error(L"no session '%ls' is running", id);
        return 4;
    case CLIENT_REFUSED:
        if (MultiByteToWideChar(CP_UTF8, 0, out, -1, wide, PP_REPLY_CAPACITY) <= 0) wcscpy(wide, L"?");
        pp_print_error(L"session '%ls' refused: %ls", id, wide);
        return 1;
    default:
        if (MultiByteToWideChar(CP_UTF8, 0, out, -1, wide, PP_REPLY_CAPACITY) <= 0) wcscpy(wide, L"?");
        pp_print_error(L"%ls", wide);
        return 1;
    }
}

static int list(void) {
    wchar_t dir[MAX_PATH + 16], pattern[MAX_PATH + 32], path[MAX_PATH + 96];
    if (pp_session_dir_path(dir, sizeof dir / sizeof dir[0]) != 0) return 0;  // no sessions can be recorded
    swprintf(pattern, sizeof pattern / sizeof pattern[0], L"%ls\\*", dir);
    WIN32_FIND_DATAW found;
    HANDLE search = FindFirstFileW(pattern, &found);
    if (search == INVALID_HANDLE_VALUE) return 0;
    do {
        if (found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) continue;
        if (!pp_cli_valid_id(found.cFileName)) continue;
        char out[PP_REPLY_CAPACITY], line[PP_REPLY_CAPACITY + 80];
        switch (request(found.cFileName, "status", out, sizeof out)) {
        case CLIENT_OK:
            snprintf(line, sizeof line, "%ls\t%s", found.cFileName, out);
            print_line(line);
            break;
        case CLIENT_NO_SESSION:
            // Stale: its pipe is gone. (A live session's file is open with
            // delete sharing; deleting it only happens when its pipe is gone.)
            swprintf(path, sizeof path / sizeof path[0], L"%ls\\%ls", dir, found.cFileName);
            DeleteFileW(path);
            break;
        default:
            break;
        }
    } while (FindNextFileW(search, &found));
    FindClose(search);
    return 0;
}

int pp_client_run(const pp_invocation *inv) {
    char line[64];
    switch (inv->verb) {
    case PP_VERB_RESIZE:
        snprintf(line, sizeof line, "resize %u %u", inv->cols, inv->rows);
        return control(inv->id, line, 0);
    case PP_VERB_SIGNAL:
        snprintf(line, sizeof line, "signal %d", inv->signal_number);
        return control(inv->id, line, 0);
    case PP_VERB_STATUS:
        return control(inv->id, "status", 1);
    case PP_VERB_LIST:
        return list();
    default:
        return 125;
    }
}
