// SPDX-License-Identifier: MIT
//
// attach_check: the handles an attach refuses as the host's stdin or stdout
// because the session would loop or wedge on them (as the Linux server
// refuses, docs/INTERFACE.md): a handle that is no stream at all (an event,
// a process, a thread...: GetFileType says FILE_TYPE_UNKNOWN), and a pipe
// one of whose ends is this very process (the session's own control pipe,
// whose requests it would then write itself, or its own pseudo console
// pipes, whose output it would read back).
//
// The judgement is pure (no Windows API), so it is tested natively; the
// Windows part only gathers the facts.
#ifndef PP_ATTACH_CHECK_H
#define PP_ATTACH_CHECK_H

#include <stddef.h>

/// GetFileType's answers (winbase.h's values, for the native build).
enum { PP_FILE_TYPE_UNKNOWN = 0, PP_FILE_TYPE_DISK = 1, PP_FILE_TYPE_CHAR = 2, PP_FILE_TYPE_PIPE = 3 };

/// What is known of one handle.
typedef struct {
    unsigned long file_type;    // GetFileType (FILE_TYPE_REMOTE bit included)
    int server_known;           // GetNamedPipeServerProcessId answered
    unsigned long server_pid;
    int client_known;           // GetNamedPipeClientProcessId answered
    unsigned long client_pid;
} pp_handle_facts;

/// Why a handle with `facts` cannot be a host's stdin or stdout in the
/// session run by process `self`, or NULL when it can.
const char *pp_attach_judge(const pp_handle_facts *facts, unsigned long self);

#ifdef _WIN32
#include <windows.h>

/// When `*handle` (the session's duplicate of a host's stdin or stdout,
/// `name`) is refused: closes it, sets it to NULL, writes "the host's NAME
/// REASON" into `why` and returns 1. Otherwise 0. Never waits.
int pp_attach_refuse(HANDLE *handle, const char *name, char *why, size_t capacity);
#endif

#endif
