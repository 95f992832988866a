// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage
import Synchronization

/// One host attached to a kept session: the stdin and stdout it passed over
/// the control socket, and that socket, on which it waits for the session's
/// last line.
///
/// A class, so that the last reference closes the three descriptors: the
/// link, the input thread, the output writer and the control thread each
/// hold one only while they use it, so no thread ever reads, writes or
/// polls a descriptor number that was closed (and maybe reused) under it.
final class Attachment: Sendable {
    let input: FileDescriptor
    let output: FileDescriptor
    let socket: FileDescriptor
    let outputIsPipe: Bool
    private let inputIsSocket: Bool
    private let outputWriting: OutputWriting
    /// The host closed its stdin and the ^D was typed: read it no more.
    let inputEnded = Atomic<Bool>(false)
    /// False for a refused attach: the socket stays the control server's.
    private let ownsSocket = Atomic<Bool>(true)

    /// How `writeOutput` keeps from waiting on the host's stdout.
    private enum OutputWriting {
        /// A non-blocking description, or a regular file or block device
        /// (a write there never waits for a reader).
        case plain
        /// A socket: send(2) with MSG_DONTWAIT, whatever its description says.
        case socket
        /// A pipe or character device passed blocking that could not be
        /// reopened (no /proc): a write only after poll says it has room,
        /// and at most PIPE_BUF bytes, which a pipe with a free slot takes
        /// whole. (A terminal says it has room from one free byte on: for
        /// one, this is the best that can be done.)
        case guarded
    }

    /// `output` is replaced by a non-blocking description of the same pipe
    /// or terminal when there is one (`ptyshim_reopen_nonblocking_writer`):
    /// O_NONBLOCK is never set on the description the host shares with
    /// others. A socket is written with MSG_DONTWAIT instead. Either way a
    /// write to a host that does not read never holds the output path, so
    /// another host can take over at once (`OutputPath`).
    /// `input` likewise (`ptyshim_reopen_nonblocking_reader`; a socket is
    /// read with MSG_DONTWAIT): another process reading the same stdin (a
    /// terminal its shell reads too) may take the bytes poll announced,
    /// and a blocking read would then keep the input thread on this host
    /// after the next one attached.
    /// (`reopening: false` leaves both as passed, as when /proc is not
    /// there: for tests.)
    init(input: FileDescriptor, output: FileDescriptor, socket: FileDescriptor, reopening: Bool = true) {
        var reopened: CInt = -1
        if reopening && ptyshim_reopen_nonblocking_writer(output.rawValue, &reopened) == 0 {
            output.closeQuietly()
            self.output = FileDescriptor(rawValue: reopened)
        } else {
            self.output = output
        }
        if reopening && ptyshim_reopen_nonblocking_reader(input.rawValue, &reopened) == 0 {
            input.closeQuietly()
            self.input = FileDescriptor(rawValue: reopened)
        } else {
            self.input = input
        }
        var info = stat()
        inputIsSocket = fstat(self.input.rawValue, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
        self.socket = socket
        var capacity: CInt = 0
        outputIsPipe = ptyshim_pipe_capacity(self.output.rawValue, &capacity) == 0
        outputWriting = Self.writing(for: self.output)
    }

    private static func writing(for output: FileDescriptor) -> OutputWriting {
        var info = stat()
        guard fstat(output.rawValue, &info) == 0 else { return .plain }  // the write reports it
        let type = info.st_mode & S_IFMT
        if type == S_IFSOCK { return .socket }
        if type == S_IFREG || type == S_IFBLK { return .plain }
        let flags = fcntl(output.rawValue, F_GETFL)
        return flags >= 0 && flags & O_NONBLOCK != 0 ? .plain : .guarded
    }

    /// Reads what the host's stdin has now: the byte count (0 at its end),
    /// or EAGAIN (`.wouldBlock`) when another reader took what poll saw.
    func readInput(_ buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        if inputIsSocket {
            return try valueOrErrno(on: .host) { recv(input.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }
        }
        return try valueOrErrno(on: .host) { system_read(input.rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes what the host's stdout takes now, never waiting for it:
    /// the bytes written, or EAGAIN (`.wouldBlock`) when it has no room.
    func writeOutput(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        switch outputWriting {
        case .plain:
            return try valueOrErrno(on: .host) { system_write(output.rawValue, bytes.baseAddress, bytes.count) }
        case .socket:
            return try valueOrErrno(on: .host) {
                Glibc.send(output.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
        case .guarded:
            let ready = (try? Poller.wait(for: output, events: .writable, timeoutMilliseconds: 0)) ?? []
            guard !ready.isEmpty else { throw .wouldBlock }
            let count = min(bytes.count, Int(PIPE_BUF))
            return try valueOrErrno(on: .host) { system_write(output.rawValue, bytes.baseAddress, count) }
        }
    }

    deinit {
        input.closeQuietly()
        output.closeQuietly()
        if ownsSocket.load(ordering: .acquiring) { socket.closeQuietly() }
    }

    /// A refused attach: the passed descriptors are closed with this
    /// object, the socket is left to the control server (it answers on it).
    func release() { ownsSocket.store(false, ordering: .releasing) }

    /// Sends one line to the waiting client, without waiting: it has
    /// nothing else queued, so a line this short always fits.
    func tell(_ text: String) {
        var line = text
        line.append("\n")
        line.withUTF8 { bytes in
            _ = try? UnixSocket.send(socket, UnsafeRawBufferPointer(bytes), waiting: false)
        }
    }

    /// Whether the host is gone: its stdout is a pipe nobody reads any more
    /// (POLLERR), or the client's socket ended. Waits up to `milliseconds`
    /// for either (see `InputPath.runKept`).
    func hostIsGone(within milliseconds: Int32) -> Bool {
        var entries = (pollfd(output, .none), pollfd(socket, .readable))
        return withUnsafeMutableBytes(of: &entries) { raw in
            let list = raw.bindMemory(to: pollfd.self)
            let deadline = monotonicMilliseconds() + Int64(milliseconds)
            while true {
                let ready = (try? Poller.wait(list, timeoutMilliseconds: pollTimeout(until: deadline))) ?? 0
                if list[0].reported(.failure) || list[1].revents != 0 { return true }
                if ready == 0 && monotonicMilliseconds() >= deadline { return false }
            }
        }
    }
}

/// Which host a kept session (`new --keep`) has, if any, and the output
/// kept while it has none.
///
/// The control thread attaches and detaches; the input thread reads the
/// attachment's stdin; the output path writes its stdout, or, while no
/// host is attached, keeps the bytes in `ring`. The ring's bytes are only
/// ever touched by the one thread inside `OutputPath.writeOut` (the
/// `BufferHandoff` rule), so the replay after an attach needs no lock and
/// cannot be overtaken by live output.
final class HostLink: Sendable {
    private struct State {
        var attachment: Attachment?
        var detachedSince: Int64?
        /// The session has ended with this code (`new`'s exit status): no
        /// host may attach any more.
        var finished: Int32?
        /// Until `firstHostDeadline`, output waits for the first host, the
        /// `new --keep` process, rather than going to the ring: a program
        /// that writes more than the ring holds before that host is
        /// attached must not cost it its first output. False once a host
        /// attached, once the deadline passed, or once that host's process
        /// is known to be gone (`firstHostIsGone`).
        var waitsForFirstHost = true

        /// Whether a thread that needs the first host sleeps on: none is
        /// attached yet and it may still come.
        var awaitsFirstHost: Bool { attachment == nil && waitsForFirstHost && finished == nil }
    }

    /// How long output waits for the first host (see `State`): the front
    /// attaches within milliseconds of the session being ready.
    static let firstHostWaitMilliseconds: Int64 = 5000

    /// Broadcast when the wait for the first host ends (it attached, or
    /// its process is gone): the output and the end of the session sleep
    /// on it until then, or until `firstHostDeadline`.
    private static let firstHostWaitEnded = LockCondition(0)

    private let state: Locked<State>
    /// When the wait for the first host gives up (monotonic ms).
    private let firstHostDeadline: Int64
    /// A pidfd of the first host's process (the `new --keep` front), which
    /// becomes readable when it exits: the control thread polls it while
    /// the link waits for that host (`firstHostExitToWatch`).
    private let firstHostExit: FileDescriptor?
    let ring: OutputRing
    /// Signalled on every attach and detach, so that the threads waiting
    /// on the old host's descriptors let go of them.
    private let observers = Locked<[Wakeup]>([])

    /// `firstHostParent`: the pid of this process's parent when that
    /// parent is the first host (the `new --keep` front forks the session's
    /// server). Its exit ends the wait for it at once, rather than at the
    /// deadline; so does finding it already gone (no longer the parent).
    init(bufferBytes: Int, firstHostWaitMilliseconds: Int64 = HostLink.firstHostWaitMilliseconds,
         firstHostParent: pid_t? = nil) throws(Errno) {
        ring = try OutputRing(capacity: bufferBytes)
        let now = monotonicMilliseconds()
        firstHostDeadline = now + firstHostWaitMilliseconds
        let watch = firstHostParent.map(Self.watchParent) ?? .unwatched
        if case .watched(let pidfd) = watch { firstHostExit = pidfd } else { firstHostExit = nil }
        var initial = State(attachment: nil, detachedSince: now)
        if case .gone = watch { initial.waitsForFirstHost = false }
        state = Locked(initial, conditions: 1)
    }

    deinit { firstHostExit?.closeQuietly() }

    private enum ParentWatch { case watched(FileDescriptor), gone, unwatched }

    /// A pidfd of `pid` if it is still this process's parent once the
    /// pidfd is open (a process is given another parent the moment its
    /// parent exits, so the pidfd is then of that parent, not of a process
    /// that took its pid over); `.gone` if not. Without pidfds (Linux
    /// before 5.3, or out of descriptors) only the deadline ends the wait.
    private static func watchParent(_ pid: pid_t) -> ParentWatch {
        var descriptor: CInt = -1
        let opened = ptyshim_pidfd_open(pid, &descriptor)
        if opened == ESRCH { return .gone }
        guard opened == 0 else { return .unwatched }
        guard getppid() == pid else {
            FileDescriptor(rawValue: descriptor).closeQuietly()
            return .gone
        }
        return .watched(FileDescriptor(rawValue: descriptor))
    }

    func notifyOnChange(_ wakeup: Wakeup) {
        observers.withLock { $0.append(wakeup) }
    }

    /// The attached host, if any.
    var current: Attachment? { state.withLock { $0.attachment } }

    /// When the last host went (monotonic ms), nil while one is attached.
    var detachedSince: Int64? { state.withLock { $0.detachedSince } }

    /// The first host's pidfd while the link still waits for that host,
    /// for the control thread to poll; it reports once that process
    /// exited, and the control thread then calls `firstHostIsGone`.
    var firstHostExitToWatch: FileDescriptor? {
        guard let firstHostExit, state.withLock({ $0.awaitsFirstHost }) else { return nil }
        return firstHostExit
    }

    /// The first host will never attach (its process exited): output and
    /// the session's end stop waiting for it.
    func firstHostIsGone() {
        state.withLock(waking: .all(Self.firstHostWaitEnded)) { $0.waitsForFirstHost = false }
    }

    /// `ended` carries the program's exit code, for a host that came too late.
    enum AttachOutcome: Equatable { case attached, busy, ended(Int32) }

    /// Installs `host`; refused while another host is attached, unless
    /// `force`, which detaches that one (its client is told and exits).
    /// `greeting` goes to the new host's client under the lock, so that it
    /// precedes any line a detach sends it.
    func attach(_ host: Attachment, force: Bool, greeting: String) -> AttachOutcome {
        var outcome = AttachOutcome.attached
        let previous: Attachment?? = state.withLock(waking: .all(Self.firstHostWaitEnded)) { state in
            if let code = state.finished { outcome = .ended(code); return .none }
            if state.attachment != nil && !force { outcome = .busy; return .none }
            let previous = state.attachment
            state.attachment = host
            state.detachedSince = nil
            state.waitsForFirstHost = false
            host.tell(greeting)
            return .some(previous)
        }
        guard let previous else { return outcome }
        previous?.tell("detached another host attached")
        notifyObservers()
        return .attached
    }

    /// Detaches `host` if it is still the attached one; its client, if it
    /// still listens, is told why.
    func detach(_ host: Attachment, reason: String) {
        let detached = state.withLock { state in
            guard state.attachment === host else { return false }
            state.attachment = nil
            state.detachedSince = monotonicMilliseconds()
            return true
        }
        guard detached else { return }
        host.tell("detached \(reason)")
        notifyObservers()
    }

    /// The session is over: the attached client gets `exit CODE`. A
    /// program that ended before its first host attached (`true`) waits
    /// for that host as its output does, so that `new --keep` exits with
    /// the program's status rather than finding the session gone; not
    /// once that host's process is gone (`firstHostIsGone`). Output that
    /// still waits for that host (a hang-up gave up on it) waits for the
    /// same thing until the same deadline, so it is let go at this moment
    /// at the latest.
    func finish(exitCode: Int32) {
        let last = state.withLock(waitingOn: Self.firstHostWaitEnded, while: { $0.awaitsFirstHost },
                                  untilMonotonicMilliseconds: firstHostDeadline) { state in
            defer { state.attachment = nil; state.finished = exitCode }
            return state.attachment
        }
        last?.tell("exit \(exitCode)")
        notifyObservers()
    }

    /// Where the output goes: the attached host, or, with none attached,
    /// the ring (the bytes are kept there before this returns nil). One
    /// decision under the lock, so that no byte is kept after an attach
    /// has taken over the ring's contents.
    ///
    /// Before the first host attached, it waits for that attach (up to
    /// the first-host deadline): the pty holds the output meanwhile, and
    /// the program waits as it would for a slow host.
    func route(keeping bytes: UnsafeRawBufferPointer) -> Attachment? {
        state.withLock(waitingOn: Self.firstHostWaitEnded, while: { $0.awaitsFirstHost },
                       untilMonotonicMilliseconds: firstHostDeadline) { state in
            if let attachment = state.attachment { return attachment }
            state.waitsForFirstHost = false
            ring.append(bytes)
            return nil
        }
    }

    private func notifyObservers() {
        for wakeup in observers.withLock({ $0 }) { wakeup.signal() }
    }
}

/// The output kept while detached: `capacity` bytes allocated once, the
/// oldest dropped first. Written and emptied by the output path's writing
/// thread only; `count` may be read by any thread (status).
///
/// Once older bytes were dropped, the kept bytes start where a terminal
/// that starts afresh can take them: right after the first line feed or
/// at the first ESC, whichever comes first within the first
/// `boundaryWindow` bytes; with neither there, at the first byte that is
/// no UTF-8 continuation byte. After a line feed a terminal is back in its
/// ground state (no escape sequence spans lines but for strings such as
/// OSC, rare in a stream), an ESC starts a sequence whatever came before,
/// and neither byte occurs inside a UTF-8 character.
final class OutputRing: Sendable {
    /// How far into the kept bytes a boundary is looked for.
    static let boundaryWindow = 4096

    let capacity: Int
    nonisolated(unsafe) private let storage: UnsafeMutableRawBufferPointer
    /// Where the oldest kept byte is; only the writing thread uses it.
    nonisolated(unsafe) private var start = 0
    private let kept = Atomic<Int>(0)

    init(capacity: Int) throws(Errno) {
        precondition(capacity > 0)
        self.capacity = capacity
        storage = try allocateBuffer(byteCount: capacity, alignment: 4096)
    }

    deinit { free(storage.baseAddress) }

    var count: Int { kept.load(ordering: .acquiring) }

    /// Keeps `bytes`, dropping the oldest kept bytes to make room (and
    /// then up to the next boundary: see above).
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let taken = bytes.count >= capacity ? UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - capacity)...]) : bytes
        var count = self.count
        let overflow = count + taken.count - capacity
        if overflow > 0 {
            start = (start + overflow) % capacity
            count -= overflow
        }
        var end = (start + count) % capacity
        var offset = 0
        while offset < taken.count {
            let run = min(taken.count - offset, capacity - end)
            UnsafeMutableRawBufferPointer(rebasing: storage[end..<(end + run)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: taken[offset..<(offset + run)]))
            offset += run
            end = (end + run) % capacity
        }
        count += taken.count
        if overflow > 0 || taken.count < bytes.count {
            let skipped = distanceToBoundary(count)
            start = (start + skipped) % capacity
            count -= skipped
        }
        kept.store(count, ordering: .releasing)
    }

    /// How many of the `count` kept bytes come before the first boundary.
    private func distanceToBoundary(_ count: Int) -> Int {
        let window = min(count, Self.boundaryWindow)
        var firstCharacter: Int?
        for offset in 0..<window {
            let byte = storage[(start + offset) % capacity]
            if byte == 0x0a { return offset + 1 }
            if byte == 0x1b { return offset }
            if firstCharacter == nil && byte & 0xc0 != 0x80 { firstCharacter = offset }
        }
        return firstCharacter ?? window
    }

    /// The kept bytes in order, as at most two contiguous runs.
    func runs() -> [UnsafeRawBufferPointer] {
        let count = self.count
        let first = min(count, capacity - start)
        var result = [UnsafeRawBufferPointer(rebasing: storage[start..<(start + first)])]
        if count > first { result.append(UnsafeRawBufferPointer(rebasing: storage[0..<(count - first)])) }
        return result
    }

    /// Forgets the oldest `bytes` kept bytes (they were written out).
    func consume(_ bytes: Int) {
        let count = self.count
        let taken = min(bytes, count)
        start = (start + taken) % capacity
        if taken == count { start = 0 }
        kept.store(count - taken, ordering: .releasing)
    }
}
