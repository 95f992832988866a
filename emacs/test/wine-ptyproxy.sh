#!/bin/sh
# SPDX-License-Identifier: MIT
# ptyproxy.exe under Wine, as the ptyproxy program of the Emacs tests that
# play Windows (ptyproxy-test-wine-term). run-tests.sh sets the variables:
#   PTYPROXY_WINE_EXE  ptyproxy.exe (windows/build, make -C windows)
#   WINEPREFIX         a private prefix, already booted
#   WINE64             the wine64 loader (default: Debian's)
# The locale is UTF-8 so that Wine maps file names such as José日本 the
# same on every machine; ptyproxy.exe's arguments are ASCII either way.
: "${PTYPROXY_WINE_EXE:?PTYPROXY_WINE_EXE is not set}"
: "${WINEPREFIX:?WINEPREFIX is not set}"
LC_ALL=C.UTF-8 WINEDEBUG=-all exec "${WINE64:-/usr/lib/wine/wine64}" "$PTYPROXY_WINE_EXE" "$@"
