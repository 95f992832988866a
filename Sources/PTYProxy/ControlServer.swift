#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPTYShim
import SystemPackage
import Synchronization

/// What the control channel may read and act on in a running session.
struct ControlContext: Sendable {
    let id: String
    let terminal: PseudoTerminal
    let child: ChildProcess
    let counters: RelayCounters
    let command: [ByteString]
    let startedAt = monotonicMilliseconds()
}

/// The session's control socket, served on a thread of its own.
///
/// It never waits on the data paths: a resize is one ioctl on the master,
/// which does not block whatever the relay is doing. Every client socket is
/// non-blocking and has a deadline, so a client that connects and stalls,
/// or sends half a line, is dropped without delaying anyone else.
///
/// The socket is created under a temporary name, listened on, and only then
/// hard-linked to `ID.sock`: the name appears atomically, already serving,
/// and link(2) failing with EEXIST is how a duplicate ID is detected.
public final class ControlServer: Sendable {
    /// Clients served at once; more are answered `error busy`.
    static let maximumClients = 16
    /// A client idle this long without a complete request is dropped.
    static let clientTimeoutMilliseconds: Int64 = 5000

    public let socketPath: String
    private let listener: FileDescriptor
    private let identity: FileIdentity?
    private let wakeup: Wakeup
    private let stopping = Atomic<Bool>(false)

    /// Binds `directory/ID.sock`, refusing an ID whose session is alive and
    /// replacing a stale socket.
    init(directory: String, id: String) throws(SessionError) {
        try SessionDirectory.prepare(directory)
        let path = SessionDirectory.socketPath(directory: directory, id: id)
        let temporary = "\(directory)/.\(id).\(getpid()).tmp"
        guard temporary.utf8.count <= UnixSocket.maximumPathLength else {
            throw SessionError("control socket path too long: \(path)")
        }
        let listener: FileDescriptor
        do {
            listener = try UnixSocket.make()
        } catch {
            throw SessionError("cannot create control socket: \(error)")
        }
        do {
            unlink(temporary)
            let oldMask = umask(0o177)
            defer { umask(oldMask) }
            try UnixSocket.bind(listener, to: temporary)
            defer { unlink(temporary) }
            try valueOrErrno { listen(listener.rawValue, 64) }
            try zeroOrErrno { ptyshim_set_nonblocking(listener.rawValue, 1) }
            try Self.publish(temporary, as: path, id: id)
        } catch let error as Errno {
            listener.closeQuietly()
            throw SessionError("cannot create control socket \(path): \(error)")
        } catch let error as SessionError {
            listener.closeQuietly()
            throw error
        } catch {
            listener.closeQuietly()
            throw SessionError("cannot create control socket \(path): \(error)")
        }
        self.socketPath = path
        self.listener = listener
        self.identity = FileIdentity(path: path)
        do {
            self.wakeup = try Wakeup()
        } catch {
            unlink(path)
            listener.closeQuietly()
            throw SessionError("cannot create control socket: \(error)")
        }
    }

    /// Links the listening socket to its public name; a live session there
    /// refuses the ID, a dead one's socket is replaced.
    private static func publish(_ temporary: String, as path: String, id: String) throws {
        for _ in 0..<3 {
            do throws(Errno) {
                try valueOrErrno { link(temporary, path) }
                return
            } catch {
                // EEXIST: someone's socket is there, alive or left by a dead session.
                guard error == .fileExists else { throw error }
            }
            if UnixSocket.isListening(at: path) {
                throw SessionError("session '\(id)' is already running (\(path))")
            }
            unlink(path)  // stale: its proxy is gone
        }
        throw SessionError("session '\(id)': control socket \(path) keeps reappearing")
    }

    func start(context: ControlContext) -> IOThread {
        IOThread { [self] in serve(context) }
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
    }

    /// Removes the socket file, if it is still ours.
    func removeSocket() {
        if let identity, FileIdentity(path: socketPath) == identity {
            unlink(socketPath)
        }
    }

    func close() {
        listener.closeQuietly()
        wakeup.close()
    }

    // MARK: Serving

    private func serve(_ context: ControlContext) {
        var clients = ClientTable(capacity: Self.maximumClients)
        defer { clients.closeAll() }
        let entries = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: Self.maximumClients + 2)
        defer { entries.deallocate() }
        while !stopping.load(ordering: .acquiring) {
            entries[0] = pollfd(listener, .readable)
            entries[1] = pollfd(wakeup.readEnd, .readable)
            for slot in 0..<Self.maximumClients {
                entries[slot + 2] = pollfd(fd: clients.descriptor(slot), events: Poller.Events.readable.rawValue, revents: 0)
            }
            let timeout = pollTimeout(until: clients.earliestDeadline())
            guard (try? Poller.wait(entries, timeoutMilliseconds: timeout)) != nil else { continue }
            if entries[1].reported(.readable) { wakeup.drain() }
            if entries[0].reported(.readable) { acceptClients(into: &clients) }
            for slot in 0..<Self.maximumClients where entries[slot + 2].revents != 0 {
                serviceClient(slot, in: &clients, context)
            }
            clients.expire(now: monotonicMilliseconds()) { descriptor in
                reply("error timeout", to: descriptor)
            }
        }
    }

    private func acceptClients(into clients: inout ClientTable) {
        while true {
            var raw: CInt = -1
            guard ptyshim_accept(listener.rawValue, &raw) == 0 else { return }
            let client = FileDescriptor(rawValue: raw)
            var peer: uid_t = 0
            guard ptyshim_peer_uid(raw, &peer) == 0, peer == getuid() else {
                reply("error permission denied", to: client)
                client.closeQuietly()
                continue
            }
            if !clients.add(client, deadline: monotonicMilliseconds() + Self.clientTimeoutMilliseconds) {
                reply("error busy", to: client)
                client.closeQuietly()
            }
        }
    }

    /// Reads what the client sent and answers every complete line.
    private func serviceClient(_ slot: Int, in clients: inout ClientTable, _ context: ControlContext) {
        let descriptor = FileDescriptor(rawValue: clients.descriptor(slot))
        var chunk = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let count = withUnsafeMutableBytes(of: &chunk) { raw in
            (try? valueOrErrno { system_read(descriptor.rawValue, raw.baseAddress, raw.count) }) ?? -1
        }
        if count < 0 && errno == EAGAIN { return }
        if count <= 0 {
            // End of the client's requests: a pending partial line is a
            // request too (conpty_proxy.exe clients send "W H" and close).
            if let line = clients.takePendingLine(slot), !line.isEmpty {
                reply(answer(ControlRequest.parse(line), context), to: descriptor)
            }
            clients.remove(slot)
            return
        }
        withUnsafeBytes(of: &chunk) { raw in
            clients.append(UnsafeRawBufferPointer(rebasing: raw[..<count]), to: slot,
                           deadline: monotonicMilliseconds() + Self.clientTimeoutMilliseconds) { line in
                reply(answer(line.map { ControlRequest.parse($0) } ?? .failure(.lineTooLong), context), to: descriptor)
            }
        }
        if clients.isOverLimit(slot) {
            clients.remove(slot)
        }
    }

    private func answer(_ parsed: Result<ControlRequest, ControlRequestError>, _ context: ControlContext) -> String {
        switch parsed {
        case .failure(let error):
            return "error \(error)"
        case .success(.ping):
            return "ok pong"
        case .success(.resize(let size)):
            do {
                try context.terminal.resize(to: size)
                return "ok \(size.columns) \(size.rows)"
            } catch {
                return "error resize failed: \(error)"
            }
        case .success(.signal(let signal)):
            guard let group = try? context.terminal.foregroundProcessGroup(), group > 0 else {
                return "error no foreground process group"
            }
            do {
                try valueOrErrno { kill(-group, signal) }
                return "ok"
            } catch {
                return "error \(error)"
            }
        case .success(.status):
            return "ok " + statusJSON(context)
        }
    }

    private func statusJSON(_ context: ControlContext) -> String {
        let size = (try? context.terminal.size()) ?? WindowSize(columns: 0, rows: 0)
        let uptime = monotonicMilliseconds() - context.startedAt
        let fraction = String(uptime % 1000)
        let seconds = "\(uptime / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
        let command = context.command.map(\.jsonQuoted).joined(separator: ",")
        return "{\"id\":\(JSON.quote(context.id)),\"pid\":\(getpid()),\"child_pid\":\(context.child.pid)"
            + ",\"cols\":\(size.columns),\"rows\":\(size.rows)"
            + ",\"bytes_in\":\(context.counters.bytesIn),\"bytes_out\":\(context.counters.bytesOut)"
            + ",\"uptime\":\(seconds),\"command\":[\(command)]}"
    }
}

/// Sends one reply line; a client that cannot take a short line right away
/// does not get to delay the server.
private func reply(_ text: String, to client: FileDescriptor) {
    var line = text
    line.append("\n")
    line.withUTF8 { bytes in
        _ = try? UnixSocket.send(client, UnsafeRawBufferPointer(bytes))
    }
}

/// The control server's clients: fixed slots, each with a line buffer and a deadline.
struct ClientTable: ~Copyable {
    private var descriptors: [CInt]
    private var deadlines: [Int64]
    private var buffers: [[UInt8]]
    private var overLimit: [Bool]

    init(capacity: Int) {
        descriptors = Array(repeating: -1, count: capacity)
        deadlines = Array(repeating: 0, count: capacity)
        buffers = Array(repeating: [], count: capacity)
        overLimit = Array(repeating: false, count: capacity)
        for index in buffers.indices { buffers[index].reserveCapacity(ControlRequest.maximumLineLength + 1) }
    }

    func descriptor(_ slot: Int) -> CInt { descriptors[slot] }

    mutating func add(_ client: FileDescriptor, deadline: Int64) -> Bool {
        guard let slot = descriptors.firstIndex(of: -1) else { return false }
        descriptors[slot] = client.rawValue
        deadlines[slot] = deadline
        buffers[slot].removeAll(keepingCapacity: true)
        overLimit[slot] = false
        return true
    }

    mutating func remove(_ slot: Int) {
        FileDescriptor(rawValue: descriptors[slot]).closeQuietly()
        descriptors[slot] = -1
        buffers[slot].removeAll(keepingCapacity: true)
    }

    func earliestDeadline() -> Int64? {
        descriptors.indices.filter { descriptors[$0] >= 0 }.map { deadlines[$0] }.min()
    }

    /// Drops clients past their deadline, after `farewell`.
    mutating func expire(now: Int64, farewell: (FileDescriptor) -> Void) {
        for slot in descriptors.indices where descriptors[slot] >= 0 && deadlines[slot] <= now {
            farewell(FileDescriptor(rawValue: descriptors[slot]))
            remove(slot)
        }
    }

    /// Appends received bytes; calls `line` for each complete line (nil for
    /// one over the length limit, after which the client is dropped).
    mutating func append(_ bytes: UnsafeRawBufferPointer, to slot: Int, deadline: Int64,
                         line: ([UInt8]?) -> Void) {
        deadlines[slot] = deadline
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                line(buffers[slot])
                buffers[slot].removeAll(keepingCapacity: true)
            } else if buffers[slot].count >= ControlRequest.maximumLineLength {
                line(nil)
                overLimit[slot] = true
                return
            } else {
                buffers[slot].append(byte)
            }
        }
    }

    func isOverLimit(_ slot: Int) -> Bool { overLimit[slot] }

    mutating func takePendingLine(_ slot: Int) -> [UInt8]? {
        defer { buffers[slot].removeAll(keepingCapacity: true) }
        return buffers[slot]
    }

    mutating func closeAll() {
        for slot in descriptors.indices where descriptors[slot] >= 0 { remove(slot) }
    }
}

/// Just enough JSON to write the status line.
enum JSON {
    static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
