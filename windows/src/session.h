// SPDX-License-Identifier: MIT
//
// session: everything one `ptyproxy new` owns, created in a fixed order and
// released in the reverse order by one function (pp_session_cleanup), on
// every path. The parts (pseudoconsole, child, relay, control_pipe,
// session_dir) each own a few fields and are set up and torn down by
// session.c.
//
// Memory: no arena. There are five allocations, all made during set-up and
// all released by pp_session_cleanup: the command line, the environment
// block, the attribute list, the status command JSON and the I/O buffers
// (one block). A kept session (keep.c) adds its ring and its carry (twice
// --output-buffer-size), allocated once, and per host a reader and a writer
// (two buffers of --output-buffer-size bytes, one once abandoned), each
// freed by its own thread when it ends. The steady state allocates nothing: the relay threads and
// the control thread work in these buffers and in fixed arrays inside this
// struct. An arena would add a sizing step and save nothing: the single
// owner (this struct) already frees everything in one place.
#ifndef PP_SESSION_H
#define PP_SESSION_H

#include <windows.h>

#include "cli.h"
#include "control_line.h"
#include "ring.h"

#include <stdint.h>

/// Concurrent control clients (as on Linux). Each slot is one pipe instance;
/// every idle slot has a ConnectNamedPipe pending. When the last one is taken,
/// the server sheds the client that has waited longest among those idle, or
/// whose line has been arriving, for PP_CONTROL_SHED_MS, so slow or silent
/// clients cannot keep a new one out.
#define PP_CONTROL_SLOTS 16
/// A request line must end within this of its first byte; a connection with
/// nothing pending is closed after it; a reply not taken in it is dropped.
#define PP_CONTROL_TIMEOUT_MS 5000
/// After its last reply (`error timeout`, `error line too long`) a client
/// gets this long to read it and close; the pipe is disconnected only then,
/// since DisconnectNamedPipe throws away what the client has not read.
#define PP_CONTROL_LINGER_MS 5000
/// Shorter than Linux's 1 s: a Windows client cannot even connect while every
/// instance is taken, and clients that reconnect at once race it for each
/// instance freed. A real client's line arrives in one write.
#define PP_CONTROL_SHED_MS 250
#define PP_INPUT_BUFFER 8192
#define PP_REPLY_CAPACITY 8192
/// The status reply's command array is cut to fit (see child.c).
#define PP_COMMAND_JSON_MAX 6000

/// SLOT_HOST: the connection of the attached host's `attach` process (issue
/// 20): no deadline, never shed; a read is kept pending so that its end (the
/// process died) detaches the host.
typedef enum { SLOT_DEAD, SLOT_LISTEN, SLOT_READ, SLOT_WRITE, SLOT_LINGER, SLOT_HOST } pp_slot_state;

typedef struct {
    HANDLE pipe;
    HANDLE event;
    OVERLAPPED overlapped;
    pp_slot_state state;
    ULONGLONG deadline;
    ULONGLONG since;          // when the present wait began (idle, line, write, linger): the shedding order
    char in[512];             // the last read
    DWORD in_length, in_position;
    char line[PP_CONTROL_LINE_MAX + 1];
    size_t line_length;
    char reply[PP_REPLY_CAPACITY];
    int close_after_reply;
    int becomes_host;         // its reply is `ok attached`: SLOT_HOST once written
} pp_control_slot;

typedef struct pp_session {
    const pp_invocation *invocation;
    wchar_t *const *argv;
    char id[PP_MAX_ID_LENGTH + 1];          // ASCII copy of the ID
    wchar_t pipe_name[PP_PIPE_NAME_CAPACITY]; // pp_control_pipe_name

    // Set-up allocations (see the memory note above).
    wchar_t *command_line;
    wchar_t *environment;
    LPPROC_THREAD_ATTRIBUTE_LIST attributes;
    char *command_json;
    unsigned char *buffers;                 // output buffers, then the input buffer
    size_t output_buffer_size;

    // Security: a DACL granting only this user and SYSTEM.
    PSECURITY_DESCRIPTOR security_descriptor;
    SECURITY_ATTRIBUTES security;

    HANDLE ending;                          // manual-reset: the session is ending
    HANDLE hangup;                          // manual-reset: stdout failed
    volatile LONG hangup_error;

    pp_control_slot slots[PP_CONTROL_SLOTS];
    HANDLE session_file;

    HANDLE job;
    HPCON console;
    volatile LONG console_closed;
    HANDLE input_write;                     // ours: overlapped, to conhost's input
    HANDLE output_read;                     // ours: overlapped, from conhost's output
    HANDLE input_event;                     // for overlapped writes of the input thread
    HANDLE signal_event;                    // for the control thread's writes of ^C

    HANDLE process;
    DWORD child_pid;

    HANDLE output_thread, input_thread, control_thread, closer_thread;

    // Shared counters (Interlocked).
    volatile LONG64 bytes_in, bytes_out;
    volatile LONG64 requests;               // control requests carried out (status shows it)
    volatile LONG cols, rows;
    volatile LONG output_writing;           // the output thread is writing to stdout
    volatile LONG64 output_activity;        // GetTickCount64() of the last output
    ULONGLONG started;

    // Issue 20: a kept session (new --keep) runs in a server process of its
    // own, and its host is whoever attached last (keep.c).
    int kept;
    HANDLE report;                          // set-up report pipe to the front, until set up
    pp_ring ring;                           // output kept while detached: the output thread's only
    volatile LONG64 buffered;               // ring.count, for status
    CRITICAL_SECTION link_lock;             // guards host_in, host_out, host_generation, detach_*
    HANDLE host_in, host_out;               // the attached host's stdin and stdout (the link's copies)
    volatile LONG host_generation;          // +1 at every attach and detach
    volatile LONG attached;
    int host_slot;                          // the attached client's control slot, or -1 (control thread)
    volatile LONG64 detached_at;            // GetTickCount64() of the last detach
    HANDLE host_changed;                    // auto-reset: the output thread looks at the link again
    SRWLOCK out_lock;                       // the output thread and its host writers (keep.c)
    CONDITION_VARIABLE out_wake;            // the output thread waits here: its writer, or a change of host
    int out_waiting;                        // under out_lock: the output thread waits on out_wake
    volatile LONG output_queued;            // a host writer holds bytes not yet written
    unsigned char *carry;                   // 2 x output_buffer_size: bytes a writer did not write
    DWORD carry_length;                     // the output thread's only
    HANDLE input_wake;                      // auto-reset: the input thread looks at the link again
    HANDLE first_host;                      // manual-reset: the first host has attached
    HANDLE front;                           // the `new --keep` process (SYNCHRONIZE), or NULL (keep.c)
    HANDLE link_request;                    // auto-reset: a data thread asks the control thread to detach
    volatile LONG readers;                  // input threads of hosts (keep.c), live
    LONG detach_generation;                 // the host the request is about (under link_lock)
    char detach_reason[192];                // under link_lock

    // The host's console, when run by hand (host_console.c).
    int host_input_is_console, host_output_is_console;
    DWORD host_input_mode, host_output_mode;
    UINT host_input_cp, host_output_cp;
} pp_session;

/// Runs `new` to the end; returns the exit code. With --keep: the front.
int pp_session_run(const pp_invocation *invocation, wchar_t *const *argv);
/// The server of a kept session (`--keep-server`): set-up lines go to `report`.
int pp_session_serve_kept(const pp_invocation *invocation, wchar_t *const *argv, HANDLE report);

// Parts, each in its own file.
int pp_security_init(pp_session *s);                         // control_pipe.c
DWORD pp_token_user(HANDLE process, BYTE *sid, DWORD capacity); // control_pipe.c: SID length, or 0
int pp_control_open(pp_session *s);                          // control_pipe.c: 0, or exit code
DWORD WINAPI pp_control_main(void *session);                 // control_pipe.c
void pp_control_close(pp_session *s);                        // control_pipe.c
int pp_console_open(pp_session *s);                          // pseudoconsole.c
HRESULT pp_console_resize(pp_session *s, unsigned cols, unsigned rows);
void pp_console_close(pp_session *s);                        // pseudoconsole.c: idempotent
int pp_child_prepare(pp_session *s);                         // child.c: command line, environment
int pp_child_start(pp_session *s);                           // child.c: job + process
DWORD pp_child_exit_code(DWORD code);                         // child.c: the code `new` exits with
DWORD WINAPI pp_output_main(void *session);                  // relay.c
DWORD WINAPI pp_input_main(void *session);                   // relay.c
DWORD pp_console_write(pp_session *s, HANDLE event, const void *bytes, DWORD length, DWORD timeout_ms);  // relay.c

// The host's own console, when there is one (host_console.c).
void pp_host_console_setup(pp_session *s);
void pp_host_console_restore(pp_session *s);                 // after the output thread has stopped
/// ReadFile, or for a console ReadConsoleW with the text turned into UTF-8.
BOOL pp_host_read(pp_session *s, HANDLE in, unsigned char *buffer, DWORD capacity, DWORD *got);

// Session directory (session_dir.c): %LOCALAPPDATA%\ptyproxy, one file per session.
HANDLE pp_session_file_create(const char *id);
int pp_session_dir_path(wchar_t *out, size_t capacity);
/// The name under which a session file for `id` exists (its case may differ
/// from `id`'s: Windows compares file names without case); 0, or -1 if none.
int pp_session_file_name(const char *id, wchar_t *out, size_t capacity);

// Control client (client.c).
int pp_client_run(const pp_invocation *invocation);
/// `attach`, and `new --keep` once its server is set up: returns the exit code.
int pp_attach_run(const wchar_t *id, unsigned cols, unsigned rows, int force);

// Kept sessions (keep.c, issue 20).
int pp_check_host_stdio(void);                               // session.c: 0, or 125 after one line
/// Why a host's stdin (`output` 0) or stdout (1) cannot be used, or NULL (session.c).
const wchar_t *pp_stdio_problem(HANDLE handle, int output, DWORD *error);
/// `new --keep`: starts the server, relays its set-up errors, then attaches.
int pp_keep_front_run(const pp_invocation *invocation);
/// The server: `--keep-server NAME` opens the front's report pipe as stderr.
/// Returns 0, or 125 when NAME is not one the front makes.
int pp_keep_server_open_report(const wchar_t *name, HANDLE *report);
int pp_keep_init(pp_session *s);                             // events, ring: 0, or 125
void pp_keep_setup_done(pp_session *s);                      // tells the front, drops the report pipe
/// Waits up to `timeout_ms` for the first host, or the session's end, or
/// the front's end before it attached (all cut the wait short).
void pp_keep_wait_first_host(pp_session *s, DWORD timeout_ms);
void pp_keep_release(pp_session *s);                         // in pp_session_cleanup
/// Data threads: ask the control thread to detach host `generation`.
void pp_keep_request_detach(pp_session *s, LONG generation, const char *reason);
/// Control thread: takes the stdin and stdout of the client on `slot`
/// (handle values in its process) into `taken`. 0, or -1 with `why`.
int pp_keep_take(pp_session *s, int slot, uint32_t in_value, uint32_t out_value, HANDLE taken[2], char *why,
                 size_t capacity);
/// Control thread: the client on `slot`, whose handles were taken, becomes the host.
void pp_keep_link(pp_session *s, int slot, HANDLE taken[2]);
/// Control thread: no host any more; returns the old host's slot, or -1.
int pp_keep_unlink(pp_session *s);
/// Main thread, after the output is delivered: `exit N` to the attached client.
void pp_keep_tell_exit(pp_session *s, DWORD code);
/// Output thread: writes `length` bytes to the attached host, or keeps them.
typedef struct { struct pp_writer_thread *thread; LONG generation; } pp_host_writer;
/// Output thread, when the output has ended: the writer's last bytes go out first.
void pp_keep_writer_end(pp_session *s, pp_host_writer *writer);
void pp_keep_deliver(pp_session *s, pp_host_writer *writer, const unsigned char *bytes, DWORD length);
void pp_keep_refresh(pp_session *s, pp_host_writer *writer);
/// Output thread, before it waits for the console: the writer takes what is queued.
void pp_keep_kick(pp_session *s, pp_host_writer *writer);
DWORD pp_keep_input(pp_session *s, unsigned char *buffer);   // the input thread of a kept session

#endif
