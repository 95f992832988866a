// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage
import Synchronization

/// Host stdin -> pty: the interactive path, kept deliberately simple.
///
/// Never optimised: latency is all that matters here. Each read (at most 8 KiB) is
/// written to the pty at once; no coalescing, no timers. It runs on its own
/// thread so that a child which stops reading its input never delays the
/// output path or the control channel.
///
/// It keeps the line discipline's promises a terminal keeps, at the cost of
/// a table look-up per byte (`CanonicalLine`) and a look at the child's
/// termios only when one matters:
/// - no typed byte is lost: a canonical line about to pass the kernel's
///   limit is ended with VEOF first, so the reader gets it in pieces;
/// - INTR, QUIT or SUSP under ISIG without NOFLSH drop the output the
///   proxy holds, as the kernel drops its own queue (`OutputPath`);
/// - end of input is one VEOF, or two after a partial line, by the
///   discipline's own rules (ICRNL, IGNCR, INLCR, VEOL, VEOL2...);
/// - a proxy in the background of a job-control shell does not read its
///   terminal: it is stopped by SIGTTIN like any program (`readAsJob`).
final class InputPath: Sendable {
    static let bufferSize = 8 * 1024

    private let input: FileDescriptor
    private let inputIsTerminal: Bool
    private let terminal: PseudoTerminal
    private let counters: RelayCounters
    private let discardHeldOutput: @Sendable () -> Void
    private let wakeup: Wakeup
    private let stopping = Atomic<Bool>(false)
    private let readErrno = Atomic<Int32>(0)
    /// A kept session's host (`new --keep`): stdin is the attached host's,
    /// and `input` is unused.
    private let link: HostLink?

    init(input: FileDescriptor, terminal: PseudoTerminal, counters: RelayCounters,
         discardHeldOutput: @escaping @Sendable () -> Void, link: HostLink? = nil) throws(Errno) {
        self.input = input
        self.inputIsTerminal = isatty(input.rawValue) == 1
        self.terminal = terminal
        self.counters = counters
        self.discardHeldOutput = discardHeldOutput
        self.wakeup = try Wakeup()
        self.link = link
        link?.notifyOnChange(wakeup)
    }

    /// Creates a kept session's thread, parked at `gate` (see `Session`).
    func start(after gate: StartGate) throws(Errno) -> IOThread {
        try IOThread(after: gate) { [self] in
            if let link { runKept(link) } else { run() }
        }
    }

    /// Starts the thread of a session that is not kept: the supervisor
    /// does, when the host's stdin first reports something (see
    /// `Supervisor`).
    func startNow() throws(Errno) -> IOThread {
        precondition(link == nil, "a kept session's input thread starts with the relay")
        return try IOThread { [self] in run() }
    }

    /// Makes the thread return promptly, wherever it waits.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
    }

    func close() { wakeup.close() }

    /// Why reading the host's stdin failed, if it did with something other
    /// than EIO (a terminal that hung up, say): that error was taken as the
    /// end of input, and is worth one line on stderr.
    var hostReadError: Errno? {
        let value = readErrno.load(ordering: .acquiring)
        return value == 0 ? nil : Errno(rawValue: value)
    }

    private func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var line = CanonicalLine()
        while waitUntil(input, is: .readable) {
            let count: Int
            do {
                count = try read(into: buffer)
            } catch .wouldBlock {
                continue  // the host shares a non-blocking stdin with us
            } catch {
                // A failed stdin is the end of the host's input.
                if error != .ioError { readErrno.store(error.rawValue, ordering: .releasing) }
                count = 0
            }
            if count == 0 {
                sendEndOfFile(&line)
                return
            }
            guard forward(UnsafeRawBufferPointer(rebasing: buffer[..<count]), &line) else { return }
        }
    }

    /// How long a kept session's input thread, at the end of stdin, waits
    /// to see the host's stdout go too (see `runKept`).
    static let hostGoneWaitMilliseconds: Int32 = 250

    /// A kept session's input: the attached host's stdin, whichever host
    /// that is. The end of stdin is still the user's ^D, with one
    /// exception: a host that dies closes its stdin and stdout together, so
    /// at the end of stdin the thread waits up to `hostGoneWaitMilliseconds`
    /// for the host's stdout to break (a pipe nobody reads: POLLERR) or its
    /// client's socket to end. If either comes the host is detached, and
    /// nothing is typed; else ^D is, and that host's stdin is read no more.
    private func runKept(_ link: HostLink) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var line = CanonicalLine()
        while !stopping.load(ordering: .acquiring) {
            guard let host = link.current, !host.inputEnded.load(ordering: .acquiring) else {
                // Until an attach, a detach or `stop()`.
                _ = try? Poller.wait(for: wakeup.readEnd, events: .readable, timeoutMilliseconds: -1)
                wakeup.drain()
                continue
            }
            guard waitUntil(host.input, is: .readable, orHostChange: true) else { continue }
            let count: Int
            do {
                count = try host.readInput(buffer)
            } catch .wouldBlock {
                continue
            } catch {
                count = 0  // a failed stdin ends it, as its end of file does
            }
            if count == 0 {
                if host.hostIsGone(within: Self.hostGoneWaitMilliseconds) {
                    link.detach(host, reason: "the host closed its stdin and stdout")
                } else {
                    host.inputEnded.store(true, ordering: .releasing)
                    sendEndOfFile(&line)
                }
                continue
            }
            guard forward(UnsafeRawBufferPointer(rebasing: buffer[..<count]), &line) else { return }
        }
    }

    /// One read of the host's stdin. A terminal's EIO while this process is
    /// in the background is job control, not the end of input: the read is
    /// retried as a job (`readAsJob`).
    private func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        do {
            return try valueOrErrno(on: .host) { system_read(input.rawValue, buffer.baseAddress, buffer.count) }
        } catch .ioError where inputIsTerminal && isInBackground {
            return try readAsJob(into: buffer)
        }
    }

    /// Whether stdin is our controlling terminal and another process group
    /// is in its foreground.
    private var isInBackground: Bool {
        let foreground = tcgetpgrp(input.rawValue)
        return foreground > 0 && foreground != getpgrp()
    }

    /// Reads the terminal with SIGTTIN unblocked, so that the kernel stops
    /// the whole process in the background (the shell says "Stopped (tty
    /// input)") and the read goes on once the shell brings it back. An
    /// orphaned process group is not stopped, its reads fail at once: it
    /// looks again every 200 ms until it is in the foreground or stopping.
    private func readAsJob(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        while !stopping.load(ordering: .acquiring) {
            var got = 0
            let error = ptyshim_read_as_job(input.rawValue, buffer.baseAddress, buffer.count, &got)
            if error == 0 { return got }
            guard error == EIO && isInBackground else { throw Errno(rawValue: error) }
            pause(milliseconds: 200)
        }
        throw .wouldBlock  // stopping: the next wait returns false
    }

    /// Sends `bytes` to the pty, ending a canonical line with VEOF where it
    /// would pass the kernel's limit, and drops the held output before a
    /// flushing INTR, QUIT or SUSP. False when the relay is stopping or the
    /// pty is gone.
    private func forward(_ bytes: UnsafeRawBufferPointer, _ line: inout CanonicalLine) -> Bool {
        if !line.fitsWithoutLook(bytes.count), let settings = try? terminal.lineSettings() {
            line.renew(LineRules(settings))
        }
        let flushes = flushesOutput(bytes, &line)
        if flushes { discardHeldOutput() }  // the host must not be fed held output meanwhile
        var start = 0
        for index in 0..<bytes.count where line.take(bytes[index]) {
            guard deliver(UnsafeRawBufferPointer(rebasing: bytes[start..<index])),
                  deliverEndOfFile(line.rules, count: 1) else { return false }
            start = index
        }
        // Nothing is dropped after the write: the kernel takes the character
        // asynchronously, and the program's answer to it (a prompt, a
        // trap's line) may already be read by then; that must reach the host.
        return deliver(UnsafeRawBufferPointer(rebasing: bytes[start...]))
    }

    /// Whether `bytes` hold a character that makes the kernel flush the
    /// output queue. The rules may be old when they say so (a full-screen
    /// program clears ISIG, and its ^C must not cost it output): the
    /// terminal's current settings decide.
    private func flushesOutput(_ bytes: UnsafeRawBufferPointer, _ line: inout CanonicalLine) -> Bool {
        func flushes(_ rules: LineRules) -> Bool { bytes.contains { rules.effect(of: $0) == .flushingSignal } }
        guard flushes(line.rules), let settings = try? terminal.lineSettings() else { return false }
        line.renew(LineRules(settings))
        return flushes(line.rules)
    }

    /// The host closed stdin: the user typed ^D. In canonical mode a VEOF
    /// after a partial line only ends that line, so a second one makes the
    /// child's read() see end of file (`CanonicalLine.endOfFileCount`).
    private func sendEndOfFile(_ line: inout CanonicalLine) {
        guard let settings = try? terminal.lineSettings() else { return }
        line.renew(LineRules(settings))
        _ = deliverEndOfFile(line.rules, count: line.endOfFileCount())
    }

    /// Writes VEOF `count` times; nothing when the terminal has none.
    private func deliverEndOfFile(_ rules: LineRules, count: Int) -> Bool {
        guard rules.endOfFile != 0 else { return true }
        var bytes = (rules.endOfFile, rules.endOfFile, rules.endOfFile)
        return withUnsafeBytes(of: &bytes) { deliver(UnsafeRawBufferPointer(rebasing: $0[..<count]), fromHost: false) }
    }

    /// Writes all of `bytes` to the pty; false when the relay is stopping or
    /// the pty is gone. `bytes_in` counts the host's bytes, not the VEOFs
    /// the proxy adds.
    private func deliver(_ bytes: UnsafeRawBufferPointer, fromHost: Bool = true) -> Bool {
        var offset = 0
        while offset < bytes.count {
            do {
                offset += try valueOrErrno {
                    system_write(terminal.master.rawValue, bytes.baseAddress! + offset, bytes.count - offset)
                }
            } catch .wouldBlock {
                guard waitUntil(terminal.master, is: .writable) else { return false }
            } catch {
                return false  // EIO: the terminal was hung up
            }
        }
        if fromHost { counters.addInput(bytes.count) }
        return true
    }

    /// Waits for `descriptor` or for `stop()`; false when stopping, and,
    /// with `orHostChange`, when a kept session's host attached or went.
    private func waitUntil(_ descriptor: FileDescriptor, is events: Poller.Events, orHostChange: Bool = false) -> Bool {
        var entries = (pollfd(descriptor, events), pollfd(wakeup.readEnd, .readable))
        return withUnsafeMutableBytes(of: &entries) { raw in
            let list = raw.bindMemory(to: pollfd.self)
            while true {
                guard (try? Poller.wait(list, timeoutMilliseconds: -1)) != nil else { return false }
                if stopping.load(ordering: .acquiring) { return false }
                if list[1].reported(.readable) {
                    wakeup.drain()
                    if orHostChange { return false }
                }
                if list[0].revents != 0 { return true }
            }
        }
    }

    /// Sleeps up to `milliseconds`, or until `stop()`.
    private func pause(milliseconds: Int32) {
        _ = try? Poller.wait(for: wakeup.readEnd, events: .readable, timeoutMilliseconds: milliseconds)
    }
}
