// SPDX-License-Identifier: MIT
#if os(Linux)
import Glibc
import CPTYShim
import SystemPackage

/// Delivers signals as readable events on a descriptor (signalfd), so the
/// supervisor handles them in its poll loop like any other event: no signal
/// handlers, no async-signal-safety traps.
///
/// Must be created before any thread is started: the signals are blocked in
/// the creating thread and every thread started afterwards inherits the mask.
/// The child gets an empty mask back from `ChildProcess`.
final class SignalWatcher: Sendable {
    let descriptor: FileDescriptor

    init(signals: [Int32]) throws(Errno) {
        var fd: CInt = -1
        try zeroOrErrno { signals.withUnsafeBufferPointer { ptyshim_signalfd_open(&fd, $0.baseAddress, CInt($0.count)) } }
        descriptor = FileDescriptor(rawValue: fd)
    }

    /// The next pending signal, or nil when none is pending.
    func next() -> Int32? {
        var signo: CInt = 0
        guard ptyshim_signalfd_next(descriptor.rawValue, &signo) == 0, signo != 0 else { return nil }
        return signo
    }

    func close() {
        descriptor.closeQuietly()
    }
}
#endif
