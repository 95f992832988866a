// SPDX-License-Identifier: MIT
//
// env_block: the child's environment block, built the way Windows expects
// it: one entry per name, sorted by name without case. Windows looks a
// variable up by walking the block and stops at the first name that sorts
// after it, and takes the first of two equal names; an unsorted block or a
// duplicate name makes variables invisible or stale. Pure (no Windows API):
// the name comparison is passed in (CompareStringOrdinal on Windows), so
// the builder is unit-tested and fuzzed natively.
#ifndef PP_ENV_BLOCK_H
#define PP_ENV_BLOCK_H

#include <stddef.h>
#include <wchar.h>

/// Compares two names (not terminated; lengths in units) without case, as
/// CompareStringOrdinal(..., TRUE) does: <0, 0 or >0.
typedef int (*pp_env_compare)(const wchar_t *a, size_t a_length, const wchar_t *b, size_t b_length);

/// The length of an entry's name: up to the first '=' after its first unit
/// (the current directories' entries, "=C:=C:\dir", start with '=').
size_t pp_env_name_length(const wchar_t *entry);

/// Builds the block into `out` (capacity in units) and returns its length
/// in units, both terminating NULs included; (size_t)-1 when out of memory.
/// When `out` is NULL or smaller than that, `out` holds no usable block:
/// ask for the size first, then build into that much room. Sources, from the weakest to the strongest:
/// - `inherited`: a block as GetEnvironmentStringsW returns it (may be
///   NULL); of two equal names the first is kept, as Windows would see it;
///   names starting with `dropped_prefix` (without case; may be NULL) are
///   left out;
/// - `set[0..set_count-1]`: "NAME=VALUE" entries, each replacing an equal
///   name before it (so the last of equal names wins).
/// An empty block is two NULs.
size_t pp_env_block_build(const wchar_t *inherited, const wchar_t *dropped_prefix, const wchar_t *const *set,
                          size_t set_count, pp_env_compare compare, wchar_t *out, size_t capacity);

/// A portable comparison for the unit tests and the fuzzer: ordinal over
/// upper-cased UTF-16 units, with the upper-casing of Basic Latin, Latin-1,
/// Greek and Cyrillic (which is what CompareStringOrdinal does for them).
int pp_env_compare_portable(const wchar_t *a, size_t a_length, const wchar_t *b, size_t b_length);

#endif
