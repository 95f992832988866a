/* SPDX-License-Identifier: MIT
 * ctlcli.exe ID MESSAGE [reply [DELAY_MS]] - a control client for \\.\pipe\conpty-proxy-ctrl-ID.
 *
 * Without "reply" it is conpty_proxy.exe's own resize client, byte for byte:
 * connect, write MESSAGE (e.g. "120 40": no newline, no NUL) and close without
 * reading. With "reply" it writes MESSAGE and "\n", prints the reply line on
 * stdout, the time from connecting to the reply on stderr ("elapsed_ms N":
 * a round trip without Wine's process start-up in it), and exits 0 if the
 * reply starts "ok". With DELAY_MS it waits that long before reading (a
 * client that reads its reply late); an empty MESSAGE sends nothing at all
 * (a silent client). Exit 2 when the pipe is missing, 3 when it stays busy
 * for 5 s, 4 when the write or read fails. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3)
        return 64;
    char name[256], buf[512];
    DWORD n = 0, got = 0;
    snprintf(name, sizeof name, "\\\\.\\pipe\\conpty-proxy-ctrl-%s", argv[1]);
    int want_reply = argc > 3 && strcmp(argv[3], "reply") == 0;
    LARGE_INTEGER freq, t0, t1;
    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t0);
    HANDLE h = INVALID_HANDLE_VALUE;
    DWORD deadline = GetTickCount() + 5000;
    for (;;) {
        h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h != INVALID_HANDLE_VALUE)
            break;
        DWORD e = GetLastError();
        if (e != ERROR_PIPE_BUSY) {
            fprintf(stderr, "ctlcli: CreateFile %s: error %lu\n", name, e);
            return 2;
        }
        if ((LONG)(GetTickCount() - deadline) >= 0)
            return 3;
        WaitNamedPipeA(name, 500);
    }
    snprintf(buf, sizeof buf, "%s%s", argv[2], want_reply && argv[2][0] ? "\n" : "");
    if (buf[0] && (!WriteFile(h, buf, (DWORD)strlen(buf), &n, NULL) || n != strlen(buf))) {
        fprintf(stderr, "ctlcli: WriteFile: error %lu\n", GetLastError());
        return 4;
    }
    if (!want_reply) {
        CloseHandle(h);
        return 0;
    }
    if (argc > 4)
        Sleep((DWORD)atoi(argv[4]));
    while (got < sizeof buf - 1 && ReadFile(h, buf + got, 1, &n, NULL) && n == 1) {
        if (buf[got++] == '\n')
            break;
    }
    QueryPerformanceCounter(&t1);
    buf[got] = 0;
    CloseHandle(h);
    fputs(buf, stdout);
    fprintf(stderr, "elapsed_ms %.1f\n", (double)(t1.QuadPart - t0.QuadPart) * 1000.0 / (double)freq.QuadPart);
    return strncmp(buf, "ok", 2) == 0 ? 0 : 4;
}
