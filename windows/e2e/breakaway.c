/* SPDX-License-Identifier: MIT
 * breakaway.exe CMDLINE... - starts CMDLINE detached and outside the job it
 * runs in (DETACHED_PROCESS | CREATE_BREAKAWAY_FROM_JOB), prints
 * "breakaway ok" or "breakaway error N" (N from GetLastError; 5 when the job
 * does not allow breaking away) and exits 0, or 120 on the error. */
#include <windows.h>
#include <stdio.h>
#include "cmdline.h"

int wmain(void) {
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(NULL, skip_argv0(GetCommandLineW()), NULL, NULL, FALSE,
                        DETACHED_PROCESS | CREATE_BREAKAWAY_FROM_JOB, NULL, NULL, &si, &pi)) {
        printf("breakaway error %lu\n", (unsigned long)GetLastError());
        fflush(stdout);
        return 120;
    }
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    printf("breakaway ok\n");
    fflush(stdout);
    return 0;
}
