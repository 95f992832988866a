// SPDX-License-Identifier: MIT
//
// Unit tests of attach_check's judgement (which handles an attach refuses),
// compiled with the native compiler: make -C windows native-test. Wine can
// hand the session an event and its own control connection (the e2e test
// keep_attach_refuses_handles_that_loop_or_wedge); the cases it cannot
// produce (a pipe whose client end alone is the session's, a FILE_TYPE_REMOTE
// handle, a type Windows may add) are checked here.
#include "attach_check.h"

#include <string.h>

#include "check.h"

enum { SELF = 4242, OTHER = 77 };

static const char *judge(unsigned long type, int server_known, unsigned long server, int client_known,
                         unsigned long client) {
    pp_handle_facts facts = { type, server_known, server, client_known, client };
    return pp_attach_judge(&facts, SELF);
}

static int says(const char *reason, const char *expected) {
    return reason && strcmp(reason, expected) == 0;
}

int main(void) {
    static const char *const no_stream = "is no pipe, file or console";
    static const char *const own = "is this session's own pseudo console or control pipe";
    // No stream: an event, a process, a thread; and types Windows may add.
    CHECK(says(judge(PP_FILE_TYPE_UNKNOWN, 0, 0, 0, 0), no_stream));
    CHECK(says(judge(0x8000ul, 0, 0, 0, 0), no_stream));           // FILE_TYPE_REMOTE of nothing
    CHECK(says(judge(7, 0, 0, 0, 0), no_stream));
    // Streams of others: a host's pipes (an anonymous pipe names its maker
    // at both ends), a file, a console, a remote file, NUL.
    CHECK(judge(PP_FILE_TYPE_PIPE, 1, OTHER, 1, OTHER) == NULL);
    CHECK(judge(PP_FILE_TYPE_PIPE, 1, OTHER, 1, OTHER + 1) == NULL);
    CHECK(judge(PP_FILE_TYPE_PIPE, 0, 0, 0, 0) == NULL);           // Wine's Linux pipes: error 50
    CHECK(judge(PP_FILE_TYPE_DISK, 0, 0, 0, 0) == NULL);
    CHECK(judge(PP_FILE_TYPE_DISK | 0x8000ul, 0, 0, 0, 0) == NULL);
    CHECK(judge(PP_FILE_TYPE_CHAR, 0, 0, 0, 0) == NULL);
    // The session's own pipes, by either end.
    CHECK(says(judge(PP_FILE_TYPE_PIPE, 1, SELF, 1, OTHER), own));  // its control pipe, from a client
    CHECK(says(judge(PP_FILE_TYPE_PIPE, 1, OTHER, 1, SELF), own));
    CHECK(says(judge(PP_FILE_TYPE_PIPE, 1, SELF, 1, SELF), own));   // its pseudo console's pipes
    CHECK(says(judge(PP_FILE_TYPE_PIPE, 1, SELF, 0, 0), own));
    CHECK(says(judge(PP_FILE_TYPE_PIPE, 0, 0, 1, SELF), own));
    // An ID that was not answered is not compared.
    CHECK(judge(PP_FILE_TYPE_PIPE, 0, SELF, 0, SELF) == NULL);
    // Only pipes have ends to compare.
    CHECK(judge(PP_FILE_TYPE_DISK, 1, SELF, 1, SELF) == NULL);
    printf("attach_check_tests: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
