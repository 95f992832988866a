#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// Talks to a running session's control socket: one request, one reply.
public struct ControlClient: Sendable {
    /// Why a request did not get an `ok`.
    public enum Failure: Error, Equatable, Sendable {
        /// Nothing listens at the socket: the session is not running.
        case noSuchSession(String)
        /// The session answered `error REASON`.
        case refused(String)
        /// The socket could not be used, or the reply did not come in time.
        case failed(String)
    }

    public let directory: String

    public init(directory: String = SessionDirectory.defaultPath()) {
        self.directory = directory
    }

    /// Sends `request` (one line, no newline) to session `id` and returns the
    /// text after `ok` in the reply.
    public func send(_ request: String, to id: String, timeoutMilliseconds: Int32 = 5000) throws(Failure) -> String {
        let path = SessionDirectory.socketPath(directory: directory, id: id)
        guard path.utf8.count <= UnixSocket.maximumPathLength else { throw .failed("socket path too long: \(path)") }
        let socket: FileDescriptor
        do { socket = try UnixSocket.make() } catch { throw .failed("cannot create a socket: \(error)") }
        defer { socket.closeQuietly() }
        do {
            try UnixSocket.connect(socket, to: path)
        } catch .noSuchFileOrDirectory, .connectionRefused {
            throw .noSuchSession(id)
        } catch {
            throw .failed("cannot connect to \(path): \(error)")
        }
        var line = request + "\n"
        let sendError: Errno? = line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                do {
                    offset += try UnixSocket.send(socket, UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[offset...])))
                } catch let error as Errno {
                    return error
                } catch {
                    return .ioError
                }
            }
            return nil
        }
        // A server that refuses us answers and closes before reading, so a
        // failed send may still have a reply waiting: read it first.
        let reply: String
        do {
            reply = try readLine(socket, timeoutMilliseconds: timeoutMilliseconds, id: id)
        } catch {
            if let sendError { throw .failed("cannot send to session '\(id)': \(sendError)") }
            throw error
        }
        if reply == "ok" { return "" }
        if reply.hasPrefix("ok ") { return String(reply.dropFirst(3)) }
        if reply.hasPrefix("error ") { throw .refused(String(reply.dropFirst(6))) }
        throw .failed("unexpected reply from session '\(id)': \(reply)")
    }

    private func readLine(_ socket: FileDescriptor, timeoutMilliseconds: Int32, id: String) throws(Failure) -> String {
        var bytes: [UInt8] = []
        let deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let ready = (try? Poller.wait(for: socket, events: .readable,
                                          timeoutMilliseconds: pollTimeout(until: deadline))) ?? []
            if ready.isEmpty { throw .failed("session '\(id)' did not answer in time") }
            let count = chunk.withUnsafeMutableBytes { raw in
                (try? valueOrErrno { system_read(socket.rawValue, raw.baseAddress, raw.count) }) ?? -1
            }
            if count <= 0 {
                if bytes.isEmpty { throw .noSuchSession(id) }
                break
            }
            bytes += chunk[..<count]
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                bytes.removeSubrange(newline...)
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The live sessions of this user, as (id, status JSON); removes the
    /// sockets of sessions that are gone.
    public func list() -> [(id: String, status: String)] {
        var sessions: [(id: String, status: String)] = []
        for id in SessionDirectory.socketIDs(in: directory) {
            do {
                sessions.append((id, try send("status", to: id, timeoutMilliseconds: 2000)))
            } catch .noSuchSession {
                let path = SessionDirectory.socketPath(directory: directory, id: id)
                if !UnixSocket.isListening(at: path) { unlink(path) }
            } catch {
                continue
            }
        }
        return sessions
    }
}
