/* SPDX-License-Identifier: MIT
 * squatter.exe ID HEX MS - a pipe server that is not a session: it creates
 * \\.\pipe\conpty-proxy-ctrl-ID itself and a session file for ID in
 * %LOCALAPPDATA%\ptyproxy (so that `list` asks it too), and answers every
 * request line with the bytes HEX (hexadecimal) and a newline, for MS
 * milliseconds. Prints "ready" once it listens. A client must print such a
 * reply escaped, and, on real Windows, refuse a server run by another user. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static DWORD WINAPI watchdog(void *ms) {
    Sleep((DWORD)(ULONG_PTR)ms);
    ExitProcess(0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) return 64;
    char name[256], reply[600], path[MAX_PATH + 100], line[512];
    size_t length = 0;
    for (const char *h = argv[2]; h[0] && h[1] && length < sizeof reply - 1; h += 2) {
        char byte[3] = { h[0], h[1], 0 };
        reply[length++] = (char)strtoul(byte, NULL, 16);
    }
    reply[length++] = '\n';
    snprintf(name, sizeof name, "\\\\.\\pipe\\conpty-proxy-ctrl-%s", argv[1]);
    HANDLE pipe = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
                                   PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, NULL);
    if (pipe == INVALID_HANDLE_VALUE) return 2;
    const char *base = getenv("LOCALAPPDATA");
    HANDLE file = INVALID_HANDLE_VALUE;
    if (base) {
        snprintf(path, sizeof path, "%s\\ptyproxy", base);
        CreateDirectoryA(path, NULL);
        snprintf(path, sizeof path, "%s\\ptyproxy\\%s", base, argv[1]);
        file = CreateFileA(path, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, CREATE_ALWAYS,
                           FILE_FLAG_DELETE_ON_CLOSE, NULL);
    }
    CreateThread(NULL, 0, watchdog, (void *)(ULONG_PTR)atoi(argv[3]), 0, NULL);
    puts("ready");
    fflush(stdout);
    for (;;) {
        if (!ConnectNamedPipe(pipe, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) continue;
        DWORD got = 0, n = 0;
        while (got < sizeof line && ReadFile(pipe, line + got, 1, &n, NULL) && n == 1 && line[got] != '\n') got++;
        WriteFile(pipe, reply, (DWORD)length, &n, NULL);
        FlushFileBuffers(pipe);
        DisconnectNamedPipe(pipe);
    }
    (void)file;
}
