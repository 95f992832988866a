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
        /// Until then (monotonic ms) output waits for the first host, the
        /// `new --keep` process, rather than going to the ring: a program
        /// that writes more than the ring holds before that host is
        /// attached must not cost it its first output. nil once a host
        /// attached, or once the wait is over (that host died first).
        var firstHostDeadline: Int64?
    }

    /// How long output waits for the first host (see `State`): the front
    /// attaches within milliseconds of the session being ready.
    static let firstHostWaitMilliseconds: Int64 = 5000

    private let state: Locked<State>
    let ring: OutputRing
    /// Signalled on every attach and detach, so that the threads waiting
    /// on the old host's descriptors let go of them.
    private let observers = Locked<[Wakeup]>([])
    /// Set by the first attach: wakes the output and the end waiting for
    /// the first host (see `State`).
    private let firstHostAttached = OneTimeSignal()

    init(bufferBytes: Int, firstHostWaitMilliseconds: Int64 = HostLink.firstHostWaitMilliseconds) throws(Errno) {
        ring = try OutputRing(capacity: bufferBytes)
        let now = monotonicMilliseconds()
        state = Locked(State(attachment: nil, detachedSince: now,
                             firstHostDeadline: now + firstHostWaitMilliseconds))
    }

    func notifyOnChange(_ wakeup: Wakeup) {
        observers.withLock { $0.append(wakeup) }
    }

    /// The attached host, if any.
    var current: Attachment? { state.withLock { $0.attachment } }

    /// When the last host went (monotonic ms), nil while one is attached.
    var detachedSince: Int64? { state.withLock { $0.detachedSince } }

    /// `ended` carries the program's exit code, for a host that came too late.
    enum AttachOutcome: Equatable { case attached, busy, ended(Int32) }

    /// Installs `host`; refused while another host is attached, unless
    /// `force`, which detaches that one (its client is told and exits).
    /// `greeting` goes to the new host's client under the lock, so that it
    /// precedes any line a detach sends it.
    func attach(_ host: Attachment, force: Bool, greeting: String) -> AttachOutcome {
        var outcome = AttachOutcome.attached
        let previous: Attachment?? = state.withLock { state in
            if let code = state.finished { outcome = .ended(code); return .none }
            if state.attachment != nil && !force { outcome = .busy; return .none }
            let previous = state.attachment
            state.attachment = host
            state.detachedSince = nil
            state.firstHostDeadline = nil
            host.tell(greeting)
            return .some(previous)
        }
        guard let previous else { return outcome }
        firstHostAttached.set()
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
    /// the program's status rather than finding the session gone.
    func finish(exitCode: Int32) {
        while let deadline = state.withLock({ $0.attachment == nil ? $0.firstHostDeadline : nil }),
              monotonicMilliseconds() < deadline {
            firstHostAttached.wait(untilMonotonicMilliseconds: deadline)
        }
        let last = state.withLock { state in
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
        while true {
            let (attachment, waitUntil) = state.withLock { state -> (Attachment?, Int64?) in
                if let attachment = state.attachment { return (attachment, nil) }
                if let deadline = state.firstHostDeadline, state.finished == nil, monotonicMilliseconds() < deadline {
                    return (nil, deadline)
                }
                state.firstHostDeadline = nil
                ring.append(bytes)
                return (nil, nil)
            }
            guard let waitUntil else { return attachment }
            firstHostAttached.wait(untilMonotonicMilliseconds: waitUntil)
        }
    }

    private func notifyObservers() {
        for wakeup in observers.withLock({ $0 }) { wakeup.signal() }
    }
}

/// A flag set once, which threads can wait for with a deadline: a mutex
/// and a condition variable on the monotonic clock, so that a waiter
/// sleeps until the flag is set or the deadline passes, and a set that
/// comes before the wait is never missed.
final class OneTimeSignal: @unchecked Sendable {
    // @unchecked: `isSet` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var isSet = false

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func set() {
        pthread_mutex_lock(mutex)
        isSet = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until the flag is set or `deadline` (monotonic ms) passes.
    func wait(untilMonotonicMilliseconds deadline: Int64) {
        var until = timespec(tv_sec: Int(deadline / 1000), tv_nsec: Int(deadline % 1000) * 1_000_000)
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !isSet && monotonicMilliseconds() < deadline {
            _ = pthread_cond_timedwait(condition, mutex, &until)
        }
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
