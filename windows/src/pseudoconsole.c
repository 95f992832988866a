// SPDX-License-Identifier: MIT
//
// pseudoconsole: the ConPTY and the two pipes that connect it to the proxy.
//
// Each pipe is a named pipe whose server end is the proxy's, opened for
// overlapped I/O (so the output path can keep a read in flight while it
// writes, and a write of ^C from the control thread can be bounded), while
// conhost gets a plain synchronous client end. Pipe names carry the
// process ID and a counter; the pipes have the user-only DACL and one
// instance, and the proxy connects the client end at once.
//
// The ConPTY functions are called through conpty_loader: Windows' own, or
// a newer conpty.dll shipped beside ptyproxy.exe or named by --conpty.
#include "session.h"
#include "conpty_loader.h"
#include "winerror.h"

#include <stdio.h>

static HANDLE pipe_pair(pp_session *s, const wchar_t *role, DWORD server_access, DWORD client_access,
                        DWORD buffer, HANDLE *client) {
    static LONG counter;
    wchar_t name[128];
    swprintf(name, 128, L"\\\\.\\pipe\\ptyproxy-%ls-%lu-%ld", role, (unsigned long)GetCurrentProcessId(),
             (long)InterlockedIncrement(&counter));
    HANDLE server = CreateNamedPipeW(name, server_access | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                     PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                                     1, buffer, buffer, 0, &s->security);
    if (server == INVALID_HANDLE_VALUE) return server;
    *client = CreateFileW(name, client_access, 0, &s->security, OPEN_EXISTING, 0, NULL);
    if (*client == INVALID_HANDLE_VALUE) {
        DWORD error = GetLastError();
        CloseHandle(server);
        SetLastError(error);
        return INVALID_HANDLE_VALUE;
    }
    return server;
}

int pp_console_open(pp_session *s) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    HANDLE conhost_input = INVALID_HANDLE_VALUE, conhost_output = INVALID_HANDLE_VALUE;
    int code = pp_conpty_load(s->invocation->conpty);
    if (code) return code;
    s->input_write = pipe_pair(s, L"in", PIPE_ACCESS_OUTBOUND, GENERIC_READ, PP_INPUT_BUFFER, &conhost_input);
    if (s->input_write == INVALID_HANDLE_VALUE) {
        s->input_write = NULL;
        pp_print_error(L"cannot create the console's input pipe: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    s->output_read = pipe_pair(s, L"out", PIPE_ACCESS_INBOUND, GENERIC_WRITE, (DWORD)s->output_buffer_size,
                               &conhost_output);
    if (s->output_read == INVALID_HANDLE_VALUE) {
        s->output_read = NULL;
        CloseHandle(conhost_input);
        pp_print_error(L"cannot create the console's output pipe: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    COORD size = { (SHORT)s->invocation->cols, (SHORT)s->invocation->rows };
    // Flags 0: PSEUDOCONSOLE_INHERIT_CURSOR makes conhost ask the host for
    // the cursor position and wait for an answer that never comes.
    HRESULT hr = pp_conpty_create(size, conhost_input, conhost_output, 0, &s->console);
    // The pseudo console holds its own duplicates of conhost's ends.
    CloseHandle(conhost_input);
    CloseHandle(conhost_output);
    if (FAILED(hr)) {
        s->console = NULL;
        pp_print_error(L"cannot create a pseudo console: %ls", pp_hresult_text(hr, text));
        return 125;
    }
    s->cols = (LONG)s->invocation->cols;
    s->rows = (LONG)s->invocation->rows;
    return 0;
}

HRESULT pp_console_resize(pp_session *s, unsigned cols, unsigned rows) {
    COORD size = { (SHORT)cols, (SHORT)rows };
    return pp_conpty_resize(s->console, size);
}

void pp_console_close(pp_session *s) {
    // Once only, whichever of the supervisor and the closer thread comes first.
    if (s->console && InterlockedExchange(&s->console_closed, 1) == 0) pp_conpty_close(s->console);
}
