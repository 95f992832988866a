// SPDX-License-Identifier: MIT
import SystemPackage

/// A self-pipe that lets one thread interrupt another one's poll(2).
///
/// `signal()` is async-signal-safe and never blocks (the pipe is
/// non-blocking; a full pipe already means "woken").
final class Wakeup: Sendable {
    let readEnd: FileDescriptor
    let writeEnd: FileDescriptor

    init() throws(Errno) {
        (readEnd, writeEnd) = try FileDescriptor.makePipe(nonblocking: true)
    }

    func signal() {
        var byte: UInt8 = 1
        _ = system_write(writeEnd.rawValue, &byte, 1)
    }

    /// Empties the pipe so the next poll blocks again.
    func drain() {
        var sink = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &sink, { system_read(readEnd.rawValue, $0.baseAddress, $0.count) }) > 0 {}
    }

    func close() {
        readEnd.closeQuietly()
        writeEnd.closeQuietly()
    }
}
