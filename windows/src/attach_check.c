// SPDX-License-Identifier: MIT
//
// attach_check: see attach_check.h.
//
// What Wine 8 answers, probed with CreatePipe, CreateNamedPipe, events,
// mutexes, process and thread handles, files, NUL and the Linux pipes Wine
// gives a process as stdio:
// - an event, a mutex, a process or a thread handle: GetFileType answers
//   FILE_TYPE_UNKNOWN with error 6 (ERROR_INVALID_HANDLE);
// - both ends of an anonymous pipe (CreatePipe): server and client process
//   are the process that made it (so a host's pipes name the host, or
//   whoever made them, never the session);
// - a named pipe: its server's process, and its client's once connected
//   (unconnected, Wine answers success with a meaningless client ID);
// - a Linux pipe as stdio, a disk file: error 50 (ERROR_NOT_SUPPORTED); NUL:
//   error 5. A handle whose ends cannot be told is not refused for them.
#include "attach_check.h"

#include <stdio.h>

/// FILE_TYPE_REMOTE: a flag on top of the type, never a type of its own.
#define PP_FILE_TYPE_REMOTE 0x8000ul

const char *pp_attach_judge(const pp_handle_facts *facts, unsigned long self) {
    unsigned long type = facts->file_type & ~PP_FILE_TYPE_REMOTE;
    if (type != PP_FILE_TYPE_DISK && type != PP_FILE_TYPE_CHAR && type != PP_FILE_TYPE_PIPE)
        return "is no pipe, file or console";
    if (type == PP_FILE_TYPE_PIPE &&
        ((facts->server_known && facts->server_pid == self) || (facts->client_known && facts->client_pid == self)))
        return "is this session's own pseudo console or control pipe";
    return NULL;
}

#ifdef _WIN32
int pp_attach_refuse(HANDLE *handle, const char *name, char *why, size_t capacity) {
    pp_handle_facts facts = { 0 };
    ULONG pid = 0;
    facts.file_type = GetFileType(*handle);
    if (facts.file_type == FILE_TYPE_PIPE) {
        if ((facts.server_known = GetNamedPipeServerProcessId(*handle, &pid) != 0)) facts.server_pid = pid;
        if ((facts.client_known = GetNamedPipeClientProcessId(*handle, &pid) != 0)) facts.client_pid = pid;
    }
    const char *reason = pp_attach_judge(&facts, GetCurrentProcessId());
    if (!reason) return 0;
    CloseHandle(*handle);
    *handle = NULL;
    snprintf(why, capacity, "the host's %s %s", name, reason);
    return 1;
}
#endif
