// SPDX-License-Identifier: MIT
/*
 * c-relay: the smallest honest pty relay, written for the benchmark harness
 * as the floor a relay can reach on this machine.
 *
 *     c-relay CMD [ARG...]
 *
 * forkpty() (80x24, the kernel's default termios), then one poll() loop on
 * stdin and the pty master with a single 128 KiB buffer: whatever is read is
 * written out completely (blocking writes) before the next poll.  stdin EOF
 * stops reading stdin (the child keeps running).  When the master read fails
 * with EIO (Linux: every slave fd is closed) or returns 0 (other systems),
 * the output has been drained: reap the child and exit with its status,
 * 128+N if it was killed by signal N.
 *
 * Build: cc -O2 -o c-relay c-relay.c -lutil
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[128 * 1024];

/* Write all of buf[0..n) to fd; 0 on success, -1 on error. */
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

static int child_status(pid_t pid) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return 125;
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 125;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: c-relay CMD [ARG...]\n");
        return 125;
    }
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0) {
        perror("c-relay: forkpty");
        return 125;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "c-relay: %s: %s\n", argv[1], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }

    struct pollfd fds[2] = {
        {.fd = STDIN_FILENO, .events = POLLIN},
        {.fd = master, .events = POLLIN},
    };
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("c-relay: poll");
            return 125;
        }
        if (fds[1].revents) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) /* EIO: all slave fds closed, output drained */
                break;
            if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
                break; /* host gone */
        }
        if (fds[0].revents) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                fds[0].fd = -1; /* stdin EOF: stop polling it */
            else if (write_all(master, buf, (size_t)n) < 0)
                break;
        }
    }
    close(master);
    return child_status(pid);
}
