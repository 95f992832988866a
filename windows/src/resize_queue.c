// SPDX-License-Identifier: MIT
//
// resize_queue: see resize_queue.h.
#include "resize_queue.h"

#include <stdio.h>

void pp_resize_queue_clear(pp_resize_queue *queue) {
    queue->count = 0;
}

int pp_resize_queue_push(pp_resize_queue *queue, int client, unsigned cols, unsigned rows) {
    if (queue->count >= PP_RESIZE_QUEUE_CAPACITY) return -1;
    pp_resize_request *request = &queue->requests[queue->count++];
    request->client = client;
    request->cols = cols;
    request->rows = rows;
    return 0;
}

int pp_resize_queue_target(const pp_resize_queue *queue, unsigned *cols, unsigned *rows) {
    if (queue->count == 0) return 0;
    *cols = queue->requests[queue->count - 1].cols;
    *rows = queue->requests[queue->count - 1].rows;
    return 1;
}

size_t pp_resize_reply(char *out, size_t capacity, const pp_resize_request *request, const char *error) {
    int n = error ? snprintf(out, capacity, "error resize failed: %s", error)
                  : snprintf(out, capacity, "ok %u %u", request->cols, request->rows);
    if (n < 0) { out[0] = 0; return 0; }
    return (size_t)n < capacity ? (size_t)n : capacity - 1;
}
