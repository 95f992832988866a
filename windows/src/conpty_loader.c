// SPDX-License-Identifier: MIT
//
// conpty_loader: see conpty_loader.h.
//
// DLL planting: the DLL is loaded by its full path only, never by its bare
// name, so neither the current directory nor PATH is searched for it; and
// with LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32, what
// it imports in turn comes from its own directory and System32 only. (With
// those flags LoadLibraryExW also refuses a relative path.)
#include "conpty_loader.h"
#include "control_line.h"
#include "winerror.h"

#include <stdio.h>
#include <string.h>

typedef HRESULT (WINAPI *create_function)(COORD, HANDLE, HANDLE, DWORD, HPCON *);
typedef HRESULT (WINAPI *resize_function)(HPCON, COORD);
typedef void (WINAPI *close_function)(HPCON);

/// The three functions in use: kernel32's until a DLL replaces all three.
static create_function create = CreatePseudoConsole;
static resize_function resize = ResizePseudoConsole;
static close_function close_console = ClosePseudoConsole;
/// "system", or the path as a JSON string: at most MAX_PATH UTF-16 units,
/// so at most 3 bytes each in UTF-8, plus escapes and quotes.
static char status_json[MAX_PATH * 6 + 8] = "\"system\"";

/// `X:\...` or `\\server\...` (also `\\?\...`): a path that names one file
/// whatever the current directory and drive are.
static int is_full_path(const wchar_t *path) {
    wchar_t drive = path[0] | 0x20;
    if (drive >= L'a' && drive <= L'z' && path[1] == L':' && (path[2] == L'\\' || path[2] == L'/')) return 1;
    return (path[0] == L'\\' || path[0] == L'/') && (path[1] == L'\\' || path[1] == L'/');
}

/// The path for a one-line message: control characters as '?'.
static const wchar_t *printable(const wchar_t *path, wchar_t out[MAX_PATH]) {
    size_t i = 0;
    for (; path[i] && i < MAX_PATH - 1; i++) out[i] = path[i] < 0x20 || path[i] == 0x7f ? L'?' : path[i];
    out[i] = 0;
    return out;
}

/// Loads `path` and takes the three functions from it. Returns 0, or fills
/// `why` with the reason it cannot be used.
static int try_dll(const wchar_t *path, wchar_t why[PP_ERROR_TEXT_CAPACITY + 64]) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    HMODULE module = LoadLibraryExW(path, NULL, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (!module) {
        swprintf(why, PP_ERROR_TEXT_CAPACITY + 64, L"cannot be loaded: %ls", pp_error_text(GetLastError(), text));
        return -1;
    }
    static const char *const names[] = { "CreatePseudoConsole", "ResizePseudoConsole", "ClosePseudoConsole" };
    FARPROC found[3];
    for (int i = 0; i < 3; i++) {
        found[i] = GetProcAddress(module, names[i]);
        if (!found[i]) {
            swprintf(why, PP_ERROR_TEXT_CAPACITY + 64, L"lacks %hs", names[i]);
            FreeLibrary(module);
            return -1;
        }
    }
    // The module stays loaded for the life of the process: the pseudo
    // console it creates is used until the very end.
    create = (create_function)(void (*)(void))found[0];
    resize = (resize_function)(void (*)(void))found[1];
    close_console = (close_function)(void (*)(void))found[2];
    char utf8[MAX_PATH * 3 + 1];
    int n = WideCharToMultiByte(CP_UTF8, 0, path, -1, utf8, (int)sizeof utf8, NULL, NULL);
    size_t used = n > 0 ? pp_json_append_string(status_json, 0, sizeof status_json - 1, utf8, (size_t)n - 1) : (size_t)-1;
    if (used == (size_t)-1) strcpy(status_json, "\"?\"");
    else status_json[used] = 0;
    return 0;
}

int pp_conpty_load(const wchar_t *explicit_path) {
    wchar_t why[PP_ERROR_TEXT_CAPACITY + 64], shown[MAX_PATH];
    if (explicit_path) {
        if (!is_full_path(explicit_path) || wcslen(explicit_path) >= MAX_PATH) {
            pp_print_error(L"--conpty needs the full path of a DLL (such as C:\\tools\\conpty.dll), "
                           L"shorter than %d characters", MAX_PATH);
            return 125;
        }
        if (try_dll(explicit_path, why) != 0) {
            pp_print_error(L"--conpty %ls %ls", printable(explicit_path, shown), why);
            return 125;
        }
        return 0;
    }
    // Beside ptyproxy.exe. A path GetModuleFileNameW had to cut is not
    // ours to guess at: the system's ConPTY then.
    wchar_t path[MAX_PATH];
    DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return 0;
    wchar_t *slash = wcsrchr(path, L'\\');
    if (!slash || (size_t)(slash + 1 - path) + wcslen(L"conpty.dll") >= MAX_PATH) return 0;
    wcscpy(slash + 1, L"conpty.dll");
    if (GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES) return 0;  // not there: the usual case
    if (try_dll(path, why) != 0)
        pp_print_error(L"warning: %ls %ls; using the system's ConPTY", printable(path, shown), why);
    return 0;
}

HRESULT pp_conpty_create(COORD size, HANDLE input, HANDLE output, DWORD flags, HPCON *console) {
    return create(size, input, output, flags, console);
}

HRESULT pp_conpty_resize(HPCON console, COORD size) {
    return resize(console, size);
}

void pp_conpty_close(HPCON console) {
    close_console(console);
}

const char *pp_conpty_status_json(void) {
    return status_json;
}
