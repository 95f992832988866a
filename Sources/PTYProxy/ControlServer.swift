// SPDX-License-Identifier: MIT
import Glibc
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
    /// A kept session's host (`new --keep`), nil for any other.
    let link: HostLink?
    let startedAt = monotonicMilliseconds()
}

/// The session's control socket.
///
/// A session serves it from the supervisor's poll loop (`ControlService`):
/// one thread fewer to create, start and join on every run. A kept session
/// (`new --keep`) serves it from a thread of its own, since its end waits
/// for a host that attaches through this socket (`HostLink.finish`) after
/// the supervisor has returned.
///
/// It never waits on the data paths: a resize is one ioctl on the master,
/// which does not block whatever the relay is doing. Every client socket is
/// non-blocking and every client has deadlines, so no client can hold the
/// server or a slot for long:
/// - a request line must be complete 5 s after its first byte (absolute,
///   however slowly it trickles in);
/// - a connection with nothing pending is closed after 5 s idle;
/// - replies are queued per client and sent as the client takes them, never
///   dropped or cut; a client is read no further while its queue is over
///   64 KiB, and one that takes nothing for 5 s is dropped;
/// - when all slots are taken, a client is shed for a newcomer, who is never
///   refused: the longest idle; else one whose line has been trickling in
///   for over a second; else one whose replies have waited for over a second
///   (a client that pipelines requests and takes the replies slowly holds
///   a full queue that moves just often enough never to time out); else the
///   one connected longest;
/// - out of descriptors (EMFILE), a spare one is given up to accept the
///   newcomer and answer `error busy`, instead of spinning on accept.
///
/// Liveness is the session's lock (SessionLock), held for the server's whole
/// life. Holding it, the server removes a dead predecessor's socket and
/// temporary names, binds under `.ID.PID.tmp`, listens, and renames that
/// to `ID.sock`: the name appears atomically, already serving.
public final class ControlServer: Sendable {
    /// Clients served at once.
    static let maximumClients = 16
    /// From the first byte of a request line to its newline.
    static let lineTimeoutMilliseconds: Int64 = 5000
    /// A connection with nothing pending is closed after this long.
    static let idleTimeoutMilliseconds: Int64 = 5000
    /// A client that takes none of its queued replies for this long is dropped.
    static let writeTimeoutMilliseconds: Int64 = 5000
    /// A line trickling in, or replies waiting, for this long make a client
    /// sheddable when all slots are taken.
    static let sheddableLineMilliseconds: Int64 = 1000
    /// Queued reply bytes above which a client is not read.
    static let replyQueueLimit = 64 << 10
    /// How long a second `new` waits for a lock held briefly by a client
    /// cleaning up a stale socket, before it calls the ID taken.
    static let lockWaitMilliseconds: Int64 = 300

    /// The socket's path, as bytes (the directory's may not be UTF-8).
    public let socketPath: ByteString
    private let directory: ControlDirectory
    private let lock: SessionLock
    private let socketName: String
    private let listener: FileDescriptor
    private let identity: FileIdentity?
    /// Interrupts the serving thread's poll; nil when served from a loop
    /// of the caller's (`ControlService`).
    private let wakeup: Wakeup?
    private let stopping = Atomic<Bool>(false)
    private let context = Locked<ControlContext?>(nil)

    /// Takes the ID's lock (refusing an ID whose session is alive), replaces
    /// whatever a dead session left, and publishes `ID.sock`. With
    /// `ownThread`, it is served by `start(after:)`; otherwise by a
    /// `ControlService` in the caller's poll loop.
    init(directory: ControlDirectory, id: String, ownThread: Bool) throws(SessionError) {
        let path = directory.socketPath(id).printablePath  // for messages
        let giveUp = monotonicMilliseconds() + Self.lockWaitMilliseconds
        var taken: SessionLock?
        while taken == nil {
            do {
                switch try SessionLock.take(id, in: directory, create: true) {
                case .acquired(let lock): taken = lock
                case .held, .absent:
                    guard monotonicMilliseconds() < giveUp else {
                        throw SessionError("session '\(id)' is already running (\(path))")
                    }
                    usleep(10_000)
                }
            } catch let error as SessionError {
                throw error
            } catch {
                throw SessionError("cannot lock session '\(id)' in \(directory.path.printablePath): \(error)")
            }
        }
        let lock = taken!
        lock.removeLeftovers()
        let socketName = SessionDirectory.socketName(id)
        let temporary = ".\(id).\(getpid()).tmp"
        guard let address = directory.socketAddress(temporary), directory.socketAddress(socketName) != nil else {
            lock.release()
            throw SessionError("control socket path too long: \(path)")
        }
        let listener: FileDescriptor
        do {
            listener = try UnixSocket.make()
        } catch {
            lock.release()
            throw SessionError("cannot create control socket: \(error)")
        }
        let descriptor = directory.descriptor.rawValue
        do throws(Errno) {
            try UnixSocket.bind(listener, to: address)
            defer { unlinkat(descriptor, temporary, 0) }
            // The directory keeps others out already; the socket's own mode
            // is set explicitly, whatever the umask.
            try valueOrErrno { fchmodat(descriptor, temporary, 0o600, 0) }
            try valueOrErrno { listen(listener.rawValue, 64) }
            try zeroOrErrno { ptyshim_set_nonblocking(listener.rawValue, 1) }
            try valueOrErrno { renameat(descriptor, temporary, descriptor, socketName) }
        } catch {
            listener.closeQuietly()
            lock.release()
            throw SessionError("cannot create control socket \(path): \(error)")
        }
        self.socketPath = directory.socketPath(id)
        self.directory = directory
        self.lock = lock
        self.socketName = socketName
        self.listener = listener
        self.identity = FileIdentity(in: directory, name: socketName)
        if ownThread {
            do {
                self.wakeup = try Wakeup()
            } catch {
                directory.remove(socketName)
                listener.closeQuietly()
                lock.release()
                throw SessionError("cannot create control socket: \(error)")
            }
        } else {
            self.wakeup = nil
        }
    }

    /// Creates the serving thread, parked at `gate`; it serves the context
    /// given to `publish` before the gate opens (the child's, which does not
    /// exist yet when the thread is made). Only for a server made with
    /// `ownThread`.
    func start(after gate: StartGate) throws(Errno) -> IOThread {
        precondition(wakeup != nil, "a control server served by its caller has no thread")
        return try IOThread(after: gate) { [self] in serveUntilStopped() }
    }

    func publish(_ context: ControlContext) {
        self.context.withLock { $0 = context }
    }

    /// Ends the serving thread's loop.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup?.signal()
    }

    /// Removes the socket file if it is still ours, then the lock.
    func removeSocket() {
        if let identity { directory.remove(socketName, ifStill: identity) }
        lock.release()
    }

    func close() {
        listener.closeQuietly()
        wakeup?.close()
    }

    // MARK: Serving

    /// The serving thread's loop: the service's entries plus the wake-up.
    private func serveUntilStopped() {
        guard let wakeup else { return }
        var service = ControlService(self)
        defer { service.close() }
        let entries = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: service.pollEntryCount + 1)
        defer { entries.deallocate() }
        let own = UnsafeMutableBufferPointer(rebasing: entries[..<service.pollEntryCount])
        while !stopping.load(ordering: .acquiring) {
            let deadline = service.prepare(own)
            entries[service.pollEntryCount] = pollfd(wakeup.readEnd, .readable)
            guard (try? Poller.wait(entries, timeoutMilliseconds: pollTimeout(until: deadline))) != nil else { continue }
            if entries[service.pollEntryCount].reported(.readable) { wakeup.drain() }
            service.handle(own)
        }
    }

    fileprivate var publishedContext: ControlContext? { context.withLock { $0 } }

    /// The listener's poll entry: nothing while accepting is paused.
    fileprivate func listenerEntry(acceptingAt now: Int64, pausedUntil: Int64) -> pollfd {
        pollfd(fd: now >= pausedUntil ? listener.rawValue : -1, events: Poller.Events.readable.rawValue, revents: 0)
    }

    /// Accepts what is waiting (a bounded number per round). Returns false
    /// when out of descriptors even with the spare given up: back off.
    fileprivate func acceptClients(into clients: inout ClientTable, spare: inout SpareDescriptor) -> Bool {
        for _ in 0..<64 {
            var raw: CInt = -1
            let result = ptyshim_accept(listener.rawValue, &raw)
            if result == EMFILE || result == ENFILE {
                // Give up the spare to take the newcomer off the queue and
                // tell it why, instead of seeing the listener ready forever.
                guard spare.release() else { return false }
                let retry = ptyshim_accept(listener.rawValue, &raw)
                if retry == 0 {
                    sendFarewell("error busy", to: raw)
                    FileDescriptor(rawValue: raw).closeQuietly()
                }
                spare.reopen()
                if retry != 0 { return retry == EAGAIN || retry == EWOULDBLOCK }
                continue
            }
            guard result == 0 else { return true }  // EAGAIN: done; ECONNABORTED: gone already
            var peer: uid_t = 0
            guard ptyshim_peer_uid(raw, &peer) == 0, peer == getuid() else {
                sendFarewell("error permission denied", to: raw)
                FileDescriptor(rawValue: raw).closeQuietly()
                continue
            }
            let now = monotonicMilliseconds()
            if !clients.add(raw, now: now) {
                let victim = clients.sheddable(now: now, age: Self.sheddableLineMilliseconds)
                sendFarewell("error busy", to: clients[victim].descriptor)
                clients.remove(victim)
                _ = clients.add(raw, now: now)
            }
        }
        return true
    }

    /// Reads what the client sent, answers every complete line into its
    /// queue, and sends what the queue holds.
    fileprivate func serviceClient(_ slot: Int, events: Poller.Events, in clients: inout ClientTable, _ context: ControlContext) {
        if events.contains(.readable) || (events.intersection(.failure).isEmpty == false && !events.contains(.writable)) {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let descriptor = clients[slot].descriptor
            var passed = PassedDescriptors()
            let read = chunk.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in try passed.receive(descriptor, into: raw) }
            }
            clients[slot].passed.replace(with: passed)
            switch read {
            case .success(let count?) where count > 0:
                clients[slot].received(chunk[..<count], now: monotonicMilliseconds())
            case .success(nil):
                break  // nothing ready yet
            case .success, .failure:
                clients[slot].inputEnded = true  // the end of the stream, or a failed read
            }
        }
        // Answer and send until the client's queue stays full or nothing is
        // left to answer: lines held back while the queue was full must not
        // wait for the client to send more.
        while true {
            var passed = clients[slot].passed.take()
            defer { passed.close() }
            var attachment: Attachment?
            let socket = clients[slot].descriptor
            clients[slot].answerLines { request in
                guard case .success(let line) = request, let attach = AttachRequest.parse(line) else {
                    return answer(request.flatMap { ControlRequest.parse($0) }, context)
                }
                context.counters.addRequest()
                return answerAttach(attach, passed: &passed, socket: socket, context, attached: &attachment)
            }
            if attachment != nil {
                // The socket is the attachment's now (the link sent `ok`).
                clients.forget(slot)
                return
            }
            guard clients[slot].flush(now: monotonicMilliseconds()) else { clients.remove(slot); return }
            if clients[slot].isFinished { clients.remove(slot); return }
            if clients[slot].queued > 0 || !clients[slot].hasCompleteLine { return }
        }
    }

    private func answer(_ parsed: Result<ControlRequest, ControlRequestError>, _ context: ControlContext) -> String {
        context.counters.addRequest()
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

    /// `attach [COLS ROWS] [force]` with the host's stdin and stdout passed
    /// along (see `HostLink`).
    private func answerAttach(_ request: Result<AttachRequest, ControlRequestError>, passed: inout PassedDescriptors,
                              socket: CInt, _ context: ControlContext, attached: inout Attachment?) -> String {
        guard let link = context.link else { return "error session '\(context.id)' was not started with --keep" }
        let attach: AttachRequest
        switch request {
        case .success(let parsed): attach = parsed
        case .failure(let error): return "error \(error)"
        }
        if let problem = passed.problem { return "error \(problem)" }
        let input: FileDescriptor, output: FileDescriptor
        switch passed.takePair(master: context.terminal.master) {
        case .success(let pair): (input, output) = pair
        case .failure(let refusal): return "error \(refusal)"
        }
        let host = Attachment(input: input, output: output, socket: FileDescriptor(rawValue: socket))
        let current = (try? context.terminal.size()) ?? WindowSize(columns: 0, rows: 0)
        let size = attach.size ?? current
        switch link.attach(host, force: attach.force, greeting: "ok attached \(size.columns) \(size.rows)") {
        case .attached: break
        case .busy:
            host.release()
            return "error session '\(context.id)' is attached to another host (attach --force takes it over)"
        case .ended(let code):
            // Too late to attach: the answer is the one an attached host got.
            host.release()
            return "exit \(code)"
        }
        attached = host
        if let wanted = attach.size { try? context.terminal.resize(to: wanted) }
        // The replay comes first (the output path sends it before anything
        // newer); then a full-screen program repaints, as after a resize.
        if let group = try? context.terminal.foregroundProcessGroup(), group > 0 { kill(-group, SIGWINCH) }
        return ""  // not sent: the link sent `ok` already
    }

    /// The attached client's socket reported something: its end (the
    /// client died, or closed it) detaches the host. Anything it sends is
    /// read and ignored.
    fileprivate func watchAttachedClient(_ host: Attachment, _ context: ControlContext) {
        var chunk = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let read = withUnsafeMutableBytes(of: &chunk) { raw in
            Result { () throws(Errno) in try readReady(host.socket.rawValue, into: raw) }
        }
        switch read {
        case .success(let count?) where count > 0: return
        case .success(nil): return
        case .success, .failure: context.link?.detach(host, reason: "the host's control connection ended")
        }
    }

    private func statusJSON(_ context: ControlContext) -> String {
        let size = (try? context.terminal.size()) ?? WindowSize(columns: 0, rows: 0)
        let uptime = monotonicMilliseconds() - context.startedAt
        let fraction = String(uptime % 1000)
        let seconds = "\(uptime / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
        let command = context.command.map(\.jsonQuoted).joined(separator: ",")
        return "{\"id\":\(ByteString(context.id).jsonQuoted),\"pid\":\(getpid()),\"child_pid\":\(context.child.pid)"
            + ",\"cols\":\(size.columns),\"rows\":\(size.rows)"
            + ",\"bytes_in\":\(context.counters.bytesIn),\"bytes_out\":\(context.counters.bytesOut)"
            + ",\"uptime\":\(seconds),\"requests\":\(context.counters.requests),\"command\":[\(command)]"
            + keptJSON(context.link) + "}"
    }

    /// The fields of a kept session: `,"kept":true,"attached":...`; none
    /// for any other session.
    private func keptJSON(_ link: HostLink?) -> String {
        guard let link else { return "" }
        var fields = ",\"kept\":true,\"attached\":\(link.current != nil)"
        if let since = link.detachedSince {
            fields += ",\"detached_since\":\(max(0, monotonicMilliseconds() - since) / 1000)"
        }
        return fields + ",\"buffered\":\(link.ring.count)"
    }
}

/// Serving a control socket from a poll loop: the clients and their
/// deadlines. Each round, `prepare` fills the loop's poll entries (
/// `pollEntryCount` of them) and gives the earliest deadline; after the
/// poll, `handle` answers what they reported. Made with no server, it
/// serves nothing and takes no entries.
struct ControlService: ~Copyable {
    private let server: ControlServer?
    private var context: ControlContext?
    private var clients: ClientTable
    private var spare: SpareDescriptor
    private var acceptPausedUntil: Int64 = 0
    /// A kept session's attached client, as watched by the last `prepare`.
    private var attached: Attachment?

    init(_ server: ControlServer?) {
        self.server = server
        clients = ClientTable(capacity: server == nil ? 0 : ControlServer.maximumClients)
        spare = SpareDescriptor(opened: server != nil)
    }

    /// Closes the clients and the spare descriptor; the owner of the loop
    /// calls it once, when the loop ends.
    mutating func close() {
        clients.closeAll()
        spare.close()
    }

    /// The listener, a slot per client, a kept session's attached client
    /// and its first host's process.
    var pollEntryCount: Int { server == nil ? 0 : ControlServer.maximumClients + 3 }

    /// Fills `entries`; returns when the next client's deadline is due.
    /// Until the session's context is published, nothing is watched.
    mutating func prepare(_ entries: UnsafeMutableBufferPointer<pollfd>) -> Int64? {
        guard let server else { return nil }
        if context == nil { context = server.publishedContext }
        guard let context else {
            for index in entries.indices { entries[index] = pollfd(fd: -1, events: 0, revents: 0) }
            return nil
        }
        let now = monotonicMilliseconds()
        entries[0] = server.listenerEntry(acceptingAt: now, pausedUntil: acceptPausedUntil)
        for slot in 0..<ControlServer.maximumClients {
            entries[slot + 1] = pollfd(fd: clients[slot].descriptor, events: clients[slot].wantedEvents.rawValue, revents: 0)
        }
        // A kept session's attached client: its socket's end detaches it.
        attached = context.link?.current
        entries[ControlServer.maximumClients + 1] = pollfd(fd: attached?.socket.rawValue ?? -1,
                                                           events: Poller.Events.readable.rawValue, revents: 0)
        // Until a kept session's first host attaches: that process's exit.
        entries[ControlServer.maximumClients + 2] = pollfd(fd: context.link?.firstHostExitToWatch?.rawValue ?? -1,
                                                           events: Poller.Events.readable.rawValue, revents: 0)
        var deadline = clients.earliestDeadline()
        if now < acceptPausedUntil { deadline = min(deadline ?? acceptPausedUntil, acceptPausedUntil) }
        return deadline
    }

    /// Answers what the entries filled by `prepare` reported.
    mutating func handle(_ entries: UnsafeMutableBufferPointer<pollfd>) {
        guard let server, let context else { return }
        for slot in 0..<ControlServer.maximumClients where entries[slot + 1].revents != 0 {
            server.serviceClient(slot, events: Poller.Events(rawValue: entries[slot + 1].revents), in: &clients, context)
        }
        if let attached, entries[ControlServer.maximumClients + 1].revents != 0 {
            server.watchAttachedClient(attached, context)
        }
        if entries[ControlServer.maximumClients + 2].revents != 0 { context.link?.firstHostIsGone() }
        if entries[0].reported(.readable) {
            if !server.acceptClients(into: &clients, spare: &spare) {
                acceptPausedUntil = monotonicMilliseconds() + 100
            }
        }
        clients.expire(now: monotonicMilliseconds())
    }
}

/// The descriptor kept in reserve so that accept can still take one
/// connection (to refuse it) when the process is out of descriptors.
struct SpareDescriptor {
    private var descriptor: CInt

    init(opened: Bool = true) {
        descriptor = opened ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1
    }

    /// Closes the spare; false when there is none to give up.
    mutating func release() -> Bool {
        guard descriptor >= 0 else { return false }
        FileDescriptor(rawValue: descriptor).closeQuietly()
        descriptor = -1
        return true
    }

    mutating func reopen() {
        if descriptor < 0 { descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC) }
    }

    mutating func close() { _ = release() }
}

/// Sends a last line to a client about to be closed, without waiting.
private func sendFarewell(_ text: String, to client: CInt) {
    var line = text
    line.append("\n")
    line.withUTF8 { bytes in
        _ = try? UnixSocket.send(FileDescriptor(rawValue: client), UnsafeRawBufferPointer(bytes), waiting: false)
    }
}

/// One control client: what it sent that is not answered yet, the replies
/// it has not taken yet, and the clocks its deadlines run on.
struct ControlClientState {
    var descriptor: CInt = -1
    /// Bytes received and not yet consumed as request lines.
    var input: [UInt8] = []
    /// When the first byte of the pending (incomplete) line arrived.
    var lineStartedAt: Int64?
    /// Since when nothing has been pending (no partial line, no reply queued).
    var idleSince: Int64 = 0
    /// Replies not yet sent, from `outputOffset` on.
    var output: [UInt8] = []
    var outputOffset = 0
    /// The last time queued replies made progress.
    var lastWriteProgress: Int64 = 0
    /// Since when replies have been queued without the queue emptying.
    var backlogSince: Int64?
    var connectedAt: Int64 = 0
    /// The client closed its side, or broke the protocol: read no more.
    var inputEnded = false
    /// Stop answering (a line over the limit was refused).
    var refusedFurther = false
    var lastReadAt: Int64 = 0
    /// Descriptors passed with the last bytes read (only `attach` takes them).
    var passed = PassedDescriptors()

    var queued: Int { output.count - outputOffset }
    var isIdle: Bool { input.isEmpty && queued == 0 }
    var hasCompleteLine: Bool { !refusedFurther && (input.contains(UInt8(ascii: "\n")) || (inputEnded && !input.isEmpty)) }
    var isFinished: Bool { (inputEnded || refusedFurther) && queued == 0 }

    var wantedEvents: Poller.Events {
        var events: Poller.Events = []
        if !inputEnded && !refusedFurther && queued < ControlServer.replyQueueLimit { events.insert(.readable) }
        if queued > 0 { events.insert(.writable) }
        return events
    }

    mutating func received(_ bytes: ArraySlice<UInt8>, now: Int64) {
        if input.isEmpty { lineStartedAt = now }
        input += bytes
        lastReadAt = now
    }

    /// Answers complete lines while the queue has room; at end of input, a
    /// last line without newline is a request too (conpty_proxy.exe clients
    /// send "W H" and close).
    mutating func answerLines(_ answer: (Result<ArraySlice<UInt8>, ControlRequestError>) -> String) {
        var consumed = 0
        defer {
            if consumed > 0 {
                input.removeSubrange(..<consumed)
                lineStartedAt = input.isEmpty ? nil : lastReadAt
                if isIdle { idleSince = lastReadAt }
            }
        }
        while !refusedFurther && queued < ControlServer.replyQueueLimit {
            let rest = input[consumed...]
            if let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
                let line = rest[..<newline]
                consumed = newline + 1
                if line.count > ControlRequest.maximumLineLength {
                    enqueue(answer(.failure(.lineTooLong)))
                    refusedFurther = true
                } else {
                    enqueue(answer(.success(line)))
                }
            } else if rest.count > ControlRequest.maximumLineLength {
                enqueue(answer(.failure(.lineTooLong)))
                refusedFurther = true
                consumed = input.count
            } else {
                if inputEnded && !rest.isEmpty {
                    enqueue(answer(.success(rest)))
                    consumed = input.count
                }
                return
            }
        }
    }

    mutating func enqueue(_ reply: String) {
        if queued == 0 {
            output.removeAll(keepingCapacity: true)
            outputOffset = 0
            lastWriteProgress = monotonicMilliseconds()
            if backlogSince == nil { backlogSince = lastWriteProgress }
        }
        output += reply.utf8
        output.append(UInt8(ascii: "\n"))
    }

    /// Sends what is queued, as much as the socket takes. False when the
    /// client is gone (the send failed).
    mutating func flush(now: Int64) -> Bool {
        while queued > 0 {
            let socket = FileDescriptor(rawValue: descriptor), offset = outputOffset, count = queued
            let result = output.withUnsafeBytes { raw in
                Result { () throws(Errno) in
                    try UnixSocket.send(socket, UnsafeRawBufferPointer(start: raw.baseAddress! + offset, count: count),
                                        waiting: false)
                }
            }
            guard case .success(let sent) = result else {
                return result == .failure(.wouldBlock)  // full, not gone
            }
            outputOffset += sent
            lastWriteProgress = now
        }
        output.removeAll(keepingCapacity: output.capacity <= ControlServer.replyQueueLimit)
        outputOffset = 0
        backlogSince = nil
        if input.isEmpty && lineStartedAt == nil { idleSince = now }
        return true
    }

    /// When this client must be dropped, and whether it is told `error timeout`.
    var deadline: (at: Int64, farewell: Bool) {
        if queued > 0 { return (lastWriteProgress + ControlServer.writeTimeoutMilliseconds, false) }
        if let lineStartedAt { return (lineStartedAt + ControlServer.lineTimeoutMilliseconds, true) }
        return (idleSince + ControlServer.idleTimeoutMilliseconds, true)
    }
}

/// The control server's clients: fixed slots.
struct ClientTable: ~Copyable {
    private var slots: [ControlClientState]

    init(capacity: Int) {
        slots = Array(repeating: ControlClientState(), count: capacity)
    }

    subscript(slot: Int) -> ControlClientState {
        get { slots[slot] }
        _modify { yield &slots[slot] }
    }

    mutating func add(_ descriptor: CInt, now: Int64) -> Bool {
        guard let slot = slots.firstIndex(where: { $0.descriptor < 0 }) else { return false }
        slots[slot] = ControlClientState(descriptor: descriptor, idleSince: now, lastWriteProgress: now,
                                         connectedAt: now, lastReadAt: now)
        return true
    }

    mutating func remove(_ slot: Int) {
        FileDescriptor(rawValue: slots[slot].descriptor).closeQuietly()
        forget(slot)
    }

    /// Frees the slot without closing its socket (an attached host owns it).
    mutating func forget(_ slot: Int) {
        slots[slot].passed.close()
        slots[slot] = ControlClientState()
    }

    /// The client to shed for a newcomer, when every slot is taken (see
    /// `ControlServer`): the longest idle; else the one whose line has
    /// trickled in longest, or whose replies have waited longest, if over
    /// `age`; else the one connected longest.
    func sheddable(now: Int64, age: Int64) -> Int {
        let used = slots.indices.filter { slots[$0].descriptor >= 0 }
        if let idle = used.filter({ slots[$0].isIdle }).min(by: { slots[$0].idleSince < slots[$1].idleSince }) {
            return idle
        }
        let waiting = used.compactMap { slot -> (slot: Int, since: Int64)? in
            let client = slots[slot]
            let since = client.queued == 0 ? client.lineStartedAt : client.backlogSince
            return since.map { (slot, $0) }
        }
        if let oldest = waiting.min(by: { $0.since < $1.since }), oldest.since <= now - age {
            return oldest.slot
        }
        return used.min { slots[$0].connectedAt < slots[$1].connectedAt } ?? 0
    }

    /// Allocates nothing: it runs on every round of the server's loop.
    func earliestDeadline() -> Int64? {
        var earliest: Int64?
        for slot in slots where slot.descriptor >= 0 {
            earliest = min(earliest ?? slot.deadline.at, slot.deadline.at)
        }
        return earliest
    }

    /// Drops clients past their deadline, telling those that wait on us why.
    mutating func expire(now: Int64) {
        for slot in slots.indices where slots[slot].descriptor >= 0 {
            let (at, farewell) = slots[slot].deadline
            guard at <= now else { continue }
            if farewell { sendFarewell("error timeout", to: slots[slot].descriptor) }
            remove(slot)
        }
    }

    mutating func closeAll() {
        for slot in slots.indices where slots[slot].descriptor >= 0 { remove(slot) }
    }
}
