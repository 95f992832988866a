// SPDX-License-Identifier: MIT
//
// child: the command line, the environment, the job object and the child
// process on the pseudo console.
#include "session.h"
#include "argquote.h"
#include "env_block.h"
#include "winerror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_names(const wchar_t *a, size_t a_length, const wchar_t *b, size_t b_length) {
    return CompareStringOrdinal(a, (int)a_length, b, (int)b_length, TRUE) - CSTR_EQUAL;
}

/// The proxy's environment, sorted and without duplicate names (env_block.h),
/// with inherited PTYPROXY_* left out (a nested session must not see its
/// parent's), then PTYPROXY_ID, TERM when --term is given, and the --env
/// pairs in their order: each replaces an equal name (without case) before
/// it, so the last --env wins, also over what the proxy sets, as on Linux.
static int build_environment(pp_session *s) {
    const pp_invocation *inv = s->invocation;
    wchar_t id_entry[PP_MAX_ID_LENGTH + 16], term_entry[128];  // a longer TERM is allocated
    const wchar_t *set[PP_MAX_ENV + 2];
    size_t count = 0;
    swprintf(id_entry, sizeof id_entry / sizeof id_entry[0], L"PTYPROXY_ID=%ls", inv->id);
    set[count++] = id_entry;
    wchar_t *term = NULL;
    if (inv->term) {
        size_t n = wcslen(inv->term) + 6;
        term = n <= sizeof term_entry / sizeof term_entry[0] ? term_entry : malloc(n * sizeof(wchar_t));
        if (!term) return -1;
        swprintf(term, n, L"TERM=%ls", inv->term);
        set[count++] = term;
    }
    for (int i = 0; i < inv->env_count; i++) set[count++] = inv->env[i];
    wchar_t *inherited = GetEnvironmentStringsW();
    int result = -1;
    size_t length = inherited ? pp_env_block_build(inherited, L"PTYPROXY_", set, count, compare_names, NULL, 0)
                              : (size_t)-1;
    if (length != (size_t)-1 && (s->environment = malloc(length * sizeof(wchar_t))) != NULL &&
        pp_env_block_build(inherited, L"PTYPROXY_", set, count, compare_names, s->environment, length) == length)
        result = 0;
    if (inherited) FreeEnvironmentStringsW(inherited);
    if (term != term_entry) free(term);
    return result;
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
        // A batch file is run by cmd.exe, which parses its command line
        // again: quoting cannot keep every argument literal, so one that
        // cmd.exe could take as syntax is refused.
        int unsafe = pp_argquote_is_batch(command[0]) ? pp_argquote_batch_unsafe(inv->command_count, command) : -1;
        if (unsafe >= 0) {
            wchar_t shown[88], program[88];
            pp_print_error(L"'%ls' is a batch file, run by cmd.exe, which would parse '%ls' again as commands "
                           L"(& | < > ^ %% ! ( ) \"); give CMD as one string, the command line quoted for cmd.exe",
                           shorten(command[0], program), shorten(command[unsafe], shown));
            return 125;
        }
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
    // BREAKAWAY_OK: a process that asks for it (CREATE_BREAKAWAY_FROM_JOB)
    // may start one outside the job, meant to outlive the session; without
    // it such a start fails with error 5. Not SILENT_BREAKAWAY_OK: whatever
    // does not ask stays in, and dies with the session.
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
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

    // ^C must reach the child. A typed ^C (0x03, or `signal INT`) becomes
    // CTRL_C_EVENT only for processes that do not ignore it, and a process
    // inherits "ignore Ctrl+C" from its creator: the proxy has it whenever
    // its host started it in a new process group (Emacs does with
    // w32-start-process-share-console). So the proxy clears it for itself
    // before the child is created, and the child gets no process group of
    // its own (no CREATE_NEW_PROCESS_GROUP, which would set it again).
    // Checked under Wine through the flag itself (test_conpty_wine.py);
    // the ^C reaching a program is seen only on Windows, since Wine's conhost
    // ends on 0x03.
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

/// 259 is STILL_ACTIVE: a Windows parent that asks GetExitCodeProcess
/// cannot tell it from "still running" (Emacs's sys_wait refuses to reap
/// it). It is reported as 3, its low byte: what a POSIX parent sees for
/// exit(259), and what Emacs, which keeps only the low byte, would show.
DWORD pp_child_exit_code(DWORD code) {
    return code == STILL_ACTIVE ? 3 : code;
}
