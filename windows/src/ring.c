// SPDX-License-Identifier: MIT
//
// ring: see ring.h.
#include "ring.h"

#include <string.h>

/// How many of the kept bytes come before the first boundary.
static size_t distance_to_boundary(const pp_ring *ring) {
    size_t window = ring->count < PP_RING_BOUNDARY_WINDOW ? ring->count : PP_RING_BOUNDARY_WINDOW;
    size_t first_character = window;
    for (size_t offset = 0; offset < window; offset++) {
        unsigned char byte = ring->bytes[(ring->start + offset) % ring->capacity];
        if (byte == 0x0a) return offset + 1;
        if (byte == 0x1b) return offset;
        if (first_character == window && (byte & 0xc0) != 0x80) first_character = offset;
    }
    return first_character;
}

void pp_ring_append(pp_ring *ring, const unsigned char *bytes, size_t length) {
    if (length == 0 || ring->capacity == 0) return;
    size_t capacity = ring->capacity;
    int cut = length > capacity;
    if (cut) {
        bytes += length - capacity;
        length = capacity;
    }
    size_t overflow = ring->count + length > capacity ? ring->count + length - capacity : 0;
    ring->start = (ring->start + overflow) % capacity;
    ring->count -= overflow;
    size_t end = (ring->start + ring->count) % capacity;
    size_t first = length < capacity - end ? length : capacity - end;
    memcpy(ring->bytes + end, bytes, first);
    memcpy(ring->bytes, bytes + first, length - first);
    ring->count += length;
    if (overflow > 0 || cut) {
        size_t skipped = distance_to_boundary(ring);
        ring->start = (ring->start + skipped) % capacity;
        ring->count -= skipped;
    }
    if (ring->count == 0) ring->start = 0;
}

void pp_ring_prepend(pp_ring *ring, const unsigned char *bytes, size_t length) {
    if (length == 0 || ring->capacity == 0) return;
    size_t capacity = ring->capacity, room = capacity - ring->count;
    int cut = length > room;
    if (cut) {
        bytes += length - room;
        length = room;
        if (length == 0) return;  // full: the kept bytes are newer, and begin at a boundary
    }
    ring->start = (ring->start + capacity - length) % capacity;
    size_t first = length < capacity - ring->start ? length : capacity - ring->start;
    memcpy(ring->bytes + ring->start, bytes, first);
    memcpy(ring->bytes, bytes + first, length - first);
    ring->count += length;
    if (cut) {
        size_t skipped = distance_to_boundary(ring);
        ring->start = (ring->start + skipped) % capacity;
        ring->count -= skipped;
    }
    if (ring->count == 0) ring->start = 0;
}

const unsigned char *pp_ring_front(const pp_ring *ring, size_t *length) {
    size_t contiguous = ring->capacity - ring->start;
    *length = ring->count < contiguous ? ring->count : contiguous;
    return ring->bytes + ring->start;
}

void pp_ring_consume(pp_ring *ring, size_t length) {
    if (length > ring->count) length = ring->count;
    ring->start = (ring->start + length) % (ring->capacity ? ring->capacity : 1);
    ring->count -= length;
    if (ring->count == 0) ring->start = 0;
}
