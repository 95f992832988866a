// SPDX-License-Identifier: MIT
/*
 * benchtool: the child-side workloads of the benchmark harness (bench.py).
 * They run *inside* the pty of every contender, so they are small C
 * programs with no start-up cost worth mentioning and no shell quoting.
 *
 *   benchtool gen BYTES RUSAGE_FILE
 *       Write BYTES (a multiple of 64) of text to stdout: lines of 63
 *       printable characters and '\n'.  At the end write this process's own
 *       rusage ("utime_us stime_us maxrss_kib") to RUSAGE_FILE, so that the
 *       harness can subtract the workload's CPU from the relay's process tree.
 *
 *   benchtool rawecho
 *       Put the terminal on stdin in raw mode without echo (like
 *       `stty raw -echo`), print "READY", then copy stdin to stdout the way
 *       cat does (read up to 128 KiB, write it all).  A 0x04 byte ends it
 *       (exit 0); in raw mode the line discipline does not turn ^D into EOF.
 *
 *   benchtool rusage FILE CMD [ARG...]
 *       fork, exec CMD, wait4 for it, write its rusage ("utime_us stime_us
 *       maxrss_kib") to FILE and exit with its status (128+N if killed by
 *       signal N).  As a child subreaper it also reaps every descendant that
 *       CMD left behind unreaped (socat -t0 may exit before it reaped its
 *       child) and appends their summed CPU ("utime_us stime_us"), so that
 *       the CPU of the whole tree is known either way.  The harness starts relays through this small program in
 *       the throughput run because at exec the kernel folds the replaced
 *       image's peak RSS into ru_maxrss: a relay posix_spawn'ed (vfork) by
 *       the Python harness would report the harness's ~20 MB.  CMD dies with
 *       this process (PR_SET_PDEATHSIG).
 *
 *   benchtool winch FIFO
 *       Open FIFO for writing, write "SOCKET <$PTYPROXY_SOCKET>\n" and
 *       "READY COLS ROWS\n"; then on every SIGWINCH write "COLS ROWS\n" as read
 *       back with TIOCGWINSZ.  Exits 0 on stdin EOF or on a 'q' byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_rusage(const char *path, const struct rusage *ru) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror("benchtool: rusage file");
        return -1;
    }
    fprintf(f, "%lld %lld %ld\n",
            (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec,
            (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec,
            ru->ru_maxrss);
    return fclose(f);
}

static int rusage_of(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: benchtool rusage FILE CMD [ARG...]\n");
        return 2;
    }
    pid_t parent = getpid();
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t pid = fork();
    if (pid < 0) {
        perror("benchtool rusage: fork");
        return 125;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(125);
        execvp(argv[3], argv + 3);
        fprintf(stderr, "benchtool rusage: %s: %s\n", argv[3], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    signal(SIGINT, SIG_IGN);
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("benchtool rusage: wait4");
            return 125;
        }
    }
    /* Orphaned descendants of CMD are ours now: wait for them all. */
    long long orphan_us[2] = {0, 0};
    for (;;) {
        int st2;
        struct rusage ru2;
        pid_t r = wait4(-1, &st2, 0, &ru2);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD */
        }
        orphan_us[0] += (long long)ru2.ru_utime.tv_sec * 1000000 + ru2.ru_utime.tv_usec;
        orphan_us[1] += (long long)ru2.ru_stime.tv_sec * 1000000 + ru2.ru_stime.tv_usec;
    }
    FILE *f = fopen(argv[2], "w");
    if (f == NULL) {
        perror("benchtool rusage: rusage file");
        return 125;
    }
    fprintf(f, "%lld %lld %ld %lld %lld\n",
            (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
            ru.ru_maxrss, orphan_us[0], orphan_us[1]);
    if (fclose(f) != 0)
        return 125;
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static int gen(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: benchtool gen BYTES RUSAGE_FILE\n");
        return 2;
    }
    long long total = atoll(argv[2]);
    if (total < 0 || total % 64 != 0) {
        fprintf(stderr, "benchtool gen: BYTES must be a multiple of 64\n");
        return 2;
    }
    static char block[64 * 1024];
    for (size_t line = 0; line < sizeof block / 64; line++) {
        char *l = block + line * 64;
        for (int i = 0; i < 63; i++)
            l[i] = (char)('!' + (line * 7 + (size_t)i) % 94);
        l[63] = '\n';
    }
    long long left = total;
    while (left > 0) {
        size_t n = left < (long long)sizeof block ? (size_t)left : sizeof block;
        if (write_all(STDOUT_FILENO, block, n) < 0) {
            perror("benchtool gen: write");
            return 1;
        }
        left -= (long long)n;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return write_rusage(argv[3], &ru) < 0 ? 1 : 0;
}

static int rawecho(void) {
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &t) == 0) {
        cfmakeraw(&t); /* also clears ECHO */
        tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    if (write_all(STDOUT_FILENO, "READY", 5) < 0)
        return 1;
    static char buf[128 * 1024];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? 0 : 1;
        char *eot = memchr(buf, 0x04, (size_t)n);
        size_t len = eot ? (size_t)(eot - buf) : (size_t)n;
        if (write_all(STDOUT_FILENO, buf, len) < 0)
            return 1;
        if (eot)
            return 0;
    }
}

static volatile sig_atomic_t winched;
static void on_winch(int sig) {
    (void)sig;
    winched = 1;
}

static int report_size(int fd, const char *prefix) {
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
        return -1;
    char line[64];
    int n = snprintf(line, sizeof line, "%s%u %u\n", prefix, ws.ws_col, ws.ws_row);
    return write_all(fd, line, (size_t)n);
}

static int winch(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: benchtool winch FIFO\n");
        return 2;
    }
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGWINCH);
    sigprocmask(SIG_BLOCK, &block, &orig);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);

    int out = open(argv[2], O_WRONLY | O_CLOEXEC);
    if (out < 0) {
        perror("benchtool winch: open fifo");
        return 1;
    }
    const char *sock = getenv("PTYPROXY_SOCKET");
    char line[4200];
    int n = snprintf(line, sizeof line, "SOCKET %s\n", sock ? sock : "");
    write_all(out, line, (size_t)n);
    if (report_size(out, "READY ") < 0)
        return 1;

    sigset_t waitmask = orig;
    sigdelset(&waitmask, SIGWINCH);
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    for (;;) {
        int r = ppoll(&pfd, 1, NULL, &waitmask);
        if (winched) {
            winched = 0;
            if (report_size(out, "") < 0)
                return 1;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (pfd.revents) {
            char c[256];
            ssize_t k = read(STDIN_FILENO, c, sizeof c);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0 || memchr(c, 'q', (size_t)k))
                return 0;
        }
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "gen") == 0)
        return gen(argc, argv);
    if (argc == 2 && strcmp(argv[1], "rawecho") == 0)
        return rawecho();
    if (argc >= 2 && strcmp(argv[1], "winch") == 0)
        return winch(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "rusage") == 0)
        return rusage_of(argc, argv);
    fprintf(stderr, "usage: benchtool gen BYTES RUSAGE_FILE | rawecho | winch FIFO | rusage FILE CMD...\n");
    return 2;
}
