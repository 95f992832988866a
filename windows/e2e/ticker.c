/* SPDX-License-Identifier: MIT
 * ticker.exe INTERVAL_MS [COUNT] - writes "tick 1", "tick 2", ... one line
 * per WriteFile every INTERVAL_MS (0: as fast as it can), COUNT lines (0 or
 * none: until killed), then "ticks done". A numbered stream that shows any
 * line lost or doubled between the hosts of a kept session. */
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

int main(int argc, char **argv) {
    DWORD interval = argc > 1 ? (DWORD)atoi(argv[1]) : 10;
    long long count = argc > 2 ? atoll(argv[2]) : 0;
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    char line[48];
    DWORD done;
    for (long long i = 1; count == 0 || i <= count; i++) {
        int length = snprintf(line, sizeof line, "tick %lld\r\n", i);
        if (!WriteFile(out, line, (DWORD)length, &done, NULL)) return 1;
        if (interval) Sleep(interval);
    }
    WriteFile(out, "ticks done\r\n", 12, &done, NULL);
    return 0;
}
