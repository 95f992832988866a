// SPDX-License-Identifier: MIT
//
// session: set-up in a fixed order, the supervisor, and the one cleanup.
//
// Order of creation (pp_session_cleanup releases in the reverse order):
//   1. buffers, command line, environment, status JSON   (set-up memory;
//      a kept session's ring and link events too: keep.c)
//   2. security descriptor, events
//   3. control pipe instances      (the duplicate-ID check is here)
//   4. session file                (for `list`)
//   5. pseudo console + its pipes
//   6. job object, child process   (suspended, put into the job, resumed)
//   7. threads: output, input, control; the host's console modes (when it
//      is a console: run by hand)
//
// End of session: wait on the child's process handle (conhost keeps the
// output pipe open, so output EOF says nothing); drain until the output has
// been quiet for 100 ms, or at most 2 s after the child's exit however slowly
// the host reads; stop the control thread (it may be in ResizePseudoConsole,
// and ClosePseudoConsole frees the HPCON); close the pseudo console from a
// thread other than the reader (before Windows 11 24H2 ClosePseudoConsole
// blocks until the output is drained; from 24H2 it returns at once and the
// output pipe ends when conhost is gone); read the output to that end,
// bounded; exit with GetExitCodeProcess. Output still queued at a limit (in
// conhost, in the pipe, in our buffer) is dropped, and the job's remaining
// processes are killed with it: the exit code is never held back by a host
// that reads slowly.
//
// Hangup (stdout cannot be written, or a console event such as Ctrl+Break
// or the console closing reaches the proxy itself): close the pseudo console (console
// programs get CTRL_CLOSE_EVENT), give them --hangup-grace to exit, then
// terminate the job; exit 129.
#include "session.h"
#include "winerror.h"

#include <stdlib.h>
#include <string.h>

#define DRAIN_QUIET_MS 100
/// From the child's exit to the pseudo console's close, at most (as Linux).
#define DRAIN_MAX_MS 2000
/// From the close to the output pipe's end, at most.
#define END_MAX_MS 2000
#define CLOSE_WAIT_MS 2000
#define CONTROL_STOP_MS 2000
#define EXIT_HANGUP 129

/// The session is static: its control slots are large, and there is one.
static pp_session session;

static void close_handle(HANDLE *handle) {
    if (*handle && *handle != INVALID_HANDLE_VALUE) CloseHandle(*handle);
    *handle = NULL;
}

static DWORD WINAPI closer_main(void *argument) {
    pp_console_close(argument);
    return 0;
}

/// Closes the pseudo console on a thread of its own and waits at most
/// `timeout_ms` for it: ClosePseudoConsole may block until the output is
/// drained, and the host may not be reading.
static void close_console_bounded(pp_session *s, DWORD timeout_ms) {
    if (!s->console || s->console_closed) return;
    if (!s->closer_thread) s->closer_thread = CreateThread(NULL, 0, closer_main, s, 0, NULL);
    if (s->closer_thread) WaitForSingleObject(s->closer_thread, timeout_ms);
    else pp_console_close(s);  // no thread: close here, the reader runs elsewhere
}

/// Stops a thread that may be blocked in a synchronous ReadFile/WriteFile on
/// the host's stdio: cancel its I/O and give it `timeout_ms`. Returns 1 if
/// it ended (its handle is closed then).
static int stop_thread(HANDLE *thread, DWORD timeout_ms) {
    if (!*thread) return 1;
    if (WaitForSingleObject(*thread, 0) != WAIT_OBJECT_0) {
        CancelSynchronousIo(*thread);
        if (WaitForSingleObject(*thread, timeout_ms) != WAIT_OBJECT_0) return 0;
    }
    close_handle(thread);
    return 1;
}

static BOOL WINAPI on_console_event(DWORD event);
static int stop_control(pp_session *s);

/// Releases everything the session holds, in the reverse order of creation.
/// Safe on every path: each step checks whether its part was made.
static void pp_session_cleanup(pp_session *s) {
    int buffers_free = 1;
    SetConsoleCtrlHandler(on_console_event, FALSE);
    // 7. threads
    // 5 (early). The pseudo console must close before the output thread can
    // see EOF; closing it is bounded, and waits for the control thread (a
    // control thread that does not stop leaves the console to ExitProcess).
    if (stop_control(s)) close_console_bounded(s, CLOSE_WAIT_MS);
    if (s->output_read) CancelIoEx(s->output_read, NULL);
    if (!stop_thread(&s->output_thread, 500)) buffers_free = 0;
    pp_host_console_restore(s);  // after the output thread: its last writes need VT processing
    // The input thread may sit in ReadFile on the host's stdin, which some
    // pipes do not let us cancel; if it does not end, ExitProcess ends it,
    // and the buffer it reads into is left for ExitProcess too.
    if (!stop_thread(&s->input_thread, 20)) buffers_free = 0;
    if (s->closer_thread && WaitForSingleObject(s->closer_thread, 0) == WAIT_OBJECT_0) close_handle(&s->closer_thread);
    // 6. child and job: closing the job kills whatever is left in it.
    close_handle(&s->process);
    close_handle(&s->job);
    if (s->attributes) { DeleteProcThreadAttributeList(s->attributes); free(s->attributes); s->attributes = NULL; }
    // 5. pseudo console pipes: each only once no thread can still use it.
    if (!s->output_thread && !s->closer_thread) close_handle(&s->output_read);
    if (!s->input_thread && !s->control_thread && !s->closer_thread && !s->readers) close_handle(&s->input_write);
    // 4. session file (FILE_FLAG_DELETE_ON_CLOSE: closing removes it)
    close_handle(&s->session_file);
    // 3. control pipe
    if (!s->control_thread) pp_control_close(s);
    // 2. events, security descriptor
    if (!s->control_thread) close_handle(&s->signal_event);
    if (!s->input_thread) close_handle(&s->input_event);
    if (!s->output_thread) close_handle(&s->hangup);
    if (!s->control_thread) close_handle(&s->ending);
    if (s->security_descriptor) { LocalFree(s->security_descriptor); s->security_descriptor = NULL; }
    pp_keep_release(s);
    // 1. memory
    free(s->command_json); s->command_json = NULL;
    free(s->environment); s->environment = NULL;
    free(s->command_line); s->command_line = NULL;
    if (buffers_free) { free(s->buffers); s->buffers = NULL; }
}

// ---- the host's stdio, checked before anything is started ------------------

/// Why `handle` (the host's stdin or stdout) cannot be used, or NULL. A
/// closed handle, a directory, or a handle opened the wrong way is refused
/// before anything starts, as on Linux: a session whose host cannot be
/// read from or written to would run blind. The probes never wait: a
/// zero-byte ReadFile only on a disk file (on a pipe it would wait for
/// data), PeekNamedPipe on a pipe, a zero-byte WriteFile on stdout. Under
/// Wine a closed or wrongly opened Linux descriptor appears as a disk file
/// whose every operation fails (errors 1, 5, 6), and Wine's PeekNamedPipe
/// answers 50 (not supported) on Linux pipes, which is taken as no answer.
const wchar_t *pp_stdio_problem(HANDLE handle, int output, DWORD *error) {
    DWORD count = 0, available = 0;
    *error = 0;
    if (handle == NULL || handle == INVALID_HANDLE_VALUE) return L"is closed";
    SetLastError(NO_ERROR);
    DWORD type = GetFileType(handle);
    if (type == FILE_TYPE_UNKNOWN && (*error = GetLastError()) != NO_ERROR) return L"cannot be used";
    BY_HANDLE_FILE_INFORMATION info;
    if (type == FILE_TYPE_DISK && GetFileInformationByHandle(handle, &info) &&
        (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
        return L"is a directory";
    if (output) {
        if (WriteFile(handle, "", 0, &count, NULL)) return NULL;
        *error = GetLastError();
        // A reader that has gone already is the host going away (129 at the
        // first write), not a wrongly opened stdout.
        if (*error == ERROR_BROKEN_PIPE || *error == ERROR_NO_DATA || *error == ERROR_PIPE_NOT_CONNECTED) return NULL;
        return L"is not open for writing";
    }
    if (type == FILE_TYPE_DISK) {
        if (ReadFile(handle, &count, 0, &count, NULL)) return NULL;
        *error = GetLastError();
        return L"is not open for reading";
    }
    if (type == FILE_TYPE_PIPE && !PeekNamedPipe(handle, NULL, 0, NULL, &available, NULL)) {
        *error = GetLastError();
        if (*error == ERROR_ACCESS_DENIED || *error == ERROR_INVALID_HANDLE) return L"is not open for reading";
    }
    *error = 0;
    return NULL;
}

static int refuse_stdio(const wchar_t *name, const wchar_t *problem, DWORD error) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    if (error) pp_print_error(L"%ls %ls: %ls", name, problem, pp_error_text(error, text));
    else pp_print_error(L"%ls %ls", name, problem);
    return 125;
}

int pp_check_host_stdio(void) {
    DWORD error;
    const wchar_t *problem = pp_stdio_problem(GetStdHandle(STD_INPUT_HANDLE), 0, &error);
    if (problem) return refuse_stdio(L"stdin", problem, error);
    problem = pp_stdio_problem(GetStdHandle(STD_OUTPUT_HANDLE), 1, &error);
    if (problem) return refuse_stdio(L"stdout", problem, error);
    return 0;
}

static int setup(pp_session *s) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    const pp_invocation *inv = s->invocation;
    size_t id_length = wcslen(inv->id);
    for (size_t i = 0; i <= id_length; i++) s->id[i] = (char)inv->id[i];  // a valid ID is ASCII
    pp_control_pipe_name(inv->id, s->pipe_name, sizeof s->pipe_name / sizeof s->pipe_name[0]);  // a valid ID fits
    s->started = GetTickCount64();

    // 1. memory
    s->output_buffer_size = inv->output_buffer_size;
    s->buffers = malloc(2 * s->output_buffer_size + PP_INPUT_BUFFER);
    if (!s->buffers) { pp_print_error(L"out of memory"); return 125; }
    int code = s->kept ? pp_keep_init(s) : 0;
    if (code) return code;
    code = pp_child_prepare(s);
    if (code) return code;
    // 2. security, events
    if ((code = pp_security_init(s))) return code;
    s->ending = CreateEventW(NULL, TRUE, FALSE, NULL);
    s->hangup = CreateEventW(NULL, TRUE, FALSE, NULL);
    s->input_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    s->signal_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!s->ending || !s->hangup || !s->input_event || !s->signal_event) {
        pp_print_error(L"cannot create an event: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    // 3. control pipe: a live session with this ID is refused here.
    if ((code = pp_control_open(s))) return code;
    // 4. session file: a convenience for `list`; a session runs without it.
    s->session_file = pp_session_file_create(s->id);
    // 5. pseudo console
    if ((code = pp_console_open(s))) return code;
    // 6. job and child
    if ((code = pp_child_start(s))) return code;
    // 7. threads, and the handler of the proxy's own console events
    // A kept session's server has no console and no host of its own.
    if (!s->kept) {
        SetConsoleCtrlHandler(on_console_event, TRUE);
        pp_host_console_setup(s);
    }
    s->output_thread = CreateThread(NULL, 0, pp_output_main, s, 0, NULL);
    s->input_thread = CreateThread(NULL, 0, pp_input_main, s, 0, NULL);
    s->control_thread = CreateThread(NULL, 0, pp_control_main, s, 0, NULL);
    if (!s->output_thread || !s->input_thread || !s->control_thread) {
        pp_print_error(L"cannot start a thread: %ls", pp_error_text(GetLastError(), text));
        TerminateJobObject(s->job, 125);
        return 125;
    }
    pp_keep_setup_done(s);
    return 0;
}

/// Waits until the output has been quiet for DRAIN_QUIET_MS (nothing read,
/// nothing being written), the output thread has ended, the host has gone,
/// or `deadline` (GetTickCount64) has come. The deadline holds while the
/// output thread is writing too: a host that reads slowly (or not at all)
/// cannot keep the session, and its exit code, from ending.
static void drain(pp_session *s, ULONGLONG deadline) {
    ULONGLONG quiet_since = GetTickCount64();
    for (;;) {
        ULONGLONG now = GetTickCount64();
        if (WaitForSingleObject(s->output_thread, 0) == WAIT_OBJECT_0) return;
        if (WaitForSingleObject(s->hangup, 0) == WAIT_OBJECT_0) return;
        if (now >= deadline) return;
        ULONGLONG last = (ULONGLONG)s->output_activity;
        // A kept session's host writer may still hold bytes the output thread handed it.
        int busy = s->output_writing || s->output_queued;
        if (busy) quiet_since = now;
        else if (last > quiet_since) quiet_since = last;
        if (!busy && now - quiet_since >= DRAIN_QUIET_MS) return;
        Sleep(10);
    }
}

/// Waits (until `deadline`) for the output thread to end: after the pseudo
/// console is closed, the output pipe ends when conhost has written its last
/// byte and gone, which is the real end of the output (on Windows 11 24H2
/// ClosePseudoConsole returns before that).
static void read_to_end(pp_session *s, ULONGLONG deadline) {
    HANDLE waits[2] = { s->output_thread, s->hangup };
    ULONGLONG now = GetTickCount64();
    if (!s->output_thread || now >= deadline) return;
    WaitForMultipleObjects(2, waits, FALSE, (DWORD)(deadline - now));
}

/// Stops the control thread (bounded). Returns 1 when it has ended: only
/// then may the pseudo console be closed, since a resize it is carrying
/// out uses the HPCON that ClosePseudoConsole frees.
static int stop_control(pp_session *s) {
    if (!s->control_thread) return 1;
    if (s->ending) SetEvent(s->ending);
    if (WaitForSingleObject(s->control_thread, CONTROL_STOP_MS) != WAIT_OBJECT_0) return 0;
    close_handle(&s->control_thread);
    return 1;
}

/// Console events sent to the proxy itself (the host's ^C or Ctrl+Break to
/// its process group, its console closing, logoff, shutdown) mean what
/// SIGINT/SIGTERM/SIGHUP mean on Linux: hang up. The handler runs on a
/// thread of its own; for the close events Windows ends the process when the
/// handler returns, so it waits (bounded) for the session to finish first.
static BOOL WINAPI on_console_event(DWORD event) {
    pp_session *s = &session;
    if (!s->hangup) return FALSE;
    SetEvent(s->hangup);
    if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT || event == CTRL_SHUTDOWN_EVENT) Sleep(4000);
    return TRUE;
}

/// The host went away: close the console, grant the grace period, kill the job.
static void hang_up(pp_session *s) {
    SetEvent(s->ending);
    // Nobody will read the console's output any more. Before Windows 11
    // 24H2, ClosePseudoConsole waits until that output is drained: closing
    // our end of the pipe (once the output thread has stopped using it)
    // lets conhost fail its writes and go. The output thread is ending (it
    // set s->hangup; or, on a console event, its read is cancelled here), so
    // wait for it, bounded: it is usually still finishing its cancelled
    // read, and closing the pipe only once it is done keeps the console
    // close from spending its whole bound here and again in the cleanup.
    if (s->output_read) CancelIoEx(s->output_read, NULL);
    if (stop_thread(&s->output_thread, 500)) close_handle(&s->output_read);
    if (stop_control(s)) close_console_bounded(s, 1000);
    WaitForSingleObject(s->process, s->invocation->hangup_grace_ms);
    TerminateJobObject(s->job, EXIT_HANGUP);
}

static int run(pp_session *s);

int pp_session_run(const pp_invocation *invocation, wchar_t *const *argv) {
    pp_session *s = &session;
    memset(s, 0, sizeof *s);
    s->invocation = invocation;
    s->argv = argv;
    if (invocation->keep) return pp_keep_front_run(invocation);
    int code = pp_check_host_stdio();
    if (code) return code;
    return run(s);
}

int pp_session_serve_kept(const pp_invocation *invocation, wchar_t *const *argv, HANDLE report) {
    pp_session *s = &session;
    memset(s, 0, sizeof *s);
    s->invocation = invocation;
    s->argv = argv;
    s->kept = 1;
    s->report = report;
    return run(s);
}

/// Sets up, supervises and ends the session; returns `new`'s exit code.
static int run(pp_session *s) {
    int code = setup(s);
    if (code) {
        pp_session_cleanup(s);
        return code;
    }
    HANDLE waits[2] = { s->process, s->hangup };
    DWORD woke = WaitForMultipleObjects(2, waits, FALSE, INFINITE);
    ULONGLONG exited = GetTickCount64();
    // A kept session's end waits for its first host too (relay.c), at most
    // 5 s from the start, and not for a front that died before it attached.
    if (s->kept && exited < s->started + 5000) pp_keep_wait_first_host(s, (DWORD)(s->started + 5000 - exited));
    if (woke == WAIT_OBJECT_0) drain(s, GetTickCount64() + DRAIN_MAX_MS);
    if (woke != WAIT_OBJECT_0 || WaitForSingleObject(s->hangup, 0) == WAIT_OBJECT_0) {
        DWORD error = (DWORD)s->hangup_error;
        hang_up(s);
        pp_session_cleanup(s);
        if (error != 0 && error != ERROR_BROKEN_PIPE && error != ERROR_NO_DATA && error != ERROR_PIPE_NOT_CONNECTED) {
            // Not a reader that went away, but stdout that cannot be written
            // (a full disk, a handle that is not there): say so.
            wchar_t text[PP_ERROR_TEXT_CAPACITY];
            pp_print_error(L"cannot write to stdout: %ls", pp_error_text(error, text));
            return 125;
        }
        return EXIT_HANGUP;
    }
    DWORD exit_code = 0;
    if (!GetExitCodeProcess(s->process, &exit_code)) exit_code = 125;
    exit_code = pp_child_exit_code(exit_code);
    // Stop taking requests, then close the console while the output thread
    // is still reading, then let it deliver the rest: up to the pipe's end
    // (conhost gone; under Wine about 1 s after the close when the child had
    // read input), bounded.
    if (stop_control(s)) {
        close_console_bounded(s, CLOSE_WAIT_MS);
        read_to_end(s, GetTickCount64() + END_MAX_MS);
    }
    // The output thread has stopped, or the bound has come: only now is the
    // host told (it exits at that line, and its stdout has every byte).
    if (!s->control_thread) pp_keep_tell_exit(s, exit_code);  // the control thread no longer uses the slot
    pp_session_cleanup(s);
    return (int)exit_code;
}
