// SPDX-License-Identifier: MIT
//
// host_console: when ptyproxy.exe is run by hand in a console window (its
// stdin or stdout is a console, not a pipe), the console is switched to what
// a terminal relay needs, like `script` does on Linux: input raw, as VT
// sequences (^C arrives as byte 0x03 and goes to the child), output
// interpreting VT sequences, UTF-8 both ways. pp_host_console_restore puts
// back the modes and code pages found. With pipes (the normal case: vterm,
// tests) nothing here does anything.
#include "session.h"

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
