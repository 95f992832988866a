// SPDX-License-Identifier: MIT
// CPTYShim: the few POSIX calls that Swift cannot reach through `import Glibc`.
//
// Why each one exists:
// - posix_openpt, grantpt, unlockpt, ptsname_r, pipe2, signalfd and
//   F_SETPIPE_SZ are hidden unless _GNU_SOURCE is defined before the system
//   headers, which Swift's Glibc module does not do.
// - posix_spawn's POSIX_SPAWN_SETSID and the closefrom/chdir file actions are
//   GNU extensions too; and the spawn must happen entirely in C: no Swift code
//   may run between fork and exec.
// - ioctl and fcntl are variadic, which Swift cannot call.
// - struct ucred (SO_PEERCRED) is only declared under _GNU_SOURCE.
//
// Every function returns 0 on success or an errno value; none of them
// touch the global errno as their result channel.
#ifndef CPTYSHIM_H
#define CPTYSHIM_H

#include <sys/types.h>
#include <stddef.h>
#include <termios.h>

#include "ptyproxy_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Opens a new pseudo-terminal master (O_RDWR|O_NOCTTY|O_CLOEXEC), grants and
/// unlocks its slave, and writes the slave's path into `name`.
int ptyshim_open_master(int *master, char *name, size_t name_len);

/// Fills `t` with the settings `stty sane iutf8 erase ^?` gives, CS8.
void ptyshim_sane_termios(struct termios *t);

/// Puts `t` in raw mode (cfmakeraw).
void ptyshim_make_raw(struct termios *t);

/// Sets the window size of the terminal behind `fd` (TIOCSWINSZ).
int ptyshim_set_winsize(int fd, unsigned short cols, unsigned short rows);

/// Reads the window size of the terminal behind `fd` (TIOCGWINSZ).
int ptyshim_get_winsize(int fd, unsigned short *cols, unsigned short *rows);

/// Spawns `path` (searched in PATH when `search_path` is non-zero) as the
/// leader of a new session whose controlling terminal is `tty_path`, opened
/// as fd 0 and duplicated to 1 and 2. Every other fd is closed, every signal
/// disposition is reset to its default and the signal mask is emptied.
/// `cwd` may be NULL.
int ptyshim_spawn_session(pid_t *pid, const char *path, char *const argv[],
                          char *const envp[], const char *tty_path,
                          const char *cwd, int search_path);

/// pipe2(O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)).
int ptyshim_pipe(int fds[2], int nonblocking);

/// Blocks `count` signals in the calling thread (threads created later
/// inherit the mask) and opens a non-blocking, close-on-exec signalfd for them.
int ptyshim_signalfd_open(int *fd, const int *signals, int count);

/// Reads one pending signal from a signalfd; 0 when none is pending.
int ptyshim_signalfd_next(int fd, int *signo);

/// Grows the pipe behind `fd` to at least `size` bytes (F_GETPIPE_SZ,
/// F_SETPIPE_SZ); never shrinks it. EBADF when `fd` is not a pipe.
int ptyshim_grow_pipe(int fd, int size);

/// Opens a pollable descriptor that becomes readable when `pid` exits (pidfd_open).
int ptyshim_pidfd_open(pid_t pid, int *fd);

/// A start gate's word: closed until decided once, open or cancelled.
#define PTYSHIM_GATE_CLOSED 0
#define PTYSHIM_GATE_OPEN 1
#define PTYSHIM_GATE_CANCELLED 2

/// Blocks while `*word` is PTYSHIM_GATE_CLOSED (futex wait); returns the outcome.
int ptyshim_gate_wait(int *word);

/// Sets a closed `*word` to `outcome` (a decided one stays as it is) and
/// wakes every thread waiting on it.
void ptyshim_gate_decide(int *word, int outcome);

/// Makes every thread allocate from the main malloc arena (M_ARENA_MAX 1,
/// malloc.h), instead of each thread mapping an arena of its own at its
/// first allocation.
int ptyshim_single_malloc_arena(void);

/// Blocks until `pid` has exited, without reaping it (waitid WEXITED|WNOWAIT).
int ptyshim_wait_exit_without_reaping(pid_t pid);

/// Has a SIGCHLD handler write one byte to `write_fd`, and close it, once
/// `pid` has exited (without reaping it); the same at once if it already
/// has. Needs no memory and cannot fail: for a child whose pidfd was
/// refused after it started. Up to 64 children are watched at a time;
/// beyond, the call aborts with a message.
void ptyshim_notify_exit_by_sigchld(pid_t pid, int write_fd);

/// If `pid` has exited, stores its status as a wait(2) status word and
/// returns 0, leaving it unreaped (waitid WEXITED|WNOHANG|WNOWAIT); EAGAIN
/// while it runs, else an errno.
int ptyshim_exit_status_without_reaping(pid_t pid, int *wait_status);

/// The process environment (`environ`), which Swift 6 cannot read as a global.
char **ptyshim_environ(void);

/// The uid of the process on the other end of a connected Unix socket (SO_PEERCRED).
int ptyshim_peer_uid(int fd, uid_t *uid);

/// accept4(SOCK_NONBLOCK | SOCK_CLOEXEC).
int ptyshim_accept(int fd, int *client);

/// Sets or clears O_NONBLOCK on an fd this process opened itself.
int ptyshim_set_nonblocking(int fd, int on);


// --- process and signals (sec-process) ---

/// ptyshim_spawn_session, and when the kernel refuses the program with
/// ENOEXEC (an executable text file without `#!`), runs it with /bin/sh as
/// execvp(3) does: argv becomes {"/bin/sh", PATH-resolved program, argv[1]...}.
/// glibc's posix_spawnp dropped that fallback; shells and env(1) keep it.
int ptyshim_spawn_session_sh_fallback(pid_t *pid, const char *path, char *const argv[],
                                      char *const envp[], const char *tty_path,
                                      const char *cwd, int search_path);

/// Installs handlers for the synchronous fault signals (SIGILL, SIGTRAP,
/// SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS), chained to whatever handler was
/// there (Swift's backtracer, a sanitizer's). They are not blocked in the
/// signalfd set: a real fault must still be delivered. The handler:
/// - when the signal was sent by another process (kill, sigqueue), turns it
///   into a hangup request (SIGTERM to ourselves, taken by the signalfd), so
///   `kill -SEGV` ends the session as cleanly as `kill -TERM`;
/// - on a real fault (a crash), restores the host terminal registered with
///   ptyshim_register_host_terminal, then lets the previous handler or the
///   default action run. Only async-signal-safe calls (tcsetattr, kill, raise).
int ptyshim_install_fault_handlers(void);

/// Registers the host terminal (fd and the settings to restore) for the fault
/// handlers; fd -1 unregisters it.
void ptyshim_register_host_terminal(int fd, const struct termios *saved);

/// tcsetattr(fd, TCSADRAIN, t) with SIGTTOU unblocked in the calling thread
/// for the call: SIGTTOU is blocked (read from the signalfd and dropped), and
/// a blocked SIGTTOU lets a background process change the terminal. This
/// way a ptyproxy started in the background of an interactive shell is
/// stopped by job control before it touches the terminal, as any terminal
/// program is, and goes raw only once brought to the foreground.
int ptyshim_tcsetattr_as_job(int fd, const struct termios *t);

/// read(fd) with SIGTTIN unblocked in the calling thread for the call, the
/// read counterpart of ptyshim_tcsetattr_as_job: a blocked SIGTTIN turns a
/// background read of the controlling terminal into EIO, an unblocked one
/// stops the process until the shell brings it back, as job control means.
/// The count read goes to `got` (0 on error).
int ptyshim_read_as_job(int fd, void *buffer, size_t count, ssize_t *got);

/// The capacity of the pipe behind `fd` in bytes (F_GETPIPE_SZ); EBADF when
/// `fd` is no pipe.
int ptyshim_pipe_capacity(int fd, int *capacity);

/// The bytes queued unread in the pipe, socket or terminal behind `fd` (FIONREAD).
int ptyshim_bytes_queued(int fd, int *count);

/// Sets the capacity of the pipe behind `fd` (F_SETPIPE_SZ), shrinking too;
/// for tests that play a host with a small pipe.
int ptyshim_set_pipe_size(int fd, int size);

/// Checks one of the host's standard descriptors before anything starts:
/// 0 when usable; EBADF closed; EACCES opened the wrong way (write-only stdin,
/// read-only stdout, O_PATH); EISDIR a directory.
int ptyshim_check_stdio(int fd, int for_writing);

/// faccessat(dir, X_OK, AT_EACCESS): can this process change into `dir`?
/// (posix_spawn reports a failed chdir as the exec's error.)
int ptyshim_can_enter(const char *dir);


// --- kept sessions (issue 20) ---

/// fork(2) for a kept session's server, refused (EDEADLK) unless the caller
/// is the process's only thread. Returns in the parent only, with the
/// child's pid. The child calls setsid() and runs `serve(context)` on a
/// thread of its own (1 MiB of stack), which must end the process (exit);
/// the thread fork copied blocks every signal and waits: it holds the
/// parent's thread ID in the Swift runtime's per-thread cache, so it must
/// run no Swift code. If that thread cannot be made, the child writes one
/// `ptyproxy: ...` line to `report` and exits 125.
int ptyshim_fork_kept_server(pid_t *pid, int report, void (*serve)(void *), void *context);

/// sendmsg(2) of `bytes` with `fd_count` (1 to 4) descriptors in SCM_RIGHTS,
/// without SIGPIPE.
int ptyshim_send_with_fds(int socket, const void *bytes, size_t count, const int *fds, int fd_count,
                          ssize_t *sent);

/// recvmsg(2), non-blocking, close-on-exec: up to two passed descriptors in
/// `fds`. Anything else in the control data (a third descriptor, a cut
/// message, another kind) sets `*refused` and closes every descriptor
/// received, so that none is left open by accident.
int ptyshim_recv_with_fds(int socket, void *bytes, size_t count, ssize_t *got,
                          int fds[2], int *fd_count, int *refused);

/// For a pipe or a character device (a terminal) `fd` writes to: a new open
/// file description of the same object, write-only and non-blocking (opened
/// through /proc/self/fd), so that O_NONBLOCK is not set on the one the host
/// shares with others. EINVAL for anything else; ENXIO for a pipe that has
/// no reader any more.
int ptyshim_reopen_nonblocking_writer(int fd, int *reopened);

/// The same for a pipe or character device `fd` reads from: a read-only,
/// non-blocking description of its own, so that a read never waits when
/// another reader of the object took the bytes poll announced.
int ptyshim_reopen_nonblocking_reader(int fd, int *reopened);

/// Whether `fd`, passed with `attach`, can be a kept session's host stdin
/// (`for_writing` 0) or stdout (1): 0 when it can; the errors of
/// ptyshim_check_stdio; EPROTOTYPE for what is no pipe, socket, terminal or
/// file (an eventfd, a signalfd, an epoll or timer descriptor: a write may
/// block whatever poll says, a read may take this process's signals);
/// ELOOP for the session's own pty (`master` or its slave) or a socket
/// connected to this process (its control socket): the session would read
/// back what it writes, or run its program's output as control requests.
int ptyshim_check_attach_descriptor(int fd, int for_writing, int master);

/// Closes every descriptor from `lowest` up (close_range, else one by one).
void ptyshim_close_from(int lowest);

#ifdef __cplusplus
}
#endif

#endif
