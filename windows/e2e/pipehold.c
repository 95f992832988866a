/* SPDX-License-Identifier: MIT
 * pipehold.exe ID MS - a control client that connects and says nothing for MS
 * milliseconds, then closes: the client that froze conpty_proxy.exe's output.
 * Prints "held" once connected, so the test knows when the hold began. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 3)
        return 64;
    char name[256];
    snprintf(name, sizeof name, "\\\\.\\pipe\\conpty-proxy-ctrl-%s", argv[1]);
    HANDLE h = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return 2;
    fputs("held\n", stdout);
    fflush(stdout);
    Sleep((DWORD)atoi(argv[2]));
    CloseHandle(h);
    return 0;
}
