/* SPDX-License-Identifier: MIT
 * args.exe ARG... - prints each argument as the C runtime parsed it (the
 * Microsoft quoting rules), one per line as <HEX>, then "args-end N": shows end
 * to end how a command line built from several arguments arrives. Hex, because
 * conhost renders the screen: a space or a tab may come out as cursor moves. */
#include <stdio.h>

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        putchar('<');
        for (const unsigned char *p = (const unsigned char *)argv[i]; *p; p++)
            printf("%02x", *p);
        printf(">\n");
    }
    printf("args-end-%d\n", argc - 1);
    fflush(stdout);
    return 0;
}
