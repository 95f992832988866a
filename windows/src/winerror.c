// SPDX-License-Identifier: MIT
//
// winerror: see winerror.h.
#include "winerror.h"
#include "error_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <wchar.h>

static const wchar_t *format(DWORD code, const wchar_t *suffix_format, unsigned long shown,
                             wchar_t out[PP_ERROR_TEXT_CAPACITY]) {
    wchar_t raw[PP_ERROR_TEXT_CAPACITY];
    DWORD got = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code,
                               MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), raw, PP_ERROR_TEXT_CAPACITY, NULL);
    size_t n = 0;
    if (got > 0) n = pp_error_clean(raw, out, PP_ERROR_TEXT_CAPACITY - 32);
    if (n == 0) n = (size_t)swprintf(out, 32, L"unknown error");
    swprintf(out + n, PP_ERROR_TEXT_CAPACITY - n, suffix_format, shown);
    return out;
}

const wchar_t *pp_error_text(DWORD code, wchar_t out[PP_ERROR_TEXT_CAPACITY]) {
    return format(code, L" (error %lu)", code, out);
}

const wchar_t *pp_hresult_text(HRESULT hr, wchar_t out[PP_ERROR_TEXT_CAPACITY]) {
    return format((DWORD)hr, L" (HRESULT 0x%08lx)", (unsigned long)(DWORD)hr, out);
}

const char *pp_utf8(const wchar_t *text, char *out, size_t capacity) {
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, out, (int)capacity, NULL, NULL);
    if (n <= 0) {
        // Too long: convert what fits, cutting at a character boundary.
        size_t length = wcslen(text);
        while (length > 0) {
            length = length * 2 / 3;
            n = WideCharToMultiByte(CP_UTF8, 0, text, (int)length, out, (int)capacity - 1, NULL, NULL);
            if (n > 0) break;
        }
        if (n < 0) n = 0;
        out[n] = 0;
    }
    return out;
}

/// WriteConsoleW of all of `text`: a console shows UTF-16 right whatever
/// its code page, where UTF-8 bytes come out garbled under an OEM one.
static DWORD write_console(HANDLE handle, const wchar_t *text, size_t length) {
    while (length > 0) {
        DWORD take = length < 4096 ? (DWORD)length : 4096, written = 0;
        if (!WriteConsoleW(handle, text, take, &written, NULL)) return GetLastError();
        if (written == 0) return ERROR_WRITE_FAULT;
        text += written;
        length -= written;
    }
    return 0;
}

DWORD pp_write_utf8(HANDLE handle, const wchar_t *text, size_t length) {
    DWORD mode;
    if (GetConsoleMode(handle, &mode)) return write_console(handle, text, length);
    char buffer[4096];
    while (length > 0) {
        // At most 1024 UTF-16 units per step (<= 3 bytes each), never
        // splitting a surrogate pair.
        size_t take = length < 1024 ? length : 1024;
        if (take < length && text[take - 1] >= 0xD800 && text[take - 1] <= 0xDBFF) take--;
        int bytes = WideCharToMultiByte(CP_UTF8, 0, text, (int)take, buffer, (int)sizeof buffer, NULL, NULL);
        if (bytes <= 0) return GetLastError();
        for (int done = 0; done < bytes;) {
            DWORD written = 0;
            if (!WriteFile(handle, buffer + done, (DWORD)(bytes - done), &written, NULL)) return GetLastError();
            done += (int)written;
        }
        text += take;
        length -= take;
    }
    return 0;
}

DWORD pp_write_utf8_bytes(HANDLE handle, const char *bytes, size_t length) {
    DWORD mode;
    if (GetConsoleMode(handle, &mode)) {
        wchar_t wide[4096];
        while (length > 0) {
            // Whole characters only: a cut before a UTF-8 continuation byte moves back.
            size_t take = length < 4096 ? length : 4096;
            while (take < length && take > 0 && (bytes[take] & 0xC0) == 0x80) take--;
            int n = MultiByteToWideChar(CP_UTF8, 0, bytes, (int)take, wide, 4096);
            if (n <= 0) return GetLastError();
            DWORD error = write_console(handle, wide, (size_t)n);
            if (error) return error;
            bytes += take;
            length -= take;
        }
        return 0;
    }
    while (length > 0) {
        DWORD written = 0;
        if (!WriteFile(handle, bytes, (DWORD)length, &written, NULL)) return GetLastError();
        bytes += written;
        length -= written;
    }
    return 0;
}

void pp_print_error(const wchar_t *fmt, ...) {
    // Formatted in a large zeroed buffer, then cut to one line of at most
    // MESSAGE_MAX characters ("..." marks a cut): a message that holds a long
    // path stays one readable line. The zeroing matters: not every C runtime
    // terminates the buffer when vswprintf runs out of room.
    enum { MESSAGE_MAX = 1000, FORMAT_CAPACITY = 4096 };
    static wchar_t formatted[FORMAT_CAPACITY];
    wchar_t line[MESSAGE_MAX + 16];
    wmemset(formatted, 0, FORMAT_CAPACITY);
    va_list ap;
    va_start(ap, fmt);
    vswprintf(formatted, FORMAT_CAPACITY - 1, fmt, ap);
    va_end(ap);
    formatted[FORMAT_CAPACITY - 1] = 0;
    size_t n = (size_t)swprintf(line, 16, L"ptyproxy: ");
    for (const wchar_t *p = formatted; *p && n < MESSAGE_MAX; p++)
        line[n++] = (*p == L'\n' || *p == L'\r') ? L' ' : *p;
    if (n >= MESSAGE_MAX) {
        if (line[n - 1] >= 0xD800 && line[n - 1] <= 0xDBFF) n--;  // never half a surrogate pair
        line[n++] = L'.'; line[n++] = L'.'; line[n++] = L'.';
    }
    line[n++] = L'\n';
    line[n] = 0;
    pp_write_utf8(GetStdHandle(STD_ERROR_HANDLE), line, n);
}
