/* SPDX-License-Identifier: MIT
 * ctrlc.exe show - writes "ignore-ctrl-c=N" to its console (CONOUT$), N
 *     being 1 when this process ignores ^C (CTRL_C_EVENT), as a process
 *     started by one that called SetConsoleCtrlHandler(NULL, TRUE), or in a
 *     new process group, does; then waits for a key (CONIN$) and exits 0.
 * ctrlc.exe ignore CMDLINE... - ignores ^C itself, then runs CMDLINE with
 *     its own std handles and exits with its exit code (120: cannot start).
 *
 * The flag has no documented getter: it is the ConsoleFlags field of the
 * process parameters (the PEB), which SetConsoleCtrlHandler(NULL, ...)
 * sets and CreateProcess hands on, on Windows and Wine alike. */
#include <windows.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"  /* mingw's inline __readgsqword, used by NtCurrentTeb */
#include <winternl.h>
#include <stdio.h>
#include "cmdline.h"

/// RTL_USER_PROCESS_PARAMETERS.ConsoleFlags: after four ULONGs and the
/// console handle (x64).
static ULONG console_flags(void) {
    PEB *peb = NtCurrentTeb()->ProcessEnvironmentBlock;
    return *(ULONG *)((BYTE *)peb->ProcessParameters + 0x18);
}
#pragma GCC diagnostic pop

int wmain(int argc, wchar_t **argv) {
    if (argc >= 2 && wcscmp(argv[1], L"show") == 0) {
        HANDLE out = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                                 OPEN_EXISTING, 0, NULL);
        HANDLE in = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                                OPEN_EXISTING, 0, NULL);
        char line[64];
        DWORD n = (DWORD)snprintf(line, sizeof line, "ignore-ctrl-c=%lu\r\n", (unsigned long)(console_flags() & 1)), done;
        WriteFile(out, line, n, &done, NULL);
        char key;
        ReadFile(in, &key, 1, &done, NULL);
        return 0;
    }
    if (argc >= 3 && wcscmp(argv[1], L"ignore") == 0) {
        SetConsoleCtrlHandler(NULL, TRUE);
        wchar_t *rest = skip_argv0(skip_argv0(GetCommandLineW()));
        STARTUPINFOW si = {.cb = sizeof si};
        PROCESS_INFORMATION pi;
        DWORD code = 120;
        if (!CreateProcessW(NULL, rest, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) return 120;
        CloseHandle(pi.hThread);
        WaitForSingleObject(pi.hProcess, INFINITE);
        GetExitCodeProcess(pi.hProcess, &code);
        return (int)code;
    }
    fputs("usage: ctrlc.exe show | ctrlc.exe ignore CMDLINE...\n", stderr);
    return 2;
}
