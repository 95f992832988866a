/* SPDX-License-Identifier: MIT
 * conhelper.exe CMDLINE... - runs CMDLINE on the pseudo console's CONIN$ and
 * CONOUT$ and exits with its exit code.
 *
 * Why: ptyproxy.exe starts its child the correct Windows way (STARTF_USESTDHANDLES
 * with NULL handles, so the console supplies them). Wine 8 instead leaves the
 * child with NULL std handles, so cmd.exe would print nothing. This helper runs
 * inside the pseudo console, opens the console itself and passes it on as
 * inheritable std handles. Exit 120 when it cannot start CMDLINE (a code no
 * test expects, so a broken helper cannot pass for 126/127 of ptyproxy). */
#include <windows.h>
#include "cmdline.h"

int wmain(void) {
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE in = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                            OPEN_EXISTING, 0, NULL);
    HANDLE out = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                             OPEN_EXISTING, 0, NULL);
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    DWORD code = 120;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in;
    si.hStdOutput = out;
    si.hStdError = out;
    if (!CreateProcessW(NULL, skip_argv0(GetCommandLineW()), NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        return 120;
    CloseHandle(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}
