// SPDX-License-Identifier: MIT
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPTYShim
import SystemPackage
import Synchronization

/// Everything one `ptyproxy new` needs to know.
public struct SessionConfiguration: Sendable {
    /// The session's name; also the control socket's name.
    public var id: String
    /// The initial terminal size (when the host's stdin is a terminal, its size wins).
    public var size: WindowSize
    /// What runs on the terminal.
    public var command: Command
    /// SIGHUP -> SIGKILL grace period on hangup, and how long a hangup waits
    /// for the output to reach a host that does not read.
    public var hangupGraceMilliseconds: Int64 = 2000
    /// Output path tuning (buffer size and count, drain timing).
    public var output = OutputPath.Tuning()
    /// When stdout is a pipe smaller than this, it is grown to this size
    /// (F_SETPIPE_SZ); nil (the default) leaves the host's pipe alone. The
    /// benchmark harness found no consistent gain in growing it to 128 KiB or
    /// 1 MiB (BENCHMARKS.md), so the host's object is not touched unasked.
    public var stdoutPipeSize: Int?
    /// Where the control socket lives (a verified directory, see
    /// SessionDirectory.forNewSession); nil runs without a control channel.
    public var controlDirectory: ControlDirectory?
    /// The host's side: stdin and stdout.
    public var hostInput: FileDescriptor = .standardInput
    public var hostOutput: FileDescriptor = .standardOutput

    public init(id: String, size: WindowSize, command: Command) {
        self.id = id
        self.size = size
        self.command = command
    }
}

/// Why a session could not run; `exitCode` follows `env`/`timeout`:
/// 125 the proxy failed, 126 the command cannot run, 127 it was not found.
public struct SessionError: Error, Sendable, CustomStringConvertible {
    public let exitCode: Int32
    public let message: String

    public init(exitCode: Int32 = 125, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    public var description: String { message }
}

/// One proxied terminal session: owns the pty, the child, the relay threads
/// and the control channel, and cleans all of them up on every path.
///
/// The thread calling `run()` is the supervisor: it waits in one poll(2) on
/// signals, the child's exit, the host going away and the relay finishing,
/// and decides when the session ends. It never touches the data itself.
public final class Session: Sendable {
    private let configuration: SessionConfiguration
    public let counters = RelayCounters()
    private let hostInputErrno = Atomic<Int32>(0)
    private let outputEndingValue = Atomic<Int32>(OutputPath.Ending.running.rawValue)

    public init(_ configuration: SessionConfiguration) {
        self.configuration = configuration
    }

    /// Runs the session to the end and returns the child's exit status.
    ///
    /// When the hang-up's grace period runs out before the output is done (a
    /// host that stopped reading, or a process that outlived the child and
    /// keeps writing), it returns with the output threads still running and
    /// the pty's master still open: made for a caller that exits next, as
    /// `ptyproxy` does.
    public func run() throws(SessionError) -> ExitStatus {
        // The host's descriptors as handed over (the tool checks them earlier
        // too, before a closed one is papered over with /dev/null).
        if let problem = HostStdio.check(input: configuration.hostInput.rawValue,
                                         output: configuration.hostOutput.rawValue).problem {
            throw SessionError(problem)
        }
        // Signals first: the mask must be in place before any thread starts.
        let signals: SignalWatcher
        do {
            signals = try SignalWatcher(signals: SignalPolicy.watched)
        } catch {
            throw SessionError("cannot watch signals: \(error)")
        }
        defer { signals.close() }
        SignalPolicy.applyDispositions()

        let host = HostTerminal(configuration.hostInput)
        let size = host?.size() ?? configuration.size
        let terminal: PseudoTerminal
        do {
            terminal = try PseudoTerminal(size: size)
        } catch {
            throw SessionError("cannot open a pseudo-terminal: \(error)")
        }
        // Output threads that cannot be joined (below) still use the
        // master and the relay's wake-up pipe: those are then left open for
        // the process's exit to close, never closed under a running thread
        // (a read on a closed, or reused, descriptor number).
        var outputThreadsStillRunning = false
        defer { if !outputThreadsStillRunning { terminal.close() } }

        // The working directory is checked before the session is published
        // (no client may reach a session that never starts), and here rather
        // than by posix_spawn, which would report a bad directory as the
        // exec's error: ENOENT (127, "not found") or EACCES (126, "cannot
        // execute"), when it is the directory that is wrong.
        if let directory = configuration.command.workingDirectory {
            var info = stat()
            do {
                _ = try directory.withCString { path throws(Errno) in try valueOrErrno { stat(path, &info) } }
            } catch {
                throw SessionError("cannot change to directory '\(directory.printable)': \(error)")
            }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw SessionError("cannot change to directory '\(directory.printable)': not a directory")
            }
            let access = directory.withCString { ptyshim_can_enter($0) }
            guard access == 0 else {
                throw SessionError("cannot change to directory '\(directory.printable)': \(Errno(rawValue: access))")
            }
        }
        var control: ControlServer?
        if let directory = configuration.controlDirectory {
            control = try ControlServer(directory: directory, id: configuration.id)
        }
        defer { control?.removeSocket() }

        var command = configuration.command
        if let control { command.environment.append(ByteString("PTYPROXY_SOCKET=") + control.socketPath) }
        let child: ChildProcess
        do {
            child = try ChildProcess(spawning: command, terminalPath: terminal.slavePath)
        } catch {
            throw SessionError(exitCode: error.exitCode, error.message)
        }
        defer { child.close() }
        #if os(Linux)
        terminal.releaseSlave()
        #endif

        if let pipeSize = configuration.stdoutPipeSize {
            growPipe(configuration.hostOutput, to: pipeSize)
        }
        host?.enterRawMode()
        defer { host?.restore() }

        let relayEvents: Wakeup
        let input: InputPath
        let output: OutputPath
        do {
            relayEvents = try Wakeup()
            input = try InputPath(input: configuration.hostInput, terminal: terminal, counters: counters)
            output = try OutputPath(terminal: terminal, output: configuration.hostOutput,
                                    tuning: configuration.output, counters: counters, notify: relayEvents)
        } catch {
            child.send(SIGKILL)
            _ = child.wait()
            throw SessionError("cannot set up the relay: \(error)")
        }
        defer { if !outputThreadsStillRunning { relayEvents.close() } }

        let outputThreads = output.start()
        let inputThread = input.start()
        let controlThread = control?.start(context: ControlContext(
            id: configuration.id, terminal: terminal, child: child, counters: counters,
            command: configuration.command.arguments))

        var supervisor = Supervisor(
            child: child, output: output, host: host, terminal: terminal,
            graceMilliseconds: configuration.hangupGraceMilliseconds)
        let status = supervisor.run(signals: signals, relayEvents: relayEvents,
                                    hostOutput: configuration.hostOutput)
        let writeError = output.hostWriteError
        outputEndingValue.store(output.ending.rawValue, ordering: .releasing)
        if let readError = input.hostReadError { hostInputErrno.store(readError.rawValue, ordering: .releasing) }

        // Cleanup, in reverse order of start.
        control?.stop()
        controlThread?.join()
        control?.close()
        input.stop()
        inputThread.join()
        input.close()
        if output.isComplete {
            for thread in outputThreads { thread.join() }
        } else {
            // The session gave up on the output (the hang-up's grace period
            // ran out): a host that stopped reading keeps a thread inside
            // write(2), which cannot be interrupted, and the reader may be
            // in the middle of a flood from a process that outlived the
            // child. The threads are left to the process's exit, with
            // everything they use (see `outputThreadsStillRunning`).
            output.stop()
            for thread in outputThreads { thread.detach() }
            outputThreadsStillRunning = true
        }
        #if os(Linux)
        if output.endedWithTerminalHeld {
            SessionSignaller.signal(session: child.pid, [SIGHUP, SIGCONT])
        }
        #endif
        _ = child.reap()  // only now: see `ChildProcess`
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

/// The symbolic name of the errors a host's stdout typically gives, for the
/// one line that reports them.
func errnoName(_ error: Errno) -> String {
    switch error {
    case .fileTooLarge: return "EFBIG"
    case .noSpace: return "ENOSPC"
    case .ioError: return "EIO"
    case .badFileDescriptor: return "EBADF"
    case .invalidArgument: return "EINVAL"
    case .resourceTemporarilyUnavailable: return "EAGAIN"
    case .permissionDenied: return "EACCES"
    case .notPermitted: return "EPERM"
    case .diskQuotaExceeded: return "EDQUOT"
    default: return "errno \(error.rawValue)"
    }
}

/// Grows the host's stdout pipe. Best effort: stdout may be no pipe at all,
/// and an unprivileged user may be over the pipe-size limits.
private func growPipe(_ descriptor: FileDescriptor, to size: Int) {
    _ = ptyshim_grow_pipe(descriptor.rawValue, CInt(clamping: size))
}

/// What the proxy does with every signal it may be sent, decided one by one
/// (docs/REFERENCE.md, "The host's side", has the same table):
///
/// | signal | action | why |
/// |---|---|---|
/// | HUP INT TERM QUIT | hang up (child's status, 129) | requests to end |
/// | XCPU | hang up | CPU soft limit: end cleanly before the hard limit's SIGKILL |
/// | PWR | hang up | power failing: the system is going down |
/// | ILL TRAP ABRT BUS FPE SEGV SYS, sent by kill | hang up | the fault handler turns them into SIGTERM |
/// | the same, from a real fault | fatal | a crash: host terminal restored, then the previous handler (Swift's backtracer) or the default |
/// | WINCH | resize | the host terminal's new size, when stdin is a terminal |
/// | USR1 USR2 ALRM VTALRM PROF IO STKFLT TSTP TTIN TTOU, RTMIN..RTMAX | ignored | taken from the signalfd and dropped: a stray signal must not end, or stop, a session (with the host terminal raw). TTOU is unblocked around the host terminal's tcsetattr only, so job control still stops a background ptyproxy before it changes the terminal (`HostTerminal`) |
/// | PIPE XFSZ | ignored (SIG_IGN) | thread-directed; the write fails instead: EPIPE is the host gone, EFBIG one line and 125 |
/// | CHLD URG CONT | default (ignore; CONT resumes) | harmless |
/// | KILL STOP | cannot be caught | KILL: the kernel hangs up the child when the pty closes, the socket stays until the next `new`/`list` replaces it, a raw host terminal stays raw. STOP: the relay pauses, CONT resumes it, nothing is lost |
///
/// The child gets none of this: posix_spawn resets every disposition to
/// the default and empties the mask (`ChildProcess`).
enum SignalPolicy {
    /// Requests to end: the session is hung up and the child's status returned.
    static let hangup: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXCPU, SIGPWR]
    /// Signals that must not end or stop a session relaying someone's
    /// terminal (a stray `kill -USR1`, a profiling timer, a job-control
    /// stop): received and dropped.
    static var ignored: [Int32] {
        [SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGSTKFLT, SIGTSTP, SIGTTIN, SIGTTOU]
            + realTimeSignals
    }
    /// SIGRTMIN...SIGRTMAX as this C library numbers them (glibc keeps 32 and
    /// 33 for itself; they are never blocked).
    static var realTimeSignals: [Int32] {
        #if os(Linux)
        Array(__libc_current_sigrtmin()...__libc_current_sigrtmax())
        #else
        []
        #endif
    }
    /// Everything the supervisor takes from its signalfd.
    static var watched: [Int32] { hangup + ignored + [SIGWINCH] }

    /// The dispositions that are not "blocked and read from the signalfd".
    static func applyDispositions() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        _ = ptyshim_install_fault_handlers()
    }
}

/// The supervisor's state machine: when to hang up, when to kill, when the
/// session is over.
struct Supervisor {
    let child: ChildProcess
    let output: OutputPath
    let host: HostTerminal?
    let terminal: PseudoTerminal
    let graceMilliseconds: Int64

    private(set) var status: ExitStatus?
    private var hangupStarted = false
    private var killAt: Int64?
    private var giveUpAt: Int64?

    init(child: ChildProcess, output: OutputPath, host: HostTerminal?, terminal: PseudoTerminal,
         graceMilliseconds: Int64) {
        self.child = child
        self.output = output
        self.host = host
        self.terminal = terminal
        self.graceMilliseconds = graceMilliseconds
    }

    mutating func run(signals: SignalWatcher, relayEvents: Wakeup, hostOutput: FileDescriptor) -> ExitStatus {
        // Slots: signals, child exit, host output (errors only), relay events.
        var entries = (
            pollfd(signals.descriptor, .readable),
            pollfd(child.exitDescriptor, .readable),
            pollfd(hostOutput, .none),
            pollfd(relayEvents.readEnd, .readable)
        )
        return withUnsafeMutableBytes(of: &entries) { raw -> ExitStatus in
            let list = raw.bindMemory(to: pollfd.self)
            while true {
                if let status, output.isComplete { return status }
                let now = monotonicMilliseconds()
                if let status, let giveUpAt, now >= giveUpAt { return status }
                if let killAt, now >= killAt {
                    killSession()
                    self.killAt = nil
                }
                let deadline = [killAt, giveUpAt].compactMap { $0 }.min()
                _ = try? Poller.wait(list, timeoutMilliseconds: pollTimeout(until: deadline))

                if list[0].reported(.readable) { handleSignals(signals) }
                if list[1].reported(.readable) { childExited(); list[1].fd = -1 }
                if list[2].revents != 0 { hostWentAway(); list[2].fd = -1 }
                if list[3].reported(.readable) {
                    relayEvents.drain()
                    if output.isHostGone { hostWentAway() }
                }
            }
        }
    }

    private mutating func handleSignals(_ signals: SignalWatcher) {
        while let signal = signals.next() {
            if signal == SIGWINCH {
                if let size = host?.size() { try? terminal.resize(to: size) }
            } else if SignalPolicy.hangup.contains(signal) {
                hangUp()
            }
        }
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
        #if os(Linux)
        SessionSignaller.signal(session: child.pid, signals)
        #else
        for signal in signals { kill(-child.pid, signal) }
        #endif
    }
}
