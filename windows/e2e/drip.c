/* SPDX-License-Identifier: MIT
 * drip.exe ID COUNT INTERVAL_MS DURATION_MS [reconnect] - slow control
 * clients for \\.\pipe\conpty-proxy-ctrl-ID: COUNT connections, each sending
 * one byte ('x', never a newline) every INTERVAL_MS for DURATION_MS
 * (INTERVAL_MS 0: silent clients, which send nothing at all). With
 * "reconnect", a connection that the server ends is made again at once, so
 * the pressure stays on. Prints "ready N" once each of the COUNT clients
 * has tried to connect, then one line per connection the server ended:
 * "cut MS REPLY" (MS from connecting, which is when the first byte goes,
 * to the end; REPLY what it read, "-" for nothing). Exit 0. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char name[256];
static DWORD interval, duration, start;
static int reconnect;
static CRITICAL_SECTION print_lock;
static volatile LONG tried;

static HANDLE connect_pipe(void) {
    for (int i = 0; i < 20; i++) {
        HANDLE h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h != INVALID_HANDLE_VALUE) return h;
        if (GetLastError() != ERROR_PIPE_BUSY) return INVALID_HANDLE_VALUE;
        WaitNamedPipeA(name, 100);
    }
    return INVALID_HANDLE_VALUE;
}

/* Reads what the server sent (it ended the connection); "-" when nothing. */
static void take_reply(HANDLE h, char *reply, size_t capacity) {
    DWORD available = 0, got = 0;
    strcpy(reply, "-");
    if (PeekNamedPipe(h, NULL, 0, NULL, &available, NULL) && available > 0 &&
        ReadFile(h, reply, (DWORD)(capacity - 1), &got, NULL)) {
        reply[got] = 0;
        char *newline = strchr(reply, '\n');
        if (newline) *newline = 0;
    }
}

static DWORD WINAPI one_client(void *unused) {
    (void)unused;
    int first = 1;
    while (GetTickCount() - start < duration) {
        HANDLE h = connect_pipe();
        if (first) { InterlockedIncrement(&tried); first = 0; }
        if (h == INVALID_HANDLE_VALUE) { Sleep(50); if (!reconnect) return 0; continue; }
        DWORD began = GetTickCount(), written = 0, available = 0;
        char reply[300];
        for (;;) {
            if (GetTickCount() - start >= duration) { CloseHandle(h); return 0; }
            int ended = !PeekNamedPipe(h, NULL, 0, NULL, &available, NULL) || available > 0 ||
                        (interval > 0 && !WriteFile(h, "x", 1, &written, NULL));
            if (ended) break;
            Sleep(interval > 0 ? interval : 50);
        }
        take_reply(h, reply, sizeof reply);
        CloseHandle(h);
        EnterCriticalSection(&print_lock);
        printf("cut %lu %s\n", (unsigned long)(GetTickCount() - began), reply);
        fflush(stdout);
        LeaveCriticalSection(&print_lock);
        if (!reconnect) return 0;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) return 64;
    snprintf(name, sizeof name, "\\\\.\\pipe\\conpty-proxy-ctrl-%s", argv[1]);
    int count = atoi(argv[2]);
    interval = (DWORD)atoi(argv[3]);
    duration = (DWORD)atoi(argv[4]);
    reconnect = argc > 5 && strcmp(argv[5], "reconnect") == 0;
    start = GetTickCount();
    InitializeCriticalSection(&print_lock);
    HANDLE threads[64];
    if (count < 1 || count > 64) return 64;
    for (int i = 0; i < count; i++) threads[i] = CreateThread(NULL, 0, one_client, NULL, 0, NULL);
    while (tried < count && GetTickCount() - start < duration) Sleep(10);
    EnterCriticalSection(&print_lock);
    printf("ready %ld\n", (long)tried);
    fflush(stdout);
    LeaveCriticalSection(&print_lock);
    WaitForMultipleObjects((DWORD)count, threads, TRUE, duration + 10000);
    return 0;
}
