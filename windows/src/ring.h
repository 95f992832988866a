// SPDX-License-Identifier: MIT
//
// ring: the output a kept session keeps while no host is attached (issue
// 20): `capacity` bytes allocated once by the caller, the oldest dropped
// first. Pure (no Windows API, no allocation), so it is unit-tested natively.
//
// Replay boundary rule (docs/INTERFACE.md, as the Linux OutputRing): once
// older bytes were dropped, the kept bytes start right after the first line
// feed or at the first ESC, whichever comes first within the first
// PP_RING_BOUNDARY_WINDOW bytes; with neither there, at the first byte that
// is no UTF-8 continuation byte (10xxxxxx). A terminal that starts afresh
// can take the replay from there: a line feed ends every sequence but
// strings (OSC, DCS), an ESC starts one whatever came before, and neither
// occurs inside a UTF-8 character.
#ifndef PP_RING_H
#define PP_RING_H

#include <stddef.h>

#define PP_RING_BOUNDARY_WINDOW 4096

typedef struct {
    unsigned char *bytes;
    size_t capacity;
    size_t start;   // the oldest kept byte
    size_t count;   // kept bytes
} pp_ring;

/// Keeps `length` bytes, dropping the oldest to make room, and then up to
/// the next boundary (above).
void pp_ring_append(pp_ring *ring, const unsigned char *bytes, size_t length);

/// Keeps `length` bytes older than every kept byte (output taken back from a
/// host that went, while newer output was kept already). What does not fit
/// is dropped from their start, and then up to the next boundary: the
/// oldest bytes go first, as in pp_ring_append.
void pp_ring_prepend(pp_ring *ring, const unsigned char *bytes, size_t length);

/// The oldest kept bytes that are contiguous in memory: `*length` of them
/// at the returned address (0 when the ring is empty).
const unsigned char *pp_ring_front(const pp_ring *ring, size_t *length);

/// Forgets the oldest `length` kept bytes (they were written out).
void pp_ring_consume(pp_ring *ring, size_t length);

#endif
