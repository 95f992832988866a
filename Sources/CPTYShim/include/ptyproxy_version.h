// SPDX-License-Identifier: MIT
//
// The one place the version number is written. Swift sees it through
// CPTYShim, the Windows program includes this file, and the Makefile, the
// Emacs package header, the man page and the Debian package read or check it.
// Both programs' --version print `ptyproxy VERSION` and nothing else: the
// release only, as `swift build` cannot pass a commit, and --version must not
// depend on how a program was built.
#ifndef PTYPROXY_VERSION_H
#define PTYPROXY_VERSION_H

#define PTYPROXY_VERSION "0.2.0"

#endif
