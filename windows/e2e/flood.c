/* SPDX-License-Identifier: MIT
 * flood.exe KIB - a console writer fast enough to measure a relay: writes
 * FLOOD-BEGIN, then KIB kibibytes of 80-column text in 8000-byte blocks, then
 * FLOOD-END. (cmd.exe's echo loop moves ~37 KB/s under Wine: too slow to
 * measure anything but cmd.) */
#include <windows.h>
#include <stdlib.h>
#include <string.h>

static void put(HANDLE out, const char *p, DWORD n) {
    DWORD done;
    while (n > 0 && WriteFile(out, p, n, &done, NULL) && done > 0) {
        p += done;
        n -= done;
    }
}

int main(int argc, char **argv) {
    long long total = (long long)(argc > 1 ? atoi(argv[1]) : 1024) * 1024, sent = 0;
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    static char block[8000];
    for (int i = 0; i < 100; i++) {
        for (int j = 0; j < 78; j++)
            block[i * 80 + j] = (char)(33 + (i + j) % 90);
        block[i * 80 + 78] = '\r';
        block[i * 80 + 79] = '\n';
    }
    put(out, "FLOOD-BEGIN\r\n", 13);
    while (sent < total) {
        put(out, block, sizeof block);
        sent += sizeof block;
    }
    put(out, "FLOOD-END\r\n", 11);
    return 0;
}
