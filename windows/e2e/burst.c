/* SPDX-License-Identifier: MIT
 * burst.exe ID MESSAGE COUNT - conpty_proxy.exe's resize client COUNT times
 * in a row, as early as it can: waits (up to 20 s) for
 * \\.\pipe\conpty-proxy-ctrl-ID to appear, then COUNT times connects, writes
 * MESSAGE (no newline) and closes without reading. Started together with
 * `ptyproxy new`, its first requests land while the session is still
 * starting. Once one has been sent, a pipe that is gone ends the run (the
 * session ended: a storm of requests against its end). Prints "sent N";
 * exit 0 when all COUNT were written. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 4) return 64;
    char name[256];
    snprintf(name, sizeof name, "\\\\.\\pipe\\conpty-proxy-ctrl-%s", argv[1]);
    int count = atoi(argv[3]), sent = 0;
    DWORD length = (DWORD)strlen(argv[2]), start = GetTickCount();
    while (sent < count && GetTickCount() - start < 20000) {
        HANDLE h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE) {
            DWORD error = GetLastError();
            if (error == ERROR_PIPE_BUSY) WaitNamedPipeA(name, 100);
            else if (sent > 0) break;
            else Sleep(1);
            continue;
        }
        DWORD written = 0;
        if (WriteFile(h, argv[2], length, &written, NULL) && written == length) sent++;
        CloseHandle(h);
    }
    printf("sent %d\n", sent);
    return sent == count ? 0 : 1;
}
