/* SPDX-License-Identifier: MIT
 * envdump.exe - prints its environment block in its own order, one entry
 * per line as <NAME=VALUE>, the value cut to 24 units (the order and the
 * names are what matter), any unit outside printable ASCII, and '\', '<'
 * and '>', as \uXXXX; then "env-end N". Shows whether the block a parent
 * built is sorted and has each name once. */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

static void put(wchar_t c) {
    if (c >= 0x20 && c < 0x7F && c != L'\\' && c != L'<' && c != L'>') putchar((char)c);
    else printf("\\u%04x", (unsigned)c);
}

int wmain(void) {
    wchar_t *block = GetEnvironmentStringsW();
    int count = 0;
    for (const wchar_t *p = block; p && *p; p += wcslen(p) + 1, count++) {
        const wchar_t *q = p;
        putchar('<');
        put(*q++);
        for (; *q && *q != L'='; q++) put(*q);
        for (int shown = 0; *q && shown < 25; q++, shown++) put(*q);  // '=' and 24 units
        printf(">\n");
    }
    printf("env-end %d\n", count);
    fflush(stdout);
    return 0;
}
