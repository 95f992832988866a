// SPDX-License-Identifier: MIT
//
// resize_queue: the resize requests the control thread has read but not yet
// applied. Everything read in one pass is applied with one
// ResizePseudoConsole call, of the last size requested (a window being
// dragged sends a burst; only its end matters, and conhost reflows its
// buffer on every call). Each request is then answered, in the order it
// arrived, with the result of that call. Pure: no Windows API, so it is
// tested natively (tests/resize_queue_tests.c).
#ifndef PP_RESIZE_QUEUE_H
#define PP_RESIZE_QUEUE_H

#include <stddef.h>

/// More than the control pipe's instances: each holds at most one unanswered
/// request, and a client that closed without waiting adds one more.
#define PP_RESIZE_QUEUE_CAPACITY 32

typedef struct {
    int client;              // who gets the reply (a slot index); -1: nobody waits for one
    unsigned cols, rows;
} pp_resize_request;

typedef struct {
    pp_resize_request requests[PP_RESIZE_QUEUE_CAPACITY];
    size_t count;
} pp_resize_queue;

void pp_resize_queue_clear(pp_resize_queue *queue);

/// Appends a request. Returns 0, or -1 when the queue is full (apply it first).
int pp_resize_queue_push(pp_resize_queue *queue, int client, unsigned cols, unsigned rows);

/// The size the one call applies for every queued request: the last one's.
/// Returns 0 when nothing is queued (no call), 1 otherwise.
int pp_resize_queue_target(const pp_resize_queue *queue, unsigned *cols, unsigned *rows);

/// The reply (no newline) to `request` once that call returned: `ok COLS
/// ROWS` (the request's own size, as the protocol echoes it), or, when the
/// call failed, `error resize failed: ERROR`. Returns the length (cut to
/// fit, always terminated; capacity at least 1).
size_t pp_resize_reply(char *out, size_t capacity, const pp_resize_request *request, const char *error);

#endif
