// SPDX-License-Identifier: MIT
//
// control_pipe: the session's control channel, \\.\pipe\conpty-proxy-ctrl-ID.
//
// Why it looks like this: no client may stall a resize, the relay or another
// client, whatever it does or fails to do:
// - It runs on its own thread, with overlapped I/O, so nothing a client does
//   (connect and stay silent, never read its reply) reaches the relay.
// - PP_CONTROL_SLOTS instances, each idle one with a ConnectNamedPipe
//   pending, so a client does not find the pipe busy while another client
//   is being served. When the last free instance is taken, the client that
//   has waited longest among the idle and slow ones (over 250 ms) is shed, so
//   that a set of silent or dripping clients cannot lock a new one out.
// - A request line must end within 5 s of its first byte, and a connection
//   with nothing pending is closed after 5 s, both with `error timeout`; a
//   client that does not take a reply for 5 s is dropped.
// - A last reply (`error timeout`, `error line too long`) is never thrown
//   away: DisconnectNamedPipe discards what the client has not read, so the
//   instance is disconnected only once the client has closed its end, or
//   after 5 s more (the client's reads are drained meanwhile).
// - conpty_proxy.exe's client writes "W H" with no newline and closes: the bytes
//   before the close are taken as one request, and no reply is attempted.
//   It may do so before the server listens (the instances exist before the
//   control thread starts): ConnectNamedPipe then fails with ERROR_NO_DATA,
//   and the bytes are still in the pipe, so they are read all the same.
// - The DACL grants only this user and SYSTEM; remote clients are refused;
//   a live duplicate ID is refused (FILE_FLAG_FIRST_PIPE_INSTANCE, and an
//   instance count check for systems that ignore that flag).
#include "session.h"
#include "conpty_loader.h"
#include "resize_queue.h"
#include "winerror.h"

#include <sddl.h>
#include <stdio.h>
#include <string.h>

/// The user SID of a process's token, copied into `sid`; its length, or 0.
/// The client checks its server with it, and a kept session its attaching
/// client.
DWORD pp_token_user(HANDLE process, BYTE *sid, DWORD capacity) {
    HANDLE token = NULL;
    union { TOKEN_USER user; BYTE bytes[512]; } info;
    DWORD length = 0, sid_length = 0;
    if (OpenProcessToken(process, TOKEN_QUERY, &token) && GetTokenInformation(token, TokenUser, &info, sizeof info, &length)) {
        sid_length = GetLengthSid(info.user.User.Sid);
        if (sid_length > capacity || !CopySid(capacity, sid, info.user.User.Sid)) sid_length = 0;
    }
    if (token) CloseHandle(token);
    return sid_length;
}

int pp_security_init(pp_session *s) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    HANDLE token = NULL;
    union { TOKEN_USER user; BYTE bytes[512]; } info;
    DWORD length = 0;
    wchar_t *sid = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token) ||
        !GetTokenInformation(token, TokenUser, &info, sizeof info, &length) ||
        !ConvertSidToStringSidW(info.user.User.Sid, &sid)) {
        DWORD error = GetLastError();
        if (token) CloseHandle(token);
        pp_print_error(L"cannot find the current user's SID: %ls", pp_error_text(error, text));
        return 125;
    }
    CloseHandle(token);
    wchar_t sddl[256];
    swprintf(sddl, 256, L"D:P(A;;GA;;;%ls)(A;;GA;;;SY)", sid);
    LocalFree(sid);
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &s->security_descriptor, NULL)) {
        pp_print_error(L"cannot build the pipe's security descriptor: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    s->security.nLength = sizeof s->security;
    s->security.lpSecurityDescriptor = s->security_descriptor;
    s->security.bInheritHandle = FALSE;
    return 0;
}

static HANDLE create_instance(pp_session *s, DWORD extra_flags) {
    return CreateNamedPipeW(s->pipe_name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | extra_flags,
                            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                            PIPE_UNLIMITED_INSTANCES, PP_REPLY_CAPACITY, 1024, 0, &s->security);
}

/// A live session holds this ID: pipe names, like file names, compare
/// without case, so `Foo` and `foo` are one ID on Windows. The refusal says
/// so, naming the running session as it was spelled (its session file's
/// name) when that differs.
static int refuse_duplicate(pp_session *s) {
    wchar_t running[MAX_PATH];
    wchar_t requested[PP_MAX_ID_LENGTH + 1];
    size_t n = 0;
    for (; s->id[n]; n++) requested[n] = (wchar_t)(unsigned char)s->id[n];
    requested[n] = 0;
    if (pp_session_file_name(s->id, running, MAX_PATH) == 0 && wcscmp(running, requested) != 0)
        pp_print_error(L"session '%ls' is already running, and '%hs' is the same ID (IDs are compared without case "
                       L"on Windows)", running, s->id);
    else
        pp_print_error(L"session '%hs' is already running (IDs are compared without case on Windows)", s->id);
    return 125;
}

int pp_control_open(pp_session *s) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    for (int i = 0; i < PP_CONTROL_SLOTS; i++) {
        s->slots[i].pipe = INVALID_HANDLE_VALUE;
        s->slots[i].event = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (!s->slots[i].event) {
            pp_print_error(L"cannot create an event: %ls", pp_error_text(GetLastError(), text));
            return 125;
        }
    }
    HANDLE first = create_instance(s, FILE_FLAG_FIRST_PIPE_INSTANCE);
    if (first == INVALID_HANDLE_VALUE) {
        DWORD error = GetLastError();
        if (error == ERROR_ACCESS_DENIED || error == ERROR_PIPE_BUSY)
            return refuse_duplicate(s);
        else
            pp_print_error(L"cannot create the control pipe %ls: %ls", s->pipe_name, pp_error_text(error, text));
        return 125;
    }
    s->slots[0].pipe = first;
    // Windows refuses a second first instance with error 5 (above). Where the
    // flag is ignored (Wine 8), the new instance joins the live session's
    // instances: count them. Two racing starts then both refuse.
    DWORD instances = 0;
    if (GetNamedPipeHandleStateW(first, NULL, &instances, NULL, NULL, NULL, 0) && instances > 1)
        return refuse_duplicate(s);
    for (int i = 1; i < PP_CONTROL_SLOTS; i++) {
        s->slots[i].pipe = create_instance(s, 0);
        if (s->slots[i].pipe == INVALID_HANDLE_VALUE) {
            pp_print_error(L"cannot create the control pipe %ls: %ls", s->pipe_name, pp_error_text(GetLastError(), text));
            return 125;
        }
    }
    return 0;
}

void pp_control_close(pp_session *s) {
    for (int i = PP_CONTROL_SLOTS - 1; i >= 0; i--) {
        pp_control_slot *slot = &s->slots[i];
        if (slot->pipe != INVALID_HANDLE_VALUE && slot->pipe != NULL) CloseHandle(slot->pipe);
        if (slot->event) CloseHandle(slot->event);
        slot->pipe = INVALID_HANDLE_VALUE;
        slot->event = NULL;
    }
}

// ---- one client's requests ------------------------------------------------

static void start_client(pp_session *s, pp_control_slot *slot);
static void issue_read(pp_session *s, pp_control_slot *slot);
static void advance(pp_session *s, pp_control_slot *slot);
static void client_closed(pp_session *s, pp_control_slot *slot);
static size_t perform(pp_session *s, pp_control_slot *slot, const char *line, size_t length, char *reply, size_t capacity);
static void issue_write(pp_session *s, pp_control_slot *slot, size_t length);

static void arm(pp_control_slot *slot) {
    memset(&slot->overlapped, 0, sizeof slot->overlapped);
    slot->overlapped.hEvent = slot->event;
}

static void start_listening(pp_session *s, pp_control_slot *slot) {
    slot->line_length = 0;
    slot->in_length = slot->in_position = 0;
    slot->close_after_reply = 0;
    arm(slot);
    ResetEvent(slot->event);
    if (ConnectNamedPipe(slot->pipe, &slot->overlapped)) { start_client(s, slot); return; }
    DWORD error = GetLastError();
    if (error == ERROR_IO_PENDING) { slot->state = SLOT_LISTEN; return; }
    // A client came before we listened. ERROR_NO_DATA: it has written and
    // closed already (conpty_proxy.exe's "W H"), and its bytes are still
    // in the pipe: read them like any client's.
    if (error == ERROR_PIPE_CONNECTED || error == ERROR_NO_DATA) { start_client(s, slot); return; }
    // The instance is unusable: replace it.
    CloseHandle(slot->pipe);
    slot->pipe = create_instance(s, 0);
    slot->state = SLOT_DEAD;
    if (slot->pipe == INVALID_HANDLE_VALUE) return;
    arm(slot);
    ResetEvent(slot->event);
    if (ConnectNamedPipe(slot->pipe, &slot->overlapped)) { start_client(s, slot); return; }
    error = GetLastError();
    if (error == ERROR_PIPE_CONNECTED || error == ERROR_NO_DATA) start_client(s, slot);
    else if (error == ERROR_IO_PENDING) slot->state = SLOT_LISTEN;
}

/// Ends the connection and listens again on the same instance (or a new one).
/// The attached host's connection ending detaches it (issue 20).
static void hang_up(pp_session *s, pp_control_slot *slot) {
    if (s->kept && s->host_slot == (int)(slot - s->slots)) pp_keep_unlink(s);
    slot->becomes_host = 0;
    if (!DisconnectNamedPipe(slot->pipe)) {
        CloseHandle(slot->pipe);
        slot->pipe = create_instance(s, 0);
        slot->state = SLOT_DEAD;
        if (slot->pipe == INVALID_HANDLE_VALUE) return;
    }
    start_listening(s, slot);
}

/// Cancels the slot's pending I/O and waits for the cancellation, so that
/// nothing is in flight on its buffers any more.
static void cancel(pp_control_slot *slot) {
    DWORD got = 0;
    CancelIoEx(slot->pipe, &slot->overlapped);
    GetOverlappedResult(slot->pipe, &slot->overlapped, &got, TRUE);
}

static void start_client(pp_session *s, pp_control_slot *slot) {
    slot->line_length = 0;
    slot->in_length = slot->in_position = 0;
    slot->close_after_reply = 0;
    slot->since = GetTickCount64();
    slot->deadline = slot->since + PP_CONTROL_TIMEOUT_MS;
    issue_read(s, slot);
}

static void issue_read(pp_session *s, pp_control_slot *slot) {
    arm(slot);
    if (slot->state != SLOT_LINGER && slot->state != SLOT_HOST) slot->state = SLOT_READ;
    if (!ReadFile(slot->pipe, slot->in, sizeof slot->in, NULL, &slot->overlapped) && GetLastError() != ERROR_IO_PENDING) {
        // Failed at once (the client is gone): the event will not be set.
        client_closed(s, slot);
    }
}

static void issue_write(pp_session *s, pp_control_slot *slot, size_t length) {
    arm(slot);
    slot->state = SLOT_WRITE;
    slot->since = GetTickCount64();
    slot->deadline = slot->since + PP_CONTROL_TIMEOUT_MS;
    if (!WriteFile(slot->pipe, slot->reply, (DWORD)length, NULL, &slot->overlapped) && GetLastError() != ERROR_IO_PENDING)
        hang_up(s, slot);
}

/// The last reply is written: wait for the client to read it and close
/// (reading and dropping whatever it still sends), at most LINGER.
static void linger(pp_session *s, pp_control_slot *slot) {
    slot->state = SLOT_LINGER;
    slot->since = GetTickCount64();
    slot->deadline = slot->since + PP_CONTROL_LINGER_MS;
    issue_read(s, slot);
}

// ---- issue 20: attach ---------------------------------------------------------

/// Sends `detached REASON` to a former host's client and lets it go.
static void tell_detached(pp_session *s, int index, const char *reason) {
    if (index < 0) return;
    pp_control_slot *slot = &s->slots[index];
    cancel(slot);
    slot->becomes_host = 0;
    slot->state = SLOT_READ;
    int n = snprintf(slot->reply, sizeof slot->reply, "detached %s\n", reason);
    slot->close_after_reply = 1;
    issue_write(s, slot, (size_t)n);
}

/// Resizes to the size asked for, if any; a session of the same size gets a
/// size change and back instead (one row less, then the size again): a
/// console has no SIGWINCH, and a resize is what makes the pseudo console
/// and full-screen programs draw the screen again after the replay. (Wine's
/// ResizePseudoConsole is a stub: there, nothing is redrawn.)
static void repaint(pp_session *s, unsigned cols, unsigned rows) {
    unsigned now_cols = (unsigned)s->cols, now_rows = (unsigned)s->rows;
    if (cols && rows && (cols != now_cols || rows != now_rows)) {
        if (SUCCEEDED(pp_console_resize(s, cols, rows))) {
            InterlockedExchange(&s->cols, (LONG)cols);
            InterlockedExchange(&s->rows, (LONG)rows);
        }
        return;
    }
    if (SUCCEEDED(pp_console_resize(s, now_cols, now_rows > 1 ? now_rows - 1 : now_rows + 1)))
        pp_console_resize(s, now_cols, now_rows);
}

/// `attach [COLS ROWS] [force] stdio IN OUT` from `slot` (NULL: its client
/// has gone, nothing to attach).
static size_t attach(pp_session *s, pp_control_slot *slot, const pp_request *request, char *reply, size_t capacity) {
    char why[512];
    if (!s->kept) return (size_t)snprintf(reply, capacity, "error session '%s' was not started with --keep", s->id);
    if (!slot) return (size_t)snprintf(reply, capacity, "error the client has gone");
    if (!request->has_stdio)
        return (size_t)snprintf(reply, capacity, "error attach needs the host's stdin and stdout handles (stdio IN OUT)");
    if (WaitForSingleObject(s->process, 0) == WAIT_OBJECT_0) {
        // Too late to attach: the answer is the last line an attached host
        // gets, with the code `new` exits with (session.c's run computes
        // the same from the same handle).
        DWORD code = 0;
        if (!GetExitCodeProcess(s->process, &code)) code = 125;
        slot->close_after_reply = 1;
        return (size_t)snprintf(reply, capacity, "exit %lu", (unsigned long)pp_child_exit_code(code));
    }
    // The handles first: a request that cannot attach detaches nobody.
    HANDLE taken[2];
    int index = (int)(slot - s->slots);
    if (pp_keep_take(s, index, request->stdin_handle, request->stdout_handle, taken, why, sizeof why) != 0)
        return (size_t)snprintf(reply, capacity, "error %s", why);
    if (s->attached && !request->force) {
        CloseHandle(taken[0]);
        CloseHandle(taken[1]);
        return (size_t)snprintf(reply, capacity,
                                "error session '%s' is attached to another host (attach --force takes it over)", s->id);
    }
    if (s->attached) tell_detached(s, pp_keep_unlink(s), "another host attached");
    int first = WaitForSingleObject(s->first_host, 0) != WAIT_OBJECT_0;  // nothing to redraw for it
    pp_keep_link(s, index, taken);
    if (!first) repaint(s, request->cols, request->rows);
    else if (request->cols && request->rows && SUCCEEDED(pp_console_resize(s, request->cols, request->rows))) {
        InterlockedExchange(&s->cols, (LONG)request->cols);
        InterlockedExchange(&s->rows, (LONG)request->rows);
    }
    slot->becomes_host = 1;
    return (size_t)snprintf(reply, capacity, "ok attached %u %u", (unsigned)s->cols, (unsigned)s->rows);
}

/// A data thread asked to detach its host (its stdout broke, or its stdin
/// and stdout ended together).
static void serve_link_request(pp_session *s) {
    char reason[sizeof s->detach_reason];
    EnterCriticalSection(&s->link_lock);
    int current = s->attached && s->detach_generation == s->host_generation;
    memcpy(reason, s->detach_reason, sizeof reason);
    LeaveCriticalSection(&s->link_lock);
    if (current) tell_detached(s, pp_keep_unlink(s), reason);
}

void pp_keep_tell_exit(pp_session *s, DWORD code) {
    int index = s->host_slot;
    if (!s->kept || index < 0) return;
    pp_control_slot *slot = &s->slots[index];
    char line[32];
    int n = snprintf(line, sizeof line, "exit %lu\n", (unsigned long)code);
    OVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = slot->event;
    ResetEvent(slot->event);
    DWORD count = 0;
    if (!WriteFile(slot->pipe, line, (DWORD)n, NULL, &overlapped) && GetLastError() != ERROR_IO_PENDING) return;
    if (WaitForSingleObject(slot->event, 2000) != WAIT_OBJECT_0) CancelIoEx(slot->pipe, &overlapped);
    if (!GetOverlappedResult(slot->pipe, &overlapped, &count, TRUE)) return;
    // The client exits on that line; wait (bounded) for it to close, since
    // closing the pipe first could throw the line away.
    char ignored[64];
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = slot->event;
    ResetEvent(slot->event);
    if (!ReadFile(slot->pipe, ignored, sizeof ignored, NULL, &overlapped) && GetLastError() != ERROR_IO_PENDING) return;
    if (WaitForSingleObject(slot->event, 2000) != WAIT_OBJECT_0) CancelIoEx(slot->pipe, &overlapped);
    GetOverlappedResult(slot->pipe, &overlapped, &count, TRUE);
}

/// Carries out one request and writes its reply (without newline) into `reply`.
static size_t perform(pp_session *s, pp_control_slot *slot, const char *line, size_t length, char *reply, size_t capacity) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3];
    pp_request request;
    const char *reason = NULL;
    InterlockedIncrement64(&s->requests);
    if (pp_control_parse(line, length, &request, &reason) != 0)
        return (size_t)snprintf(reply, capacity, "error %s", reason);
    switch (request.kind) {
    case PP_REQUEST_PING:
        return (size_t)snprintf(reply, capacity, "ok pong");
    case PP_REQUEST_ATTACH:
        return attach(s, slot, &request, reply, capacity);
    case PP_REQUEST_RESIZE: {
        HRESULT hr = pp_console_resize(s, request.cols, request.rows);
        if (FAILED(hr)) return (size_t)snprintf(reply, capacity, "error resize failed: %s", pp_utf8(pp_hresult_text(hr, text), narrow, sizeof narrow));
        InterlockedExchange(&s->cols, (LONG)request.cols);
        InterlockedExchange(&s->rows, (LONG)request.rows);
        return (size_t)snprintf(reply, capacity, "ok %u %u", request.cols, request.rows);
    }
    case PP_REQUEST_SIGNAL: {
        int n = request.signal_number;
        if (n == 2) {
            // A console has no signals: ^C typed into it is what makes conhost
            // send CTRL_C_EVENT to the processes attached to it.
            DWORD error = pp_console_write(s, s->signal_event, "\x03", 1, 1000);
            if (error) return (size_t)snprintf(reply, capacity, "error cannot send ^C: %s", pp_utf8(pp_error_text(error, text), narrow, sizeof narrow));
            return (size_t)snprintf(reply, capacity, "ok");
        }
        if (n == 9 || n == 15) {
            // No polite TERM exists for a console program: both end every
            // process of the session's job, with exit code 128+N as on Linux.
            if (!TerminateJobObject(s->job, (UINT)(128 + n)))
                return (size_t)snprintf(reply, capacity, "error cannot terminate the job: %s",
                                        pp_utf8(pp_error_text(GetLastError(), text), narrow, sizeof narrow));
            return (size_t)snprintf(reply, capacity, "ok");
        }
        const char *name = pp_signal_name(n);
        if (name) return (size_t)snprintf(reply, capacity, "error signal %s is not supported on Windows (INT, TERM, KILL)", name);
        return (size_t)snprintf(reply, capacity, "error signal %d is not supported on Windows (INT, TERM, KILL)", n);
    }
    case PP_REQUEST_STATUS: {
        pp_status status = {
            .id = s->id,
            .pid = GetCurrentProcessId(),
            .child_pid = s->child_pid,
            .cols = (unsigned)s->cols,
            .rows = (unsigned)s->rows,
            .bytes_in = (uint64_t)s->bytes_in,
            .bytes_out = (uint64_t)s->bytes_out,
            .uptime_ms = GetTickCount64() - s->started,
            .requests = (uint64_t)s->requests,
            .command_json = s->command_json,
            .conpty_json = pp_conpty_status_json(),  // issue 19: which ConPTY (conpty_loader.h)
            .kept = s->kept,
            .attached = s->attached != 0,
            .detached_since_s = (GetTickCount64() - (ULONGLONG)s->detached_at) / 1000,
            .buffered = (uint64_t)s->buffered,
        };
        size_t n = pp_format_status(reply, capacity, &status);
        if (n == (size_t)-1) return (size_t)snprintf(reply, capacity, "error status does not fit in a reply");
        return n;
    }
    }
    return (size_t)snprintf(reply, capacity, "error internal");
}

// ---- issue 19: resizes, one ResizePseudoConsole per burst (resize_queue.h) --

static pp_resize_queue resizes;  // the control thread's only

/// Applies what is queued with one call and answers each request in order.
/// Runs at the end of every pass of pp_control_main, before it waits again:
/// a queued slot has no I/O pending until its reply is written here.
static void flush_resizes(pp_session *s) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3];
    unsigned cols, rows;
    if (!pp_resize_queue_target(&resizes, &cols, &rows)) return;
    HRESULT hr = pp_console_resize(s, cols, rows);
    if (SUCCEEDED(hr)) {
        InterlockedExchange(&s->cols, (LONG)cols);
        InterlockedExchange(&s->rows, (LONG)rows);
    }
    const char *error = FAILED(hr) ? pp_utf8(pp_hresult_text(hr, text), narrow, sizeof narrow) : NULL;
    for (size_t i = 0; i < resizes.count; i++) {
        const pp_resize_request *request = &resizes.requests[i];
        if (request->client < 0) continue;
        pp_control_slot *slot = &s->slots[request->client];
        size_t n = pp_resize_reply(slot->reply, sizeof slot->reply - 1, request, error);
        slot->reply[n++] = '\n';
        issue_write(s, slot, n);
    }
    pp_resize_queue_clear(&resizes);
}

/// A resize request in the slot's line is queued, not performed: returns 1
/// then. `client` is the slot's index, or -1 when nobody waits for a reply.
static int queue_resize(pp_session *s, pp_control_slot *slot, int client) {
    pp_request request;
    const char *reason = NULL;
    if (pp_control_parse(slot->line, slot->line_length, &request, &reason) != 0 || request.kind != PP_REQUEST_RESIZE)
        return 0;
    InterlockedIncrement64(&s->requests);  // counted as perform counts the others
    if (pp_resize_queue_push(&resizes, client, request.cols, request.rows) != 0) {
        flush_resizes(s);
        pp_resize_queue_push(&resizes, client, request.cols, request.rows);
    }
    slot->line_length = 0;
    return 1;
}

// ---- end of issue 19's block ------------------------------------------------

/// The client closed. What it wrote without a newline is one request
/// (conpty_proxy.exe's "W H"); nobody is left to answer.
static void client_closed(pp_session *s, pp_control_slot *slot) {
    if (slot->line_length > 0 && slot->state != SLOT_LINGER && !queue_resize(s, slot, -1)) {  // issue 19
        char ignored[PP_REPLY_CAPACITY];
        perform(s, NULL, slot->line, slot->line_length, ignored, sizeof ignored);
        slot->line_length = 0;
    }
    hang_up(s, slot);
}

static void respond(pp_session *s, pp_control_slot *slot) {
    if (queue_resize(s, slot, (int)(slot - s->slots))) return;  // issue 19: flush_resizes answers
    size_t n = perform(s, slot, slot->line, slot->line_length, slot->reply, sizeof slot->reply - 1);
    if (n >= sizeof slot->reply - 1) n = sizeof slot->reply - 2;
    slot->reply[n++] = '\n';
    slot->line_length = 0;
    issue_write(s, slot, n);
}

static void advance(pp_session *s, pp_control_slot *slot) {
    while (slot->in_position < slot->in_length) {
        char c = slot->in[slot->in_position++];
        if (c == '\n') { respond(s, slot); return; }
        if (slot->line_length == 0) {
            // A line's 5 s count from its first byte; later bytes do not
            // move the deadline (a client dripping a byte at a time is
            // cut off like a silent one).
            slot->since = GetTickCount64();
            slot->deadline = slot->since + PP_CONTROL_TIMEOUT_MS;
        }
        if (slot->line_length >= PP_CONTROL_LINE_MAX) {
            int n = snprintf(slot->reply, sizeof slot->reply, "error line too long (limit %d bytes)\n", PP_CONTROL_LINE_MAX);
            slot->close_after_reply = 1;
            issue_write(s, slot, (size_t)n);
            return;
        }
        slot->line[slot->line_length++] = c;
    }
    issue_read(s, slot);
}

static void complete(pp_session *s, pp_control_slot *slot) {
    DWORD got = 0;
    BOOL ok = GetOverlappedResult(slot->pipe, &slot->overlapped, &got, FALSE);
    DWORD error = ok ? 0 : GetLastError();
    if (error == ERROR_IO_INCOMPLETE) return;
    switch (slot->state) {
    case SLOT_LISTEN:
        if (ok || error == ERROR_PIPE_CONNECTED || error == ERROR_NO_DATA) start_client(s, slot);
        else hang_up(s, slot);
        break;
    case SLOT_READ:
        if (ok && got > 0) {
            slot->in_length = got;
            slot->in_position = 0;
            advance(s, slot);
        } else {
            client_closed(s, slot);
        }
        break;
    case SLOT_WRITE:
        if (!ok) {
            hang_up(s, slot);
        } else if (slot->close_after_reply) {
            linger(s, slot);
        } else if (slot->becomes_host) {
            // `ok attached` is taken: from now on only the connection's end matters.
            slot->becomes_host = 0;
            slot->state = SLOT_HOST;
            slot->line_length = 0;
            issue_read(s, slot);
        } else {
            // Answered: nothing is pending until the next line starts.
            slot->since = GetTickCount64();
            slot->deadline = slot->since + PP_CONTROL_TIMEOUT_MS;
            advance(s, slot);
        }
        break;
    case SLOT_LINGER:
        if (ok && got > 0) issue_read(s, slot);  // dropped: the connection is ending
        else hang_up(s, slot);                    // the client closed: its reply was read
        break;
    case SLOT_HOST:
        if (ok && got > 0) issue_read(s, slot);  // a host's client sends nothing more: dropped
        else hang_up(s, slot);                    // the attach process has gone: detached
        break;
    case SLOT_DEAD:
        break;
    }
}

/// A client past its deadline: a silent one, or one whose line did not end
/// in time, gets `error timeout`; one that does not take its reply, or has
/// not closed after its last one, is dropped.
static void expire(pp_session *s, pp_control_slot *slot) {
    cancel(slot);
    if (slot->state == SLOT_READ && !slot->close_after_reply) {
        int n = snprintf(slot->reply, sizeof slot->reply, "error timeout\n");
        slot->close_after_reply = 1;
        issue_write(s, slot, (size_t)n);
        return;
    }
    hang_up(s, slot);
}

/// Every instance is taken: shed the connection that has waited longest
/// among those idle, or with a line arriving, or a reply untaken, for
/// PP_CONTROL_SHED_MS, or lingering after their last reply, so that an
/// instance is free for the next client. Returns 1 if one was shed.
static int shed_one(pp_session *s, ULONGLONG now) {
    pp_control_slot *victim = NULL;
    for (int i = 0; i < PP_CONTROL_SLOTS; i++) {
        pp_control_slot *slot = &s->slots[i];
        if (slot->state == SLOT_LISTEN) return 0;  // one is free already
        int candidate = slot->state == SLOT_LINGER ||
                        ((slot->state == SLOT_READ || slot->state == SLOT_WRITE) && now - slot->since >= PP_CONTROL_SHED_MS);
        if (candidate && (!victim || slot->since < victim->since)) victim = slot;
    }
    if (!victim) return 0;
    cancel(victim);
    hang_up(s, victim);
    return 1;
}

static int any_listening(const pp_session *s) {
    for (int i = 0; i < PP_CONTROL_SLOTS; i++)
        if (s->slots[i].state == SLOT_LISTEN) return 1;
    return 0;
}

DWORD WINAPI pp_control_main(void *argument) {
    pp_session *s = argument;
    for (int i = 0; i < PP_CONTROL_SLOTS; i++) {
        s->slots[i].state = SLOT_DEAD;
        if (s->slots[i].pipe != INVALID_HANDLE_VALUE) start_listening(s, &s->slots[i]);
    }
    for (;;) {
        HANDLE events[2 + PP_CONTROL_SLOTS];
        DWORD count = 0;
        events[count++] = s->ending;
        if (s->kept) events[count++] = s->link_request;
        ULONGLONG now = GetTickCount64();
        DWORD timeout = INFINITE;
        for (int i = 0; i < PP_CONTROL_SLOTS; i++) {
            pp_control_slot *slot = &s->slots[i];
            if (slot->state == SLOT_DEAD) continue;
            if (slot->state != SLOT_LISTEN && slot->state != SLOT_HOST) {
                if (slot->deadline <= now) { expire(s, slot); now = GetTickCount64(); }
                if (slot->state != SLOT_LISTEN && slot->state != SLOT_DEAD) {
                    ULONGLONG left = slot->deadline > now ? slot->deadline - now : 0;
                    if (left < timeout) timeout = (DWORD)left;
                }
            }
            if (slot->state != SLOT_DEAD) events[count++] = slot->event;
        }
        // All taken: look again soon, when a connection may have become
        // sheddable.
        if (!any_listening(s) && !shed_one(s, now) && timeout > 100) timeout = 100;
        DWORD woke = WaitForMultipleObjects(count, events, FALSE, timeout);
        if (woke == WAIT_OBJECT_0) break;
        if (s->kept && woke == WAIT_OBJECT_0 + 1) serve_link_request(s);
        if (woke == WAIT_FAILED) Sleep(10);  // cannot happen with valid handles; never spin
        // Serve every slot that is ready, not only the first, so that one
        // busy client cannot starve the others.
        for (int i = 0; i < PP_CONTROL_SLOTS; i++) {
            pp_control_slot *slot = &s->slots[i];
            if (slot->state != SLOT_DEAD && WaitForSingleObject(slot->event, 0) == WAIT_OBJECT_0) complete(s, slot);
        }
        flush_resizes(s);  // issue 19: one ResizePseudoConsole for the resizes this pass read
        if (!any_listening(s)) shed_one(s, GetTickCount64());
    }
    // Ending: cancel what is pending, and wait for the cancellations, so that
    // no I/O still points into this struct when it is released.
    for (int i = 0; i < PP_CONTROL_SLOTS; i++) {
        pp_control_slot *slot = &s->slots[i];
        if (slot->state == SLOT_DEAD || slot->pipe == INVALID_HANDLE_VALUE) continue;
        cancel(slot);
        // The host's connection stays for its last line (pp_keep_tell_exit).
        if (s->kept && s->host_slot == i) continue;
        DisconnectNamedPipe(slot->pipe);
        slot->state = SLOT_DEAD;
    }
    return 0;
}
