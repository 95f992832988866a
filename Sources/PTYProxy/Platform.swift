// SPDX-License-Identifier: MIT
//
// The one place that says which systems the Swift program builds on.
//
// It is built and tested on Linux with glibc only. Linux-only code lives in
// whole files named `+Linux`, under `#if os(Linux)`; the rest imports Glibc
// and uses POSIX calls. A port adds a twin of each `+Linux` file and of
// Sources/CPTYShim/shim_linux.c (docs/ARCHITECTURE.md, "Where a new
// platform plugs in"), then widens the condition below.
#if !os(Linux)
#error("ptyproxy's Swift program builds on Linux only; on Windows build windows/ (ptyproxy.exe)")
#endif
