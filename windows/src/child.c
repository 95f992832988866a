// SPDX-License-Identifier: MIT
//
// child: the command line, the environment, the job object and the child
// process on the pseudo console.
#include "session.h"
#include "argquote.h"
#include "winerror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// A variable the child's environment sets itself: PTYPROXY_* (a nested
/// session must not see its parent's), TERM when --term is given, and
/// every name given with --env. Names compare without case, as Windows does.
static int replaced(const pp_session *s, const wchar_t *entry) {
    const wchar_t *eq = wcschr(entry + 1, L'=');  // "=C:=C:\dir" entries start with '='
    int name_length = eq ? (int)(eq - entry) : (int)wcslen(entry);
    if (name_length >= 9 && CompareStringOrdinal(entry, 9, L"PTYPROXY_", 9, TRUE) == CSTR_EQUAL) return 1;
    if (s->invocation->term && CompareStringOrdinal(entry, name_length, L"TERM", 4, TRUE) == CSTR_EQUAL) return 1;
    for (int i = 0; i < s->invocation->env_count; i++) {
        const wchar_t *pair = s->invocation->env[i];
        int length = (int)(wcschr(pair, L'=') - pair);
        if (CompareStringOrdinal(entry, name_length, pair, length, TRUE) == CSTR_EQUAL) return 1;
    }
    return 0;
}

/// True when --env sets `name` (then it wins over what the proxy would set, as on Linux).
static int given_by_env(const pp_session *s, const wchar_t *name) {
    int length = (int)wcslen(name);
    for (int i = 0; i < s->invocation->env_count; i++) {
        const wchar_t *pair = s->invocation->env[i];
        if (CompareStringOrdinal(pair, (int)(wcschr(pair, L'=') - pair), name, length, TRUE) == CSTR_EQUAL) return 1;
    }
    return 0;
}

static int build_environment(pp_session *s) {
    wchar_t *inherited = GetEnvironmentStringsW();
    if (!inherited) return -1;
    size_t total = 0;
    for (const wchar_t *p = inherited; *p; p += wcslen(p) + 1)
        if (!replaced(s, p)) total += wcslen(p) + 1;
    wchar_t id[PP_MAX_ID_LENGTH + 1];
    for (size_t i = 0; i <= strlen(s->id); i++) id[i] = (wchar_t)(unsigned char)s->id[i];
    total += wcslen(L"PTYPROXY_ID=") + wcslen(id) + 1;
    if (s->invocation->term) total += 5 + wcslen(s->invocation->term) + 1;
    for (int i = 0; i < s->invocation->env_count; i++) total += wcslen(s->invocation->env[i]) + 1;
    total += 1;
    s->environment = malloc(total * sizeof(wchar_t));
    if (!s->environment) { FreeEnvironmentStringsW(inherited); return -1; }
    wchar_t *out = s->environment;
    for (const wchar_t *p = inherited; *p; p += wcslen(p) + 1) {
        if (replaced(s, p)) continue;
        size_t n = wcslen(p) + 1;
        wmemcpy(out, p, n);
        out += n;
    }
    FreeEnvironmentStringsW(inherited);
    if (!given_by_env(s, L"PTYPROXY_ID"))
        out += swprintf(out, total - (size_t)(out - s->environment), L"PTYPROXY_ID=%ls", id) + 1;
    if (s->invocation->term && !given_by_env(s, L"TERM"))
        out += swprintf(out, total - (size_t)(out - s->environment), L"TERM=%ls", s->invocation->term) + 1;
    for (int i = 0; i < s->invocation->env_count; i++) {
        size_t n = wcslen(s->invocation->env[i]) + 1;
        wmemcpy(out, s->invocation->env[i], n);
        out += n;
    }
    *out = 0;
    return 0;
}

/// The status reply's "command": argv as a JSON array of UTF-8 strings, cut
/// to PP_COMMAND_JSON_MAX bytes (whole arguments, then a last "...").
static int build_command_json(pp_session *s) {
    s->command_json = malloc(PP_COMMAND_JSON_MAX + 16);
    if (!s->command_json) return -1;
    char *json = s->command_json;
    size_t used = 0;
    json[used++] = '[';
    char utf8[PP_COMMAND_JSON_MAX];
    for (int i = 0; i < s->invocation->command_count; i++) {
        const wchar_t *arg = s->argv[s->invocation->command_index + i];
        int n = WideCharToMultiByte(CP_UTF8, 0, arg, (int)wcslen(arg), utf8, (int)sizeof utf8, NULL, NULL);
        size_t mark = used;
        if (i > 0) json[used++] = ',';
        size_t next = n > 0 || !arg[0] ? pp_json_append_string(json, used, PP_COMMAND_JSON_MAX, utf8, (size_t)(n > 0 ? n : 0))
                                       : (size_t)-1;
        if (next == (size_t)-1) {
            used = mark;
            if (i > 0) json[used++] = ',';
            memcpy(json + used, "\"...\"", 5);
            used += 5;
            break;
        }
        used = next;
    }
    json[used++] = ']';
    json[used] = 0;
    return 0;
}

/// User text for a one-line message: at most 80 characters then "...",
/// control characters as '?'.
static const wchar_t *shorten(const wchar_t *text, wchar_t out[88]) {
    size_t n = 0;
    for (; text[n] && n < 80; n++) out[n] = text[n] < 0x20 ? L'?' : text[n];
    if (text[n]) { out[n++] = L'.'; out[n++] = L'.'; out[n++] = L'.'; }
    out[n] = 0;
    return out;
}

int pp_child_prepare(pp_session *s) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    const pp_invocation *inv = s->invocation;
    const wchar_t *const *command = (const wchar_t *const *)(s->argv + inv->command_index);
    size_t length;
    if (inv->command_count == 1) {
        // What vterm sends, and what conpty_proxy.exe does: one argument is
        // the command line, given to CreateProcessW unchanged.
        length = wcslen(command[0]);
    } else {
        length = pp_argquote_join(inv->command_count, command, NULL, 0);
    }
    if (length >= 32767) {
        pp_print_error(L"the command line is %lu characters long; Windows allows 32766", (unsigned long)length);
        return 125;
    }
    s->command_line = malloc((length + 1) * sizeof(wchar_t));
    if (!s->command_line) { pp_print_error(L"out of memory"); return 125; }
    if (inv->command_count == 1) wmemcpy(s->command_line, command[0], length + 1);
    else pp_argquote_join(inv->command_count, command, s->command_line, length + 1);

    if (build_environment(s) != 0 || build_command_json(s) != 0) {
        pp_print_error(L"cannot build the child's environment: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    if (inv->cwd) {
        wchar_t shown[88];
        DWORD attributes = GetFileAttributesW(inv->cwd);
        if (attributes == INVALID_FILE_ATTRIBUTES) {
            pp_print_error(L"--cwd %ls: %ls", shorten(inv->cwd, shown), pp_error_text(GetLastError(), text));
            return 125;
        }
        if (!(attributes & FILE_ATTRIBUTE_DIRECTORY)) {
            pp_print_error(L"--cwd %ls: %ls", shorten(inv->cwd, shown), pp_error_text(ERROR_DIRECTORY, text));
            return 125;
        }
    }
    return 0;
}

/// 127 for "not found", 126 for "found but cannot run", as a shell says.
static int start_failure_code(DWORD error) {
    switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_PATHNAME:
        return 127;
    case ERROR_ACCESS_DENIED:
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_BAD_FORMAT:
    case ERROR_EXE_MACHINE_TYPE_MISMATCH:
    case ERROR_EXE_MARKED_INVALID:
    case ERROR_INVALID_EXE_SIGNATURE:
    case 740:  // ERROR_ELEVATION_REQUIRED (not in every SDK header)
    case ERROR_DIRECTORY:
    case ERROR_SHARING_VIOLATION:
    case 225:  // ERROR_VIRUS_INFECTED
        return 126;
    default:
        return 125;
    }
}

int pp_child_start(pp_session *s) {
    wchar_t text[PP_ERROR_TEXT_CAPACITY];
    // The job: nothing the child starts outlives the proxy, even when the
    // host calls TerminateProcess on the proxy (Emacs does on kill-buffer).
    s->job = CreateJobObjectW(NULL, NULL);
    if (!s->job) {
        pp_print_error(L"cannot create a job object: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
    memset(&limits, 0, sizeof limits);
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!SetInformationJobObject(s->job, JobObjectExtendedLimitInformation, &limits, sizeof limits)) {
        pp_print_error(L"cannot configure the job object: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }

    SIZE_T attributes_size = 0;
    InitializeProcThreadAttributeList(NULL, 1, 0, &attributes_size);
    s->attributes = malloc(attributes_size);
    if (!s->attributes || !InitializeProcThreadAttributeList(s->attributes, 1, 0, &attributes_size)) {
        free(s->attributes);
        s->attributes = NULL;
        pp_print_error(L"cannot prepare the child's attributes: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }
    if (!UpdateProcThreadAttribute(s->attributes, 0, PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE, s->console,
                                   sizeof s->console, NULL, NULL)) {
        pp_print_error(L"cannot attach the pseudo console: %ls", pp_error_text(GetLastError(), text));
        return 125;
    }

    STARTUPINFOEXW startup;
    memset(&startup, 0, sizeof startup);
    startup.StartupInfo.cb = sizeof startup;
    // NULL std handles, not inherited ones: the child must get the pseudo
    // console, never the host's pipes (which it would steal from us).
    startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    startup.lpAttributeList = s->attributes;

    // ^C must reach the child: clear "ignore Ctrl+C", which it would inherit.
    SetConsoleCtrlHandler(NULL, FALSE);

    PROCESS_INFORMATION process;
    if (!CreateProcessW(NULL, s->command_line, NULL, NULL, FALSE,
                        EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED,
                        s->environment, s->invocation->cwd, &startup.StartupInfo, &process)) {
        DWORD error = GetLastError();
        int code = start_failure_code(error);
        wchar_t shown[88];
        pp_print_error(L"cannot run '%ls': %ls", shorten(s->command_line, shown), pp_error_text(error, text));
        return code;
    }
    // Into the job before it runs a single instruction, so that nothing it
    // starts can escape.
    if (!AssignProcessToJobObject(s->job, process.hProcess)) {
        DWORD error = GetLastError();
        TerminateProcess(process.hProcess, 125);
        CloseHandle(process.hThread);
        CloseHandle(process.hProcess);
        pp_print_error(L"cannot put the child in a job object: %ls", pp_error_text(error, text));
        return 125;
    }
    s->process = process.hProcess;
    s->child_pid = process.dwProcessId;
    ResumeThread(process.hThread);
    CloseHandle(process.hThread);
    return 0;
}
