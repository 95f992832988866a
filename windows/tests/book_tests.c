// SPDX-License-Identifier: MIT
//
// Unit tests of the pure parts of starting the child and of the host's
// console (env_block, utf16, argquote's batch-file checks), compiled with
// the native compiler and run on Linux:
//   make -C windows native-test
// On Windows, child.c gives env_block CompareStringOrdinal; here the
// portable comparison stands in for it (the same upper-casing for the
// characters these tests use).
#include "argquote.h"
#include "env_block.h"
#include "utf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

// ---- env_block ----------------------------------------------------------

/// Builds a block and compares it with `expected`, entries separated by '|'
/// ("" for an empty block).
static int block_is(const wchar_t *inherited, const wchar_t *const *set, size_t set_count, const wchar_t *expected) {
    size_t length = pp_env_block_build(inherited, L"PTYPROXY_", set, set_count, pp_env_compare_portable, NULL, 0);
    if (length == (size_t)-1) return 0;
    wchar_t *block = malloc(length * sizeof *block);
    if (!block) return 0;
    size_t again = pp_env_block_build(inherited, L"PTYPROXY_", set, set_count, pp_env_compare_portable, block, length);
    wchar_t want[512];
    size_t n = 0;
    for (const wchar_t *p = expected; *p; p++) want[n++] = *p == L'|' ? 0 : *p;
    if (n > 0) want[n++] = 0;
    want[n++] = 0;
    if (n == 1) want[n++] = 0;  // an empty block is two NULs
    int same = again == length && length == n && memcmp(block, want, n * sizeof *block) == 0;
    if (!same) {
        fprintf(stderr, "  block (%zu units):", length);
        for (size_t i = 0; i < length; i++) fprintf(stderr, "%lc", block[i] ? (wint_t)block[i] : L'|');
        fprintf(stderr, "\n");
    }
    free(block);
    return same;
}

/// A block as GetEnvironmentStringsW gives it, from entries separated by '|'.
static const wchar_t *inherited_block(const wchar_t *entries, wchar_t *storage) {
    size_t n = 0;
    for (const wchar_t *p = entries; *p; p++) storage[n++] = *p == L'|' ? 0 : *p;
    storage[n++] = 0;
    storage[n++] = 0;
    return storage;
}

static void test_env_block(void) {
    wchar_t storage[512];
    // The last --env of a name wins, and there is one entry for it.
    const wchar_t *twice[] = { L"PTYPROXY_ID=s1", L"A=1", L"A=2" };
    CHECK(block_is(inherited_block(L"PATH=C:\\bin", storage), twice, 3, L"A=2|PATH=C:\\bin|PTYPROXY_ID=s1"));
    // Names compare without case; the stronger entry's spelling is kept.
    const wchar_t *term[] = { L"TERM=xterm-256color" };
    CHECK(block_is(inherited_block(L"Term=dumb|ZZ=1", storage), term, 1, L"TERM=xterm-256color|ZZ=1"));
    const wchar_t *lower_wins[] = { L"PTYPROXY_ID=s1", L"ptyproxy_id=mine" };
    CHECK(block_is(NULL, lower_wins, 2, L"ptyproxy_id=mine"));
    // Inherited PTYPROXY_* go, in any case; other names that only start alike stay.
    const wchar_t *id[] = { L"PTYPROXY_ID=s2" };
    CHECK(block_is(inherited_block(L"PTYPROXY_SOCKET=x|ptyproxy_id=old|PTYPROXYX=1|PTYPROXY=2", storage), id, 1,
                   L"PTYPROXY=2|PTYPROXYX=1|PTYPROXY_ID=s2"));  // X (0x58) < _ (0x5F)
    // Sorted as Windows sorts: by upper case, so '_' (0x5F) comes after
    // every letter, where a lower-case order would put it before them.
    CHECK(block_is(inherited_block(L"a_b=1|AB=2|Aa=3|A=4", storage), NULL, 0, L"A=4|Aa=3|AB=2|a_b=1"));
    // The drives' current directories ("=C:=C:\dir") start with '=' and sort first.
    CHECK(block_is(inherited_block(L"Path=p|=D:=D:\\x|=C:=C:\\", storage), NULL, 0, L"=C:=C:\\|=D:=D:\\x|Path=p"));
    // Of two inherited entries with one name, the first is the one Windows sees: kept.
    CHECK(block_is(inherited_block(L"X=first|Y=1|x=second", storage), NULL, 0, L"X=first|Y=1"));
    // Values may hold '=' and be empty.
    const wchar_t *values[] = { L"B=x=y", L"E=" };
    CHECK(block_is(NULL, values, 2, L"B=x=y|E="));
    // Latin-1 and Cyrillic names without case.
    const wchar_t *accents[] = { L"\u00c9T\u00c9=2", L"\u0416=2" };
    CHECK(block_is(inherited_block(L"\u00e9t\u00e9=1|\u0436=1", storage), accents, 2, L"\u00c9T\u00c9=2|\u0416=2"));
    // Nothing at all: two NULs.
    CHECK(block_is(NULL, NULL, 0, L""));
    CHECK(block_is(inherited_block(L"PTYPROXY_ID=x", storage), NULL, 0, L""));
    // A buffer one unit short is refused (the size is still returned).
    wchar_t small[8];
    const wchar_t *one[] = { L"ABC=1" };
    CHECK(pp_env_block_build(NULL, NULL, one, 1, pp_env_compare_portable, small, 6) == 7);
    CHECK(pp_env_block_build(NULL, NULL, one, 1, pp_env_compare_portable, small, 7) == 7 &&
          memcmp(small, L"ABC=1\0", 7 * sizeof(wchar_t)) == 0);

    // Many names in a scrambled order: sorted, no two equal, each --env's last value.
    static wchar_t names[300][16];
    const wchar_t *set[300];
    unsigned seed = 12345;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)(seed >> 16) % 60;  // 60 names, each given several times
        swprintf(names[i], 16, L"%lc%lc%d=%d", (wchar_t)(k % 2 ? L'a' : L'A') + k % 26, L'_' + (k % 3 == 0), k, i);
        set[i] = names[i];
    }
    size_t length = pp_env_block_build(NULL, NULL, set, 300, pp_env_compare_portable, NULL, 0);
    wchar_t *block = malloc(length * sizeof *block);
    CHECK(block && pp_env_block_build(NULL, NULL, set, 300, pp_env_compare_portable, block, length) == length);
    if (block) {
        const wchar_t *previous = NULL;
        int entries = 0, ordered = 1, last_values = 1;
        for (const wchar_t *p = block; *p; p += wcslen(p) + 1, entries++) {
            size_t n = pp_env_name_length(p);
            if (previous && pp_env_compare_portable(previous, pp_env_name_length(previous), p, n) >= 0) ordered = 0;
            for (int i = 299; i >= 0; i--)  // the last given entry of this name
                if (pp_env_compare_portable(set[i], pp_env_name_length(set[i]), p, n) == 0) {
                    if (wcscmp(set[i], p) != 0) last_values = 0;
                    break;
                }
            previous = p;
        }
        CHECK(ordered);
        CHECK(last_values);
        CHECK(entries == 60);
        free(block);
    }
}

// ---- utf16 --------------------------------------------------------------

static int converts(pp_utf16_state *state, const uint16_t *units, size_t count, const char *expected) {
    unsigned char out[64];
    memset(out, 0xAA, sizeof out);
    size_t n = pp_utf16_to_utf8(state, units, count, out);
    return n <= PP_UTF16_TO_UTF8_MAX(count) && n == strlen(expected) && memcmp(out, expected, n) == 0;
}

static void test_utf16(void) {
    pp_utf16_state state = { 0 };
    CHECK(converts(&state, (const uint16_t[]){ 'h', 'i', 0x1B, '[', 'A' }, 5, "hi\x1b[A"));
    CHECK(converts(&state, (const uint16_t[]){ 0xE9, 0x20AC, 0x416 }, 3, "\xc3\xa9\xe2\x82\xac\xd0\x96"));
    // U+1F600 as one pair, then split across two reads (the second read
    // begins with the low half).
    CHECK(converts(&state, (const uint16_t[]){ 0xD83D, 0xDE00 }, 2, "\xf0\x9f\x98\x80"));
    CHECK(converts(&state, (const uint16_t[]){ 'a', 0xD83D }, 2, "a") && state.pending == 0xD83D);
    CHECK(converts(&state, (const uint16_t[]){ 0xDE00, 'b' }, 2, "\xf0\x9f\x98\x80" "b") && state.pending == 0);
    // A read that is nothing but the high half gives no bytes yet.
    CHECK(converts(&state, (const uint16_t[]){ 0xD83D }, 1, "") && state.pending == 0xD83D);
    CHECK(converts(&state, (const uint16_t[]){ 0xDE00 }, 1, "\xf0\x9f\x98\x80"));
    // Halves without their other half become U+FFFD, and the next character stays.
    CHECK(converts(&state, (const uint16_t[]){ 0xD83D, 'x' }, 2, "\xef\xbf\xbd" "x"));
    CHECK(converts(&state, (const uint16_t[]){ 0xDE00, 'y' }, 2, "\xef\xbf\xbd" "y"));
    CHECK(converts(&state, (const uint16_t[]){ 0xD83D }, 1, ""));
    CHECK(converts(&state, (const uint16_t[]){ 0xD83D, 0xD83D, 0xDE00 }, 3, "\xef\xbf\xbd\xef\xbf\xbd\xf0\x9f\x98\x80"));
    // The bound holds in the worst case: a pending half, then lone halves.
    state.pending = 0xD800;
    CHECK(converts(&state, (const uint16_t[]){ 0xDBFF }, 1, "\xef\xbf\xbd") && state.pending == 0xDBFF);
    CHECK(converts(&state, (const uint16_t[]){ 'z' }, 1, "\xef\xbf\xbd" "z"));
    // Every unit alone, then with each low half: never more than the bound.
    unsigned char out[16];
    int bounded = 1;
    for (unsigned u = 0; u <= 0xFFFF; u++) {
        pp_utf16_state s = { 0xD800 };
        uint16_t unit = (uint16_t)u;
        if (pp_utf16_to_utf8(&s, &unit, 1, out) > PP_UTF16_TO_UTF8_MAX(1)) bounded = 0;
    }
    CHECK(bounded);
}

// ---- argquote: batch files ----------------------------------------------

#define UNSAFE(...) pp_argquote_batch_unsafe(sizeof((const wchar_t *[]){ __VA_ARGS__ }) / sizeof(wchar_t *), \
                                             (const wchar_t *[]){ __VA_ARGS__ })

static void test_batch(void) {
    CHECK(pp_argquote_is_batch(L"x.bat"));
    CHECK(pp_argquote_is_batch(L"C:\\Tools\\BUILD.CMD"));
    CHECK(pp_argquote_is_batch(L"run.Bat"));
    // Windows drops trailing dots and spaces from a file name (CVE-2024-43402).
    CHECK(pp_argquote_is_batch(L"x.bat."));
    CHECK(pp_argquote_is_batch(L"x.cmd . ."));
    CHECK(!pp_argquote_is_batch(L"x.bats"));
    CHECK(!pp_argquote_is_batch(L"x.exe"));
    CHECK(!pp_argquote_is_batch(L"bat"));
    CHECK(!pp_argquote_is_batch(L"cmd.exe"));
    CHECK(!pp_argquote_is_batch(L""));

    CHECK(UNSAFE(L"x.bat", L"a&echo PWNED") == 1);
    CHECK(UNSAFE(L"x.bat", L"ok", L"a|b") == 2);
    CHECK(UNSAFE(L"x.bat", L"%PATH%") == 1);
    CHECK(UNSAFE(L"x.bat", L"!x!") == 1);
    CHECK(UNSAFE(L"x.bat", L"say \"hi\"") == 1);
    CHECK(UNSAFE(L"x.bat", L"a^b") == 1);
    CHECK(UNSAFE(L"x.bat", L"<in") == 1 && UNSAFE(L"x.bat", L"out>") == 1);
    CHECK(UNSAFE(L"x.bat", L"(x)") == 1);
    CHECK(UNSAFE(L"x.bat", L"line\nbreak") == 1 && UNSAFE(L"x.bat", L"tab\tx") == 1);
    CHECK(UNSAFE(L"a&b.bat", L"x") == 0 && UNSAFE(L"%x%.bat") == 0);
    // Ordinary arguments run: paths, options, spaces, non-ASCII, empty.
    CHECK(UNSAFE(L"C:\\Program Files (x86)\\x.bat", L"--level=2", L"C:\\Users\\Jos\u00e9\\f.txt", L"a b", L"",
                 L"x,y;z", L"@file", L"#1", L"$v", L"~", L"[a]{b}", L"'q'", L"`b`", L"*.c", L"?", L"+-_.:/") == -1);
}

int main(void) {
    test_env_block();
    test_utf16();
    test_batch();
    printf("book_tests: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
