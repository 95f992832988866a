/* SPDX-License-Identifier: MIT
 * conpty_stub.c - a stand-in conpty.dll for test_conpty_wine.py and the
 * Windows benchmark. Its CreatePseudoConsole, ResizePseudoConsole and
 * ClosePseudoConsole forward to kernel32's, after appending one line
 * ("create COLS ROWS", "resize COLS ROWS", "close") to conpty_stub.log in
 * the DLL's own directory: the mark that this DLL, not the system's ConPTY,
 * served the session. Built with -DBROKEN it lacks ResizePseudoConsole, as a
 * DLL of the wrong kind would.
 *
 * Built for Windows 7 headers (_WIN32_WINNT 0x0601) so that windows.h does
 * not declare the three functions this file defines and exports. */
#include <windows.h>
#include <stdio.h>

typedef void *HPCON;
typedef HRESULT (WINAPI *create_function)(COORD, HANDLE, HANDLE, DWORD, HPCON *);
typedef HRESULT (WINAPI *resize_function)(HPCON, COORD);
typedef void (WINAPI *close_function)(HPCON);

static HMODULE self;

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) self = instance;
    return TRUE;
}

static void mark(const char *line) {
    wchar_t path[MAX_PATH + 32];
    DWORD n = GetModuleFileNameW(self, path, MAX_PATH);
    wchar_t *slash = n && n < MAX_PATH ? wcsrchr(path, L'\\') : NULL;
    if (!slash) return;
    wcscpy(slash + 1, L"conpty_stub.log");
    HANDLE log = CreateFileW(path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                             OPEN_ALWAYS, 0, NULL);
    if (log == INVALID_HANDLE_VALUE) return;
    DWORD written;
    WriteFile(log, line, (DWORD)strlen(line), &written, NULL);
    CloseHandle(log);
}

static FARPROC kernel32(const char *name) {
    return GetProcAddress(GetModuleHandleW(L"kernel32.dll"), name);
}

__declspec(dllexport) HRESULT WINAPI CreatePseudoConsole(COORD size, HANDLE input, HANDLE output, DWORD flags,
                                                         HPCON *console) {
    char line[64];
    snprintf(line, sizeof line, "create %d %d\n", size.X, size.Y);
    mark(line);
    return ((create_function)(void (*)(void))kernel32("CreatePseudoConsole"))(size, input, output, flags, console);
}

#ifndef BROKEN
__declspec(dllexport) HRESULT WINAPI ResizePseudoConsole(HPCON console, COORD size) {
    char line[64];
    snprintf(line, sizeof line, "resize %d %d\n", size.X, size.Y);
    mark(line);
    return ((resize_function)(void (*)(void))kernel32("ResizePseudoConsole"))(console, size);
}
#endif

__declspec(dllexport) void WINAPI ClosePseudoConsole(HPCON console) {
    mark("close\n");
    ((close_function)(void (*)(void))kernel32("ClosePseudoConsole"))(console);
}
