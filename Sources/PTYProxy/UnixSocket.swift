// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage

/// Small helpers for AF_UNIX stream sockets.
enum UnixSocket {
    /// The longest path a sockaddr_un holds, terminator excluded.
    static var maximumPathLength: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    /// A new stream socket, close-on-exec (and non-blocking when asked).
    static func make(nonblocking: Bool = false) throws(Errno) -> FileDescriptor {
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonblocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        return FileDescriptor(rawValue: try valueOrErrno { socket(AF_UNIX, type, 0) })
    }

    /// Calls `body` with a sockaddr_un for `path` (bytes, copied as they are).
    static func withAddress<Result, Failure: Error>(
        _ path: ByteString, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = path.bytes
        precondition(bytes.count <= maximumPathLength, "socket path checked by the caller")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return try withUnsafePointer(to: &address) { pointer throws(Failure) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(Failure) in
                try body(address, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    static func bind(_ socket: FileDescriptor, to path: ByteString) throws(Errno) {
        _ = try withAddress(path) { address, length throws(Errno) in
            try valueOrErrno { Glibc.bind(socket.rawValue, address, length) }
        }
    }

    static func connect(_ socket: FileDescriptor, to path: ByteString) throws(Errno) {
        _ = try withAddress(path) { address, length throws(Errno) in
            try valueOrErrno { Glibc.connect(socket.rawValue, address, length) }
        }
    }

    /// Connects a non-blocking socket to `path`, waiting until `deadline`
    /// (monotonic ms) at most. A listener whose backlog is full (a stopped
    /// proxy) makes connect(2) fail with EAGAIN rather than wait: that is
    /// retried with a short pause until the deadline, then `.timedOut`.
    static func connect(_ socket: FileDescriptor, to path: ByteString, deadline: Int64) throws(Errno) {
        var pause: UInt32 = 1000
        while true {
            do {
                try connect(socket, to: path)
                return
            } catch .nowInProgress {
                let ready = try Poller.wait(for: socket, events: .writable, timeoutMilliseconds: pollTimeout(until: deadline))
                if ready.isEmpty { throw .timedOut }
                var failure: CInt = 0
                var length = socklen_t(MemoryLayout<CInt>.size)
                try valueOrErrno { getsockopt(socket.rawValue, SOL_SOCKET, SO_ERROR, &failure, &length) }
                if failure != 0 { throw Errno(rawValue: failure) }
                return
            } catch .resourceTemporarilyUnavailable {
                if monotonicMilliseconds() >= deadline { throw .timedOut }
                usleep(pause)
                pause = min(pause * 2, 20_000)
            }
        }
    }

    /// Sends all of `bytes` on a non-blocking socket before `deadline`.
    static func sendAll(_ socket: FileDescriptor, _ bytes: UnsafeRawBufferPointer, deadline: Int64) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            do {
                offset += try send(socket, UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch .wouldBlock {
                let ready = try Poller.wait(for: socket, events: .writable, timeoutMilliseconds: pollTimeout(until: deadline))
                if ready.isEmpty { throw .timedOut }
            }
        }
    }

    /// send(2) without SIGPIPE; returns bytes sent or throws. `waiting:
    /// false` refuses to wait (MSG_DONTWAIT) even on a blocking socket.
    static func send(_ socket: FileDescriptor, _ bytes: UnsafeRawBufferPointer,
                     waiting: Bool = true) throws(Errno) -> Int {
        let flags = MSG_NOSIGNAL | (waiting ? 0 : MSG_DONTWAIT)
        return try valueOrErrno { Glibc.send(socket.rawValue, bytes.baseAddress, bytes.count, Int32(flags)) }
    }
}
