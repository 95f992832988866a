// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage
import Synchronization

/// Pty -> host stdout: the bulk path, optimised.
///
/// Large buffers, allocated once. Each buffer is filled by as many reads as
/// the pty has ready (until EAGAIN or full) and then written in one call, so
/// a flood costs few writes while a single echoed key is still passed on
/// without delay. With two buffers a writer thread writes one while the
/// reader fills the other (double buffering); with one, the same thread
/// reads then writes. The benchmark harness compares the two. Either way a
/// short chunk with nothing queued ahead of it is written by the reader at
/// once, so interactive echo never waits for a thread hand-off.
///
/// The reader thread itself is started by the supervisor when the master
/// first reports something (output, or the hang-up of the last slave) or
/// the child exits: a session whose program has not written yet runs no
/// relay thread. Should it fail to start then, the supervisor relays the
/// output itself (`relayReadyOutput`), one buffer at a time, and tries
/// again `Supervisor.threadRetryMilliseconds` later. A kept session's
/// reader starts with the relay.
///
/// The writer thread is started by the reader with the first buffer that
/// goes to it: a session whose output never fills a buffer (`true`, a
/// prompt and its echoes) never creates it, and no session's start-up
/// waits for it. Should it fail to start (a limit on processes or memory),
/// the reader writes every buffer itself, as with one buffer: the child
/// runs already, and its output still arrives whole.
///
/// Writes go out in pieces no larger than the host's pipe has room for (at
/// most `writePieceSize` when stdout is no pipe), so that a host that stops
/// reading holds a write with at most a page not yet in its pipe: the count
/// of bytes out is what the host's pipe took, and the output held here can
/// still be dropped when the child's terminal discards its own queue
/// (`discardHeldOutput`).
///
/// End of output: EIO or EOF from the master (every slave closed); or, once
/// the child has exited, the pty staying quiet for `idleMilliseconds` (a
/// background job still holds it) or `drainLimitMilliseconds` passing.
public final class OutputPath: Sendable {
    /// Why reading the pty stopped: what `PTYPROXY_TRACE` reports, so that
    /// a session that ends with less output than expected says how.
    public enum Ending: Int32, Sendable, CustomStringConvertible {
        case running, endOfFile, hangUp, readFailed, quietAfterExit, drainLimit, stopped, pollFailed

        public var description: String {
            switch self {
            case .running: "not yet"
            case .endOfFile: "end of file"
            case .hangUp: "EIO (every slave descriptor closed)"
            case .readFailed: "a read error"
            case .quietAfterExit: "the pty staying quiet after the child exited (a process still holds it)"
            case .drainLimit: "the drain limit after the child exited (a process still writes to it)"
            case .stopped: "the session stopping it"
            case .pollFailed: "poll failing"
            }
        }
    }

    public struct Tuning: Sendable, Equatable {
        /// Bytes per buffer. The default, 128 KiB, measured 14% more throughput
        /// and 33% less CPU than 8 KiB (README, "Measured, then kept").
        public var bufferSize = 128 * 1024
        /// 2 for double buffering, 1 for a single buffer.
        public var bufferCount = 2
        /// After the child exits: how long a quiet pty counts as finished.
        public var idleMilliseconds: Int64 = 100
        /// After the child exits: the most time spent draining a pty that a
        /// background job keeps busy.
        public var drainLimitMilliseconds: Int64 = 2000
        public init() {}
    }

    /// The most bytes one write(2) to a host that is no pipe carries.
    static let writePieceSize = 64 * 1024
    /// The least one write(2) to a pipe carries: a page, the unit a pipe's
    /// room is counted in.
    static let pipePieceMinimum = 4096

    private let terminal: PseudoTerminal
    private let output: FileDescriptor
    private let tuning: Tuning
    private let counters: RelayCounters
    private let notify: Wakeup
    private let wakeup: Wakeup
    /// Looked at once, at the start: a terminal that has hung up no longer
    /// answers isatty() (its ioctls fail with EIO too).
    private let outputIsTerminal: Bool
    /// Whether stdout is a pipe (looked at once; its capacity is looked at
    /// per buffer written, since the host may resize its pipe).
    private let outputIsPipe: Bool
    private let handoff: BufferHandoff
    // Written by exactly one thread at a time, as the handoff dictates.
    nonisolated(unsafe) private let storage: UnsafeMutableRawBufferPointer
    /// Per slot, the discard generation its bytes were read under (the
    /// handoff orders the reader's store before the writer's load).
    nonisolated(unsafe) private let slotGenerations: UnsafeMutableBufferPointer<UInt64>
    /// Bumped by `discardHeldOutput()`: bytes read under an older
    /// generation and not yet written are dropped.
    private let discardGeneration = Atomic<UInt64>(0)

    private let childExitedAt = Atomic<Int64>(0)
    /// When the supervisor's own relay last passed bytes on (see
    /// `relayReadyOutput`).
    private let lastRelayedAt = Atomic<Int64>(0)
    /// The child's exit descriptor (see `watchChildExit`), -1 until given.
    private let childExitDescriptor = Atomic<Int32>(-1)
    private let stopping = Atomic<Bool>(false)
    private let complete = Atomic<Bool>(false)
    private let hostGone = Atomic<Bool>(false)
    /// The errno of a failed write to the host other than EPIPE/ECONNRESET, 0 if none.
    private let hostWriteErrno = Atomic<Int32>(0)
    private let endingValue = Atomic<Int32>(Ending.running.rawValue)
    /// A kept session's host (`new --keep`): the output goes to whichever
    /// host is attached, or to the link's ring; `output` is then unused.
    private let link: HostLink?
    /// Wakes the thread writing to a kept session's host when the host
    /// changes or the session stops (see `waitForRoom`).
    private let hostChanged: Wakeup?
    /// Runs just before each read of the master. Tests only: it lets one
    /// put a discard at the exact moment that a ^C can come (see `fill`).
    private let beforeEachRead: (@Sendable () -> Void)?

    /// `notify` is signalled when the output is complete or the host is gone.
    init(terminal: PseudoTerminal, output: FileDescriptor, tuning: Tuning,
         counters: RelayCounters, notify: Wakeup, link: HostLink? = nil,
         beforeEachRead: (@Sendable () -> Void)? = nil) throws(Errno) {
        precondition(tuning.bufferCount == 1 || tuning.bufferCount == 2)
        precondition(tuning.bufferSize > 0)
        self.terminal = terminal
        self.output = output
        self.tuning = tuning
        self.counters = counters
        self.notify = notify
        self.link = link
        self.beforeEachRead = beforeEachRead
        self.outputIsTerminal = isatty(output.rawValue) == 1
        var capacity: CInt = 0
        self.outputIsPipe = ptyshim_pipe_capacity(output.rawValue, &capacity) == 0
        self.wakeup = try Wakeup()
        link?.notifyOnChange(wakeup)
        if let link {
            let hostChanged = try Wakeup()
            link.notifyOnChange(hostChanged)
            self.hostChanged = hostChanged
        } else {
            self.hostChanged = nil
        }
        self.handoff = BufferHandoff(slotCount: tuning.bufferCount)
        self.storage = try allocateBuffer(byteCount: tuning.bufferSize * tuning.bufferCount, alignment: 4096)
        self.slotGenerations = .allocate(capacity: tuning.bufferCount)
        self.slotGenerations.initialize(repeating: 0)
    }

    /// True once every byte of the child's output was written (or dropped
    /// because the host is gone).
    public var isComplete: Bool { complete.load(ordering: .acquiring) }
    /// True when output ended because the pty went quiet after the child
    /// exited, not by EIO: some other process of the session still holds it.
    public var endedWithTerminalHeld: Bool { ending == .quietAfterExit || ending == .drainLimit }
    /// Why reading the pty stopped (`.running` while it goes on).
    public var ending: Ending { Ending(rawValue: endingValue.load(ordering: .acquiring)) ?? .running }
    /// True once a write to the host failed (the host closed its end, or its
    /// stdout cannot take more: see `hostWriteError`).
    public var isHostGone: Bool { hostGone.load(ordering: .acquiring) }
    /// Why writing to the host failed, when it was not the host going away
    /// (EPIPE, ECONNRESET): ENOSPC on /dev/full, EFBIG over `ulimit -f`, EIO,
    /// EBADF/EINVAL from a descriptor the host handed over. The session is
    /// hung up as if the host had gone, and `ptyproxy` reports it (125).
    public var hostWriteError: Errno? {
        let value = hostWriteErrno.load(ordering: .acquiring)
        return value == 0 ? nil : Errno(rawValue: value)
    }

    /// Creates a kept session's reader thread, parked at `gate` (see
    /// `Session`); the reader starts the writer when it needs it, and
    /// joins it before it returns.
    func start(after gate: StartGate) throws(Errno) -> [IOThread] {
        [try IOThread(after: gate) { [self] in readLoop() }]
    }

    /// Starts the reader thread of a session that is not kept: the
    /// supervisor does, when the master first reports something or the
    /// child exits (see `Supervisor`).
    func startNow() throws(Errno) -> IOThread {
        precondition(link == nil, "a kept session's reader starts with the relay")
        return try IOThread { [self] in readLoop() }
    }

    /// The supervisor's own relay, for as long as no reader thread can be
    /// started (a limit on processes or memory): reads what the master has
    /// ready, at most a buffer, and writes it at once, never waiting for
    /// the master. The same `fill` as the reader's, so EIO still ends the
    /// output only once a second read confirms it.
    ///
    /// The supervisor must never wait inside a write (signals and the
    /// hang-up go through it): when stdout is a pipe, it reads no more
    /// than the pipe surely has room for (`roomForRelay`). Returns false,
    /// having read nothing, when the pipe has none: the supervisor then
    /// waits for POLLOUT.
    func relayReadyOutput() -> Bool {
        guard !isComplete else { return true }
        let limit = roomForRelay()
        guard limit > 0 else { return false }
        var generation = currentGeneration
        let (filled, ended) = fill(UnsafeMutableRawBufferPointer(rebasing: buffer(0)[..<limit]),
                                   generation: &generation, waitsForOutput: false)
        let count = generation == currentGeneration ? filled : 0
        if count > 0 {
            lastRelayedAt.store(monotonicMilliseconds(), ordering: .releasing)
            writeOut(UnsafeRawBufferPointer(rebasing: buffer(0)[..<count]), generation: generation)
        }
        if ended { finishOutput() }
        return true
    }

    /// How many bytes the supervisor's relay may read now: a buffer when
    /// stdout is no pipe (or the host is gone). A pipe's bytes queued do
    /// not say how many of its page slots are taken (each write may leave
    /// a partly filled page), so only two cases are sure not to wait: an
    /// empty pipe takes its capacity less a page, and a pipe with a free
    /// slot (POLLOUT) takes a page.
    private func roomForRelay() -> Int {
        var capacity: CInt = 0, queued: CInt = 0
        guard outputIsPipe, !hostGone.load(ordering: .acquiring),
              ptyshim_pipe_capacity(output.rawValue, &capacity) == 0,
              ptyshim_bytes_queued(output.rawValue, &queued) == 0 else { return tuning.bufferSize }
        if queued == 0 { return min(tuning.bufferSize, max(Self.pipePieceMinimum, Int(capacity) - Self.pipePieceMinimum)) }
        let writable = (try? Poller.wait(for: output, events: .writable, timeoutMilliseconds: 0)) ?? []
        return writable.isEmpty ? 0 : min(tuning.bufferSize, Self.pipePieceMinimum)
    }

    /// The supervisor's own relay waited for room in the host's pipe: the
    /// pty was not read meanwhile, so its quiet counts from now.
    func relayResumed() {
        lastRelayedAt.store(monotonicMilliseconds(), ordering: .releasing)
    }

    /// When the supervisor's own relay must end the output (the pty quiet
    /// for `idleMilliseconds`, or `drainLimitMilliseconds` passed, since
    /// the child exited); nil while the child runs.
    var relayDeadline: Int64? {
        let exitedAt = childExitedAt.load(ordering: .acquiring)
        guard exitedAt != 0, !isComplete else { return nil }
        let quietFrom = max(exitedAt, lastRelayedAt.load(ordering: .acquiring))
        return min(quietFrom + tuning.idleMilliseconds, exitedAt + tuning.drainLimitMilliseconds)
    }

    /// Ends the supervisor's own relay once `relayDeadline` has passed.
    func endRelayIfDue(now: Int64) {
        guard let deadline = relayDeadline, now >= deadline else { return }
        let drained = now >= childExitedAt.load(ordering: .acquiring) + tuning.drainLimitMilliseconds
        record(drained ? .drainLimit : .quietAfterExit)
        finishOutput()
    }

    /// The reader watches `descriptor` (the child's pidfd, or the pipe that
    /// stands in for it) beside the master: the child's exit starts the
    /// drain timeouts without a hand-off through the supervisor, which then
    /// wakes once, when the output is complete. Given before the gate
    /// opens; the descriptor stays open while the reader runs.
    func watchChildExit(_ descriptor: FileDescriptor) {
        childExitDescriptor.store(descriptor.rawValue, ordering: .releasing)
    }

    /// The child has exited: finish once the pty is drained.
    func childExited() {
        noteChildExit()
        wakeup.signal()
    }

    /// The first report of the child's exit, the reader's or the
    /// supervisor's, starts the drain timeouts.
    private func noteChildExit() {
        _ = childExitedAt.compareExchange(expected: 0, desired: monotonicMilliseconds(), ordering: .acquiringAndReleasing)
    }

    /// The host is gone: keep reading (so the child is never stuck writing)
    /// but drop the bytes.
    func hostWentAway() {
        hostGone.store(true, ordering: .releasing)
    }

    /// The child's terminal discarded its output queue (INTR, QUIT or SUSP
    /// typed with ISIG set and NOFLSH clear): the output read before now and
    /// not yet written goes too, as it would on a terminal. What is already
    /// inside a write(2) to the host still arrives: at most a page when
    /// stdout is a pipe, `writePieceSize` otherwise; and so does a read
    /// racing the discard, which may hold the program's answer (`fill`).
    /// Called before the character goes to the terminal, so that every
    /// read returning its answer sees the new generation.
    func discardHeldOutput() {
        discardGeneration.add(1, ordering: .acquiringAndReleasing)
    }

    private var currentGeneration: UInt64 { discardGeneration.load(ordering: .acquiring) }

    /// Stops both threads, wherever they wait (except inside a write to a
    /// host that does not read: see `Session`).
    func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
        hostChanged?.signal()
        handoff.cancel()
    }

    /// The buffers and the wake-up pipe go with the object, which each
    /// running thread keeps alive: threads that had to be left running when
    /// the session gave up on its output (`Session`) never see them freed,
    /// and nothing is left unfreed once they end.
    deinit {
        free(storage.baseAddress)
        slotGenerations.deallocate()
        wakeup.close()
        hostChanged?.close()
    }

    private func buffer(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[(slot * tuning.bufferSize)..<((slot + 1) * tuning.bufferSize)])
    }

    // MARK: Reading

    private func readLoop() {
        var slot = 0
        var writer: IOThread?
        var writerRefused = false
        while handoff.waitForFreeSlot() {
            var generation = currentGeneration
            let (filled, ended) = fill(buffer(slot), generation: &generation, waitsForOutput: true)
            let count = generation == currentGeneration ? filled : 0  // else discarded after the last read
            guard count > 0 else { if ended { break } else { continue } }
            // A short chunk (the pty had nothing more) with nothing queued
            // ahead of it, typically a keystroke's echo, is written by the
            // reader itself: the writer thread's wake-up would only add latency.
            var writeDirectly = tuning.bufferCount == 1 || (count < tuning.bufferSize && handoff.isDrained)
            if !writeDirectly && writer == nil {
                if !writerRefused {
                    writer = try? IOThread { [self] in writeLoop() }
                    writerRefused = writer == nil
                }
                writeDirectly = writer == nil
            }
            if writeDirectly {
                writeOut(UnsafeRawBufferPointer(rebasing: buffer(slot)[..<count]), generation: generation)
            } else {
                slotGenerations[slot] = generation
                handoff.publish(slot: slot, length: count)
                slot = (slot + 1) % tuning.bufferCount
            }
            if ended { break }
        }
        if let writer {
            handoff.finish()
            writer.join()  // the writer completes the output
        } else {
            finishOutput()
        }
    }

    /// Waits for output (unless not `waitsForOutput`: it then returns with
    /// no bytes), then reads until the buffer is full or the pty has
    /// nothing more right now. Returns the byte count and whether output ended.
    /// `generation` is the discard generation seen after the last read:
    /// when a discard came before a read returned, the bytes of earlier
    /// reads were held output and are dropped, and that read's bytes are
    /// kept under the new generation. Looking before the read would not
    /// do: the ^C may go in between the look and the read, and the read
    /// then returns the program's answer to it (the echoed "^C", a prompt),
    /// which must reach the host. So one read's worth of output from just
    /// before a ^C can still arrive; the answer is never dropped.
    ///
    /// EIO ends the output only when a second read confirms it. Each read
    /// of the master first waits for the kernel to move what the slave
    /// wrote into the master's queue, so a second read gets output that
    /// raced with the first one's EIO; once every slave is closed nothing
    /// new can arrive, so confirming costs one read per session. Bytes that
    /// come this way are counted (`RelayCounters.bytesAfterFirstHangUp`).
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, generation: inout UInt64,
                      waitsForOutput: Bool) -> (Int, Bool) {
        var count = 0
        var hungUpOnce = false
        while count < buffer.count {
            do {
                beforeEachRead?()
                let got = try valueOrErrno {
                    system_read(terminal.master.rawValue, buffer.baseAddress! + count, buffer.count - count)
                }
                if got == 0 { record(.endOfFile); return (count, true) }
                if hungUpOnce { counters.addLateOutput(got) }
                hungUpOnce = false
                let now = currentGeneration
                if now != generation {
                    if count > 0 { memmove(buffer.baseAddress!, buffer.baseAddress! + count, got) }
                    count = 0
                    generation = now
                }
                count += got
            } catch .wouldBlock {
                if count > 0 || !waitsForOutput { return (count, false) }
                if !waitForOutput() { return (count, true) }  // `ending` set there
            } catch .ioError where !hungUpOnce {
                hungUpOnce = true  // every slave descriptor is closed: read once more to be sure
            } catch {
                record(error == .ioError ? .hangUp : .readFailed)
                return (count, true)
            }
        }
        return (count, false)
    }

    /// Waits until the pty is readable; false when output should be
    /// considered ended (and `ending` says why).
    private func waitForOutput() -> Bool {
        var entries = (pollfd(terminal.master, .readable), pollfd(wakeup.readEnd, .readable),
                       pollfd(fd: -1, events: Poller.Events.readable.rawValue, revents: 0))
        return withUnsafeMutableBytes(of: &entries) { raw in
            let list = raw.bindMemory(to: pollfd.self)
            while true {
                if stopping.load(ordering: .acquiring) { record(.stopped); return false }
                if list[2].reported(.readable) { noteChildExit() }
                let exitedAt = childExitedAt.load(ordering: .acquiring)
                list[2].fd = exitedAt == 0 ? childExitDescriptor.load(ordering: .acquiring) : -1
                var timeout: Int32 = -1
                if exitedAt != 0 {
                    let now = monotonicMilliseconds()
                    let limit = exitedAt + tuning.drainLimitMilliseconds
                    if now >= limit { record(.drainLimit); return false }
                    timeout = Int32(min(tuning.idleMilliseconds, limit - now))
                }
                guard let ready = try? Poller.wait(list, timeoutMilliseconds: timeout) else { record(.pollFailed); return false }
                if ready == 0 {  // quiet since the child exited
                    record(.quietAfterExit)
                    return false
                }
                if list[1].reported(.readable) {
                    wakeup.drain()
                    replayIfIdle()
                }
                if list[0].revents != 0 { return true }
            }
        }
    }

    /// A host attached while the program is quiet: the reader replays the
    /// kept output itself when no buffer is queued (else the writer does,
    /// before its next buffer), so that the host sees it without waiting
    /// for new output.
    private func replayIfIdle() {
        guard let link, link.ring.count > 0, handoff.isDrained else { return }
        writeKept(UnsafeRawBufferPointer(start: nil, count: 0), generation: currentGeneration, link: link)
    }

    private func record(_ why: Ending) {
        endingValue.store(why.rawValue, ordering: .releasing)
    }

    // MARK: Writing

    private func writeLoop() {
        var slot = 0
        while let length = handoff.waitForFilledSlot(slot) {
            writeOut(UnsafeRawBufferPointer(rebasing: buffer(slot)[..<length]), generation: slotGenerations[slot])
            handoff.release()
            slot = (slot + 1) % tuning.bufferCount
        }
        finishOutput()
    }

    /// Writes `bytes` (read under discard `generation`) in pieces, counting
    /// each piece as it goes out and stopping once a discard comes.
    private func writeOut(_ bytes: UnsafeRawBufferPointer, generation: UInt64) {
        if let link {
            writeKept(bytes, generation: generation, link: link)
            return
        }
        var offset = 0
        var capacity: CInt = 0
        // A page or less (an echoed key) goes in one write with no look at
        // the pipe: a pipe takes it whole or not at all (PIPE_BUF).
        let large = bytes.count > Self.pipePieceMinimum
        if !large || !outputIsPipe || ptyshim_pipe_capacity(output.rawValue, &capacity) != 0 { capacity = 0 }
        while offset < bytes.count {
            guard !hostGone.load(ordering: .acquiring), generation == currentGeneration else { return }
            let size = pieceSize(bytes.count - offset, pipeCapacity: Int(capacity), output: output)
            let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])
            guard write(piece) else { return }
            offset += piece.count
        }
    }

    /// How much of `remaining` bytes the next write carries: what the host's
    /// pipe has room for (less a page: a partly read page still takes a
    /// whole slot), at least a page.
    private func pieceSize(_ remaining: Int, pipeCapacity: Int, output: FileDescriptor) -> Int {
        var queued: CInt = 0
        guard remaining > Self.pipePieceMinimum, pipeCapacity > 0,
              ptyshim_bytes_queued(output.rawValue, &queued) == 0 else {
            return min(remaining, Self.writePieceSize)
        }
        let room = pipeCapacity - Int(queued) - Self.pipePieceMinimum
        return min(remaining, max(Self.pipePieceMinimum, room))
    }

    /// Writes one piece; false once the host is gone.
    private func write(_ piece: UnsafeRawBufferPointer) -> Bool {
        do {
            try output.writeFully(piece, on: .host)
            counters.addOutput(piece.count)
            return true
        } catch {
            // EPIPE and ECONNRESET: the host closed its end, the ordinary
            // hangup; so is EIO on a terminal (the host's terminal hung up,
            // its SIGHUP is on the way, and a line to it would go nowhere).
            // Anything else is kept to be reported.
            let hostWentAway = error == .brokenPipe || error == .connectionReset
                || (error == .ioError && outputIsTerminal)
            if !hostWentAway {
                _ = hostWriteErrno.compareExchange(expected: 0, desired: error.rawValue, ordering: .acquiringAndReleasing)
            }
            hostGone.store(true, ordering: .releasing)
            notify.signal()
            return false
        }
    }

    // MARK: A kept session's host

    /// Writes `bytes` to the attached host, after the output kept while
    /// none was (the replay); with none attached, or once the host's stdout
    /// fails (it is then detached), what is left is kept in the ring.
    private func writeKept(_ bytes: UnsafeRawBufferPointer, generation: UInt64, link: HostLink) {
        var rest = bytes
        while generation == currentGeneration && !stopping.load(ordering: .acquiring) {
            guard let host = link.route(keeping: rest) else { return }
            if link.ring.count > 0 {
                var replayed = true
                for run in link.ring.runs() where replayed {
                    let written = writeToHost(run, host)
                    link.ring.consume(written)
                    replayed = written == run.count
                }
                guard replayed else { continue }  // detached: `rest` goes to the ring
            }
            let written = writeToHost(rest, host)
            if written == rest.count { return }
            rest = UnsafeRawBufferPointer(rebasing: rest[written...])
        }
    }

    /// Writes `bytes` to the host in pieces (as `writeOut` does); returns
    /// the bytes written: fewer when the host's stdout failed (the host is
    /// then detached), or when another host took over while this one's
    /// stdout was full (`Attachment.writeOutput` never waits).
    private func writeToHost(_ bytes: UnsafeRawBufferPointer, _ host: Attachment) -> Int {
        var offset = 0
        var capacity: CInt = 0
        if bytes.count <= Self.pipePieceMinimum || !host.outputIsPipe
            || ptyshim_pipe_capacity(host.output.rawValue, &capacity) != 0 { capacity = 0 }
        while offset < bytes.count {
            let size = pieceSize(bytes.count - offset, pipeCapacity: Int(capacity), output: host.output)
            do {
                let written = try host.writeOutput(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)]))
                counters.addOutput(written)
                offset += written
            } catch .wouldBlock {
                guard waitForRoom(host) else { return offset }
            } catch {
                link?.detach(host, reason: "cannot write to the host's stdout: \(error)")
                return offset
            }
        }
        return offset
    }

    /// Waits until the host's full stdout has room again, or until that
    /// host is no longer the attached one (`attach --force` took over from
    /// a host that does not read) or the session stops: false then, and
    /// the caller gives the rest to whoever is attached now, or to the ring.
    private func waitForRoom(_ host: Attachment) -> Bool {
        guard let hostChanged, let link else { return true }
        var entries = (pollfd(host.output, .writable), pollfd(hostChanged.readEnd, .readable))
        return withUnsafeMutableBytes(of: &entries) { raw in
            let list = raw.bindMemory(to: pollfd.self)
            while true {
                guard (try? Poller.wait(list, timeoutMilliseconds: -1)) != nil else { return true }
                if list[1].reported(.readable) { hostChanged.drain() }
                if stopping.load(ordering: .acquiring) || link.current !== host { return false }
                if list[0].revents != 0 { return true }  // room, or an error the write reports
            }
        }
    }

    private func finishOutput() {
        if !stopping.load(ordering: .acquiring) {
            complete.store(true, ordering: .releasing)
        }
        notify.signal()
    }
}
