/* SPDX-License-Identifier: MIT
 * rawattach.exe ID MODE - an `attach` request made by hand on
 * \\.\pipe\conpty-proxy-ctrl-ID, naming handles of this process that no
 * host should pass:
 *   swapped       its stdout as the host's stdin and its stdin as the
 *                 host's stdout (each the wrong way round);
 *   event         an event as the host's stdout (no stream at all);
 *   own-pipe-out  this very connection to the session's control pipe as
 *                 the host's stdout (the session would write its program's
 *                 output into its own control pipe);
 *   own-pipe-in   that connection as the host's stdin.
 * Prints the reply line; exit 0 if it starts "error", 1 otherwise. */
#include <windows.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char name[256], line[128], reply[512];
    DWORD done = 0, got = 0;
    if (argc < 3) return 2;
    snprintf(name, sizeof name, "\\\\.\\pipe\\conpty-proxy-ctrl-%s", argv[1]);
    HANDLE pipe = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (pipe == INVALID_HANDLE_VALUE) return 2;
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE), out = GetStdHandle(STD_OUTPUT_HANDLE);
    if (strcmp(argv[2], "swapped") == 0) {
        HANDLE t = in;
        in = out;
        out = t;
    } else if (strcmp(argv[2], "event") == 0) {
        out = CreateEventW(NULL, TRUE, FALSE, NULL);
    } else if (strcmp(argv[2], "own-pipe-out") == 0) {
        out = pipe;
    } else if (strcmp(argv[2], "own-pipe-in") == 0) {
        in = pipe;
    } else {
        return 2;
    }
    int n = snprintf(line, sizeof line, "attach stdio %lu %lu\n", (unsigned long)(ULONG_PTR)in,
                     (unsigned long)(ULONG_PTR)out);
    if (!WriteFile(pipe, line, (DWORD)n, &done, NULL)) return 4;
    while (got < sizeof reply - 1) {
        DWORD count = 0;
        if (!ReadFile(pipe, reply + got, 1, &count, NULL) || count == 0) break;
        if (reply[got] == '\n') break;
        got += count;
    }
    reply[got] = 0;
    printf("%s\n", reply);
    return strncmp(reply, "error", 5) == 0 ? 0 : 1;
}
