/* SPDX-License-Identifier: MIT
 * incount.exe N - switches the console input to raw, prints READY, reads
 * until it has N bytes, then prints "got N sum S" (S: the sum of the bytes
 * mod 2^32) and exits 0: whether a large paste arrives whole and in order
 * is then one line to compare. Exit 3 if the input ends early. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long want = argc > 1 ? atol(argv[1]) : 0, got = 0;
    unsigned long sum = 0, weight = 0;
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    unsigned char buf[4096];
    DWORD n;
    if (!SetConsoleMode(in, 0))
        return 121;
    printf("READY\n");
    fflush(stdout);
    while (got < want) {
        DWORD ask = (DWORD)(want - got < (long)sizeof buf ? want - got : (long)sizeof buf);
        if (!ReadFile(in, buf, ask, &n, NULL) || n == 0)
            return 3;
        for (DWORD i = 0; i < n; i++)
            sum += buf[i] * (++weight % 7 + 1); /* order matters: a swap changes the sum */
        got += (long)n;
    }
    printf("got %ld sum %lu\n", got, sum);
    fflush(stdout);
    return 0;
}
