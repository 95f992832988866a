// SPDX-License-Identifier: MIT
//
// The one place the version number is written. Swift sees it through
// CPTYShim, the Windows program includes this file, and the Makefile, the
// Emacs package header, the man page and the Debian package read or check it.
// PTYPROXY_COMMIT is the commit the binary was built from, when the build
// knows it (`make` passes -DPTYPROXY_COMMIT="abc1234"); empty otherwise.
#ifndef PTYPROXY_VERSION_H
#define PTYPROXY_VERSION_H

#define PTYPROXY_VERSION "0.2.0"

#ifndef PTYPROXY_COMMIT
#define PTYPROXY_COMMIT ""
#endif

#ifndef _WIN32
/// PTYPROXY_COMMIT as the shim was compiled. A function, not the macro: Swift
/// does not import macros defined on the compiler's command line.
const char *ptyshim_build_commit(void);
#endif

#endif
