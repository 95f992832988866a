// SPDX-License-Identifier: MIT
//
// The one place the version number is written. Swift sees it through
// CPTYShim, the Windows program includes this file, and the Makefile, the
// Emacs package header, the man page and the Debian package read or check it.
// PTYPROXY_COMMIT is the commit the Windows program names in its --version
// (windows/Makefile passes -DPTYPROXY_COMMIT="abc1234"); empty otherwise. The
// Linux tool names the release only: `swift build` cannot pass a commit, and
// its --version must not depend on how it was built.
#ifndef PTYPROXY_VERSION_H
#define PTYPROXY_VERSION_H

#define PTYPROXY_VERSION "0.2.0"

#ifndef PTYPROXY_COMMIT
#define PTYPROXY_COMMIT ""
#endif

#endif
