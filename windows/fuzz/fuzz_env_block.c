// SPDX-License-Identifier: MIT
//
// libFuzzer target: the child's environment block (env_block.c). The input
// is read as 16-bit units; unit 0 ends an entry, and the first entry
// without '=' after its first unit splits the inherited entries from the
// set ones. The block must be well formed (entries, then one more NUL),
// sorted by name with no two equal names, hold no inherited PTYPROXY_*,
// and give every set name its last set entry and every other name its
// first inherited entry.
#include "env_block.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 64

static int same_name(const wchar_t *a, const wchar_t *b) {
    return pp_env_compare_portable(a, pp_env_name_length(a), b, pp_env_name_length(b)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static wchar_t storage[1200];
    static wchar_t inherited[1200];
    const wchar_t *entries[MAX_ENTRIES + 1], *set[MAX_ENTRIES];
    size_t used = 0, count = 0, set_count = 0, inherited_length = 0;
    int in_set = 0;
    entries[count] = storage;
    for (size_t i = 0; i + 1 < size && used + 2 < 1000 && count < MAX_ENTRIES; i += 2) {
        wchar_t unit = (wchar_t)(data[i] | (data[i + 1] << 8));
        storage[used++] = unit;
        if (unit != 0) continue;
        const wchar_t *entry = entries[count];
        if (!entry[0] || !entry[pp_env_name_length(entry)]) in_set = 1;  // empty, or no '=': the split
        else if (in_set) set[set_count++] = entry;
        else {
            size_t n = wcslen(entry) + 1;
            memcpy(inherited + inherited_length, entry, n * sizeof(wchar_t));
            inherited_length += n;
        }
        entries[++count] = storage + used;
    }
    inherited[inherited_length] = 0;

    size_t length = pp_env_block_build(inherited, L"PTYPROXY_", set, set_count, pp_env_compare_portable, NULL, 0);
    if (length == (size_t)-1) return 0;
    wchar_t *block = malloc(length * sizeof *block);
    if (!block) return 0;
    if (pp_env_block_build(inherited, L"PTYPROXY_", set, set_count, pp_env_compare_portable, block, length) != length)
        abort();
    size_t walked = 0;
    const wchar_t *previous = NULL;
    for (const wchar_t *p = block; *p; p += wcslen(p) + 1) {
        walked = (size_t)(p - block) + wcslen(p) + 1;
        if (walked >= length) abort();
        if (previous && pp_env_compare_portable(previous, pp_env_name_length(previous), p, pp_env_name_length(p)) >= 0)
            abort();
        const wchar_t *want = NULL;
        for (size_t i = set_count; i-- > 0 && !want;)
            if (same_name(set[i], p)) want = set[i];
        for (const wchar_t *q = inherited; *q && !want; q += wcslen(q) + 1)
            if (same_name(q, p)) want = q;
        if (!want || wcscmp(want, p) != 0) abort();
        previous = p;
    }
    if (walked == 0 ? length != 2 || block[0] || block[1] : walked + 1 != length || block[walked]) abort();
    // Every set name is there; every inherited name is, unless it is PTYPROXY_*.
    for (size_t i = 0; i < set_count; i++) {
        int found = 0;
        for (const wchar_t *p = block; *p && !found; p += wcslen(p) + 1) found = same_name(set[i], p);
        if (!found) abort();
    }
    for (const wchar_t *q = inherited; *q; q += wcslen(q) + 1) {
        int dropped = pp_env_name_length(q) >= 9 && pp_env_compare_portable(q, 9, L"PTYPROXY_", 9) == 0;
        int found = 0;
        for (const wchar_t *p = block; *p && !found; p += wcslen(p) + 1) found = same_name(q, p);
        int overridden = 0;
        for (size_t i = 0; i < set_count; i++) overridden |= same_name(set[i], q);
        if (found != (!dropped || overridden)) abort();
    }
    free(block);
    return 0;
}
