// ptyproxy: run a program on a pseudo-terminal for a host that only has pipes.
//
// A thin layer over the PTYProxy library: parse the command line, run the
// session or send the control request, turn the outcome into an exit code.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PTYProxy

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

func printOut(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
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

func controlRequest(_ request: String, to id: String) -> String {
    do {
        return try ControlClient().send(request, to: id)
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

/// The child's environment: ours, minus COLUMNS/LINES (the pty knows its
/// size and a stale value would override it), with TERM and PTYPROXY_ID set.
func childEnvironment(_ options: Invocation.NewOptions) -> [String] {
    var environment: [String] = []
    var inheritedTerm: String?
    var entry = ProcessEnvironment.entries
    while let pointer = entry.pointee {
        let pair = String(cString: pointer)
        entry += 1
        if pair.hasPrefix("COLUMNS=") || pair.hasPrefix("LINES=") || pair.hasPrefix("PTYPROXY_") { continue }
        if pair.hasPrefix("TERM=") {
            inheritedTerm = String(pair.dropFirst(5))
            continue
        }
        environment.append(pair)
    }
    let term = options.term ?? (inheritedTerm.flatMap { $0.isEmpty ? nil : $0 } ?? "xterm-256color")
    environment.append("TERM=\(term)")
    environment.append("PTYPROXY_ID=\(options.id)")
    for pair in options.environment {
        let name = pair[..<pair.firstIndex(of: "=")!]
        environment.removeAll { $0.hasPrefix(name + "=") }
        environment.append(pair)
    }
    return environment
}

func runNew(_ options: Invocation.NewOptions) -> Never {
    let command = Command(
        arguments: Command.argumentsForCompatibility(options.command),
        environment: childEnvironment(options),
        workingDirectory: options.workingDirectory)
    var configuration = SessionConfiguration(id: options.id, size: options.size, command: command)
    configuration.hangupGraceMilliseconds = options.hangupGraceMilliseconds
    configuration.output.bufferCount = options.outputBufferCount
    configuration.output.bufferSize = options.outputBufferSize
    configuration.stdoutPipeSize = options.stdoutPipeSize
    do {
        let directory = try SessionDirectory.forNewSession()
        if let socket = ControlClient().liveSocket(of: options.id), !socket.hasPrefix(directory.path + "/") {
            fail("session '\(options.id)' is already running (\(socket))")
        }
        configuration.controlDirectory = directory
        let status = try Session(configuration).run()
        exit(status.shellCode)
    } catch {
        fail(error.message, code: error.exitCode)
    }
}

ensureStandardDescriptors()
switch Invocation.parse(Array(CommandLine.arguments.dropFirst())) {
case .failure(let error):
    fail(error.message)
case .success(.help):
    printOut(Invocation.usage)
case .success(.version):
    printOut(Version.description)
case .success(.new(let options)):
    runNew(options)
case .success(.resize(let id, let size)):
    _ = controlRequest("resize \(size.columns) \(size.rows)", to: id)
case .success(.signal(let id, let signal)):
    _ = controlRequest("signal \(signal)", to: id)
case .success(.status(let id)):
    printOut(controlRequest("status", to: id))
case .success(.list):
    let client = ControlClient()
    // A candidate directory that exists but cannot be trusted is named on
    // stderr (how to fix it) and not read; the others are listed.
    for problem in client.problems { printError("ptyproxy: \(problem)") }
    for session in client.list() {
        printOut("\(session.id)\t\(session.status)")
    }
    if client.directories.isEmpty && !client.problems.isEmpty { exit(ControlExit.refused) }
}
