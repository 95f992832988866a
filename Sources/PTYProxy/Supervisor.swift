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
    /// How long bytes wait in the host's pipe when the input thread could
    /// not be started, before it is tried again.
    static let inputRetryMilliseconds: Int64 = 100

    private(set) var status: ExitStatus?
    /// The input thread, once this supervisor started it.
    private(set) var inputThread: IOThread?
    private var inputRetryAt: Int64?
    private var hangupStarted = false
    private var killAt: Int64?
    private var giveUpAt: Int64?

    init(child: ChildProcess, output: OutputPath, host: HostTerminal?, terminal: PseudoTerminal,
         graceMilliseconds: Int64, input: InputPath?, hostInput: FileDescriptor) {
        self.child = child
        self.output = output
        self.host = host
        self.terminal = terminal
        self.graceMilliseconds = graceMilliseconds
        self.input = input
        self.hostInput = hostInput
    }

    /// Runs until the session is over. With `control`, its socket is
    /// served from this loop too (see `ControlService`).
    mutating func run(signals: SignalWatcher, relayEvents: Wakeup, hostOutput: FileDescriptor,
                      control: ControlServer?) -> ExitStatus {
        var service = ControlService(control)
        defer { service.close() }
        // Slots: signals, child exit, host output (errors only), relay
        // events, host input (until its thread starts), then the control
        // socket's.
        let list = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: 5 + service.pollEntryCount)
        defer { list.deallocate() }
        list[0] = pollfd(signals.descriptor, .readable)
        list[1] = pollfd(child.exitDescriptor, .readable)
        list[2] = pollfd(hostOutput, .none)
        list[3] = pollfd(relayEvents.readEnd, .readable)
        list[4] = pollfd(input == nil ? FileDescriptor(rawValue: -1) : hostInput, .readable)
        let controlEntries = UnsafeMutableBufferPointer(rebasing: list[5...])
        while true {
            if let status, output.isComplete { return status }
            let now = monotonicMilliseconds()
            if let status, let giveUpAt, now >= giveUpAt { return status }
            if let killAt, now >= killAt {
                killSession()
                self.killAt = nil
            }
            // While the output runs, the reader watches the child's exit
            // (`OutputPath.watchChildExit`): this loop wakes once at the end,
            // when the output is complete, unless a hang-up needs to know.
            if status == nil {
                list[1].fd = output.isComplete || hangupStarted ? child.exitDescriptor.rawValue : -1
            }
            if let inputRetryAt, now >= inputRetryAt {
                list[4].fd = hostInput.rawValue
                self.inputRetryAt = nil
            }
            let controlDeadline = service.prepare(controlEntries)
            let deadline = [killAt, giveUpAt, inputRetryAt, controlDeadline].compactMap { $0 }.min()
            _ = try? Poller.wait(list, timeoutMilliseconds: pollTimeout(until: deadline))

            if list[0].reported(.readable) { handleSignals(signals) }
            if list[1].reported(.readable) { childExited(); list[1].fd = -1 }
            if list[2].revents != 0 { hostWentAway(); list[2].fd = -1 }
            if list[3].reported(.readable) {
                relayEvents.drain()
                if output.isHostGone { hostWentAway() }
            }
            if list[4].revents != 0 {
                list[4].fd = -1
                startInputThread()
            }
            service.handle(controlEntries)
        }
    }

    /// The host typed, or closed its stdin: the input thread starts now,
    /// not before the spawn, since most of a session's start-up passes
    /// without a byte typed. When it cannot (a limit on processes or
    /// memory), the bytes wait in the host's pipe, and it is tried again
    /// `inputRetryMilliseconds` later.
    private mutating func startInputThread() {
        guard let input else { return }
        if let thread = try? input.startNow() {
            inputThread = thread
        } else {
            inputRetryAt = monotonicMilliseconds() + Self.inputRetryMilliseconds
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
