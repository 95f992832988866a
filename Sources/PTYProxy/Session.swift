// SPDX-License-Identifier: MIT
//
// The session: set-up in a fixed order, supervision, and one teardown.
//
// Order of set-up (`tearDown` releases in the reverse order):
//   1. the host's stdio, checked                (nothing to release)
//   2. signals: blocked and read from a signalfd; the other dispositions
//   3. the pseudo-terminal
//   4. the working directory, checked           (nothing to release)
//   5. the control socket                       (the duplicate-ID check is here)
//   6. the relay: wake-up pipe, input and output paths, and a kept
//      session's threads (output reader, input, control) parked at its gate
//   7. the child
//   8. the host terminal in raw mode; the session published; the gate opened
//
// Supervision: `Supervisor.run` waits in one poll until the child has exited
// and its output is complete, hanging up when asked to or when the host goes;
// the same poll serves the control socket, starts the input thread at the
// host's first byte and the output reader at the master's first report (a
// kept session's have threads from the start).
//
// Teardown: the threads are stopped first, since they use everything else;
// the child is reaped only once what is left of its session has been hung
// up (see `ChildProcess`); the host terminal is restored after the output
// threads' last writes.
import Glibc
import SystemPackage
import Synchronization

/// What makes a session outlive its hosts (`new --keep`).
public struct KeepOptions: Sendable {
    /// The most output kept while no host is attached.
    public var bufferBytes: Int
    /// Called once the session is set up and reachable: the child runs and
    /// the control socket serves.
    public var whenReady: @Sendable () -> Void
    /// The pid of this process's parent when that parent becomes the
    /// first host (`new --keep` forks the session's server): the session
    /// waits for that host only while it lives (see `HostLink`).
    public var firstHostParent: pid_t?

    public init(bufferBytes: Int, firstHostParent: pid_t? = nil, whenReady: @escaping @Sendable () -> Void) {
        self.bufferBytes = bufferBytes
        self.firstHostParent = firstHostParent
        self.whenReady = whenReady
    }
}

/// One proxied terminal session: owns the pty, the child, the relay threads
/// and the control channel, and cleans all of them up on every path.
///
/// The thread calling `run()` is the supervisor: it waits in one poll(2) on
/// signals, the child's exit, the host going away and the relay finishing,
/// and decides when the session ends. It never touches the data itself.
public final class Session: Sendable {
    private let configuration: SessionConfiguration
    private let keep: KeepOptions?
    private let exitsAfterRun: Bool
    public let counters = RelayCounters()
    private let hostInputErrno = Atomic<Int32>(0)
    private let outputEndingValue = Atomic<Int32>(OutputPath.Ending.running.rawValue)

    /// Address space held until the child runs (see `startRelayAndChild`):
    /// what a session allocates after the spawn (a control reply, an 8 KiB
    /// input buffer, the first use of a code path) is a small part of it.
    static let memoryReservedForAfterTheSpawn = 1 << 20

    /// With `keep`, the session outlives its hosts (`new --keep`): it
    /// starts with none, and hosts attach over the control socket.
    ///
    /// With `exitsAfterRun`, the caller promises to exit as soon as `run()`
    /// returns, as `ptyproxy new` does. The input thread, which by then
    /// only waits for the host's next byte, is then left to the process's
    /// exit instead of being woken and joined, and what it uses (the pty's
    /// master, its wake-up pipe) stays open until then.
    public init(_ configuration: SessionConfiguration, keep: KeepOptions? = nil, exitsAfterRun: Bool = false) {
        self.configuration = configuration
        self.keep = keep
        self.exitsAfterRun = exitsAfterRun
    }

    /// Runs the session to the end and returns the child's exit status.
    ///
    /// When the hang-up's grace period runs out before the output is done (a
    /// host that stopped reading, or a process that outlived the child and
    /// keeps writing), it returns with the output threads still running and
    /// the pty's master still open: made for a caller that exits next, as
    /// `ptyproxy` does.
    public func run() throws(SessionError) -> ExitStatus {
        var parts = Parts()
        defer { tearDown(&parts) }
        try setUp(&parts)
        guard let relay = parts.relay, let child = parts.child, let terminal = parts.terminal,
              let signals = parts.signals else { preconditionFailure("set-up returned incomplete") }

        // A kept session's hosts come and go: no host stdout to watch, and
        // its input and control socket have threads from the start.
        let kept = parts.link != nil
        var supervisor = Supervisor(
            child: child, output: relay.output, host: parts.host, terminal: terminal,
            graceMilliseconds: configuration.hangupGraceMilliseconds,
            input: kept ? nil : relay.input, hostInput: configuration.hostInput, startsOutputReader: !kept)
        let status = supervisor.run(signals: signals, relayEvents: relay.events,
                                    hostOutput: kept ? FileDescriptor(rawValue: -1) : configuration.hostOutput,
                                    control: kept ? nil : parts.control)
        parts.lateInputThread = supervisor.inputThread
        parts.lateOutputThread = supervisor.outputThread
        parts.link?.finish(exitCode: status.shellCode)
        let writeError = relay.output.hostWriteError
        outputEndingValue.store(relay.output.ending.rawValue, ordering: .releasing)
        if let readError = relay.input.hostReadError {
            hostInputErrno.store(readError.rawValue, ordering: .releasing)
        }
        if let writeError {
            // Not the host going away (that is EPIPE, and the child's 129):
            // its stdout refused the data. The session was hung up all the
            // same; the proxy failed to do its job, hence 125.
            throw SessionError("cannot write to stdout: \(writeError) (\(errnoName(writeError))); the session was hung up")
        }
        return status
    }

    /// Why reading the pty stopped, once `run()` has returned.
    public var outputEnding: OutputPath.Ending {
        OutputPath.Ending(rawValue: outputEndingValue.load(ordering: .acquiring)) ?? .running
    }

    /// Why reading stdin failed during `run()` (other than EIO), if it did:
    /// it was taken as the end of input; the caller may report it.
    public var hostInputError: Errno? {
        let value = hostInputErrno.load(ordering: .acquiring)
        return value == 0 ? nil : Errno(rawValue: value)
    }
}

// MARK: Set-up

extension Session {
    /// What the set-up has made so far; `tearDown` releases exactly that.
    private struct Parts {
        var signals: SignalWatcher?
        var host: HostTerminal?
        var terminal: PseudoTerminal?
        var control: ControlServer?
        var relay: Relay?
        var child: ChildProcess?
        var hostIsRaw = false
        var relayIsRunning = false
        var link: HostLink?
        /// Output threads that could not be joined still use the master and
        /// the relay's wake-up pipe: those are then left open for the
        /// process's exit to close, never closed under a running thread (a
        /// read on a closed, or reused, descriptor number).
        var outputThreadsStillRunning = false
        /// The input thread the supervisor started at the host's first
        /// byte (any session but a kept one).
        var lateInputThread: IOThread?
        /// The output reader the supervisor started when the master first
        /// reported something (any session but a kept one).
        var lateOutputThread: IOThread?
        /// The input thread left to the process's exit (`exitsAfterRun`):
        /// the master and its wake-up pipe stay open for the same reason.
        var inputThreadStillRunning = false
    }

    /// Steps 1 to 8; on a throw, `parts` holds what was made before it.
    private func setUp(_ parts: inout Parts) throws(SessionError) {
        // 1. The host's descriptors as handed over (the tool checks them
        // earlier too, before a closed one is papered over with /dev/null).
        if let problem = HostStdio.check(input: configuration.hostInput.rawValue,
                                         output: configuration.hostOutput.rawValue).problem {
            throw SessionError(problem)
        }
        // 2. Signals first: the mask must be in place before any thread starts.
        parts.signals = try Self.watchSignals()
        // 3. The pseudo-terminal, at the host terminal's size if it has one.
        parts.host = HostTerminal(configuration.hostInput)
        let terminal = try Self.openTerminal(size: parts.host?.size() ?? configuration.size)
        parts.terminal = terminal
        // 4. The working directory, before the session is published.
        try ChildProcess.checkWorkingDirectory(of: configuration.command)
        // 5. The control socket: a live session with this ID is refused here.
        if let directory = configuration.controlDirectory {
            parts.control = try ControlServer(directory: directory, id: configuration.id, ownThread: keep != nil)
        }
        // 6, 7. The relay, then the child.
        try startRelayAndChild(&parts, terminal: terminal)
        // 8. The host's side, then everything runs.
        start(&parts, terminal: terminal)
    }

    private static func watchSignals() throws(SessionError) -> SignalWatcher {
        let signals: SignalWatcher
        do {
            signals = try SignalWatcher(signals: SignalPolicy.watched)
        } catch {
            throw SessionError("cannot watch signals: \(error)")
        }
        SignalPolicy.applyDispositions()
        return signals
    }

    private static func openTerminal(size: WindowSize) throws(SessionError) -> PseudoTerminal {
        do {
            return try PseudoTerminal(size: size)
        } catch {
            throw SessionError("cannot open a pseudo-terminal: \(error)")
        }
    }

    /// Everything the relay needs is acquired before the child is spawned:
    /// descriptors, buffers and wake-up pipes (and a kept session's
    /// threads, parked at the relay's gate until the child runs). A 125
    /// from setting up always means that CMD did not run. Creating a
    /// thread can fail (RLIMIT_NPROC, a pids cgroup, no address space for
    /// its stack), so the threads made after the spawn have a way on
    /// without them: the output reader's work is done by the supervisor
    /// (`Supervisor.relayOutput`), the output writer's by the reader
    /// (`OutputPath`), and typed bytes wait in the host's pipe until the
    /// input thread can start (`Supervisor.startInputThread`).
    ///
    /// The little the process allocates after the spawn (a control reply,
    /// first use of a code path) comes from `reserve`, given back only then:
    /// under an address-space limit, memory runs out before the spawn (125)
    /// rather than after it (a crash, with CMD running).
    private func startRelayAndChild(_ parts: inout Parts, terminal: PseudoTerminal) throws(SessionError) {
        var reserve: AddressSpaceReserve
        do {
            reserve = try AddressSpaceReserve(bytes: Self.memoryReservedForAfterTheSpawn)
        } catch {
            throw SessionError("cannot set up the relay: \(error)")
        }
        if let keep {
            do {
                parts.link = try HostLink(bufferBytes: keep.bufferBytes, firstHostParent: keep.firstHostParent)
            } catch {
                throw SessionError("cannot set up the kept output (\(keep.bufferBytes) bytes): \(error)")
            }
        }
        parts.relay = try Relay(configuration: configuration, terminal: terminal, counters: counters,
                                control: parts.control, link: parts.link)

        var command = configuration.command
        if let control = parts.control {
            command.environment = ProcessEnvironment.setting("PTYPROXY_SOCKET", to: control.socketPath,
                                                             in: command.environment)
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(spawning: command, terminalPath: terminal.slavePath)
        } catch {
            throw SessionError(exitCode: error.exitCode, error.message)
        }
        parts.child = child
        parts.relay?.output.watchChildExit(child.exitDescriptor)
        reserve.release()
        terminal.releaseSlave()  // at once: the master's EIO then says every slave is closed
    }

    /// Step 8: the host terminal goes raw, clients may reach the session,
    /// and the parked threads run.
    private func start(_ parts: inout Parts, terminal: PseudoTerminal) {
        guard let relay = parts.relay, let child = parts.child else { return }
        if let pipeSize = configuration.stdoutPipeSize {
            HostStdio.growPipe(configuration.hostOutput, to: pipeSize)
        }
        parts.host?.enterRawMode()
        parts.hostIsRaw = true
        parts.control?.publish(ControlContext(
            id: configuration.id, terminal: terminal, child: child, counters: counters,
            command: configuration.command.arguments, link: parts.link))
        relay.gate.open()
        parts.relayIsRunning = true
        keep?.whenReady()
    }
}

// MARK: Teardown

extension Session {
    /// Releases what `parts` holds. Safe on every path: each step checks
    /// whether its part was made.
    private func tearDown(_ parts: inout Parts) {
        // 8, 6. The threads: stopped and joined, or left to the process's
        // exit (the output threads when the output was given up, the input
        // thread with `exitsAfterRun`).
        if let relay = parts.relay {
            if parts.relayIsRunning {
                stopThreads(relay, &parts)
            } else {
                // The child did not start: the parked threads return without running.
                relay.cancel()
            }
        }
        // 7. What is left of the child's session, then the child itself.
        if let child = parts.child, let relay = parts.relay, parts.relayIsRunning {
            if relay.output.endedWithTerminalHeld {
                SessionSignaller.signal(session: child.pid, [SIGHUP, SIGCONT])
            }
            _ = child.reap()  // only now: see `ChildProcess`
        }
        // 6. The relay's wake-up pipe.
        if parts.relayIsRunning, !parts.outputThreadsStillRunning { parts.relay?.events.close() }
        // 8. The host terminal.
        if parts.hostIsRaw { parts.host?.restore() }
        // 7. The child's exit descriptor (which the output reader watches).
        if !parts.outputThreadsStillRunning { parts.child?.close() }
        // 5. The socket file and the lock.
        parts.control?.removeSocket()
        // 3. The pseudo-terminal.
        if !parts.outputThreadsStillRunning && !parts.inputThreadStillRunning { parts.terminal?.close() }
        // 2. The signalfd.
        parts.signals?.close()
    }

    /// Control first, then input, then output: the reverse of their start.
    private func stopThreads(_ relay: Relay, _ parts: inout Parts) {
        parts.control?.stop()
        relay.controlThread?.join()
        parts.control?.close()
        let inputThread = relay.inputThread ?? parts.lateInputThread
        if let inputThread, exitsAfterRun {
            inputThread.detach()
            parts.inputThreadStillRunning = true
        } else {
            relay.input.stop()
            inputThread?.join()
            relay.input.close()
        }
        let outputThreads = relay.outputThreads + [parts.lateOutputThread].compactMap { $0 }
        if relay.output.isComplete {
            for thread in outputThreads { thread.join() }
        } else {
            // The session gave up on the output (the hang-up's grace period
            // ran out): a host that stopped reading keeps a thread inside
            // write(2), which cannot be interrupted, and the reader may be
            // in the middle of a flood from a process that outlived the
            // child. The threads are left to the process's exit, with
            // everything they use (see `Parts.outputThreadsStillRunning`).
            relay.output.stop()
            for thread in outputThreads { thread.detach() }
            parts.outputThreadsStillRunning = true
        }
    }
}
