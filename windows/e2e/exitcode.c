/* SPDX-License-Identifier: MIT
 * exitcode.exe CMDLINE... - runs CMDLINE with this process's std handles,
 * waits for it and prints "exit-code N" with all 32 bits of its exit code
 * (GetExitCodeProcess), as a Windows parent such as Emacs sees it; a Linux
 * parent of Wine sees only the low 8 bits. Exits 0, or 120 when CMDLINE
 * cannot be started. */
#include <windows.h>
#include <stdio.h>
#include "cmdline.h"

int wmain(void) {
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    DWORD code = 0;
    if (!CreateProcessW(NULL, skip_argv0(GetCommandLineW()), NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        return 120;
    CloseHandle(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    if (!GetExitCodeProcess(pi.hProcess, &code)) return 120;
    printf("exit-code %lu\n", (unsigned long)code);
    fflush(stdout);
    return 0;
}
