// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage

/// Talks to a running session's control socket: one request, one reply.
///
/// Trusts nothing it did not check: it only looks in control directories
/// that pass the same checks as `new`'s (SessionDirectory), tells live from
/// stale by the session's lock (SessionLock) before connecting, connects
/// with a deadline, checks the server's uid (SO_PEERCRED), waits for the
/// reply with a deadline, and returns only text safe to print (ControlReply).
public struct ControlClient: Sendable {
    /// Why a request did not get an `ok`.
    public enum Failure: Error, Equatable, Sendable {
        /// No session of that ID is running.
        case noSuchSession(String)
        /// The session answered `error REASON`.
        case refused(String)
        /// The socket or directory could not be used, or the reply did not come in time.
        case failed(String)
    }

    /// The verified directories, in order of preference.
    public let directories: [ControlDirectory]
    /// One line per candidate directory that exists but cannot be trusted.
    public let problems: [String]

    /// The directories of this user's environment (see SessionDirectory).
    public init() {
        (directories, problems) = SessionDirectory.forClients()
    }

    /// One explicit, verified directory.
    public init(directory: ControlDirectory) {
        directories = [directory]
        problems = []
    }

    /// Sends `request` (one line, no newline) to session `id` and returns the
    /// text after `ok` in the reply (escaped for printing, the JSON way for
    /// a `.json` reply).
    public func send(_ request: String, to id: String, reply form: ControlReply.Form = .text,
                     timeoutMilliseconds: Int32 = 5000) throws(Failure) -> String {
        let deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds)
        for directory in directories {
            switch try liveness(of: id, in: directory, cleanUpStale: false) {
            case .live: return try send(request, to: id, in: directory, form: form, deadline: deadline)
            case .gone: continue
            }
        }
        if let problem = problems.first { throw .failed(problem) }
        throw .noSuchSession(id)
    }

    /// The socket path of a live session `id` in any of the directories, if
    /// there is one: `new` refuses an ID that is live in another candidate
    /// directory (one made while its preferred directory was squatted).
    public func liveSocket(of id: String) -> ByteString? {
        for directory in directories where (try? liveness(of: id, in: directory, cleanUpStale: false)) == .live {
            return directory.socketPath(id)
        }
        return nil
    }

    enum Liveness { case live, gone }

    /// Live when another process holds the ID's lock. A lock that can be
    /// taken proves the session gone; with `cleanUpStale`, what it left is
    /// removed while the lock is held, so no new session can be hit.
    func liveness(of id: String, in directory: ControlDirectory, cleanUpStale: Bool) throws(Failure) -> Liveness {
        do {
            switch try SessionLock.take(id, in: directory, create: cleanUpStale) {
            case .held: return .live
            case .absent: return .gone
            case .acquired(let lock):
                lock.removeLeftovers()
                lock.release()
                return .gone
            }
        } catch {
            throw .failed("cannot check session '\(id)' in \(directory.path.printablePath): \(error)")
        }
    }

    private func send(_ request: String, to id: String, in directory: ControlDirectory,
                      form: ControlReply.Form = .text, deadline: Int64) throws(Failure) -> String {
        let socket = try connect(to: id, in: directory, deadline: deadline)
        defer { socket.closeQuietly() }
        var line = request + "\n"
        let sendError: Errno? = line.withUTF8 { bytes in
            do throws(Errno) {
                try UnixSocket.sendAll(socket, UnsafeRawBufferPointer(bytes), deadline: deadline)
                return nil
            } catch {
                return error
            }
        }
        // A server that refuses us answers and closes before reading, so a
        // failed send may still have a reply waiting: read it first.
        let reply: [UInt8]
        do {
            reply = try readLine(socket, deadline: deadline, id: id)
        } catch {
            if let sendError { throw .failed("cannot send to session '\(id)': \(sendError)") }
            throw error
        }
        switch ControlReply.parse(reply, form: form) {
        case .ok(let text): return text
        case .error(let reason): throw .refused(reason)
        case .unexpected(let quoted): throw .failed("unexpected reply from session '\(id)': \(quoted)")
        }
    }

    /// A non-blocking socket connected to session `id`'s control socket in
    /// `directory`, its server's uid checked.
    func connect(to id: String, in directory: ControlDirectory, deadline: Int64) throws(Failure) -> FileDescriptor {
        guard let address = directory.socketAddress(SessionDirectory.socketName(id)) else {
            throw .failed("socket path too long: \(directory.socketPath(id).printablePath)")
        }
        let socket: FileDescriptor
        do { socket = try UnixSocket.make(nonblocking: true) } catch { throw .failed("cannot create a socket: \(error)") }
        do throws(Failure) {
            try checkedConnection(socket, to: id, in: directory, address: address, deadline: deadline)
            return socket
        } catch {
            socket.closeQuietly()
            throw error
        }
    }

    private func checkedConnection(_ socket: FileDescriptor, to id: String, in directory: ControlDirectory,
                                   address: ByteString, deadline: Int64) throws(Failure) {
        do {
            try UnixSocket.connect(socket, to: address, deadline: deadline)
        } catch .noSuchFileOrDirectory, .connectionRefused {
            throw .noSuchSession(id)
        } catch .timedOut {
            throw .failed("session '\(id)' did not accept the connection in time (is the proxy stopped?)")
        } catch {
            throw .failed("cannot connect to \(directory.socketPath(id).printablePath): \(error)")
        }
        var peer: uid_t = 0
        let credentials = ptyshim_peer_uid(socket.rawValue, &peer)
        guard credentials == 0 else {
            throw .failed("cannot check who serves \(directory.socketPath(id).printablePath): \(Errno(rawValue: credentials))")
        }
        guard peer == getuid() else {
            throw .failed("\(directory.socketPath(id).printablePath) is served by uid \(peer), not by you; not trusting it")
        }
    }

    /// Reads one reply line (without its newline) before `deadline`.
    private func readLine(_ socket: FileDescriptor, deadline: Int64, id: String) throws(Failure) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let ready = (try? Poller.wait(for: socket, events: .readable,
                                          timeoutMilliseconds: pollTimeout(until: deadline))) ?? []
            if ready.isEmpty { throw .failed("session '\(id)' did not answer in time") }
            let read = chunk.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in try readReady(socket.rawValue, into: raw) }
            }
            let count: Int
            switch read {
            case .success(nil): continue  // nothing ready yet
            case .success(let ready?): count = ready
            case .failure: count = 0  // a failed read ends the reply as its end of stream does
            }
            if count <= 0 {
                if bytes.isEmpty { throw .noSuchSession(id) }
                return bytes
            }
            let start = bytes.count
            bytes += chunk[..<count]
            if let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                bytes.removeSubrange(newline...)
                return bytes
            }
            if bytes.count > ControlReply.maximumLength {
                throw .failed("reply from session '\(id)' is longer than \(ControlReply.maximumLength) bytes")
            }
        }
    }

    /// The live sessions of this user, as (id, status JSON), and the sockets
    /// of sessions proven gone (their lock could be taken) removed.
    public func list(timeoutMilliseconds: Int32 = 2000) -> [(id: String, status: String)] {
        var sessions: [(id: String, status: String)] = []
        var seen = Set<String>()
        for directory in directories {
            for id in directory.sessionIDs() where !seen.contains(id) {
                guard (try? liveness(of: id, in: directory, cleanUpStale: true)) == .live else { continue }
                seen.insert(id)
                let deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds)
                if let status = try? send("status", to: id, in: directory, form: .json, deadline: deadline) {
                    sessions.append((id, status))
                }
            }
        }
        return sessions
    }
}
