// SPDX-License-Identifier: MIT
//
// env_block: see env_block.h. The entries are pointed to, not copied: a
// list of (entry, strength) is sorted by name, then by strength, strongest
// first; the first entry of each run of equal names is the one written.
#include "env_block.h"

#include <stdlib.h>

typedef struct {
    const wchar_t *entry;
    size_t name_length;
    long long strength;  // inherited: -index (the first wins); set: index + 1 (the last wins)
} candidate;

size_t pp_env_name_length(const wchar_t *entry) {
    if (!entry[0]) return 0;
    size_t n = 1;
    while (entry[n] && entry[n] != L'=') n++;
    return n;
}

static int order(const candidate *a, const candidate *b, pp_env_compare compare) {
    int c = compare(a->entry, a->name_length, b->entry, b->name_length);
    if (c) return c;
    return a->strength > b->strength ? -1 : a->strength < b->strength;
}

/// Merge sort: qsort has no way to pass `compare` along.
static void sort(candidate *items, candidate *scratch, size_t count, pp_env_compare compare) {
    if (count < 2) return;
    size_t half = count / 2;
    sort(items, scratch, half, compare);
    sort(items + half, scratch, count - half, compare);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < count) scratch[k++] = order(&items[j], &items[i], compare) < 0 ? items[j++] : items[i++];
    while (i < half) scratch[k++] = items[i++];
    while (j < count) scratch[k++] = items[j++];
    for (k = 0; k < count; k++) items[k] = scratch[k];
}

static int has_prefix(const wchar_t *entry, size_t name_length, const wchar_t *prefix, pp_env_compare compare) {
    size_t n = wcslen(prefix);
    return prefix[0] && name_length >= n && compare(entry, n, prefix, n) == 0;
}

size_t pp_env_block_build(const wchar_t *inherited, const wchar_t *dropped_prefix, const wchar_t *const *set,
                          size_t set_count, pp_env_compare compare, wchar_t *out, size_t capacity) {
    size_t count = set_count;
    if (inherited)
        for (const wchar_t *p = inherited; *p; p += wcslen(p) + 1) count++;
    candidate *items = malloc((2 * count + 1) * sizeof *items);
    if (!items) return (size_t)-1;
    size_t used = 0;
    if (inherited) {
        long long index = 0;
        for (const wchar_t *p = inherited; *p; p += wcslen(p) + 1, index++) {
            size_t name_length = pp_env_name_length(p);
            if (dropped_prefix && has_prefix(p, name_length, dropped_prefix, compare)) continue;
            items[used++] = (candidate){ p, name_length, -index };
        }
    }
    for (size_t i = 0; i < set_count; i++)
        items[used++] = (candidate){ set[i], pp_env_name_length(set[i]), (long long)i + 1 };
    sort(items, items + count, used, compare);

    size_t length = 0;
    int write = out != NULL;
    for (size_t i = 0; i < used; i++) {
        if (i > 0 && compare(items[i].entry, items[i].name_length, items[i - 1].entry, items[i - 1].name_length) == 0)
            continue;
        size_t n = wcslen(items[i].entry) + 1;
        if (write && length + n <= capacity)
            for (size_t k = 0; k < n; k++) out[length + k] = items[i].entry[k];
        else
            write = 0;
        length += n;
    }
    free(items);
    if (length == 0) {
        if (write && capacity >= 1) out[0] = 0;
        length = 1;
    }
    if (write && length < capacity) out[length] = 0;
    return length + 1;
}

/// Upper case of one UTF-16 unit, for the scripts the tests use.
static unsigned long upper(unsigned long c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c == 0xB5) return 0x39C;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c == 0xFF) return 0x178;
    if (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) return c - 32;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

int pp_env_compare_portable(const wchar_t *a, size_t a_length, const wchar_t *b, size_t b_length) {
    size_t n = a_length < b_length ? a_length : b_length;
    for (size_t i = 0; i < n; i++) {
        unsigned long x = upper((unsigned long)a[i]), y = upper((unsigned long)b[i]);
        if (x != y) return x < y ? -1 : 1;
    }
    return a_length < b_length ? -1 : a_length > b_length;
}
