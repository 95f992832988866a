// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include "CPTYShim.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <limits.h>
#include <malloc.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int ptyshim_open_master(int *master, char *name, size_t name_len) {
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return errno;
    if (grantpt(fd) != 0 || unlockpt(fd) != 0) {
        int err = errno;
        close(fd);
        return err;
    }
    int err = ptsname_r(fd, name, name_len);
    if (err != 0) {
        close(fd);
        return err;
    }
    *master = fd;
    return 0;
}

void ptyshim_sane_termios(struct termios *t) {
    memset(t, 0, sizeof *t);
    t->c_iflag = BRKINT | ICRNL | IMAXBEL | IUTF8;
    t->c_oflag = OPOST | ONLCR;
    t->c_cflag = CS8 | CREAD | HUPCL;
    t->c_lflag = ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
    t->c_cc[VINTR] = 0x03;    /* ^C */
    t->c_cc[VQUIT] = 0x1c;    /* ^\ */
    t->c_cc[VERASE] = 0x7f;   /* ^? */
    t->c_cc[VKILL] = 0x15;    /* ^U */
    t->c_cc[VEOF] = 0x04;     /* ^D */
    t->c_cc[VSTART] = 0x11;   /* ^Q */
    t->c_cc[VSTOP] = 0x13;    /* ^S */
    t->c_cc[VSUSP] = 0x1a;    /* ^Z */
    t->c_cc[VREPRINT] = 0x12; /* ^R */
    t->c_cc[VWERASE] = 0x17;  /* ^W */
    t->c_cc[VLNEXT] = 0x16;   /* ^V */
    t->c_cc[VDISCARD] = 0x0f; /* ^O */
    t->c_cc[VMIN] = 1;
    t->c_cc[VTIME] = 0;
    cfsetispeed(t, B38400);
    cfsetospeed(t, B38400);
}

void ptyshim_make_raw(struct termios *t) { cfmakeraw(t); }

int ptyshim_set_winsize(int fd, unsigned short cols, unsigned short rows) {
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    return ioctl(fd, TIOCSWINSZ, &ws) == 0 ? 0 : errno;
}

int ptyshim_get_winsize(int fd, unsigned short *cols, unsigned short *rows) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return errno;
    *cols = ws.ws_col;
    *rows = ws.ws_row;
    return 0;
}

int ptyshim_spawn_session(pid_t *pid, const char *path, char *const argv[],
                          char *const envp[], const char *tty_path,
                          const char *cwd, int search_path) {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    int err = posix_spawnattr_init(&attr);
    if (err != 0) return err;
    err = posix_spawn_file_actions_init(&actions);
    if (err != 0) {
        posix_spawnattr_destroy(&attr);
        return err;
    }

    sigset_t all, none;
    /* Every signal, not only those whose disposition we changed: glibc's
       child sets each signal in this set to SIG_DFL, and queries each one
       left out (one rt_sigaction either way, 64 in all), keeping a SIG_IGN
       it finds: a narrower set saves no system call and would pass on the
       ignores we inherited (nohup, a host ignoring SIGINT). Not sigfillset:
       it leaves out glibc's two internal signals (32, 33), which the child
       would then have ignored, and an exec keeps that. */
    memset(&all, 0xff, sizeof all);
    sigemptyset(&none);
    if (!err) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                                        POSIX_SPAWN_SETSIGDEF);
    if (!err) err = posix_spawnattr_setsigdefault(&attr, &all);
    if (!err) err = posix_spawnattr_setsigmask(&attr, &none);
    if (!err && cwd) err = posix_spawn_file_actions_addchdir_np(&actions, cwd);
    /* Opening the tty by path after setsid() is what makes it the controlling
       terminal; a dup2 of an inherited descriptor would not. */
    if (!err) err = posix_spawn_file_actions_addopen(&actions, 0, tty_path, O_RDWR, 0);
    if (!err) err = posix_spawn_file_actions_adddup2(&actions, 0, 1);
    if (!err) err = posix_spawn_file_actions_adddup2(&actions, 0, 2);
    if (!err) err = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!err) {
        err = search_path ? posix_spawnp(pid, path, &actions, &attr, argv, envp)
                          : posix_spawn(pid, path, &actions, &attr, argv, envp);
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return err;
}

int ptyshim_pipe(int fds[2], int nonblocking) {
    return pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) == 0 ? 0 : errno;
}

int ptyshim_signalfd_open(int *fd, const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    int err = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (err != 0) return err;
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return errno;
    *fd = sfd;
    return 0;
}

int ptyshim_signalfd_next(int fd, int *signo) {
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(fd, &info, sizeof info);
        if (n == (ssize_t)sizeof info) {
            *signo = (int)info.ssi_signo;
            return 0;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            *signo = 0;
            return 0;
        }
        return n < 0 ? errno : EIO;
    }
}

int ptyshim_grow_pipe(int fd, int size) {
    int current = fcntl(fd, F_GETPIPE_SZ);
    if (current < 0) return errno;
    if (current >= size) return 0;
    return fcntl(fd, F_SETPIPE_SZ, size) >= 0 ? 0 : errno;
}

int ptyshim_peer_uid(int fd, uid_t *uid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return errno;
    *uid = cred.uid;
    return 0;
}

int ptyshim_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags) == 0 ? 0 : errno;
}

int ptyshim_pidfd_open(pid_t pid, int *fd) {
    long r = syscall(SYS_pidfd_open, pid, 0);
    if (r < 0) return errno;
    *fd = (int)r;
    return 0;
}

extern char **environ;
char **ptyshim_environ(void) { return environ; }

int ptyshim_accept(int fd, int *client) {
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return errno;
    *client = c;
    return 0;
}

int ptyshim_wait_exit_without_reaping(pid_t pid) {
    siginfo_t info;
    for (;;) {
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) == 0) return 0;
        if (errno != EINTR) return errno;
    }
}

int ptyshim_single_malloc_arena(void) {
    return mallopt(M_ARENA_MAX, 1) == 1 ? 0 : EINVAL;
}

int ptyshim_gate_wait(int *word) {
    int outcome;
    while ((outcome = __atomic_load_n(word, __ATOMIC_ACQUIRE)) == PTYSHIM_GATE_CLOSED) {
        /* EAGAIN (decided meanwhile) and EINTR: look again. */
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, PTYSHIM_GATE_CLOSED, NULL, NULL, 0);
    }
    return outcome;
}

void ptyshim_gate_decide(int *word, int outcome) {
    int closed = PTYSHIM_GATE_CLOSED;
    __atomic_compare_exchange_n(word, &closed, outcome, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* The children ptyshim_notify_exit_by_sigchld watches: a slot is free at
   pid 0, claimed at -1 while its descriptor is stored, watched above 0. */
#define SIGCHLD_WATCH_SLOTS 64
static struct {
    _Atomic pid_t pid;
    _Atomic int fd;
} sigchld_watches[SIGCHLD_WATCH_SLOTS];

static void notify_exited_children(int sig) {
    (void)sig;
    int saved_errno = errno;
    for (int i = 0; i < SIGCHLD_WATCH_SLOTS; i++) {
        pid_t pid = atomic_load(&sigchld_watches[i].pid);
        if (pid <= 0) continue;
        siginfo_t info;
        info.si_pid = 0;
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid) continue;
        int fd = atomic_exchange(&sigchld_watches[i].fd, -1);
        if (fd < 0) continue;  /* told already, by another thread's call */
        char byte = 1;
        ssize_t ignored = write(fd, &byte, 1);
        (void)ignored;
        close(fd);
        atomic_store(&sigchld_watches[i].pid, 0);
    }
    errno = saved_errno;
}

void ptyshim_notify_exit_by_sigchld(pid_t pid, int write_fd) {
    int slot = 0;
    for (;; slot++) {
        if (slot == SIGCHLD_WATCH_SLOTS) {
            static const char message[] = "ptyproxy: more than 64 children without a pidfd\n";
            ssize_t ignored = write(2, message, sizeof message - 1);
            (void)ignored;
            abort();
        }
        pid_t free_slot = 0;
        if (atomic_compare_exchange_strong(&sigchld_watches[slot].pid, &free_slot, -1)) break;
    }
    atomic_store(&sigchld_watches[slot].fd, write_fd);
    atomic_store(&sigchld_watches[slot].pid, pid);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = notify_exited_children;
    action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&action.sa_mask);
    sigaction(SIGCHLD, &action, NULL);  /* fails only for an invalid signal */
    notify_exited_children(SIGCHLD);    /* an exit before the handler was in place */
}

int ptyshim_exit_status_without_reaping(pid_t pid, int *wait_status) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno != EINTR) return errno;
    }
    if (info.si_pid == 0) return EAGAIN; /* still running */
    switch (info.si_code) {
    case CLD_EXITED: *wait_status = (info.si_status & 0xff) << 8; return 0;
    case CLD_KILLED: *wait_status = info.si_status & 0x7f; return 0;
    case CLD_DUMPED: *wait_status = (info.si_status & 0x7f) | 0x80; return 0;
    default: return EAGAIN;
    }
}

// --- process and signals (sec-process) ---

#include <limits.h>
#include <sys/stat.h>

/* The file posix_spawnp ran: `path` itself when it has a slash, else the
   first executable regular file named `path` in our PATH. */
static int resolve_program(const char *path, int search_path, char *out, size_t out_len) {
    if (!search_path || strchr(path, '/') != NULL) {
        if (strlen(path) >= out_len) return ENAMETOOLONG;
        strcpy(out, path);
        return 0;
    }
    const char *dirs = getenv("PATH");
    if (dirs == NULL) dirs = "/bin:/usr/bin";
    size_t name_len = strlen(path);
    while (1) {
        const char *end = strchr(dirs, ':');
        size_t dir_len = end ? (size_t)(end - dirs) : strlen(dirs);
        const char *dir = dir_len ? dirs : ".";
        if (dir_len == 0) dir_len = 1;
        if (dir_len + 1 + name_len < out_len) {
            memcpy(out, dir, dir_len);
            out[dir_len] = '/';
            memcpy(out + dir_len + 1, path, name_len + 1);
            struct stat info;
            if (stat(out, &info) == 0 && S_ISREG(info.st_mode) && access(out, X_OK) == 0) return 0;
        }
        if (!end) return ENOENT;
        dirs = end + 1;
    }
}

int ptyshim_spawn_session_sh_fallback(pid_t *pid, const char *path, char *const argv[],
                                      char *const envp[], const char *tty_path,
                                      const char *cwd, int search_path) {
    int err = ptyshim_spawn_session(pid, path, argv, envp, tty_path, cwd, search_path);
    if (err != ENOEXEC) return err;
    char program[PATH_MAX];
    if (resolve_program(path, search_path, program, sizeof program) != 0) return err;
    size_t count = 0;
    while (argv[count]) count++;
    char **shell_argv = calloc(count + 2, sizeof *shell_argv);
    if (shell_argv == NULL) return ENOMEM;
    shell_argv[0] = (char *)"/bin/sh";
    shell_argv[1] = program;
    for (size_t i = 1; i < count; i++) shell_argv[i + 1] = argv[i];
    err = ptyshim_spawn_session(pid, "/bin/sh", shell_argv, envp, tty_path, cwd, 0);
    free(shell_argv);
    return err;
}

static const int fault_signals[] = {SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS};
#define FAULT_SIGNAL_COUNT (sizeof fault_signals / sizeof fault_signals[0])
static struct sigaction previous_fault_actions[FAULT_SIGNAL_COUNT];
static volatile sig_atomic_t host_terminal_fd = -1;
static struct termios host_terminal_saved;

void ptyshim_register_host_terminal(int fd, const struct termios *saved) {
    host_terminal_fd = -1;
    if (fd >= 0 && saved != NULL) {
        host_terminal_saved = *saved;
        host_terminal_fd = fd;
    }
}

static void fault_handler(int sig, siginfo_t *info, void *context) {
    int saved_errno = errno;
    if (info != NULL && info->si_code <= 0 && info->si_pid != getpid()) {
        /* kill(1) or sigqueue from another process: a request to end. */
        kill(getpid(), SIGTERM);
        errno = saved_errno;
        return;
    }
    int fd = host_terminal_fd;
    if (fd >= 0) tcsetattr(fd, TCSANOW, &host_terminal_saved);
    size_t index = 0;
    while (index < FAULT_SIGNAL_COUNT && fault_signals[index] != sig) index++;
    if (index == FAULT_SIGNAL_COUNT) return;
    struct sigaction *previous = &previous_fault_actions[index];
    sigaction(sig, previous, NULL);
    if ((previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction != NULL) {
        previous->sa_sigaction(sig, info, context);
    } else if (!(previous->sa_flags & SA_SIGINFO) && previous->sa_handler != SIG_DFL &&
               previous->sa_handler != SIG_IGN) {
        previous->sa_handler(sig);
    } else if (info == NULL || info->si_code <= 0) {
        raise(sig);  /* raised by ourselves (abort): deliver it again, now by default */
    }
    /* A real fault returns and faults again, under the previous action. */
    errno = saved_errno;
}

int ptyshim_install_fault_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = fault_handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < FAULT_SIGNAL_COUNT; i++) {
        if (sigaction(fault_signals[i], &action, &previous_fault_actions[i]) != 0) return errno;
    }
    return 0;
}

int ptyshim_check_stdio(int fd, int for_writing) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return EBADF;
    if (flags & O_PATH) return EACCES;
    int mode = flags & O_ACCMODE;
    if (for_writing ? (mode != O_WRONLY && mode != O_RDWR) : (mode != O_RDONLY && mode != O_RDWR)) return EACCES;
    struct stat info;
    if (fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) return EISDIR;
    return 0;
}

int ptyshim_can_enter(const char *dir) {
    return faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) == 0 ? 0 : errno;
}

int ptyshim_tcsetattr_as_job(int fd, const struct termios *t) {
    sigset_t ttou, previous;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    int err = pthread_sigmask(SIG_UNBLOCK, &ttou, &previous);
    if (err != 0) return err;
    int result;
    do {
        result = tcsetattr(fd, TCSADRAIN, t);
    } while (result != 0 && errno == EINTR);
    err = result == 0 ? 0 : errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return err;
}

int ptyshim_read_as_job(int fd, void *buffer, size_t count, ssize_t *got) {
    sigset_t ttin, previous;
    sigemptyset(&ttin);
    sigaddset(&ttin, SIGTTIN);
    int err = pthread_sigmask(SIG_UNBLOCK, &ttin, &previous);
    if (err != 0) return err;
    ssize_t result;
    do {
        result = read(fd, buffer, count);
    } while (result < 0 && errno == EINTR);
    err = result < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    *got = result < 0 ? 0 : result;
    return err;
}

int ptyshim_pipe_capacity(int fd, int *capacity) {
    int size = fcntl(fd, F_GETPIPE_SZ);
    if (size < 0) return errno;
    *capacity = size;
    return 0;
}

int ptyshim_bytes_queued(int fd, int *count) {
    return ioctl(fd, FIONREAD, count) == 0 ? 0 : errno;
}

int ptyshim_set_pipe_size(int fd, int size) {
    return fcntl(fd, F_SETPIPE_SZ, size) >= 0 ? 0 : errno;
}

// --- kept sessions (issue 20) ---

#include <dirent.h>
#include <pthread.h>
#include <sys/sysmacros.h>

/* The child's Swift code runs on this thread, never on the thread fork(2)
   copied: the Swift runtime caches each thread's ID in thread-local
   storage for its PI-futex locks (metadata caches, once), and the copied
   thread keeps its parent's ID. A lock it then holds names a thread of
   another process: a waiter gets ESRCH, the holder's unlock EPERM, and
   both spin for ever (seen: a kept server at 200 % CPU, serving nothing).
   A thread created after the fork has a cache of its own. */
struct kept_server_start {
    void (*serve)(void *);
    void *context;
};

static void *run_kept_server(void *argument) {
    struct kept_server_start *start = argument;
    start->serve(start->context);
    _exit(125);  /* serve exits the process itself */
}

/* The server thread's stack: its code is the session's set-up and the
   supervisor's loop, no deeper than the relay threads' (256 KiB); a
   default 8 MiB stack would cost that much address space more than the
   process's first thread did, under a tight RLIMIT_AS. */
#define KEPT_SERVER_STACK (1024 * 1024)

int ptyshim_fork_kept_server(pid_t *pid, int report, void (*serve)(void *), void *context) {
    // fork(2) copies only the calling thread: with any other thread alive,
    // a lock it held would stay held in the child forever.
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return errno;
    int threads = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] != '.') threads++;
    }
    closedir(tasks);
    if (threads != 1) return EDEADLK;
    pid_t child = fork();
    if (child < 0) return errno;
    if (child > 0) {
        *pid = child;
        return 0;
    }
    if (setsid() < 0) _exit(125);
    /* The copied thread takes no signal (every one goes to the server's
       own threads, as their masks say) and only waits; the new thread
       starts with the mask the process had. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    pthread_attr_t attributes;
    pthread_t thread;
    struct kept_server_start start = {serve, context};
    int err = pthread_attr_init(&attributes);
    if (!err) err = pthread_attr_setsigmask_np(&attributes, &previous);
    if (!err) err = pthread_attr_setstacksize(&attributes, KEPT_SERVER_STACK);
    if (!err) err = pthread_create(&thread, &attributes, run_kept_server, &start);
    if (err != 0) {
        /* The front prints what the report pipe carries, as its own line. */
        dprintf(report, "ptyproxy: cannot start a kept session: %s\n", strerror(err));
        _exit(125);
    }
    pthread_attr_destroy(&attributes);
    pthread_join(thread, NULL);
    _exit(125);
}

int ptyshim_send_with_fds(int socket, const void *bytes, size_t count, const int *fds, int fd_count,
                          ssize_t *sent) {
    if (fd_count < 1 || fd_count > 4) return EINVAL;
    struct iovec vector = {(void *)bytes, count};
    union { struct cmsghdr header; char space[CMSG_SPACE(4 * sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {0};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = CMSG_SPACE((size_t)fd_count * sizeof(int));
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN((size_t)fd_count * sizeof(int));
    memcpy(CMSG_DATA(header), fds, (size_t)fd_count * sizeof(int));
    ssize_t result = sendmsg(socket, &message, MSG_NOSIGNAL);
    if (result < 0) return errno;
    *sent = result;
    return 0;
}

int ptyshim_recv_with_fds(int socket, void *bytes, size_t count, ssize_t *got,
                          int fds[2], int *fd_count, int *refused) {
    struct iovec vector = {bytes, count};
    // Room for more than two, so that extra descriptors are received (and
    // closed here) rather than silently left in flight.
    union { struct cmsghdr header; char space[CMSG_SPACE(8 * sizeof(int))]; } control;
    struct msghdr message = {0};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    *fd_count = 0;
    *refused = 0;
    ssize_t result = recvmsg(socket, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (result < 0) return errno;
    *got = result;
    if (message.msg_flags & MSG_CTRUNC) *refused = 1;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
            *refused = 1;
            continue;
        }
        size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int received[8];
        memcpy(received, CMSG_DATA(header), n * sizeof(int));
        for (size_t i = 0; i < n; i++) {
            if (*fd_count < 2) {
                fds[(*fd_count)++] = received[i];
            } else {
                close(received[i]);
                *refused = 1;
            }
        }
    }
    if (*refused) {
        for (int i = 0; i < *fd_count; i++) close(fds[i]);
        *fd_count = 0;
    }
    return 0;
}

/* The device numbers of the slave of the pty whose master is `master`
   (TIOCGPTPEER with O_PATH: the slave is not opened for I/O). */
static int pty_slave_identity(int master, dev_t *device, dev_t *rdev) {
    int peer = ioctl(master, TIOCGPTPEER, O_PATH | O_NOCTTY | O_CLOEXEC);
    if (peer < 0) return errno;
    struct stat info;
    int err = fstat(peer, &info) == 0 ? 0 : errno;
    close(peer);
    if (err != 0) return err;
    *device = info.st_dev;
    *rdev = info.st_rdev;
    return 0;
}

int ptyshim_check_attach_descriptor(int fd, int for_writing, int master) {
    int err = ptyshim_check_stdio(fd, for_writing);
    if (err != 0) return err;
    struct stat info;
    if (fstat(fd, &info) != 0) return errno;
    switch (info.st_mode & S_IFMT) {
    case S_IFIFO: case S_IFREG: case S_IFBLK: break;
    case S_IFSOCK: {
        struct ucred peer;
        socklen_t length = sizeof peer;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 && peer.pid == getpid()) return ELOOP;
        break;
    }
    case S_IFCHR: {
        dev_t own_device, own_rdev;
        if (pty_slave_identity(master, &own_device, &own_rdev) != 0) break;
        if (info.st_dev == own_device && info.st_rdev == own_rdev) return ELOOP;  /* our slave */
        /* Only a pty master (ptmx, 5:2) is asked for its slave: an ioctl
           number means something else to another driver. */
        dev_t device, rdev;
        if (major(info.st_rdev) == 5 && minor(info.st_rdev) == 2 && pty_slave_identity(fd, &device, &rdev) == 0
            && device == own_device && rdev == own_rdev)
            return ELOOP;  /* our master */
        break;
    }
    default: return EPROTOTYPE;  /* eventfd, signalfd, timerfd, epoll, pidfd, ... */
    }
    return 0;
}

void ptyshim_close_from(int lowest) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0) return;
#endif
    long limit = sysconf(_SC_OPEN_MAX);
    for (long fd = lowest; fd < (limit > 0 ? limit : 1024); fd++) close((int)fd);
}

static int reopen_nonblocking(int fd, int access, int *reopened) {
    struct stat info;
    if (fstat(fd, &info) != 0) return errno;
    if (!S_ISFIFO(info.st_mode) && !S_ISCHR(info.st_mode)) return EINVAL;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int opened = open(path, access | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (opened < 0) return errno;
    *reopened = opened;
    return 0;
}

int ptyshim_reopen_nonblocking_writer(int fd, int *reopened) {
    return reopen_nonblocking(fd, O_WRONLY, reopened);
}

int ptyshim_reopen_nonblocking_reader(int fd, int *reopened) {
    return reopen_nonblocking(fd, O_RDONLY, reopened);
}
