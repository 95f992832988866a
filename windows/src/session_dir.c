// SPDX-License-Identifier: MIT
//
// session_dir: %LOCALAPPDATA%\ptyproxy, one small file per live session,
// named by its ID. `list` needs it because \\.\pipe\ cannot be enumerated
// everywhere (Wine 8 fails FindFirstFileW on it with error 66).
//
// The file is created with FILE_FLAG_DELETE_ON_CLOSE and held open for the
// whole session, so it disappears with the proxy even when the proxy is
// killed. A file is only a hint: `list` asks the pipe of each one, and
// removes the files whose pipe is gone.
#include "session.h"

#include <stdio.h>
#include <wchar.h>

int pp_session_dir_path(wchar_t *out, size_t capacity) {
    wchar_t base[MAX_PATH];
    DWORD n = GetEnvironmentVariableW(L"LOCALAPPDATA", base, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return -1;
    // An absolute path only (X:\... or \\server\...): never one relative to
    // whatever directory the proxy was started in.
    int absolute = (n >= 3 && base[1] == L':' && (base[2] == L'\\' || base[2] == L'/')) ||
                   (base[0] == L'\\' && base[1] == L'\\');
    if (!absolute) return -1;
    int written = swprintf(out, capacity, L"%ls\\ptyproxy", base);
    return (written < 0 || (size_t)written >= capacity) ? -1 : 0;
}

HANDLE pp_session_file_create(const char *id) {
    wchar_t dir[MAX_PATH + 16], path[MAX_PATH + 96];
    if (pp_session_dir_path(dir, sizeof dir / sizeof dir[0]) != 0) return NULL;
    if (!CreateDirectoryW(dir, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) return NULL;
    swprintf(path, sizeof path / sizeof path[0], L"%ls\\%hs", dir, id);
    HANDLE file = CreateFileW(path, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, CREATE_ALWAYS,
                              FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, NULL);
    if (file == INVALID_HANDLE_VALUE) return NULL;
    char text[32];
    int length = snprintf(text, sizeof text, "%lu\n", (unsigned long)GetCurrentProcessId());
    DWORD written;
    WriteFile(file, text, (DWORD)length, &written, NULL);
    return file;
}

int pp_session_file_name(const char *id, wchar_t *out, size_t capacity) {
    wchar_t dir[MAX_PATH + 16], path[MAX_PATH + 96];
    if (pp_session_dir_path(dir, sizeof dir / sizeof dir[0]) != 0) return -1;
    swprintf(path, sizeof path / sizeof path[0], L"%ls\\%hs", dir, id);
    WIN32_FIND_DATAW found;
    HANDLE search = FindFirstFileW(path, &found);
    if (search == INVALID_HANDLE_VALUE) return -1;
    FindClose(search);
    int written = swprintf(out, capacity, L"%ls", found.cFileName);
    return (written < 0 || (size_t)written >= capacity) ? -1 : 0;
}
