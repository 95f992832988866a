/* SPDX-License-Identifier: MIT
 * floor.exe COLS ROWS CMDLINE - the smallest honest ConPTY relay, written for
 * the Windows benchmark as the floor a relay can reach under the same conhost.
 *
 * Two anonymous pipes and a pseudo console (flags 0); CMDLINE is started with
 * PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE and NULL std handles, as ptyproxy.exe
 * does. One thread per direction, each with one buffer and blocking I/O:
 * stdin -> console input (8 KiB reads), console output -> stdout (128 KiB
 * reads, each written out completely before the next read). The main thread
 * waits for the child, lets the output go quiet for 100 ms (at most 2 s),
 * closes the pseudo console and exits with the child's code.
 *
 * No job object, no control pipe, no hang-up handling: it is a yardstick, not
 * a tool. Build: x86_64-w64-mingw32-gcc -municode -D_WIN32_WINNT=0x0A00 -DNTDDI_VERSION=0x0A000006 (the ConPTY API). */
#include <windows.h>
#include <stdlib.h>

static HANDLE console_in, console_out, host_in, host_out;
static volatile LONG last_output_tick;
static char in_buf[8 * 1024], out_buf[128 * 1024];

static DWORD WINAPI input_thread(LPVOID unused) {
    (void)unused;
    DWORD n, w;
    while (ReadFile(host_in, in_buf, sizeof in_buf, &n, NULL) && n > 0) {
        if (!WriteFile(console_in, in_buf, n, &w, NULL))
            break;
    }
    return 0; /* EOF ends the input path only; the console input stays open */
}

static DWORD WINAPI output_thread(LPVOID unused) {
    (void)unused;
    DWORD n, w;
    while (ReadFile(console_out, out_buf, sizeof out_buf, &n, NULL) && n > 0) {
        InterlockedExchange(&last_output_tick, (LONG)GetTickCount());
        for (DWORD off = 0; off < n; off += w) {
            if (!WriteFile(host_out, out_buf + off, n - off, &w, NULL) || w == 0)
                ExitProcess(129); /* host gone */
        }
    }
    return 0;
}

int wmain(int argc, wchar_t **argv) {
    if (argc != 4)
        return 125;
    COORD size = {(SHORT)_wtoi(argv[1]), (SHORT)_wtoi(argv[2])};
    HANDLE pty_in, pty_out;
    HPCON pc;
    host_in = GetStdHandle(STD_INPUT_HANDLE);
    host_out = GetStdHandle(STD_OUTPUT_HANDLE);
    if (!CreatePipe(&pty_in, &console_in, NULL, 0) || !CreatePipe(&console_out, &pty_out, NULL, 128 * 1024))
        return 125;
    if (FAILED(CreatePseudoConsole(size, pty_in, pty_out, 0, &pc)))
        return 125;
    CloseHandle(pty_in);
    CloseHandle(pty_out);

    SIZE_T attr_size = 0;
    InitializeProcThreadAttributeList(NULL, 1, 0, &attr_size);
    STARTUPINFOEXW si = {0};
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.lpAttributeList = malloc(attr_size);
    if (!si.lpAttributeList || !InitializeProcThreadAttributeList(si.lpAttributeList, 1, 0, &attr_size) ||
        !UpdateProcThreadAttribute(si.lpAttributeList, 0, PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE, pc, sizeof pc, NULL,
                                   NULL))
        return 125;
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(NULL, argv[3], NULL, NULL, FALSE, EXTENDED_STARTUPINFO_PRESENT, NULL, NULL,
                        &si.StartupInfo, &pi))
        return GetLastError() == ERROR_FILE_NOT_FOUND ? 127 : 126;
    CloseHandle(pi.hThread);
    HANDLE out_thread = CreateThread(NULL, 0, output_thread, NULL, 0, NULL);
    CloseHandle(CreateThread(NULL, 0, input_thread, NULL, 0, NULL));

    DWORD code = 125;
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    InterlockedExchange(&last_output_tick, (LONG)GetTickCount());
    for (DWORD start = GetTickCount(); GetTickCount() - start < 2000;) {
        if (GetTickCount() - (DWORD)InterlockedCompareExchange(&last_output_tick, 0, 0) >= 100)
            break;
        Sleep(10);
    }
    ClosePseudoConsole(pc); /* the output thread keeps reading meanwhile */
    WaitForSingleObject(out_thread, 2000);
    ExitProcess(code);
}
