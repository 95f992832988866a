// SPDX-License-Identifier: MIT
//
// host_console: when ptyproxy.exe is run by hand in a console window (its
// stdin or stdout is a console, not a pipe), the console is switched to what
// a terminal relay needs, like `script` does on Linux: input raw, as VT
// sequences (^C arrives as byte 0x03 and goes to the child), output
// interpreting VT sequences, UTF-8 both ways. pp_host_console_restore puts
// back the modes and code pages found; the session calls it once the output
// thread has stopped, so the last output still meets VT processing. Input
// from a console is read as UTF-16 (ReadConsoleW) and passed on as UTF-8:
// under code page 65001, Windows 10's console returns 0x00 for every
// non-ASCII character through ReadFile (microsoft/terminal#4551). With pipes
// (the normal case: vterm, tests) nothing here does anything but ReadFile.
#include "session.h"
#include "utf16.h"

void pp_host_console_setup(pp_session *s) {
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE), out = GetStdHandle(STD_OUTPUT_HANDLE);
    if (in && in != INVALID_HANDLE_VALUE && GetConsoleMode(in, &s->host_input_mode)) {
        s->host_input_is_console = 1;
        s->host_input_cp = GetConsoleCP();
        DWORD mode = s->host_input_mode;
        mode &= ~(DWORD)(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT | ENABLE_PROCESSED_INPUT | ENABLE_MOUSE_INPUT |
                         ENABLE_WINDOW_INPUT | ENABLE_QUICK_EDIT_MODE);
        mode |= ENABLE_VIRTUAL_TERMINAL_INPUT | ENABLE_EXTENDED_FLAGS;
        SetConsoleMode(in, mode);
        SetConsoleCP(CP_UTF8);
    }
    if (out && out != INVALID_HANDLE_VALUE && GetConsoleMode(out, &s->host_output_mode)) {
        s->host_output_is_console = 1;
        s->host_output_cp = GetConsoleOutputCP();
        SetConsoleMode(out, s->host_output_mode | ENABLE_PROCESSED_OUTPUT | ENABLE_VIRTUAL_TERMINAL_PROCESSING |
                                DISABLE_NEWLINE_AUTO_RETURN);
        SetConsoleOutputCP(CP_UTF8);
    }
}

void pp_host_console_restore(pp_session *s) {
    if (s->host_input_is_console) {
        SetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), s->host_input_mode);
        SetConsoleCP(s->host_input_cp);
        s->host_input_is_console = 0;
    }
    if (s->host_output_is_console) {
        SetConsoleMode(GetStdHandle(STD_OUTPUT_HANDLE), s->host_output_mode);
        SetConsoleOutputCP(s->host_output_cp);
        s->host_output_is_console = 0;
    }
}

BOOL pp_host_read(pp_session *s, HANDLE in, unsigned char *buffer, DWORD capacity, DWORD *got) {
    if (!s->host_input_is_console) return ReadFile(in, buffer, capacity, got, NULL);
    // One input thread: the half of a surrogate pair that ends one read
    // waits here for the next.
    static pp_utf16_state state;
    uint16_t units[2048];
    if (capacity < PP_UTF16_TO_UTF8_MAX(1)) { SetLastError(ERROR_INSUFFICIENT_BUFFER); return FALSE; }
    DWORD room = (capacity - 3) / 3;
    if (room > sizeof units / sizeof units[0]) room = sizeof units / sizeof units[0];
    *got = 0;
    while (*got == 0) {
        DWORD read = 0;
        if (!ReadConsoleW(in, units, room, &read, NULL)) return FALSE;
        if (read == 0) return TRUE;  // the end, as ReadFile's 0 bytes
        *got = (DWORD)pp_utf16_to_utf8(&state, units, read, buffer);
    }
    return TRUE;
}
