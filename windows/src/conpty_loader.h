// SPDX-License-Identifier: MIT
//
// conpty_loader: which ConPTY a session runs on. Windows' own (kernel32's
// CreatePseudoConsole, ResizePseudoConsole, ClosePseudoConsole), or a newer
// one shipped as conpty.dll (with OpenConsole.exe beside it, which it
// starts): the one in ptyproxy.exe's own directory, or the one that
// `new --conpty PATH` names.
#ifndef PP_CONPTY_LOADER_H
#define PP_CONPTY_LOADER_H

#include <windows.h>

/// Chooses the ConPTY, once, before the pseudo console is created.
/// `explicit_path` (--conpty, or NULL) must be a full path to a DLL with the
/// three functions, or the session does not start: 125 after one error line.
/// Without it, conpty.dll beside ptyproxy.exe is used when it is there; one
/// that cannot be loaded or lacks a function gets one warning line, and the
/// system's ConPTY is used. Returns 0 or 125.
int pp_conpty_load(const wchar_t *explicit_path);

HRESULT pp_conpty_create(COORD size, HANDLE input, HANDLE output, DWORD flags, HPCON *console);
HRESULT pp_conpty_resize(HPCON console, COORD size);
void pp_conpty_close(HPCON console);

/// The status JSON value: "system", or the DLL's full path as a JSON string.
const char *pp_conpty_status_json(void);

#endif
