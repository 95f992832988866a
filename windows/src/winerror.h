// SPDX-License-Identifier: MIT
//
// winerror: the one place where a Windows error code (GetLastError(), an
// HRESULT) becomes text, and where the proxy's one-line diagnostics are
// written to stderr.
#ifndef PP_WINERROR_H
#define PP_WINERROR_H

#include <windows.h>

/// Room for an error text (wide characters).
#define PP_ERROR_TEXT_CAPACITY 256

/// "The system cannot find the file specified (error 2)": FormatMessageW's
/// text on one line, `%1`-style placeholders removed, then the code.
const wchar_t *pp_error_text(DWORD code, wchar_t out[PP_ERROR_TEXT_CAPACITY]);

/// The same for an HRESULT: "Not implemented (HRESULT 0x80004001)".
const wchar_t *pp_hresult_text(HRESULT hr, wchar_t out[PP_ERROR_TEXT_CAPACITY]);

/// Writes "ptyproxy: MESSAGE\n" to stderr (see pp_write_utf8).
void pp_print_error(const wchar_t *format, ...);

/// `text` as UTF-8 in `out` (terminated; cut to fit). Returns `out`.
const char *pp_utf8(const wchar_t *text, char *out, size_t capacity);

/// Writes a wide string to a handle as UTF-8, or, when the handle is a
/// console, as UTF-16 with WriteConsoleW (a console shows UTF-8 bytes
/// garbled under its OEM code page). Returns 0 or a Windows error code.
DWORD pp_write_utf8(HANDLE handle, const wchar_t *text, size_t length);

/// The same for UTF-8 text: written as it is, or to a console through
/// WriteConsoleW. Returns 0 or a Windows error code.
DWORD pp_write_utf8_bytes(HANDLE handle, const char *bytes, size_t length);

#endif
