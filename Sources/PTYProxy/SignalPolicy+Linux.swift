// SPDX-License-Identifier: MIT
#if os(Linux)
import Glibc

extension SignalPolicy {
    /// SIGRTMIN...SIGRTMAX as glibc numbers them (it keeps 32 and 33 for
    /// itself; they are never blocked).
    static var realTimeSignals: [Int32] {
        Array(__libc_current_sigrtmin()...__libc_current_sigrtmax())
    }
}
#endif
