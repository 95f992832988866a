/* SPDX-License-Identifier: MIT
 * lines.exe N [CODE] - writes "line 1" .. "line N", one WriteFile per line,
 * then exits with CODE (default 0) at once: the last line is written just
 * before the exit, which is what a relay that stops reading too early loses. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10;
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    char line[32];
    DWORD done;
    for (int i = 1; i <= n; i++) {
        int len = snprintf(line, sizeof line, "line %d\r\n", i);
        WriteFile(out, line, (DWORD)len, &done, NULL);
    }
    return argc > 2 ? atoi(argv[2]) : 0;
}
