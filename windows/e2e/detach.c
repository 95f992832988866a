/* SPDX-License-Identifier: MIT
 * detach.exe CMDLINE... - starts CMDLINE with DETACHED_PROCESS and returns at
 * once. The new process is outside the pseudo console (so conhost's death does
 * not take it along) but inside the proxy's job object, if there is one: the
 * only way to see under Wine whether the job object kills the whole tree. */
#include <windows.h>
#include "cmdline.h"

int wmain(void) {
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(NULL, skip_argv0(GetCommandLineW()), NULL, NULL, FALSE, DETACHED_PROCESS, NULL, NULL, &si,
                        &pi))
        return 120;
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return 0;
}
