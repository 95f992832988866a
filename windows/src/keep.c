// SPDX-License-Identifier: MIT
//
// keep: sessions that outlive their host (`new --keep`, `attach`; issue 20).
//
// Where the session lives. A host that goes away takes the process it
// started with it (Emacs calls TerminateProcess; a CI runner closes its job
// object), so a kept session cannot run in that process. `new --keep` (the
// front) checks its stdio, then starts ptyproxy.exe again as the server:
// `--keep-server NAME` and the front's own arguments, unchanged (the raw
// tail of its command line, so `--arg-encoding percent` is decoded the same
// way twice), with DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP (no console,
// no console events from the host's) | CREATE_BREAKAWAY_FROM_JOB, and no
// handle inherited. A job that forbids breakaway refuses that (error 5):
// the front starts the server inside the job then, and says in one warning
// line that the session ends when that job is closed.
//
// Set-up errors. The front creates a one-instance pipe, NAME, that only
// this user can open; the server opens it as its stderr, so every set-up
// line (125, 126, 127, a live ID) reaches the front's stderr as `new` would
// print it, and its exit code is the front's. A successful set-up writes one
// ACK byte (0x06) and lets the pipe go.
//
// Attaching. The front then does what `attach ID` does (client.c): it
// sends `attach [COLS ROWS] [force] stdio IN OUT` on the control pipe, IN
// and OUT being its stdin and stdout handle values. The server checks the
// client process (GetNamedPipeClientProcessId; its token's user must be
// ours, on top of the pipe's DACL), duplicates both handles into itself
// (PROCESS_DUP_HANDLE) and its relay threads use them: no byte passes
// through the control pipe or the attach process. The client then waits
// for one last line, `exit N` or `detached REASON`.
//
// The first host. The server reads no output and keeps its ended program's
// status until its first host (the front) has attached, at most 5 s, so
// that the front gets every byte and the exit code. It holds a handle of
// the front (open_front): a front that dies before it attached ends that
// wait at once, as the bound would.
//
// The link. The control thread alone attaches and detaches (the data
// threads ask it, through link_request). Each change increments
// host_generation; a data thread works on its own duplicate of the host's
// handle, taken for one generation, and closes it when the generation
// changes, so no thread ever uses a handle another has closed. Each host's
// stdout has a writer thread of its own (writer_main), which the output
// thread hands what it reads without waiting for the write, and leaves
// behind (after a grace) when the host changes, so a host that stopped
// reading cannot hold the output path; each host's stdin has a reader
// thread of its own (reader_main), so a read of an old host's stdin cannot
// steal or hold up the next host's bytes.
//
// While detached, the output thread keeps reading and keeps the last
// `--keep-buffer` bytes in a ring allocated once (oldest dropped first, up
// to a boundary: ring.h). On attach it replays the ring to the new stdout
// before any live byte: only the output thread touches the ring, so the
// two cannot interleave.
#include "session.h"
#include "attach_check.h"
#include "winerror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACK 0x06
/// The front waits at most this long for the server's set-up (a pseudo
/// console and a child process: milliseconds on Windows, seconds under Wine).
#define SETUP_MAX_MS 60000
#define REPORT_PREFIX L"\\\\.\\pipe\\ptyproxy-keep-setup-"
/// After stdin's end, the time a dying host has to show it is one (its
/// stdout broken, or its control connection gone), as on Linux.
#define EOF_DETACH_MS 250

// ---- the front ---------------------------------------------------------------

/// The arguments after the program name in the process's own command line,
/// as they were passed. The program name is parsed as the C runtime does
/// (argv[0] has no escapes: up to the closing quote, or the first blank).
static const wchar_t *command_line_tail(const wchar_t *line) {
    if (*line == L'"') {
        line++;
        while (*line && *line != L'"') line++;
        if (*line) line++;
    } else {
        while (*line && *line != L' ' && *line != L'\t') line++;
    }
    while (*line == L' ' || *line == L'\t') line++;
    return line;
}

/// NAME of a report pipe: decimal digits and '-' only, at most 40.
static int valid_report_name(const wchar_t *name) {
    size_t n = 0;
    for (; name[n]; n++)
        if (n >= 40 || !((name[n] >= L'0' && name[n] <= L'9') || name[n] == L'-')) return 0;
    return n > 0;
}

static int start_server(const wchar_t *report_name, PROCESS_INFORMATION *process) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    static wchar_t exe[32768];
    DWORD n = GetModuleFileNameW(NULL, exe, sizeof exe / sizeof exe[0]);
    if (n == 0 || n >= sizeof exe / sizeof exe[0]) {
        pp_print_error(L"cannot find ptyproxy.exe's own path: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    const wchar_t *tail = command_line_tail(GetCommandLineW());
    size_t length = wcslen(exe) + wcslen(report_name) + wcslen(tail) + 32;
    wchar_t *line = malloc(length * sizeof *line);
    if (!line) { pp_print_error(L"out of memory"); return 125; }
    swprintf(line, length, L"\"%ls\" --keep-server %ls %ls", exe, report_name, tail);
    STARTUPINFOW startup;
    memset(&startup, 0, sizeof startup);
    startup.cb = sizeof startup;
    DWORD flags = DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_UNICODE_ENVIRONMENT;
    BOOL ok = CreateProcessW(exe, line, NULL, NULL, FALSE, flags | CREATE_BREAKAWAY_FROM_JOB, NULL, NULL, &startup, process);
    if (!ok && GetLastError() == ERROR_ACCESS_DENIED) {
        // In a job that does not allow breakaway: the server runs in it.
        ok = CreateProcessW(exe, line, NULL, NULL, FALSE, flags, NULL, NULL, &startup, process);
        if (ok)
            pp_print_error(L"warning: this process's job does not allow breakaway; the kept session ends when "
                           L"that job is closed");
    }
    DWORD error = GetLastError();
    free(line);
    if (!ok) {
        pp_print_error(L"cannot start the session's server: %ls", pp_error_text(error, text));
        return 125;
    }
    CloseHandle(process->hThread);
    return 0;
}

/// Waits for an overlapped operation on `pipe`, or the server's end, until
/// `deadline`. Returns 1 when it completed (`*count` set), 0 otherwise.
static int wait_report(HANDLE pipe, OVERLAPPED *overlapped, HANDLE server, DWORD *count, ULONGLONG deadline) {
    HANDLE waits[2] = { overlapped->hEvent, server };
    ULONGLONG now = GetTickCount64();
    DWORD woke = WaitForMultipleObjects(2, waits, FALSE, now >= deadline ? 0 : (DWORD)(deadline - now));
    if (woke != WAIT_OBJECT_0) {
        // The server ended (its end of the pipe closes with it) or time is up:
        // give a completed read its bytes, else cancel.
        if (WaitForSingleObject(overlapped->hEvent, woke == WAIT_OBJECT_0 + 1 ? 200 : 0) != WAIT_OBJECT_0)
            CancelIoEx(pipe, overlapped);
    }
    return GetOverlappedResult(pipe, overlapped, count, TRUE) && *count > 0;
}

/// Relays the server's set-up lines to stderr (`*relayed`: how many bytes).
/// Returns 1 when it set up.
static int relay_report(HANDLE pipe, HANDLE server, DWORD *relayed) {
    OVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!overlapped.hEvent) return 0;
    ULONGLONG deadline = GetTickCount64() + SETUP_MAX_MS;
    DWORD count = 0;
    int ready = 0;
    if (!ConnectNamedPipe(pipe, &overlapped)) {
        DWORD error = GetLastError();
        if (error == ERROR_IO_PENDING) {
            HANDLE waits[2] = { overlapped.hEvent, server };
            if (WaitForMultipleObjects(2, waits, FALSE, SETUP_MAX_MS) != WAIT_OBJECT_0) CancelIoEx(pipe, &overlapped);
            if (!GetOverlappedResult(pipe, &overlapped, &count, TRUE)) error = GetLastError();
            else error = 0;
        }
        // ERROR_NO_DATA: the server wrote and closed before we listened; its
        // bytes are still in the pipe.
        if (error && error != ERROR_PIPE_CONNECTED && error != ERROR_NO_DATA) {
            CloseHandle(overlapped.hEvent);
            return 0;
        }
    }
    // Only the server may report (the pipe's DACL already keeps other users out).
    ULONG client = 0;
    if (!GetNamedPipeClientProcessId(pipe, &client) || client != GetProcessId(server)) {
        CloseHandle(overlapped.hEvent);
        return 0;
    }
    char bytes[1024];
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    for (;;) {
        ResetEvent(overlapped.hEvent);
        if (!ReadFile(pipe, bytes, sizeof bytes, NULL, &overlapped) && GetLastError() != ERROR_IO_PENDING) break;
        if (!wait_report(pipe, &overlapped, server, &count, deadline)) break;
        if (bytes[count - 1] == ACK) { ready = 1; count--; }
        if (count) { DWORD written; WriteFile(err, bytes, count, &written, NULL); *relayed += count; }
        if (ready) break;
    }
    CloseHandle(overlapped.hEvent);
    return ready;
}

int pp_keep_front_run(const pp_invocation *invocation) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    int code = pp_check_host_stdio();
    if (code) return code;
    static pp_session security;  // only its DACL (this user and SYSTEM) is used; static: it is large
    memset(&security, 0, sizeof security);
    if ((code = pp_security_init(&security))) return code;
    wchar_t name[64], path[128];
    swprintf(name, sizeof name / sizeof name[0], L"%lu-%llu", (unsigned long)GetCurrentProcessId(),
             (unsigned long long)GetTickCount64());
    swprintf(path, sizeof path / sizeof path[0], L"%ls%ls", REPORT_PREFIX, name);
    HANDLE pipe = CreateNamedPipeW(path, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                   PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 0,
                                   4096, 0, &security.security);
    LocalFree(security.security_descriptor);
    if (pipe == INVALID_HANDLE_VALUE) {
        pp_print_error(L"cannot create the pipe %ls: %ls", path, pp_error_text(GetLastError(), text));
        return 125;
    }
    PROCESS_INFORMATION server;
    if ((code = start_server(name, &server))) { CloseHandle(pipe); return code; }
    DWORD relayed = 0;
    int ready = relay_report(pipe, server.hProcess, &relayed);
    CloseHandle(pipe);
    if (!ready) {
        // Set-up failed: the server has printed why and exits with the code.
        DWORD exit_code = 125;
        if (WaitForSingleObject(server.hProcess, 5000) != WAIT_OBJECT_0) {
            TerminateProcess(server.hProcess, 125);
            pp_print_error(L"the session's server did not set up in time");
        } else if (!GetExitCodeProcess(server.hProcess, &exit_code) || relayed == 0) {
            // It ended without a word (killed, or crashed): say so.
            pp_print_error(L"the session's server ended during set-up (exit code %lu)", (unsigned long)exit_code);
            exit_code = 125;
        }
        CloseHandle(server.hProcess);
        return (int)exit_code;
    }
    CloseHandle(server.hProcess);
    return pp_attach_run(invocation->id, 0, 0, 0);
}

// ---- the server's set-up -------------------------------------------------------

int pp_keep_server_open_report(const wchar_t *name, HANDLE *report) {
    wchar_t path[128];
    *report = NULL;
    if (!valid_report_name(name)) return 125;
    swprintf(path, sizeof path / sizeof path[0], L"%ls%ls", REPORT_PREFIX, name);
    HANDLE pipe = CreateFileW(path, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, NULL);
    if (pipe == INVALID_HANDLE_VALUE) return 125;
    // Nothing of the front's host is ours: no stdin, no stdout; stderr is
    // the report pipe until the session is set up.
    SetStdHandle(STD_INPUT_HANDLE, NULL);
    SetStdHandle(STD_OUTPUT_HANDLE, NULL);
    SetStdHandle(STD_ERROR_HANDLE, pipe);
    *report = pipe;
    return 0;
}

/// The front, the server end of the report pipe `report`, opened to wait
/// for its end, or NULL. Its process ID comes from the pipe (a connected
/// pipe: the front was alive when we opened it, after our own start), not
/// from the command line. It may have died since and its ID gone to a new
/// process: that one started after us, the front before us (it started
/// us), so a creation time not after ours is the front's. Both times are
/// the system's, so this needs no new argument and no inherited handle.
static HANDLE open_front(HANDLE report) {
    ULONG pid = 0;
    if (!report || !GetNamedPipeServerProcessId(report, &pid) || pid == 0) return NULL;
    HANDLE front = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (!front) return NULL;
    FILETIME theirs, ours, unused[3];
    if (GetProcessTimes(front, &theirs, &unused[0], &unused[1], &unused[2]) &&
        GetProcessTimes(GetCurrentProcess(), &ours, &unused[0], &unused[1], &unused[2]) &&
        CompareFileTime(&theirs, &ours) <= 0)
        return front;
    CloseHandle(front);
    return NULL;
}

int pp_keep_init(pp_session *s) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    InitializeCriticalSection(&s->link_lock);
    s->host_slot = -1;
    s->detached_at = (LONG64)GetTickCount64();
    InitializeSRWLock(&s->out_lock);
    InitializeConditionVariable(&s->out_wake);
    s->ring.capacity = s->invocation->keep_buffer;
    s->ring.bytes = malloc(s->ring.capacity);
    if (!s->ring.bytes) { pp_print_error(L"out of memory (--keep-buffer %lu)", (unsigned long)s->ring.capacity); return 125; }
    s->carry = malloc(2 * s->output_buffer_size);  // a writer's piece and its queue
    if (!s->carry) { pp_print_error(L"out of memory"); return 125; }
    s->host_changed = CreateEventW(NULL, FALSE, FALSE, NULL);
    s->input_wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    s->first_host = CreateEventW(NULL, TRUE, FALSE, NULL);
    s->link_request = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!s->host_changed || !s->input_wake || !s->first_host || !s->link_request) {
        pp_print_error(L"cannot create an event: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    s->front = open_front(s->report);  // none: the wait for the first host keeps its 5 s bound only
    return 0;
}

void pp_keep_setup_done(pp_session *s) {
    if (!s->report) return;
    char ack = ACK;
    DWORD written;
    WriteFile(s->report, &ack, 1, &written, NULL);
    SetStdHandle(STD_ERROR_HANDLE, NULL);
    CloseHandle(s->report);
    s->report = NULL;
}

void pp_keep_wait_first_host(pp_session *s, DWORD timeout_ms) {
    // Any of the three ends the wait. The front's end matters only before
    // the first attach: after it, first_host is set and is seen first.
    HANDLE waits[3] = { s->first_host, s->ending, s->front };
    WaitForMultipleObjects(s->front ? 3 : 2, waits, FALSE, timeout_ms);
}

static void close_handle(HANDLE *handle) {
    if (*handle && *handle != INVALID_HANDLE_VALUE) CloseHandle(*handle);
    *handle = NULL;
}

void pp_keep_release(pp_session *s) {
    if (!s->kept) return;
    if (s->report) { SetStdHandle(STD_ERROR_HANDLE, NULL); close_handle(&s->report); }
    if (s->ring.capacity) {
        EnterCriticalSection(&s->link_lock);
        close_handle(&s->host_in);
        close_handle(&s->host_out);
        LeaveCriticalSection(&s->link_lock);
    }
    // The events, the front's handle, the ring and the carry go with the
    // process: a data thread that did not stop may still use them.
}

// ---- the link ------------------------------------------------------------------

static HANDLE duplicate_own(HANDLE handle) {
    HANDLE copy = NULL;
    if (!handle) return NULL;
    if (!DuplicateHandle(GetCurrentProcess(), handle, GetCurrentProcess(), &copy, 0, FALSE, DUPLICATE_SAME_ACCESS))
        return NULL;
    return copy;
}

void pp_keep_request_detach(pp_session *s, LONG generation, const char *reason) {
    EnterCriticalSection(&s->link_lock);
    if (s->attached && s->host_generation == generation) {
        s->detach_generation = generation;
        snprintf(s->detach_reason, sizeof s->detach_reason, "%s", reason);
        SetEvent(s->link_request);
    }
    LeaveCriticalSection(&s->link_lock);
}

/// Opens the client process of `pipe` to take handles from it, once its
/// user is checked to be ours. NULL with a reason in `why`.
static HANDLE open_client(HANDLE pipe, char *why, size_t capacity) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3];
    ULONG pid = 0;
    BYTE ours[SECURITY_MAX_SID_SIZE], theirs[SECURITY_MAX_SID_SIZE];
    if (!GetNamedPipeClientProcessId(pipe, &pid)) {
        snprintf(why, capacity, "cannot tell which process is the client: %s",
                 pp_utf8(pp_error_text(GetLastError(), text), narrow, sizeof narrow));
        return NULL;
    }
    HANDLE client = OpenProcess(PROCESS_DUP_HANDLE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (!client) {
        snprintf(why, capacity, "cannot open the client process %lu: %s", (unsigned long)pid,
                 pp_utf8(pp_error_text(GetLastError(), text), narrow, sizeof narrow));
        return NULL;
    }
    DWORD our_length = pp_token_user(GetCurrentProcess(), ours, sizeof ours);
    DWORD their_length = pp_token_user(client, theirs, sizeof theirs);
    if (!our_length || !their_length || !pp_same_sid(ours, our_length, theirs, their_length)) {
        CloseHandle(client);
        snprintf(why, capacity, "permission denied (the client process %lu is not run by this session's user)",
                 (unsigned long)pid);
        return NULL;
    }
    return client;
}

static HANDLE take_handle(HANDLE client, uint32_t value, const char *name, char *why, size_t capacity) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3];
    HANDLE copy = NULL;
    if (!DuplicateHandle(client, (HANDLE)(uintptr_t)value, GetCurrentProcess(), &copy, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
        snprintf(why, capacity, "cannot take the host's %s: %s", name,
                 pp_utf8(pp_error_text(GetLastError(), text), narrow, sizeof narrow));
        return NULL;
    }
    if (pp_attach_refuse(&copy, name, why, capacity)) return NULL;  // attach_check.h: no stream, or the session's own pipe
    // The checks `new` makes of its own stdio (none of them waits).
    DWORD error = 0;
    const wchar_t *problem = pp_stdio_problem(copy, strcmp(name, "stdout") == 0, &error);
    if (problem) {
        CloseHandle(copy);
        snprintf(why, capacity, "the host's %s %ls%s%s", name, problem, error ? ": " : "",
                 error ? pp_utf8(pp_error_text(error, text), narrow, sizeof narrow) : "");
        return NULL;
    }
    return copy;
}

/// Wakes the output thread where it waits for its writer: the host changed.
/// The lock orders the wake after the change for a thread about to wait.
static void wake_output(pp_session *s) {
    AcquireSRWLockExclusive(&s->out_lock);
    ReleaseSRWLockExclusive(&s->out_lock);
    WakeAllConditionVariable(&s->out_wake);
}

int pp_keep_unlink(pp_session *s) {
    EnterCriticalSection(&s->link_lock);
    int slot = s->host_slot;
    close_handle(&s->host_in);
    close_handle(&s->host_out);
    if (s->attached) {
        InterlockedIncrement(&s->host_generation);
        InterlockedExchange64(&s->detached_at, (LONG64)GetTickCount64());
        InterlockedExchange(&s->attached, 0);
    }
    s->host_slot = -1;
    LeaveCriticalSection(&s->link_lock);
    // The data threads let go of the old host's handles on their own (see
    // reader_main and writer_main).
    SetEvent(s->host_changed);
    wake_output(s);
    SetEvent(s->input_wake);
    return slot;
}

int pp_keep_take(pp_session *s, int slot, uint32_t in_value, uint32_t out_value, HANDLE taken[2], char *why,
                 size_t capacity) {
    HANDLE client = open_client(s->slots[slot].pipe, why, capacity);
    taken[0] = taken[1] = NULL;
    if (!client) return -1;
    taken[0] = take_handle(client, in_value, "stdin", why, capacity);
    taken[1] = taken[0] ? take_handle(client, out_value, "stdout", why, capacity) : NULL;
    CloseHandle(client);
    if (!taken[1]) { close_handle(&taken[0]); return -1; }
    return 0;
}

void pp_keep_link(pp_session *s, int slot, HANDLE taken[2]) {
    EnterCriticalSection(&s->link_lock);
    s->host_in = taken[0];
    s->host_out = taken[1];
    s->host_slot = slot;
    InterlockedIncrement(&s->host_generation);
    InterlockedExchange(&s->attached, 1);
    LeaveCriticalSection(&s->link_lock);
    SetEvent(s->first_host);
    SetEvent(s->host_changed);
    wake_output(s);
    SetEvent(s->input_wake);
}

// ---- the output thread's side ------------------------------------------------------

static void ring_append(pp_session *s, const unsigned char *bytes, size_t length) {
    pp_ring_append(&s->ring, bytes, length);
    InterlockedExchange64(&s->buffered, (LONG64)s->ring.count);
}

/// The carry (bytes taken back from a writer) is older than every kept byte.
static void carry_to_ring(pp_session *s) {
    pp_ring_prepend(&s->ring, s->carry, s->carry_length);
    s->carry_length = 0;
    InterlockedExchange64(&s->buffered, (LONG64)s->ring.count);
}

/// Writes as much as it can; the count written, and the error if any.
static DWORD write_some(HANDLE out, const unsigned char *bytes, DWORD length, DWORD *error) {
    DWORD total = 0;
    *error = 0;
    while (total < length) {
        DWORD written = 0;
        if (!WriteFile(out, bytes + total, length - total, &written, NULL)) { *error = GetLastError(); break; }
        if (written == 0) { *error = ERROR_NO_DATA; break; }
        total += written;
    }
    return total;
}

/// One host's stdout, written by a thread of its own (the writer), so that
/// the output thread reads on while it writes. A write to a pipe whose
/// reader has stopped blocks, and a synchronous write cannot be cancelled
/// everywhere (CancelSynchronousIo does not reach it under Wine): only the
/// writer ever waits in one.
///
/// The hand-off. The writer writes one piece (`active`) while the output
/// thread adds what it reads to the next (`pending`, at most the read size):
/// conhost's pieces of a few hundred bytes go out together, and the output
/// thread waits only when `pending` cannot take its piece. It wakes an idle
/// writer once per burst, before it waits for the console (pp_keep_kick).
/// The two meet under s->out_lock with condition variables, which cost no
/// kernel object per piece (under Wine every event call is a round trip to
/// wineserver).
///
/// A change of host. A writer takes no piece for a host that is no longer
/// the session's, nor after a failed write. The output thread then settles
/// it (writer_settle): a write in progress gets WRITE_GRACE_MS; abandoned
/// after it, the writer stays in its write until the old host reads or
/// goes, then frees itself. Every byte it did not write (its piece whole
/// when abandoned, the rest of it after a failed write, and all of
/// `pending`) goes to s->carry, and from there to the next host before
/// anything else, or in front of the ring when there is none. The old host
/// gets an abandoned piece too if it ever reads again: it has been detached,
/// it is dead or forced out.
enum { WRITER_RUNNING, WRITER_STOPPED, WRITER_ABANDONED };

struct pp_writer_thread {
    pp_session *s;
    LONG generation;                  // the host it writes to
    HANDLE out;
    CONDITION_VARIABLE wake;          // the writer waits here: a piece, or its stop
    // Under s->out_lock; `active` is read by the write outside it, and
    // nobody changes it while `busy`.
    unsigned char *active, *pending;  // `capacity` bytes each
    DWORD capacity, active_length, pending_length, written, error;
    int busy, sleeping, state;
};

/// Live writer threads, abandoned ones included; at most WRITERS_MAX (a new
/// host beyond that gets no output: it is kept, as while detached).
#define WRITERS_MAX 64
static volatile LONG writers;

static void writer_free(struct pp_writer_thread *t) {
    close_handle(&t->out);
    free(t->active);
    free(t->pending);
    free(t);
    InterlockedDecrement(&writers);
}

static DWORD WINAPI writer_main(void *argument) {
    struct pp_writer_thread *t = argument;
    pp_session *s = t->s;
    AcquireSRWLockExclusive(&s->out_lock);
    for (;;) {
        if (!t->busy) {
            while (t->state == WRITER_RUNNING &&
                   !(t->pending_length > 0 && t->error == 0 && s->host_generation == t->generation)) {
                t->sleeping = 1;
                SleepConditionVariableSRW(&t->wake, &s->out_lock, INFINITE, 0);
                t->sleeping = 0;
            }
            if (t->state != WRITER_RUNNING) break;
            unsigned char *piece = t->pending;
            t->pending = t->active;
            t->active = piece;
            t->active_length = t->pending_length;
            t->pending_length = 0;
            t->written = 0;
            t->busy = 1;
            if (s->out_waiting) WakeAllConditionVariable(&s->out_wake);  // `pending` has room again
        }
        ReleaseSRWLockExclusive(&s->out_lock);
        DWORD error = 0, written = write_some(t->out, t->active, t->active_length, &error);
        InterlockedExchange64(&s->output_activity, (LONG64)GetTickCount64());
        AcquireSRWLockExclusive(&s->out_lock);
        t->busy = 0;
        t->written = written;
        t->error = error;
        if (t->state == WRITER_ABANDONED) break;  // the output thread took the piece back
        // Nothing more for this host: all written, or it failed (drain need not wait).
        if (error || t->pending_length == 0) InterlockedExchange(&s->output_queued, 0);
        if (s->out_waiting) WakeAllConditionVariable(&s->out_wake);
    }
    ReleaseSRWLockExclusive(&s->out_lock);
    writer_free(t);
    return 0;
}

/// A writer for the host `generation`, whose stdout `out` it owns (closed
/// here if it cannot start). It writes the carry first: it is older than
/// anything the output thread still holds.
static struct pp_writer_thread *writer_start(pp_session *s, HANDLE out, LONG generation) {
    if (InterlockedIncrement(&writers) > WRITERS_MAX) {
        InterlockedDecrement(&writers);
        CloseHandle(out);
        return NULL;
    }
    struct pp_writer_thread *t = calloc(1, sizeof *t);
    if (!t) { InterlockedDecrement(&writers); CloseHandle(out); return NULL; }
    t->s = s;
    t->out = out;
    t->generation = generation;
    t->capacity = (DWORD)s->output_buffer_size;
    t->active = malloc(t->capacity);
    t->pending = malloc(t->capacity);
    InitializeConditionVariable(&t->wake);
    if (!t->active || !t->pending) { writer_free(t); return NULL; }
    DWORD first = s->carry_length < t->capacity ? s->carry_length : t->capacity;
    memcpy(t->active, s->carry, first);
    memcpy(t->pending, s->carry + first, s->carry_length - first);
    t->active_length = first;
    t->pending_length = s->carry_length - first;
    t->busy = first > 0;
    if (t->busy) InterlockedExchange(&s->output_queued, 1);  // before its thread can clear it
    HANDLE thread = CreateThread(NULL, 64 * 1024, writer_main, t, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (!thread) {
        InterlockedExchange(&s->output_queued, 0);
        writer_free(t);
        return NULL;
    }
    CloseHandle(thread);
    s->carry_length = 0;
    return t;
}

/// A write in progress when the host changes gets this long to finish.
#define WRITE_GRACE_MS 250

/// Stops the writer (the host changed, or its write failed, or the output
/// ends): the bytes it did not write go to s->carry (see above). Returns
/// the error of its last write.
static DWORD writer_settle(pp_session *s, pp_host_writer *writer) {
    struct pp_writer_thread *t = writer->thread;
    writer->thread = NULL;
    if (!t) return 0;
    ULONGLONG until = GetTickCount64() + WRITE_GRACE_MS;
    AcquireSRWLockExclusive(&s->out_lock);
    for (ULONGLONG now = GetTickCount64(); t->busy && now < until; now = GetTickCount64()) {
        s->out_waiting = 1;
        SleepConditionVariableSRW(&s->out_wake, &s->out_lock, (DWORD)(until - now), 0);
        s->out_waiting = 0;
    }
    DWORD kept = 0, error = t->error;
    if (t->busy) {
        memcpy(s->carry, t->active, t->active_length);
        kept = t->active_length;
        t->state = WRITER_ABANDONED;
    } else {
        kept = t->active_length - t->written;  // the rest of a failed write
        memcpy(s->carry, t->active + t->written, kept);
        t->state = WRITER_STOPPED;
        WakeConditionVariable(&t->wake);
    }
    memcpy(s->carry + kept, t->pending, t->pending_length);
    s->carry_length = kept + t->pending_length;
    t->pending_length = 0;
    if (t->state == WRITER_ABANDONED) { free(t->pending); t->pending = NULL; }  // it only needs its piece
    InterlockedExchange(&s->output_queued, 0);
    ReleaseSRWLockExclusive(&s->out_lock);
    return error;
}

enum { PUT_OK, PUT_CHANGED, PUT_FAILED };

/// Queues `length` bytes (at most the read size) for the writer; waits
/// only while its queue cannot take them. PUT_CHANGED: the host changed
/// first; PUT_FAILED: a write failed. The bytes are taken on PUT_OK only.
/// An idle writer is not woken here but by pp_keep_kick, when the output
/// thread is about to wait for the console: pieces that come back to back
/// go out in one write, for one wake.
static int writer_put(pp_session *s, pp_host_writer *writer, const unsigned char *bytes, DWORD length) {
    struct pp_writer_thread *t = writer->thread;
    int result = PUT_OK;
    AcquireSRWLockExclusive(&s->out_lock);
    for (;;) {
        if (s->host_generation != writer->generation) { result = PUT_CHANGED; break; }
        if (t->error) { result = PUT_FAILED; break; }
        if (t->pending_length == 0 || t->pending_length + length <= t->capacity) break;
        if (t->sleeping) WakeConditionVariable(&t->wake);  // the queue is full: it must go
        s->out_waiting = 1;
        SleepConditionVariableSRW(&s->out_wake, &s->out_lock, INFINITE, 0);
        s->out_waiting = 0;
    }
    if (result == PUT_OK) {
        memcpy(t->pending + t->pending_length, bytes, length);
        t->pending_length += length;
        InterlockedExchange(&s->output_queued, 1);
    }
    ReleaseSRWLockExclusive(&s->out_lock);
    return result;
}

/// A write to the host's stdout failed: this host is detached, and what it
/// did not take is kept.
static void write_failed(pp_session *s, pp_host_writer *writer) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    char narrow[PP_ERROR_TEXT_CAPACITY * 3], reason[PP_ERROR_TEXT_CAPACITY * 3 + 64];
    DWORD error = writer_settle(s, writer);
    carry_to_ring(s);
    snprintf(reason, sizeof reason, "cannot write to the host's stdout: %s",
             pp_utf8(pp_error_text(error, text), narrow, sizeof narrow));
    pp_keep_request_detach(s, writer->generation, reason);
}

/// A new host: the kept output, before any live byte.
static void replay(pp_session *s, pp_host_writer *writer) {
    while (writer->thread && s->ring.count > 0) {
        size_t piece = 0;
        const unsigned char *front = pp_ring_front(&s->ring, &piece);
        if (piece > s->output_buffer_size) piece = s->output_buffer_size;
        int put = writer_put(s, writer, front, (DWORD)piece);
        if (put == PUT_FAILED) write_failed(s, writer);
        if (put != PUT_OK) break;
        pp_ring_consume(&s->ring, piece);
        InterlockedExchange64(&s->buffered, (LONG64)s->ring.count);
    }
}

void pp_keep_refresh(pp_session *s, pp_host_writer *writer) {
    // Bounded: a storm of attaches cannot hold the output thread here.
    for (int round = 0; round < 4 && writer->generation != s->host_generation; round++) {
        writer_settle(s, writer);
        EnterCriticalSection(&s->link_lock);
        writer->generation = s->host_generation;
        HANDLE out = duplicate_own(s->host_out);
        LeaveCriticalSection(&s->link_lock);
        if (out) writer->thread = writer_start(s, out, writer->generation);  // it takes the carry
        if (s->carry_length) carry_to_ring(s);
        replay(s, writer);
    }
}

void pp_keep_deliver(pp_session *s, pp_host_writer *writer, const unsigned char *bytes, DWORD length) {
    // A host that changes or fails leaves the piece to the next host, or to
    // the ring. The rounds are bounded, as in pp_keep_refresh.
    for (int round = 0; round < 8; round++) {
        pp_keep_refresh(s, writer);
        if (!writer->thread) break;
        int put = writer_put(s, writer, bytes, length);
        if (put == PUT_OK) return;
        if (put == PUT_FAILED) write_failed(s, writer);
    }
    ring_append(s, bytes, length);
}

void pp_keep_kick(pp_session *s, pp_host_writer *writer) {
    struct pp_writer_thread *t = writer->thread;
    if (!t) return;
    AcquireSRWLockExclusive(&s->out_lock);
    if (t->sleeping && t->pending_length > 0) WakeConditionVariable(&t->wake);
    ReleaseSRWLockExclusive(&s->out_lock);
}

void pp_keep_writer_end(pp_session *s, pp_host_writer *writer) {
    // The output has ended: what the writer holds reaches the host before
    // the session tells it the exit status, unless the host changes or fails.
    struct pp_writer_thread *t = writer->thread;
    if (t) {
        AcquireSRWLockExclusive(&s->out_lock);
        while ((t->busy || t->pending_length > 0) && !t->error && s->host_generation == writer->generation) {
            if (t->sleeping) WakeConditionVariable(&t->wake);
            s->out_waiting = 1;
            SleepConditionVariableSRW(&s->out_wake, &s->out_lock, INFINITE, 0);
            s->out_waiting = 0;
        }
        ReleaseSRWLockExclusive(&s->out_lock);
    }
    writer_settle(s, writer);
    if (s->carry_length) carry_to_ring(s);
}

// ---- the input thread of a kept session ----------------------------------------------

/// True when `out` is a pipe whose reader has gone (a zero-byte write fails
/// as on a broken pipe).
static int stdout_broken(HANDLE out) {
    DWORD written = 0;
    if (!out || WriteFile(out, "", 0, &written, NULL)) return 0;
    DWORD error = GetLastError();
    return error == ERROR_BROKEN_PIPE || error == ERROR_NO_DATA || error == ERROR_PIPE_NOT_CONNECTED;
}

/// This host's stdin ended: a dying host closes stdin and stdout together,
/// and its control connection ends with it (the control thread detaches
/// then); otherwise it is the user's end of input, and nothing more is read
/// from this host.
static void stdin_ended(pp_session *s, LONG generation) {
    ULONGLONG until = GetTickCount64() + EOF_DETACH_MS;
    while (s->host_generation == generation && GetTickCount64() < until) {
        EnterCriticalSection(&s->link_lock);
        HANDLE out = s->host_generation == generation ? duplicate_own(s->host_out) : NULL;
        LeaveCriticalSection(&s->link_lock);
        int broken = stdout_broken(out);
        if (out) CloseHandle(out);
        if (broken) {
            pp_keep_request_detach(s, generation, "the host closed its stdin and stdout");
            return;
        }
        if (WaitForSingleObject(s->ending, 10) == WAIT_OBJECT_0) return;
    }
}

/// One host's stdin, read on a thread of its own. At a detach its read is
/// cancelled (CancelSynchronousIo); where that does not reach a pipe read
/// (under Wine), the old host's thread stays in its read until that stdin
/// ends or brings bytes, and drops them then: they were typed to a host
/// that is gone (or, under Wine, by a host attaching again with the same
/// stdin: its first bytes are lost). No read of an old host ever holds up
/// the next host's input.
typedef struct {
    pp_session *s;
    LONG generation;
    HANDLE in, event;       // never the host's stdout: a reader may outlive its host
    HANDLE thread;          // under link_lock
} host_reader;

/// At most this many readers at once (one per host whose stdin has not
/// ended yet); an attach beyond it gets no input path (its output works).
#define READERS_MAX 64
static host_reader *live_readers[READERS_MAX];  // under link_lock

static void reader_free(host_reader *r) {
    pp_session *s = r->s;
    EnterCriticalSection(&s->link_lock);
    for (int i = 0; i < READERS_MAX; i++)
        if (live_readers[i] == r) live_readers[i] = NULL;
    close_handle(&r->thread);
    LeaveCriticalSection(&s->link_lock);
    close_handle(&r->in);
    close_handle(&r->event);
    InterlockedDecrement(&s->readers);
    free(r);
}

/// Under link_lock: cancels the reads of readers of hosts that are gone.
static void cancel_old_readers(pp_session *s) {
    for (int i = 0; i < READERS_MAX; i++) {
        host_reader *r = live_readers[i];
        if (r && r->thread && r->generation != s->host_generation) CancelSynchronousIo(r->thread);
    }
}

static DWORD WINAPI reader_main(void *argument) {
    host_reader *r = argument;
    pp_session *s = r->s;
    unsigned char *buffer = malloc(PP_INPUT_BUFFER);
    while (buffer) {
        DWORD got = 0;
        BOOL ok = ReadFile(r->in, buffer, PP_INPUT_BUFFER, &got, NULL);
        // Only the attached host's bytes are typed, and only while the
        // session is not ending (the console is closed then).
        if (s->host_generation != r->generation || WaitForSingleObject(s->ending, 0) == WAIT_OBJECT_0) break;
        if (!ok || got == 0) { stdin_ended(s, r->generation); break; }
        if (pp_console_write(s, r->event, buffer, got, INFINITE) != 0) break;
        InterlockedAdd64(&s->bytes_in, got);
    }
    free(buffer);
    reader_free(r);
    return 0;
}

DWORD pp_keep_input(pp_session *s, unsigned char *buffer) {
    (void)buffer;
    HANDLE waits[2] = { s->input_wake, s->ending };
    LONG started = -1;
    for (;;) {
        DWORD woke = WaitForMultipleObjects(2, waits, FALSE, 200);
        if (woke == WAIT_OBJECT_0 + 1) return 0;
        EnterCriticalSection(&s->link_lock);
        cancel_old_readers(s);
        LeaveCriticalSection(&s->link_lock);
        if (s->host_generation == started) continue;
        host_reader *r = calloc(1, sizeof *r);
        if (!r) continue;
        r->s = s;
        r->event = CreateEventW(NULL, TRUE, FALSE, NULL);
        int place = -1;
        EnterCriticalSection(&s->link_lock);
        started = r->generation = s->host_generation;
        for (int i = 0; i < READERS_MAX && place < 0; i++)
            if (!live_readers[i]) place = i;
        if (s->attached && place >= 0 && r->event) r->in = duplicate_own(s->host_in);
        if (r->in) {
            live_readers[place] = r;
            r->thread = CreateThread(NULL, 64 * 1024, reader_main, r, CREATE_SUSPENDED | STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
        }
        InterlockedIncrement(&s->readers);
        HANDLE thread = r->thread;
        LeaveCriticalSection(&s->link_lock);
        if (!thread) { reader_free(r); continue; }
        ResumeThread(thread);
    }
}
