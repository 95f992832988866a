// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage

// The one place where errno becomes an error.
//
// Every system call of the library goes through `valueOrErrno` (calls that
// report failure as -1 and set errno) or `zeroOrErrno` (shim calls that
// return an errno value). EINTR is retried; EBADF and EFAULT on descriptors
// the proxy opened itself are programming errors, not conditions a caller
// could handle, so they stop the process. The host's stdin and stdout are
// not ours: whatever the host handed over (a descriptor it closed under us,
// an O_PATH one, an eventfd answering EINVAL) is bad input, and a call on
// them passes `.host` so that EBADF is thrown like any other error.

/// Whose descriptor a system call works on: decides whether EBADF is a bug.
enum DescriptorOwner {
    /// Opened by the proxy: EBADF means the proxy has a bug.
    case proxy
    /// The host's stdin or stdout: EBADF is the host's doing, an error to report.
    case host
}

/// Calls `body` until it does not fail with EINTR; returns its result or throws its errno.
@inline(__always) @discardableResult
func valueOrErrno<Result: FixedWidthInteger>(
    retryOnInterrupt: Bool = true, on owner: DescriptorOwner = .proxy, _ body: () -> Result
) throws(Errno) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno(rawValue: errno)
        if error == .interrupted && retryOnInterrupt { continue }
        if owner == .proxy { checkNotProgrammingError(error) }
        throw error
    }
}

/// Calls a shim function that returns 0 or an errno value.
@inline(__always)
func zeroOrErrno(on owner: DescriptorOwner = .proxy, _ body: () -> CInt) throws(Errno) {
    let result = body()
    if result == 0 { return }
    let error = Errno(rawValue: result)
    if owner == .proxy { checkNotProgrammingError(error) }
    throw error
}

@inline(__always)
private func checkNotProgrammingError(_ error: Errno) {
    precondition(error != .badFileDescriptor && error != .badAddress,
                 "ptyproxy: internal error: \(error)")
}

extension FileDescriptor {
    /// A close-on-exec pipe (pipe2), optionally non-blocking at both ends.
    static func makePipe(nonblocking: Bool) throws(Errno) -> (readEnd: FileDescriptor, writeEnd: FileDescriptor) {
        var fds: (CInt, CInt) = (-1, -1)
        try withUnsafeMutableBytes(of: &fds) { raw throws(Errno) in
            let pair = raw.baseAddress!.assumingMemoryBound(to: CInt.self)
            try zeroOrErrno { ptyshim_pipe(pair, nonblocking ? 1 : 0) }
        }
        return (FileDescriptor(rawValue: fds.0), FileDescriptor(rawValue: fds.1))
    }

    /// Closes the descriptor, ignoring errors: used on cleanup paths, where
    /// nothing useful can be done about a failed close (and EINTR must not be retried on Linux).
    func closeQuietly() {
        _ = try? close()
    }

    /// Writes all of `bytes`, waiting with poll(2) when the descriptor is
    /// non-blocking. Throws the first error other than EINTR/EAGAIN.
    func writeFully(_ bytes: UnsafeRawBufferPointer, on owner: DescriptorOwner = .proxy) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            do {
                offset += try valueOrErrno(on: owner) { system_write(rawValue, rest.baseAddress, rest.count) }
            } catch .wouldBlock {
                _ = try Poller.wait(for: self, events: .writable, timeoutMilliseconds: -1)
            }
        }
    }
}

extension FileDescriptor {
    /// Writes all of `text` to a descriptor the host handed over (the
    /// stdout of a control command's reply): every error is thrown.
    public func writeAll(_ text: String) throws(Errno) {
        var text = text
        let error: Errno? = text.withUTF8 { bytes in
            do throws(Errno) {
                try writeFully(UnsafeRawBufferPointer(bytes), on: .host)
                return nil
            } catch {
                return error
            }
        }
        if let error { throw error }
    }
}

/// Reads what a non-blocking descriptor has ready: the byte count (0 at the
/// end of the stream), or nil when nothing is ready yet (EAGAIN).
func readReady(_ descriptor: CInt, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
    do {
        return try valueOrErrno { system_read(descriptor, buffer.baseAddress, buffer.count) }
    } catch .wouldBlock {
        return nil
    }
}

@inline(__always)
func system_write(_ fd: CInt, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

@inline(__always)
func system_read(_ fd: CInt, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// Memory that the system may refuse (an address-space limit, an
/// overcommit policy): posix_memalign's ENOMEM is thrown instead of the
/// crash of `UnsafeMutableRawBufferPointer.allocate`. Freed with free(3).
func allocateBuffer(byteCount: Int, alignment: Int) throws(Errno) -> UnsafeMutableRawBufferPointer {
    var memory: UnsafeMutableRawPointer?
    let result = posix_memalign(&memory, alignment, byteCount)
    guard result == 0, let memory else { throw Errno(rawValue: result == 0 ? ENOMEM : result) }
    return UnsafeMutableRawBufferPointer(start: memory, count: byteCount)
}

/// Address space held back (mmap, PROT_NONE: nothing is touched) and given
/// back at a chosen moment, so that what runs after it has that much room
/// more than what ran before: under an address-space limit, the code after
/// the release cannot be the first to run out.
struct AddressSpaceReserve: ~Copyable {
    private let base: UnsafeMutableRawPointer
    private let size: Int

    init(bytes size: Int) throws(Errno) {
        let mapped = mmap(nil, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { throw Errno(rawValue: errno) }
        base = mapped
        self.size = size
    }

    consuming func release() {
        munmap(base, size)
        discard self
    }

    deinit { munmap(base, size) }
}
