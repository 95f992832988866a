// SPDX-License-Identifier: MIT
// Why this shim exists: SwiftPM links an executable target with
// `--defsym main=<Module>_main`, so libFuzzer's own main() is never used and
// the link fails when the module has no Swift entry point (-parse-as-library).
// Each harness therefore defines `<Module>_main` itself (with @_cdecl) and hands
// control to libFuzzer through LLVMFuzzerRunDriver, declared here because Swift
// cannot declare a C function it only links against.
#ifndef FUZZ_DRIVER_H
#define FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*callback)(const uint8_t *data, size_t size));

#endif
