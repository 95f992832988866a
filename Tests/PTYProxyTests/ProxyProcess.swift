// SPDX-License-Identifier: MIT
import Glibc
import Synchronization
import CPTYShim
@testable import PTYProxy

/// The real `ptyproxy` binary, built next to the test bundle.
enum ProxyBinary {
    static let path: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        precondition(count > 0)
        var directory = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // .build/<triple>/debug/ptyproxyPackageTests.xctest
        while !directory.isEmpty && !directory.hasSuffix("/") { directory.removeLast() }
        return directory + "ptyproxy"
    }()
}

/// A private control directory per test process, so tests never see each
/// other's sessions or the user's.
enum TestEnvironment {
    static let runtimeDirectory: String = {
        var template = Array("/tmp/ptyproxy-tests-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil)
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// Our environment with XDG_RUNTIME_DIR pointing at the private directory.
    static func variables(_ extra: [String] = []) -> [String] {
        var result: [String] = []
        var entry = ProcessEnvironment.entries
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if !pair.hasPrefix("XDG_RUNTIME_DIR=") { result.append(pair) }
            entry += 1
        }
        result.append("XDG_RUNTIME_DIR=\(runtimeDirectory)")
        for pair in extra {
            let name = pair.prefix(while: { $0 != "=" })
            result.removeAll { $0.hasPrefix(name + "=") }
            result.append(pair)
        }
        return result
    }

    static var controlDirectory: String { runtimeDirectory + "/ptyproxy" }

    /// A runtime directory of a test's own, for tests that change or count
    /// what is in it (other suites run in parallel and share the default one).
    static func privateRuntime(_ prefix: String) -> (environment: [String], runtimeDirectory: String, controlDirectory: String) {
        var template = Array("/tmp/ptyproxy-\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        let runtime = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (variables(["XDG_RUNTIME_DIR=\(runtime)"]), runtime, runtime + "/ptyproxy")
    }
}

/// Monotonic milliseconds.
func now() -> Int64 { monotonicMilliseconds() }

/// Unique session IDs within this test process.
func uniqueID(_ prefix: String = "t") -> String {
    "\(prefix)\(getpid())-\(idCounter.add(1, ordering: .relaxed).newValue)"
}

private let idCounter = Atomic<Int>(0)

/// A program started with pipes on stdin, stdout and stderr: the test plays
/// the host.
final class HostedProcess {
    let pid: pid_t
    private(set) var stdinWrite: CInt
    private(set) var stdoutRead: CInt
    private(set) var stderrRead: CInt
    private let exitFD: CInt
    private(set) var status: ExitStatus?
    var output: [UInt8] = []
    var errors: [UInt8] = []
    /// The first poll or read error while reading (never EOF or EINTR), for
    /// failure messages: a run that lost output says whether the test lost it.
    private(set) var readFailure: String?

    /// Starts `arguments[0]` (a path) with `environment`.
    /// `standardInput` nil: a pipe the test writes to; else a path opened read-only.
    init(_ arguments: [String], environment: [String] = TestEnvironment.variables(),
         standardInput: String? = nil, standardIO: CInt? = nil) {
        var inPipe: [CInt] = [-1, -1], outPipe: [CInt] = [-1, -1], errPipe: [CInt] = [-1, -1]
        precondition(ptyshim_pipe(&inPipe, 0) == 0 && ptyshim_pipe(&outPipe, 0) == 0 && ptyshim_pipe(&errPipe, 0) == 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardIO {
            posix_spawn_file_actions_adddup2(&actions, standardIO, 0)
            posix_spawn_file_actions_adddup2(&actions, standardIO, 1)
        } else {
            if let standardInput {
                posix_spawn_file_actions_addopen(&actions, 0, standardInput, O_RDONLY, 0)
            } else {
                posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
            }
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        }
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let result = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&child, arguments[0], &actions, &attributes, argv, envp)
            }
        }
        precondition(result == 0, "spawn \(arguments[0]) failed: \(result)")
        pid = child
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        stdinWrite = inPipe[1]
        stdoutRead = outPipe[0]
        stderrRead = errPipe[0]
        if standardInput != nil || standardIO != nil { close(stdinWrite); stdinWrite = -1 }
        if standardIO != nil { close(stdoutRead); stdoutRead = -1 }
        var fd: CInt = -1
        precondition(ptyshim_pidfd_open(child, &fd) == 0)
        exitFD = fd
    }

    /// Starts ptyproxy with `arguments`.
    convenience init(proxy arguments: [String], environment: [String] = TestEnvironment.variables(),
                     standardInput: String? = nil) {
        self.init([ProxyBinary.path] + arguments, environment: environment, standardInput: standardInput)
    }

    deinit {
        closeInput()
        closeOutput()
        if stderrRead >= 0 { close(stderrRead) }
        if status == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(timeoutMilliseconds: 10_000)
        }
        close(exitFD)
    }

    func write(_ text: String) { write(Array(text.utf8)) }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(stdinWrite, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            precondition(written > 0, "write to proxy stdin failed: \(errno)")
            offset += written
        }
    }

    func closeInput() {
        if stdinWrite >= 0 { close(stdinWrite); stdinWrite = -1 }
    }

    /// The host goes away: close the read end of the proxy's stdout.
    func closeOutput() {
        if stdoutRead >= 0 { close(stdoutRead); stdoutRead = -1 }
    }

    /// Reads stdout and stderr until `done(output)` is true, both reach EOF,
    /// or the deadline passes. Returns whether `done` became true.
    @discardableResult
    func read(timeoutMilliseconds: Int64 = 10_000, until done: ([UInt8]) -> Bool = { _ in false }) -> Bool {
        let deadline = now() + timeoutMilliseconds
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if done(output) { return true }
            if stdoutRead < 0 && stderrRead < 0 { return false }
            var entries = [pollfd(fd: stdoutRead, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: stderrRead, events: Int16(POLLIN), revents: 0)]
            let left = deadline - now()
            if left <= 0 { return false }
            let ready = poll(&entries, 2, Int32(left))
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 { readFailure = readFailure ?? "poll: errno \(errno)" }
            if ready <= 0 { return false }
            for (index, entry) in entries.enumerated() where entry.revents != 0 {
                let fd = entry.fd
                let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if index == 0 { output += chunk[..<count] } else { errors += chunk[..<count] }
                } else if count == 0 || errno != EINTR {
                    if count < 0 { readFailure = readFailure ?? "read fd \(fd): errno \(errno), revents \(entry.revents)" }
                    close(fd)
                    if index == 0 { stdoutRead = -1 } else { stderrRead = -1 }
                }
            }
        }
    }

    /// Reads until the output contains `text`.
    @discardableResult
    func read(untilContains text: String, timeoutMilliseconds: Int64 = 10_000) -> Bool {
        let needle = Array(text.utf8)
        return read(timeoutMilliseconds: timeoutMilliseconds) { $0.contains(needle) }
    }

    /// Reads everything until EOF on both pipes, then waits for the exit.
    func finish(timeoutMilliseconds: Int64 = 20_000) -> ExitStatus? {
        let deadline = now() + timeoutMilliseconds
        read(timeoutMilliseconds: timeoutMilliseconds)
        return waitForExit(timeoutMilliseconds: max(0, deadline - now()))
    }

    /// Waits (bounded) for the process to exit and reaps it.
    func waitForExit(timeoutMilliseconds: Int64) -> ExitStatus? {
        if let status { return status }
        var entry = pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)
        let deadline = now() + timeoutMilliseconds
        while poll(&entry, 1, Int32(max(0, deadline - now()))) < 0 && errno == EINTR {}
        guard entry.revents != 0 else { return nil }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, 0) == pid else { return nil }
        status = ExitStatus(waitStatus: raw)
        return status
    }

    var outputText: String { String(decoding: output, as: UTF8.self) }
    var errorText: String { String(decoding: errors, as: UTF8.self) }
    var errorLines: [Substring] { errorText.split(separator: "\n", omittingEmptySubsequences: false).dropLast() .map { $0 } }
}

extension Array where Element == UInt8 {
    func contains(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return needle.isEmpty }
        let first = needle[0]
        var index = 0
        let last = count - needle.count
        while index <= last {
            if self[index] == first && self[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}

/// What a pty does to text written by a program: LF becomes CR LF (onlcr).
func terminalText(_ text: String) -> [UInt8] {
    terminalBytes(Array(text.utf8))
}

func terminalBytes(_ bytes: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    result.reserveCapacity(bytes.count + bytes.count / 4)
    for byte in bytes {
        if byte == UInt8(ascii: "\n") { result.append(UInt8(ascii: "\r")) }
        result.append(byte)
    }
    return result
}

/// What `seq 1 n` prints through a pty, built directly as bytes (the tests
/// compare megabytes; debug-build String concatenation would dominate).
func sequenceThroughTerminal(_ n: Int) -> [UInt8] {
    var result: [UInt8] = []
    result.reserveCapacity(n * 9)
    var digits = [UInt8](repeating: 0, count: 20)
    for value in 1...n {
        var rest = value
        var count = 0
        repeat {
            digits[count] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            count += 1
        } while rest > 0
        for index in stride(from: count - 1, through: 0, by: -1) { result.append(digits[index]) }
        result.append(UInt8(ascii: "\r"))
        result.append(UInt8(ascii: "\n"))
    }
    return result
}

/// Waits (bounded) until `condition` holds, checking every few milliseconds.
func eventually(timeoutMilliseconds: Int64 = 5000, _ condition: () -> Bool) -> Bool {
    let deadline = now() + timeoutMilliseconds
    while now() < deadline {
        if condition() { return true }
        usleep(5000)
    }
    return condition()
}

/// Children of this process that are zombies (exited, not yet reaped), from /proc.
func zombieChildren() -> [pid_t] {
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    var result: [pid_t] = []
    let me = getpid()
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        guard let pid = pid_t(name), let (state, parent) = ProcessProbe.stateAndParent(pid) else { continue }
        if state == "Z" && parent == me { result.append(pid) }
    }
    return result
}

extension HostedProcess {
    /// Whether the proxy's stdout pipe has no room left: no POLLOUT on a
    /// write end of it (opened through the proxy's stdout), which is what
    /// a writer to it waits for. The bytes queued do not say it: a write
    /// may leave a page slot partly filled (47653 bytes filled all 16 once).
    var stdoutPipeIsFull: Bool {
        let writeEnd = open("/proc/\(pid)/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard writeEnd >= 0 else { return false }
        defer { close(writeEnd) }
        var entry = pollfd(fd: writeEnd, events: Int16(POLLOUT), revents: 0)
        return poll(&entry, 1, 0) == 0
    }
}
