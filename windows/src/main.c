// SPDX-License-Identifier: MIT
//
// ptyproxy.exe: run a program on a Windows pseudo console (ConPTY) for a
// host that only has pipes. A drop-in for conpty_proxy.exe (same command
// line, same control pipe), with the Linux tool's interface
// (docs/INTERFACE.md). A thin layer: parse the command line, run the
// session or send the control request, return the exit code.
#include "arg_encoding.h"
#include "cli.h"
#include "session.h"
#include "winerror.h"

#include "../../Sources/CPTYShim/include/ptyproxy_version.h"

#include <stdio.h>
#include <string.h>

static void print_out(const wchar_t *text) {
    pp_write_utf8(GetStdHandle(STD_OUTPUT_HANDLE), text, wcslen(text));
}

int wmain(int argc, wchar_t **argv) {
    static pp_invocation invocation;  // static: PP_MAX_ENV pointers
    wchar_t message[PP_MESSAGE_CAPACITY];
    HANDLE report = NULL;
    // A kept session's server (keep.c): `--keep-server NAME` before the
    // front's own arguments, which are parsed again here as they were there.
    if (argc > 3 && wcscmp(argv[1], L"--keep-server") == 0) {
        if (pp_keep_server_open_report(argv[2], &report) != 0) {
            pp_print_error(L"--keep-server is for new --keep's own use (no report pipe '%ls')", argv[2]);
            return 125;
        }
        argc -= 2;
        argv += 2;
    }
    if (pp_arg_decode_argv(&argc, &argv, message) != 0 || pp_cli_parse(argc, argv, &invocation, message) != 0) {
        pp_print_error(L"%ls", message);
        return 125;
    }
    switch (invocation.verb) {
    case PP_VERB_HELP:
        print_out(pp_cli_usage);
        return 0;
    case PP_VERB_VERSION:  // the release only, as on Linux: the same line however it was built
        print_out(L"ptyproxy " PTYPROXY_VERSION L"\n");
        return 0;
    case PP_VERB_NEW:
        if (report) {
            if (!invocation.keep) { pp_print_error(L"--keep-server serves new --keep only"); return 125; }
            return pp_session_serve_kept(&invocation, argv, report);
        }
        return pp_session_run(&invocation, argv);
    case PP_VERB_ATTACH:
        return pp_attach_run(invocation.id, invocation.cols, invocation.rows, invocation.force);
    default:
        return pp_client_run(&invocation);
    }
}
