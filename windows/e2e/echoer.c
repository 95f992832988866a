/* SPDX-License-Identifier: MIT
 * echoer.exe - the far end of a keystroke round trip: switches the console
 * input to raw (no line editing, no echo, no ^C processing), prints READY,
 * then writes back every byte it reads as "<byte>" at the start of the line
 * until it reads 'Q'. Writing "\r" first keeps the cursor in one cell, so the
 * screen never scrolls and conhost's output stays one short update per key. */
#include <windows.h>

int main(void) {
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE), out = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD n;
    char c, reply[2] = {'\r', 0};
    if (!SetConsoleMode(in, 0))
        return 121;
    WriteFile(out, "READY\r\n", 7, &n, NULL);
    while (ReadFile(in, &c, 1, &n, NULL) && n == 1 && c != 'Q') {
        reply[1] = c;
        WriteFile(out, reply, 2, &n, NULL);
    }
    return 0;
}
