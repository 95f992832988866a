/* SPDX-License-Identifier: MIT
 * sleeper.exe SECONDS [MARK...] - sleeps, then exits 0. The marks only make
 * the process findable in Linux ps (Wine shows the Windows command line). */
#include <windows.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    Sleep((DWORD)(argc > 1 ? atoi(argv[1]) : 30) * 1000);
    return 0;
}
