/* SPDX-License-Identifier: MIT
 * ctlline.exe ID HEX [open] - one request line, given as hex so that any byte
 * can be sent (NUL, control bytes, bytes that are not UTF-8, long lines), to
 * \\.\pipe\conpty-proxy-ctrl-ID. Writes the bytes and "\n" (with "open", no
 * "\n": the line stays unfinished), prints the reply line as it arrived on
 * stdout, and exits 0 when a whole line came back.
 * Exit 2 when the pipe is missing, 3 when it stays busy for 5 s, 4 when the
 * write or read fails or the reply is not one line, 64 for bad arguments.
 * Used by test_conformance_wine.py to run docs/conformance/control.tsv. */
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <string.h>

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int main(int argc, char **argv) {
    static char line[4096], reply[4096];
    if (argc < 3 || argc > 4 || strlen(argv[2]) % 2 || strlen(argv[2]) / 2 >= sizeof line - 1) return 64;
    int unfinished = argc == 4 && strcmp(argv[3], "open") == 0;
    size_t length = strlen(argv[2]) / 2;
    for (size_t i = 0; i < length; i++) {
        int high = hex(argv[2][2 * i]), low = hex(argv[2][2 * i + 1]);
        if (high < 0 || low < 0) return 64;
        line[i] = (char)(high * 16 + low);
    }
    if (!unfinished) line[length++] = '\n';
    char name[256];
    snprintf(name, sizeof name, "\\\\.\\pipe\\conpty-proxy-ctrl-%s", argv[1]);
    HANDLE h = INVALID_HANDLE_VALUE;
    DWORD deadline = GetTickCount() + 5000, n = 0;
    for (;;) {
        h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h != INVALID_HANDLE_VALUE) break;
        DWORD e = GetLastError();
        if (e != ERROR_PIPE_BUSY) {
            fprintf(stderr, "ctlline: CreateFile %s: error %lu\n", name, e);
            return 2;
        }
        if ((LONG)(GetTickCount() - deadline) >= 0) return 3;
        WaitNamedPipeA(name, 500);
    }
    // A session that refuses a line may answer before reading all of it:
    // a failed write is reported, and the reply read anyway.
    if (!WriteFile(h, line, (DWORD)length, &n, NULL) || n != length)
        fprintf(stderr, "ctlline: WriteFile: error %lu\n", GetLastError());
    size_t got = 0;
    while (got < sizeof reply - 1 && ReadFile(h, reply + got, 1, &n, NULL) && n == 1)
        if (reply[got++] == '\n') break;
    CloseHandle(h);
    _setmode(_fileno(stdout), _O_BINARY);  // the reply as it came, without a CR added before its LF
    fwrite(reply, 1, got, stdout);
    return got && reply[got - 1] == '\n' ? 0 : 4;
}
