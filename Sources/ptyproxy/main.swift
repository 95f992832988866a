// SPDX-License-Identifier: MIT
// ptyproxy: run a program on a pseudo-terminal for a host that only has pipes.
//
// A thin layer over the PTYProxy library: parse the command line, run the
// session or send the control request, turn the outcome into an exit code.

import Glibc
import PTYProxy
import CPTYShim
import SystemPackage

/// Exit codes of the control commands (`resize`, `signal`, `status`, `list`).
enum ControlExit {
    static let refused: Int32 = 1
    static let noSuchSession: Int32 = 4
    /// `attach` (and `new --keep`) whose host was detached: another host
    /// took the session over, or this one's stdin and stdout broke.
    static let detached: Int32 = 3
    static let usage: Int32 = 125
}

func fail(_ message: String, code: Int32 = 125) -> Never {
    printError("ptyproxy: \(message)")
    exit(code)
}

func printError(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Writes a line to stdout; a stdout that refuses it (/dev/full, a closed
/// pipe, a file over `ulimit -f`) ends the command with one line and 1:
/// a reply nobody received is no success.
func printOut(_ line: String) {
    do {
        try FileDescriptor.standardOutput.writeAll(line + "\n")
    } catch {
        fail("cannot write to stdout: \(error)", code: ControlExit.refused)
    }
}

/// Makes sure fds 0-2 are open, so that no descriptor the proxy opens can
/// land on them and be mistaken for the host's stdin or stdout.
func ensureStandardDescriptors() {
    for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 {
        let null = open("/dev/null", O_RDWR)
        if null >= 0 && null != fd {
            dup2(null, fd)
            close(null)
        }
    }
}

/// One line for a control client's failure, with its exit status.
func fail(_ failure: ControlClient.Failure, id: String) -> Never {
    switch failure {
    case .noSuchSession(let id):
        fail("no session '\(id)' is running", code: ControlExit.noSuchSession)
    case .refused(let reason):
        fail("session '\(id)' refused: \(reason)", code: ControlExit.refused)
    case .failed(let reason):
        fail(reason, code: ControlExit.refused)
    }
}

func controlRequest(_ request: String, to id: String, reply form: ControlReply.Form = .text) -> String {
    do {
        return try ControlClient().send(request, to: id, reply: form)
    } catch {
        fail(error, id: id)
    }
}

func runNew(_ options: Invocation.NewOptions) -> Never {
    let command = Command(
        arguments: Command.argumentsForCompatibility(options.command),
        environment: ProcessEnvironment.forChild(inherited: ProcessEnvironment.current, term: options.term,
                                                 id: options.id, overrides: options.environment),
        workingDirectory: options.workingDirectory)
    var configuration = SessionConfiguration(id: options.id, size: options.size, command: command)
    configuration.hangupGraceMilliseconds = options.hangupGraceMilliseconds
    configuration.output.bufferCount = options.outputBufferCount
    configuration.output.bufferSize = options.outputBufferSize
    configuration.stdoutPipeSize = options.stdoutPipeSize
    do {
        let (directory, liveElsewhere) = try SessionDirectory.forNewSession(id: options.id)
        if let socket = liveElsewhere {
            fail("session '\(options.id)' is already running (\(socket.printablePath))")
        }
        configuration.controlDirectory = directory
        if options.keep { runKept(configuration, options) }
        let session = Session(configuration, exitsAfterRun: true)
        let status = try session.run()
        if let readError = session.hostInputError {
            printError("ptyproxy: cannot read stdin: \(readError); it was taken as the end of input")
        }
        if getenv("PTYPROXY_TRACE") != nil {
            // A diagnostic, asked for: how the session ended, on stderr.
            printError("ptyproxy: trace: session '\(options.id)': \(session.counters.bytesOut) bytes out; "
                       + "output ended by \(session.outputEnding)\(lateOutputNote(session.counters)); the child \(status)")
        }
        exit(status.shellCode)
    } catch {
        fail(error.message, code: error.exitCode)
    }
}

/// The byte a kept session's server sends its front once it is set up
/// (ASCII ACK: no `ptyproxy:` line starts with it).
let keptServerReady: UInt8 = 0x06

/// `new --keep`: the session runs in a server process of its own (forked
/// now, while this process has one thread; a new session, so that a host
/// that kills this process's group leaves it alone), and this process
/// becomes its first host exactly as `attach` would. Until the server is
/// set up its stderr is a pipe to this process: a set-up error arrives
/// here as today's line and exit code.
func runKept(_ configuration: SessionConfiguration, _ options: Invocation.NewOptions) -> Never {
    var ends: [Int32] = [-1, -1]
    let piped = ptyshim_pipe(&ends, 0)
    guard piped == 0 else { fail("cannot start a kept session: \(Errno(rawValue: piped))") }
    let front = getpid()
    var server: pid_t = 0
    let job = Unmanaged.passRetained(KeptServerJob(configuration, options, ends: ends, front: front)).toOpaque()
    let forked = ptyshim_fork_kept_server(&server, ends[1], { context in
        let job = Unmanaged<KeptServerJob>.fromOpaque(context!).takeRetainedValue()
        close(job.ends[0])
        serveKept(job.configuration, job.options, report: job.ends[1], front: job.front)
    }, job)
    Unmanaged<KeptServerJob>.fromOpaque(job).release()
    guard forked == 0 else {
        fail("cannot start a kept session: \(Errno(rawValue: forked))\(forked == EDEADLK ? " (threads running)" : "")")
    }
    close(ends[1])
    var report: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
        if count > 0 { report += chunk[..<count]; continue }
        if count < 0 && errno == EINTR { continue }
        break
    }
    close(ends[0])
    guard report == [keptServerReady] else {
        if !report.isEmpty { _ = report.withUnsafeBytes { write(2, $0.baseAddress, $0.count) } }
        var status: Int32 = 0
        while waitpid(server, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 125
        if report.isEmpty { fail("the kept session's server ended during set-up") }
        exit(code == 0 ? 125 : code)
    }
    runAttach(id: options.id, size: nil, force: false)
}

/// What the kept session's server is started with (through the C fork).
final class KeptServerJob {
    let configuration: SessionConfiguration
    let options: Invocation.NewOptions
    /// The report pipe: the front reads [0], the server writes [1].
    let ends: [Int32]
    /// The server's parent, its first host.
    let front: pid_t

    init(_ configuration: SessionConfiguration, _ options: Invocation.NewOptions, ends: [Int32], front: pid_t) {
        self.configuration = configuration
        self.options = options
        self.ends = ends
        self.front = front
    }
}

/// The kept session's server: stdin and stdout on /dev/null, stderr the
/// report pipe until the session is set up, then /dev/null too. `front`,
/// its parent, is the first host.
func serveKept(_ configuration: SessionConfiguration, _ options: Invocation.NewOptions, report: Int32,
               front: pid_t) -> Never {
    dup2(report, 2)
    // Nothing of the front's host may stay open here (an fd Emacs leaked
    // would keep its pipe alive as long as the session).
    ptyshim_close_from(3)
    let null = open("/dev/null", O_RDWR | O_CLOEXEC)
    if null >= 0 {
        dup2(null, 0)
        dup2(null, 1)
    }
    let keep = KeepOptions(bufferBytes: options.keepBufferBytes, firstHostParent: front) {
        var ready = keptServerReady
        _ = write(2, &ready, 1)
        if null >= 0 { dup2(null, 2) }
    }
    do {
        // The directory again: its descriptor was the front's.
        var configuration = configuration
        configuration.controlDirectory = try SessionDirectory.forNewSession(id: options.id).directory
        let status = try Session(configuration, keep: keep).run()
        exit(status.shellCode)
    } catch {
        fail(error.message, code: error.exitCode)
    }
}

/// `attach ID [COLS ROWS] [--force]`: this process's stdin and stdout
/// become the session's host's; it waits for the session's last line and
/// exits with the program's status as `new` would.
func runAttach(id: String, size: WindowSize?, force: Bool) -> Never {
    let terminal = AttachingTerminal()
    let request = AttachRequest(size: size ?? terminal.size, force: force)
    let outcome: AttachOutcome
    do {
        let followSize: (() -> WindowSize?)? = terminal.size == nil ? nil : { terminal.size }
        outcome = try ControlClient().attach(request, to: id, terminalSize: followSize) { terminal.enterRawMode() }
    } catch {
        fail(error, id: id)
    }
    terminal.restore()
    switch outcome {
    case .exited(let code):
        exit(code)
    case .detached(let reason):
        fail("session '\(id)' detached from this host: \(reason)", code: ControlExit.detached)
    case .lost:
        fail("session '\(id)' ended without an exit status (its server was killed?)")
    }
}

/// The arguments after the program name, as the bytes the kernel passed:
/// CommandLine.arguments would decode them as UTF-8 and replace every
/// invalid byte with U+FFFD.
/// For the trace: output that came only on the read confirming EIO.
func lateOutputNote(_ counters: RelayCounters) -> String {
    let late = counters.bytesAfterFirstHangUp
    return late == 0 ? "" : " (\(late) bytes came after the first EIO)"
}

func rawArguments() -> [ByteString] {
    (1..<Int(max(1, CommandLine.argc))).compactMap { index in
        CommandLine.unsafeArgv[index].map { ByteString(cString: $0) }
    }
}

// One malloc arena for every thread. The relay's threads allocate little
// and only now and then (their buffers are allocated once, before the
// spawn); an arena of their own would cost each of them, at its first
// allocation, a 128 MiB mapping made and trimmed while the session starts.
_ = ptyshim_single_malloc_arena()

/// How the host's stdin and stdout were handed over, looked at before
/// ensureStandardDescriptors() papers over a closed one.
let hostStdio = HostStdio.check()
ensureStandardDescriptors()
switch Invocation.parse(rawArguments()) {
case .failure(let error):
    fail(error.message)
case .success(.help):
    printOut(Invocation.usage)
case .success(.version):
    printOut(Version.description)
case .success(.new(let options)):
    if let problem = hostStdio.problem { fail(problem) }
    runNew(options)
case .success(.resize(let id, let size)):
    _ = controlRequest(ControlRequest.line(resize: size), to: id)
case .success(.signal(let id, let signal)):
    _ = controlRequest(ControlRequest.line(.signal, signal), to: id)
case .success(.attach(let id, let size, let force)):
    runAttach(id: id, size: size, force: force)
case .success(.status(let id)):
    printOut(controlRequest(ControlRequest.line(.status), to: id, reply: .json))
case .success(.list):
    let client = ControlClient()
    // A candidate directory that exists but cannot be trusted is named on
    // stderr (how to fix it) and not read; the others are listed.
    // In one line, however many there are.
    if !client.problems.isEmpty { printError("ptyproxy: " + client.problems.joined(separator: "; and ")) }
    for session in client.list() {
        printOut("\(session.id)\t\(session.status)")
    }
    if client.directories.isEmpty && !client.problems.isEmpty { exit(ControlExit.refused) }
}
