// SPDX-License-Identifier: MIT
//
// relay: the two data paths between the host's stdio and the pseudo console.
//
// Input path (never optimised): each read of stdin (at most 8 KiB) is
// written to the console at once. EOF on stdin (0 bytes, or an error) ends
// the input path only: the thread returns, nothing spins, and the session
// goes on until the command exits. A Windows console has no VEOF to send.
//
// Output path (optimised): with two buffers (the default), the next read
// from the console is in flight while the previous buffer is written to
// stdout; with --output-buffers 1, read and write alternate. A host that
// stops reading blocks only this thread: input and control have their own.
// When stdout cannot be written any more, the host has gone: the session is
// told (s->hangup) and the thread ends. A kept session's output goes to
// whichever host is attached (keep.c): a writer thread per host writes it
// while this thread reads on, and a change of host is taken between reads.
#include "session.h"
#include "winerror.h"

DWORD pp_console_write(pp_session *s, HANDLE event, const void *bytes, DWORD length, DWORD timeout_ms) {
    OVERLAPPED overlapped;
    const char *p = bytes;
    while (length > 0) {
        memset(&overlapped, 0, sizeof overlapped);
        overlapped.hEvent = event;
        DWORD written = 0;
        if (!WriteFile(s->input_write, p, length, NULL, &overlapped) && GetLastError() != ERROR_IO_PENDING)
            return GetLastError();
        if (WaitForSingleObject(event, timeout_ms) != WAIT_OBJECT_0) {
            CancelIoEx(s->input_write, &overlapped);
            GetOverlappedResult(s->input_write, &overlapped, &written, TRUE);
            return WAIT_TIMEOUT;
        }
        if (!GetOverlappedResult(s->input_write, &overlapped, &written, TRUE)) return GetLastError();
        p += written;
        length -= written;
    }
    return 0;
}

DWORD WINAPI pp_input_main(void *argument) {
    pp_session *s = argument;
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    unsigned char *buffer = s->buffers + 2 * s->output_buffer_size;
    if (s->kept) return pp_keep_input(s, buffer);  // the host changes (keep.c)
    if (in == NULL || in == INVALID_HANDLE_VALUE) return 0;
    for (;;) {
        DWORD got = 0;
        if (!pp_host_read(s, in, buffer, PP_INPUT_BUFFER, &got) || got == 0) return 0;  // EOF: this path only
        if (pp_console_write(s, s->input_event, buffer, got, INFINITE) != 0) return 0;  // console gone
        InterlockedAdd64(&s->bytes_in, got);
    }
}

/// Writes all of `length` bytes to stdout; 0 or the Windows error.
static DWORD write_all(HANDLE out, const unsigned char *bytes, DWORD length) {
    while (length > 0) {
        DWORD written = 0;
        if (!WriteFile(out, bytes, length, &written, NULL)) return GetLastError();
        if (written == 0) return ERROR_NO_DATA;
        bytes += written;
        length -= written;
    }
    return 0;
}

/// A kept session's output thread waits for the read in flight; a change of
/// host meanwhile is taken at once (keep.c replays the kept output to it).
/// A read that has completed needs no wait (under Wine each wait is a round
/// trip to wineserver): a change of host is taken with the piece then.
/// Before a wait, the host's writer is set going on what was queued.
static void wait_read_kept(pp_session *s, OVERLAPPED *overlapped, HANDLE event, pp_host_writer *writer) {
    HANDLE waits[2] = { event, s->host_changed };
    while (!HasOverlappedIoCompleted(overlapped)) {
        pp_keep_kick(s, writer);
        if (WaitForMultipleObjects(2, waits, FALSE, INFINITE) != WAIT_OBJECT_0 + 1) break;
        pp_keep_refresh(s, writer);
    }
}

/// Until the first host has attached (at most 5 s: it attaches within
/// milliseconds unless it died; a front seen to die ends the wait at once),
/// nothing is read: the first host gets the output from its first byte,
/// whatever --keep-buffer is.
#define FIRST_HOST_MAX_MS 5000

/// Starts an overlapped read of the console's output into `buffer`.
/// Returns 0, or the error that ended the output (the console closed).
static DWORD start_read(pp_session *s, OVERLAPPED *overlapped, HANDLE event, unsigned char *buffer) {
    memset(overlapped, 0, sizeof *overlapped);
    overlapped->hEvent = event;
    if (ReadFile(s->output_read, buffer, (DWORD)s->output_buffer_size, NULL, overlapped)) return 0;
    DWORD error = GetLastError();
    return error == ERROR_IO_PENDING ? 0 : error;
}

DWORD WINAPI pp_output_main(void *argument) {
    pp_session *s = argument;
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    int count = s->invocation->output_buffers;
    unsigned char *buffer[2] = { s->buffers, s->buffers + s->output_buffer_size };
    OVERLAPPED overlapped[2];
    HANDLE events[2] = { CreateEventW(NULL, TRUE, FALSE, NULL), CreateEventW(NULL, TRUE, FALSE, NULL) };
    int current = 0;
    pp_host_writer writer = { .thread = NULL, .generation = -1 };
    if (!events[0] || !events[1]) goto done;
    if (s->kept) pp_keep_wait_first_host(s, FIRST_HOST_MAX_MS);
    if (start_read(s, &overlapped[0], events[0], buffer[0]) != 0) goto done;
    for (;;) {
        DWORD got = 0;
        if (s->kept) wait_read_kept(s, &overlapped[current], events[current], &writer);
        if (!GetOverlappedResult(s->output_read, &overlapped[current], &got, TRUE)) break;  // console closed
        if (got == 0) {
            if (start_read(s, &overlapped[current], events[current], buffer[current]) != 0) break;
            continue;
        }
        InterlockedExchange(&s->output_writing, 1);
        int next = count == 2 ? 1 - current : current;
        // Double buffering: the next read goes out before this write.
        DWORD read_error = count == 2 ? start_read(s, &overlapped[next], events[next], buffer[next]) : 0;
        DWORD write_error = 0;
        if (s->kept) pp_keep_deliver(s, &writer, buffer[current], got);  // never hangs up
        else write_error = write_all(out, buffer[current], got);
        InterlockedAdd64(&s->bytes_out, got);
        InterlockedExchange64(&s->output_activity, (LONG64)GetTickCount64());
        InterlockedExchange(&s->output_writing, 0);
        if (write_error) {
            // The host is gone (109, 232, 233 on a pipe) or stdout is unusable.
            if (count == 2 && read_error == 0) {
                DWORD ignored;
                CancelIoEx(s->output_read, &overlapped[next]);
                GetOverlappedResult(s->output_read, &overlapped[next], &ignored, TRUE);
            }
            InterlockedExchange(&s->hangup_error, (LONG)write_error);
            SetEvent(s->hangup);
            break;
        }
        if (read_error) break;
        if (count == 1 && start_read(s, &overlapped[current], events[current], buffer[current]) != 0) break;
        current = next;
    }
done:
    if (s->kept) pp_keep_writer_end(s, &writer);
    if (events[0]) CloseHandle(events[0]);
    if (events[1]) CloseHandle(events[1]);
    return 0;
}
