// SPDX-License-Identifier: MIT
import Glibc
import SystemPackage

/// The supervisor's state machine: when to hang up, when to kill, when the
/// session is over.
struct Supervisor {
    let child: ChildProcess
    let output: OutputPath
    let host: HostTerminal?
    let terminal: PseudoTerminal
    let graceMilliseconds: Int64
    /// The input path whose thread starts when the host's stdin first
    /// reports something (a byte, or its end); nil when it started with
    /// the relay (a kept session).
    let input: InputPath?
    let hostInput: FileDescriptor
    /// Whether this supervisor starts the output reader (any session but a
    /// kept one), when the master first reports something or the child
    /// exits.
    let startsOutputReader: Bool
    /// How long after a thread could not be started it is tried again:
    /// typed bytes wait in the host's pipe meanwhile, output is relayed by
    /// the supervisor itself.
    static let threadRetryMilliseconds: Int64 = 100

    private(set) var status: ExitStatus?
    /// The input thread, once this supervisor started it.
    private(set) var inputThread: IOThread?
    private var inputRetryAt: Int64?
    /// The output reader, once this supervisor started it.
    private(set) var outputThread: IOThread?
    /// Set while the output reader could not be started: the supervisor
    /// relays the output itself, and tries the thread again from then on.
    private var outputRetryAt: Int64?
    /// Set while the supervisor's own relay waits for room in the host's
    /// pipe: it polls stdout for POLLOUT instead of the master.
    private var awaitsHostRoom = false
    private var hangupStarted = false
    private var killAt: Int64?
    private var giveUpAt: Int64?

    init(child: ChildProcess, output: OutputPath, host: HostTerminal?, terminal: PseudoTerminal,
         graceMilliseconds: Int64, input: InputPath?, hostInput: FileDescriptor, startsOutputReader: Bool) {
        self.child = child
        self.output = output
        self.host = host
        self.terminal = terminal
        self.graceMilliseconds = graceMilliseconds
        self.input = input
        self.hostInput = hostInput
        self.startsOutputReader = startsOutputReader
    }

    /// True until the output reader runs, in a session whose supervisor
    /// starts it.
    private var awaitsOutputReader: Bool { startsOutputReader && outputThread == nil }

    /// Runs until the session is over. With `control`, its socket is
    /// served from this loop too (see `ControlService`).
    mutating func run(signals: SignalWatcher, relayEvents: Wakeup, hostOutput: FileDescriptor,
                      control: ControlServer?) -> ExitStatus {
        var service = ControlService(control)
        defer { service.close() }
        // Slots: signals, child exit, host output (errors only), relay
        // events, host input (until its thread starts), the master (until
        // the output reader starts), then the control socket's.
        let list = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: 6 + service.pollEntryCount)
        defer { list.deallocate() }
        list[0] = pollfd(signals.descriptor, .readable)
        list[1] = pollfd(child.exitDescriptor, .readable)
        list[2] = pollfd(hostOutput, .none)
        list[3] = pollfd(relayEvents.readEnd, .readable)
        list[4] = pollfd(input == nil ? FileDescriptor(rawValue: -1) : hostInput, .readable)
        list[5] = pollfd(startsOutputReader ? terminal.master : FileDescriptor(rawValue: -1), .readable)
        let controlEntries = UnsafeMutableBufferPointer(rebasing: list[6...])
        while true {
            if let status, output.isComplete { return status }
            let now = monotonicMilliseconds()
            if let status, let giveUpAt, now >= giveUpAt { return status }
            if let killAt, now >= killAt {
                killSession()
                self.killAt = nil
            }
            // While the output reader runs, it watches the child's exit
            // (`OutputPath.watchChildExit`): this loop wakes once at the end,
            // when the output is complete, unless a hang-up needs to know.
            // Before the reader starts (a program that has not written
            // yet), the exit is this loop's to see.
            if status == nil {
                let watchesExit = output.isComplete || hangupStarted || awaitsOutputReader
                list[1].fd = watchesExit ? child.exitDescriptor.rawValue : -1
            }
            // Waiting for room in the host's pipe is not a quiet pty: no
            // deadline ends the output then (as none does while the reader
            // waits inside a write).
            if outputRetryAt != nil && !awaitsHostRoom {
                output.endRelayIfDue(now: now)
                if output.isComplete { list[5].fd = -1; outputRetryAt = nil; continue }
            }
            if let inputRetryAt, now >= inputRetryAt {
                list[4].fd = hostInput.rawValue
                self.inputRetryAt = nil
            }
            let controlDeadline = service.prepare(controlEntries)
            // While this thread relays the output, the master's own reports
            // bring the next try of the reader; only the end of a quiet pty
            // after the exit needs a deadline.
            let relayDeadline = outputRetryAt == nil || awaitsHostRoom ? nil : output.relayDeadline
            let deadline = [killAt, giveUpAt, inputRetryAt, relayDeadline, controlDeadline].compactMap { $0 }.min()
            _ = try? Poller.wait(list, timeoutMilliseconds: pollTimeout(until: deadline))

            if list[0].reported(.readable) { handleSignals(signals) }
            if list[1].reported(.readable) {
                childExited()
                list[1].fd = -1
                // A pty still quiet after the exit (a job holds it): the
                // reader starts now, with its drain rules.
                if awaitsOutputReader && list[5].revents == 0 { relayOutput(&list[5], &list[2]) }
            }
            if list[2].revents != 0 { hostOutputReported(&list[2], master: &list[5]) }
            if list[3].reported(.readable) {
                relayEvents.drain()
                if output.isHostGone { hostWentAway() }
            }
            if list[4].revents != 0 {
                list[4].fd = -1
                startInputThread()
            }
            if list[5].revents != 0 { relayOutput(&list[5], &list[2]) }
            service.handle(controlEntries)
        }
    }

    /// The master reported something, or the child exited: the output
    /// reader starts now, not before the spawn, since a program is often
    /// quiet through the session's start-up. A hang-up with nothing to
    /// read (every slave closed, no output left: `true`) needs no reader:
    /// this thread confirms it with the reader's own double read, and the
    /// output is complete. When the reader cannot start (a limit on
    /// processes or memory), the child runs already and its output must
    /// still arrive: this thread relays what is ready itself (the master
    /// stays in its poll), and tries the reader again
    /// `threadRetryMilliseconds` later.
    private mutating func relayOutput(_ master: inout pollfd, _ hostOutput: inout pollfd) {
        guard awaitsOutputReader, !output.isComplete else { master.fd = -1; return }
        if master.reported(.failure) && !master.reported(.readable) {
            _ = output.relayReadyOutput()  // EIO twice; what raced in with it, if anything, is written
            if output.isComplete { master.fd = -1; return }
        }
        let now = monotonicMilliseconds()
        if now >= outputRetryAt ?? now, let thread = try? output.startNow() {
            outputThread = thread
            outputRetryAt = nil
            master.fd = -1
            return
        }
        if outputRetryAt ?? 0 <= now { outputRetryAt = now + Self.threadRetryMilliseconds }
        if !output.relayReadyOutput() {
            awaitsHostRoom = true
            master.fd = -1
            hostOutput.events = Poller.Events.writable.rawValue
        }
        if output.isComplete { master.fd = -1; outputRetryAt = nil }
    }

    /// Host stdout reported: an error is the host going away; POLLOUT is
    /// room for the supervisor's own relay, which polls the master again.
    private mutating func hostOutputReported(_ hostOutput: inout pollfd, master: inout pollfd) {
        if awaitsHostRoom {
            awaitsHostRoom = false
            hostOutput.events = Poller.Events.none.rawValue
            output.relayResumed()
            if !output.isComplete { master.fd = terminal.master.rawValue }
        }
        if hostOutput.reported(.failure) {
            hostWentAway()
            hostOutput.fd = -1
        }
    }

    /// The host typed, or closed its stdin: the input thread starts now,
    /// not before the spawn, since most of a session's start-up passes
    /// without a byte typed. When it cannot (a limit on processes or
    /// memory), the bytes wait in the host's pipe, and it is tried again
    /// `threadRetryMilliseconds` later.
    private mutating func startInputThread() {
        guard let input else { return }
        if let thread = try? input.startNow() {
            inputThread = thread
        } else {
            inputRetryAt = monotonicMilliseconds() + Self.threadRetryMilliseconds
        }
    }

    private mutating func handleSignals(_ signals: SignalWatcher) {
        while let signal = signals.next() {
            if signal == SIGWINCH {
                followHostSize()
            } else if signal == SIGCONT {
                host?.resumeRawMode()
                followHostSize()
            } else if SignalPolicy.hangup.contains(signal) {
                hangUp()
            }
        }
    }

    private func followHostSize() {
        if let size = host?.size() { try? terminal.resize(to: size) }
    }

    private mutating func childExited() {
        // Read, not reaped: the zombie keeps the child's pid, group and
        // session reserved until `run` has hung up what is left of the
        // session (`endedWithTerminalHeld`) and reaps it.
        guard let status = child.exitStatus() else { return }
        self.status = status
        killAt = nil
        output.childExited()
        if hangupStarted { giveUpAt = monotonicMilliseconds() + graceMilliseconds }
    }

    private mutating func hostWentAway() {
        output.hostWentAway()
        hangUp()
    }

    /// The terminal is going away: SIGHUP (and SIGCONT, for stopped jobs) to
    /// the whole session, SIGKILL after the grace period.
    private mutating func hangUp() {
        guard !hangupStarted else { return }
        hangupStarted = true
        let now = monotonicMilliseconds()
        if status == nil {
            signalSession(SIGHUP, SIGCONT)
            killAt = now + graceMilliseconds
        } else {
            giveUpAt = now + graceMilliseconds
        }
    }

    private func killSession() {
        guard status == nil else { return }
        signalSession(SIGKILL)
    }

    private func signalSession(_ signals: Int32...) {
        for signal in signals { child.send(signal) }
        SessionSignaller.signal(session: child.pid, signals)
    }
}
