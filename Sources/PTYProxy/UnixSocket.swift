#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPTYShim
import SystemPackage

/// Small helpers for AF_UNIX stream sockets.
enum UnixSocket {
    /// The longest path a sockaddr_un holds, terminator excluded.
    static var maximumPathLength: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    /// A new stream socket, close-on-exec.
    static func make() throws(Errno) -> FileDescriptor {
        #if os(Linux)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_STREAM
        #endif
        return FileDescriptor(rawValue: try valueOrErrno { socket(AF_UNIX, type, 0) })
    }

    /// Calls `body` with a sockaddr_un for `path`.
    static func withAddress<Result, Failure: Error>(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
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

    static func bind(_ socket: FileDescriptor, to path: String) throws(Errno) {
        _ = try withAddress(path) { address, length throws(Errno) in
            try valueOrErrno { Glibc.bind(socket.rawValue, address, length) }
        }
    }

    static func connect(_ socket: FileDescriptor, to path: String) throws(Errno) {
        _ = try withAddress(path) { address, length throws(Errno) in
            try valueOrErrno { Glibc.connect(socket.rawValue, address, length) }
        }
    }

    /// Whether something is listening at `path` (a live session).
    static func isListening(at path: String) -> Bool {
        guard let probe = try? make() else { return false }
        defer { probe.closeQuietly() }
        return (try? connect(probe, to: path)) != nil
    }

    /// send(2) without SIGPIPE; returns bytes sent or throws.
    static func send(_ socket: FileDescriptor, _ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try valueOrErrno { Glibc.send(socket.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }
}

/// Identifies a file, to remove a socket only while it is still ours.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
