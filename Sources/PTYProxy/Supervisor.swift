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
    /// The output reader, once this supervisor started it.
    private(set) var outputThread: IOThread?
    /// Set while the supervisor's own relay waits for room in the host's
    /// pipe: it polls stdout for POLLOUT instead of the master.
    private var awaitsHostRoom = false
    /// Whether the master was polled in the last wait and reported
    /// nothing. Only then may the supervisor's own relay end at its
    /// deadline, as the reader ends at its own only when a read finds the
    /// pty empty: what the pty holds when the host makes room again, past
    /// the drain limit, is still relayed.
    private var masterWasQuiet = false
    private var hangupStarted = false
    private var deadlines = SupervisorDeadlines()

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

    /// True while the output reader could not be started: the supervisor
    /// relays the output itself, and tries the thread again from then on.
    private var relaysOutputItself: Bool { deadlines.outputRetry != nil }

    /// True while the supervisor's own relay reads the master. Waiting for
    /// room in the host's pipe is not a quiet pty: no deadline ends the
    /// output then (as none does while the reader waits inside a write).
    private var ownRelayReadsMaster: Bool { relaysOutputItself && !awaitsHostRoom }

    /// Runs until the session is over. With `control`, its socket is
    /// served from this loop too (see `ControlService`).
    mutating func run(signals: SignalWatcher, relayEvents: Wakeup, hostOutput: FileDescriptor,
                      control: ControlServer?) -> ExitStatus {
        var service = ControlService(control)
        defer { service.close() }
        var polls = SupervisorPolls(
            signals: signals.descriptor, childExit: child.exitDescriptor, hostOutput: hostOutput,
            relayEvents: relayEvents.readEnd, hostInput: input == nil ? nil : hostInput,
            master: startsOutputReader ? terminal.master : nil, controlEntryCount: service.pollEntryCount)
        while true {
            let now = monotonicMilliseconds()
            if let status = statusIfOver(now: now) { return status }
            let outputEnded = actOnDueDeadlines(now: now, &polls)
            if outputEnded { continue }
            let deadline = prepareWaits(&polls, &service)
            polls.wait(until: deadline)
            dispatchReports(&polls, &service, signals: signals, relayEvents: relayEvents)
        }
    }

    /// The session is over once the child has exited and its output is
    /// complete; or, after a hang-up, once the grace period has passed
    /// with the child exited (the output threads may still run then: see
    /// `Session.run`).
    private func statusIfOver(now: Int64) -> ExitStatus? {
        guard let status else { return nil }
        return output.isComplete || deadlines.giveUp.isDue(at: now) ? status : nil
    }

    /// Acts on the deadlines due at `now`. Returns true when the end of the
    /// supervisor's own relay completed the output: the pass starts over,
    /// and ends the session.
    private mutating func actOnDueDeadlines(now: Int64, _ polls: inout SupervisorPolls) -> Bool {
        if deadlines.kill.isDue(at: now) {
            killSession()
            deadlines.kill = nil
        }
        if deadlines.inputRetry.isDue(at: now) {
            polls.arm(.hostInput)
            deadlines.inputRetry = nil
        }
        if ownRelayReadsMaster && masterWasQuiet {
            output.endRelayIfDue(now: now)
            if output.isComplete {
                polls.disarm(.master)
                deadlines.outputRetry = nil
                return true
            }
        }
        return false
    }

    /// Arms the slots that depend on the session's state and fills the
    /// control socket's entries; returns the deadline to wait until.
    private mutating func prepareWaits(_ polls: inout SupervisorPolls, _ service: inout ControlService) -> Int64? {
        // While the output reader runs, it watches the child's exit
        // (`OutputPath.watchChildExit`): this loop wakes once at the end,
        // when the output is complete, unless a hang-up needs to know.
        // Before the reader starts (a program that has not written
        // yet), the exit is this loop's to see.
        if status == nil {
            polls.setArmed(.childExit, output.isComplete || hangupStarted || awaitsOutputReader)
        }
        let controlDeadline = service.prepare(polls.controlEntries)
        // While this thread relays the output, the master's own reports
        // bring the next try of the reader; only the end of a quiet pty
        // after the exit needs a deadline.
        let relayDeadline = ownRelayReadsMaster ? output.relayDeadline : nil
        return deadlines.next(relay: relayDeadline, control: controlDeadline)
    }

    /// Handles what the wait reported, slot by slot, in an order that
    /// matters where two reports meet in one pass:
    /// - a hang-up signal before the child's exit: the hang-up signals the
    ///   whole session (SIGHUP, SIGCONT) only while the child is not known
    ///   to have exited;
    /// - the child's exit before the master: the exit is noted before the
    ///   output reader starts, so it starts with its drain rules, and from
    ///   the master's handler when the master reported too (which reads
    ///   what it reported: the hang-up with nothing left to read);
    /// - the host going away (stdout's error, or a relay thread's report)
    ///   before the master: the supervisor's own relay then drops what it
    ///   reads instead of writing it to a pipe with no reader.
    private mutating func dispatchReports(_ polls: inout SupervisorPolls, _ service: inout ControlService,
                                          signals: SignalWatcher, relayEvents: Wakeup) {
        masterWasQuiet = polls.isArmed(.master) && !polls.reported(.master)
        if polls.reported(.signals, .readable) { handleSignals(signals) }
        if polls.reported(.childExit, .readable) { childExitReported(&polls) }
        if polls.reported(.hostOutput) { hostOutputReported(&polls) }
        if polls.reported(.relayEvents, .readable) {
            relayEvents.drain()
            if output.isHostGone { hostWentAway() }
        }
        if polls.reported(.hostInput) {
            polls.disarm(.hostInput)
            startInputThread()
        }
        if polls.reported(.master) { relayOutput(&polls) }
        service.handle(polls.controlEntries)
    }

    private mutating func childExitReported(_ polls: inout SupervisorPolls) {
        childExited()
        polls.disarm(.childExit)
        // A pty still quiet after the exit (a job holds it): the reader
        // starts now, with its drain rules.
        if awaitsOutputReader && !polls.reported(.master) { relayOutput(&polls) }
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
    private mutating func relayOutput(_ polls: inout SupervisorPolls) {
        guard awaitsOutputReader, !output.isComplete else { polls.disarm(.master); return }
        if polls.reported(.master, .failure) && !polls.reported(.master, .readable) {
            _ = output.relayReadyOutput()  // EIO twice; what raced in with it, if anything, is written
            if output.isComplete { polls.disarm(.master); return }
        }
        let now = monotonicMilliseconds()
        if now >= deadlines.outputRetry ?? now, let thread = try? output.startNow() {
            outputThread = thread
            deadlines.outputRetry = nil
            polls.disarm(.master)
            return
        }
        if deadlines.outputRetry ?? 0 <= now { deadlines.outputRetry = now + Self.threadRetryMilliseconds }
        if !output.relayReadyOutput() {
            awaitsHostRoom = true
            polls.disarm(.master)
            polls.watch(.hostOutput, for: .writable)
        }
        if output.isComplete {
            polls.disarm(.master)
            deadlines.outputRetry = nil
        }
    }

    /// Host stdout reported: an error is the host going away; POLLOUT is
    /// room for the supervisor's own relay, which polls the master again.
    private mutating func hostOutputReported(_ polls: inout SupervisorPolls) {
        if awaitsHostRoom {
            awaitsHostRoom = false
            polls.watch(.hostOutput, for: .none)
            output.relayResumed()
            if !output.isComplete { polls.arm(.master) }
        }
        if polls.reported(.hostOutput, .failure) {
            hostWentAway()
            polls.disarm(.hostOutput)
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
            deadlines.inputRetry = monotonicMilliseconds() + Self.threadRetryMilliseconds
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
        deadlines.kill = nil
        output.childExited()
        if hangupStarted { deadlines.giveUp = monotonicMilliseconds() + graceMilliseconds }
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
            deadlines.kill = now + graceMilliseconds
        } else {
            deadlines.giveUp = now + graceMilliseconds
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

/// The supervisor's deadlines, in `monotonicMilliseconds()`: each is set
/// when its reason arises and cleared once acted on.
struct SupervisorDeadlines {
    /// SIGKILL to the session: the hang-up's grace period, while the child
    /// runs.
    var kill: Int64?
    /// The end of the wait for the output: the hang-up's grace period,
    /// once the child has exited.
    var giveUp: Int64?
    /// The next try of the input thread.
    var inputRetry: Int64?
    /// The next try of the output reader, set while the supervisor relays
    /// the output itself. Not waited for: the master's reports bring it.
    var outputRetry: Int64?

    /// The deadline to wait until: the earliest of those waited for, the
    /// end of the supervisor's own relay (`relay`) and the control
    /// clients' (`control`).
    func next(relay: Int64?, control: Int64?) -> Int64? {
        earlier(earlier(kill, giveUp), earlier(inputRetry, earlier(relay, control)))
    }

    private func earlier(_ one: Int64?, _ other: Int64?) -> Int64? {
        guard let one else { return other }
        guard let other else { return one }
        return min(one, other)
    }
}

private extension Optional<Int64> {
    /// True when this deadline is set and has come.
    func isDue(at now: Int64) -> Bool {
        guard let self else { return false }
        return now >= self
    }
}
