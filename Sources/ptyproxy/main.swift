// SPDX-License-Identifier: MIT
// ptyproxy: run a program on a pseudo-terminal for a host that only has pipes.
//
// A thin layer over the PTYProxy library: parse the command line, run the
// session or send the control request, turn the outcome into an exit code.

import Glibc
import PTYProxy
import SystemPackage

/// Exit codes of the control commands (`resize`, `signal`, `status`, `list`).
enum ControlExit {
    static let refused: Int32 = 1
    static let noSuchSession: Int32 = 4
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

func controlRequest(_ request: String, to id: String, reply form: ControlReply.Form = .text) -> String {
    do {
        return try ControlClient().send(request, to: id, reply: form)
    } catch {
        switch error {
        case .noSuchSession(let id):
            fail("no session '\(id)' is running", code: ControlExit.noSuchSession)
        case .refused(let reason):
            fail("session '\(id)' refused: \(reason)", code: ControlExit.refused)
        case .failed(let reason):
            fail(reason, code: ControlExit.refused)
        }
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
        let session = Session(configuration)
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
