// SPDX-License-Identifier: MIT
import Glibc
import Testing
import SystemPackage
@testable import PTYProxy

/// A raw connection to a session's control socket, to send anything at all.
final class ControlConnection {
    let socket: FileDescriptor

    init?(_ id: String, directory: String = TestEnvironment.controlDirectory) {
        guard let socket = try? UnixSocket.make() else { return nil }
        do {
            try UnixSocket.connect(socket, to: ByteString(SessionDirectory.socketPath(directory: directory, id: id)))
        } catch {
            socket.closeQuietly()
            return nil
        }
        self.socket = socket
    }

    deinit { socket.closeQuietly() }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { try? UnixSocket.send(socket, $0) }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func shutdownWrite() { Glibc.shutdown(socket.rawValue, Int32(SHUT_WR)) }

    /// Reads until `count` lines arrived, EOF, or the timeout; returns the lines.
    func readLines(_ count: Int = 1, timeoutMilliseconds: Int64 = 3000) -> [String] {
        var bytes: [UInt8] = []
        let deadline = now() + timeoutMilliseconds
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.filter({ $0 == 10 }).count < count {
            let ready = (try? Poller.wait(for: socket, events: .readable, timeoutMilliseconds: pollTimeout(until: deadline))) ?? []
            if ready.isEmpty { break }
            let got = chunk.withUnsafeMutableBytes { Glibc.read(socket.rawValue, $0.baseAddress, $0.count) }
            if got <= 0 { break }
            bytes += chunk[..<got]
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// One request, one reply line.
    func request(_ line: String) -> String? {
        send(line + "\n")
        return readLines(1).first
    }
}

/// Starts a session whose child prints its size on every SIGWINCH, and waits for it.
func startWinchReporter() -> (HostedProcess, String) {
    let id = uniqueID("ctl")
    let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c",
                                      "trap 'echo SIZE $(stty size)' WINCH; echo READY; while :; do sleep 0.05; done"])
    #expect(proxy.read(untilContains: "READY"))
    return (proxy, id)
}

/// Runs `ptyproxy ARGS...` to completion.
func runTool(_ arguments: [String], environment: [String] = TestEnvironment.variables()) -> HostedProcess {
    let tool = HostedProcess(proxy: arguments, environment: environment)
    _ = tool.finish()
    return tool
}

@Suite(.serialized) struct ControlChannelTests {
    @Test func resizeIsSeenByTheChild() {
        let (proxy, id) = startWinchReporter()
        let tool = runTool(["resize", id, "100", "30"])
        #expect(tool.status == .exited(0))
        #expect(tool.output.isEmpty && tool.errors.isEmpty)
        #expect(proxy.read(untilContains: "SIZE 30 100"))
        kill(proxy.pid, SIGTERM)
        #expect(proxy.finish() != nil)
    }

    @Test func twoHundredResizesAllAnsweredAndTheLastOneWins() {
        let id = uniqueID("ctl")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh"])
        #expect(eventually { ControlConnection(id) != nil })
        guard let connection = ControlConnection(id) else {
            Issue.record("cannot connect"); return
        }
        var replies: [String] = []
        for index in 0..<200 {
            let (columns, rows) = (20 + index, 10 + index / 2)
            replies.append(connection.request("resize \(columns) \(rows)") ?? "")
        }
        #expect(replies.allSatisfy { $0.hasPrefix("ok ") }, "\(replies.filter { !$0.hasPrefix("ok ") }.prefix(3))")
        #expect(replies.last == "ok 219 109")
        proxy.write("stty size; exit\n")
        #expect(proxy.finish() == .exited(0))
        #expect(proxy.outputText.contains("109 219\r\n"))
    }

    @Test func resizeIsAnsweredWhileTheHostIsNotReading() {
        let id = uniqueID("ctl")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "yes"])
        // Let the flood fill every buffer between yes and the host: the
        // output counter stops moving once the host's pipe is full. (It
        // counts completed writes, so it may stop at 0: a slow, sanitized
        // proxy's first write can already be a full 128 KiB one, blocked.)
        var previous: UInt64?
        #expect(eventually(timeoutMilliseconds: 30_000) {
            let reply = ControlConnection(id)?.request("status")
            let current = reply.flatMap(bytesOut)
            defer { previous = current }
            usleep(200_000)
            return current != nil && current == previous && (reply.flatMap(uptime) ?? 0) >= 1.0
        })
        let start = now()
        let reply = ControlConnection(id)?.request("resize 133 44")
        let elapsed = now() - start
        #expect(reply == "ok 133 44")
        #expect(elapsed < 1000, "took \(elapsed) ms")
        kill(proxy.pid, SIGTERM)
        #expect(proxy.finish(timeoutMilliseconds: 10_000) == .exited(128 + SIGHUP))
    }

    @Test func badRequestsAreRefusedAndTheSessionRelaysOn() {
        let id = uniqueID("ctl")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"])
        #expect(eventually { ControlConnection(id) != nil })
        let bad: [[UInt8]] = [
            Array("\u{1}\u{2}garbage\u{7f}".utf8), [0, 0, 0], Array("resize 80\u{0}24".utf8),
            Array(repeating: UInt8(ascii: "9"), count: 300),
            Array("0 0".utf8), Array("resize 0 24".utf8), Array("-1 24".utf8), Array("resize 80 -5".utf8),
            Array("70000 24".utf8), Array("resize 80 65536".utf8), Array("abc def".utf8), Array("resize x y".utf8),
            Array("resize".utf8), Array("resize 1 2 3".utf8), Array("frobnicate".utf8), Array("signal NOPE".utf8),
            Array("".utf8), [0xff, 0xfe],
        ]
        for request in bad {
            guard let connection = ControlConnection(id) else { Issue.record("cannot connect"); continue }
            connection.send(request + [10])
            let reply = connection.readLines(1).first ?? "(no reply)"
            #expect(reply.hasPrefix("error "), "\(request.prefix(20)) got \(reply)")
            // A fresh connection: one with an over-long line is dropped.
            #expect(ControlConnection(id)?.request("resize 90 30") == "ok 90 30")
        }
        proxy.write("still relaying\n")
        #expect(proxy.read(untilContains: "still relaying\r\nstill relaying\r\n"))
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    @Test func bareSizeWithoutNewlineFromAClientThatCloses() {
        let (proxy, id) = startWinchReporter()
        let connection = ControlConnection(id)
        connection?.send("101 31")
        connection?.shutdownWrite()
        #expect(connection?.readLines(1).first == "ok 101 31")
        #expect(proxy.read(untilContains: "SIZE 31 101"))
        kill(proxy.pid, SIGTERM)
        #expect(proxy.finish() != nil)
    }

    @Test func stalledClientsBlockNoOne() {
        let id = uniqueID("ctl")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"])
        #expect(eventually { ControlConnection(id) != nil })
        let silent = ControlConnection(id)
        let halfLine = ControlConnection(id)
        halfLine?.send("resize 12")
        let start = now()
        #expect(runTool(["resize", id, "70", "20"]).status == .exited(0))
        #expect(now() - start < 1000)
        // The stalled ones are timed out (5 s) and told so.
        #expect(silent?.readLines(1, timeoutMilliseconds: 8000).first == "error timeout")
        #expect(halfLine?.readLines(1, timeoutMilliseconds: 3000).first == "error timeout")
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    @Test func manyClientsAtOnceAreServedOrRefusedNeverHung() {
        let id = uniqueID("ctl")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"])
        #expect(eventually { ControlConnection(id) != nil })
        let connections = (0..<40).compactMap { _ in ControlConnection(id) }
        #expect(connections.count == 40)
        for connection in connections { connection.send("ping\n") }
        let replies = connections.map { $0.readLines(1).first ?? "(none)" }
        #expect(replies.allSatisfy { $0 == "ok pong" || $0 == "error busy" }, "\(Set(replies))")
        #expect(replies.contains("ok pong"))
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    @Test(.enabled(if: getuid() == 0, "needs root to act as another user"))
    func anotherUserIsRefused() {
        // A runtime directory of its own: opening it up below must not make
        // other suites' sessions refuse an unsafe directory.
        let (environment, runtime, directory) = TestEnvironment.privateRuntime("other")
        let id = uniqueID("ctl")
        let socket = SessionDirectory.socketPath(directory: directory, id: id)
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"], environment: environment)
        #expect(eventually { access(socket, F_OK) == 0 })
        let asNobody = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        // The private directory keeps others out...
        let denied = HostedProcess(asNobody + [ProxyBinary.path, "resize", id, "70", "20"], environment: environment)
        #expect(denied.finish() != .exited(0))
        #expect(denied.errorLines.count == 1)
        // ...and if it were opened up, the client would not trust it (not
        // nobody's), and the server's peer credential check would refuse a
        // raw connection.
        chmod(runtime, 0o755)
        chmod(directory, 0o755)
        chmod(socket, 0o666)
        let refused = HostedProcess(asNobody + [ProxyBinary.path, "resize", id, "70", "20"], environment: environment)
        #expect(refused.finish() != .exited(0))
        #expect(refused.errorLines.count == 1)
        // Only read: the server answers at accept and closes, so a request
        // written after that would fail with EPIPE and end socat early.
        let raw = HostedProcess(asNobody + ["/usr/bin/socat", "-u", "UNIX-CONNECT:\(socket)", "-"], environment: environment)
        #expect(raw.finish() != nil)
        #expect(raw.outputText.contains("error permission denied"), "\(raw.outputText) \(raw.errorText)")
        chmod(directory, 0o700); chmod(socket, 0o600); chmod(runtime, 0o700)
        #expect(runTool(["status", id], environment: environment).outputText.contains("\"cols\":80,"))
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    @Test func duplicateIDIsRefusedWhileTheFirstLives() {
        let id = uniqueID("dup")
        let first = HostedProcess(proxy: ["new", id, "80", "24", "cat"])
        #expect(eventually { ControlConnection(id) != nil })
        let second = HostedProcess(proxy: ["new", id, "80", "24", "true"])
        #expect(second.finish() == .exited(125))
        #expect(second.errorLines.count == 1)
        #expect(second.errorText.contains("already running"))
        first.closeInput()
        #expect(first.finish() == .exited(0))
        // Once the first is gone the ID is free again.
        #expect(HostedProcess(proxy: ["new", id, "80", "24", "true"]).finish() == .exited(0))
    }

    @Test func staleSocketIsReplaced() throws {
        let id = uniqueID("stale")
        let path = SessionDirectory.socketPath(directory: TestEnvironment.controlDirectory, id: id)
        _ = try SessionDirectory.open(path: TestEnvironment.controlDirectory, create: true)
        let leftover = try UnixSocket.make()
        try UnixSocket.bind(leftover, to: ByteString(path))  // bound, never listening: a dead session's socket
        leftover.closeQuietly()
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "echo OK"])
        #expect(proxy.finish() == .exited(0))
        #expect(proxy.outputText == "OK\r\n")
        #expect(access(path, F_OK) != 0)
    }

    @Test func socketFileIsRemovedOnEveryExitPath() {
        let directory = TestEnvironment.controlDirectory
        func socketExists(_ id: String) -> Bool { access(SessionDirectory.socketPath(directory: directory, id: id), F_OK) == 0 }

        let normal = uniqueID("gone")
        #expect(HostedProcess(proxy: ["new", normal, "80", "24", "true"]).finish() == .exited(0))
        #expect(!socketExists(normal))

        let terminated = uniqueID("gone")
        let proxy = HostedProcess(proxy: ["new", terminated, "80", "24", "sleep", "100"])
        #expect(eventually { socketExists(terminated) })
        kill(proxy.pid, SIGTERM)
        #expect(proxy.finish() == .exited(128 + SIGHUP))
        #expect(!socketExists(terminated))

        let abandoned = uniqueID("gone")
        let host = HostedProcess(proxy: ["new", abandoned, "80", "24", "sleep", "100"])
        #expect(eventually { socketExists(abandoned) })
        host.closeOutput()
        #expect(host.waitForExit(timeoutMilliseconds: 3000) == .exited(128 + SIGHUP))
        #expect(!socketExists(abandoned))
    }

    @Test func listAndStatusShowTheSession() {
        let id = uniqueID("list")
        let proxy = HostedProcess(proxy: ["new", id, "81", "25", "cat"])
        proxy.write("abc\n")
        #expect(proxy.read { $0.count >= 10 })
        let status = runTool(["status", id])
        #expect(status.status == .exited(0))
        let json = status.outputText
        for field in ["\"id\":\"\(id)\"", "\"pid\":\(proxy.pid),", "\"cols\":81,", "\"rows\":25,", "\"bytes_in\":4,",
                      "\"bytes_out\":10,", "\"command\":[\"cat\"]", "\"child_pid\":", "\"uptime\":"] {
            #expect(json.contains(field), "status lacks \(field): \(json)")
        }
        let list = runTool(["list"])
        #expect(list.status == .exited(0))
        #expect(list.outputText.split(separator: "\n").contains { $0.hasPrefix("\(id)\t{") })
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
        #expect(!runTool(["list"]).outputText.contains(id))
        let unknown = runTool(["status", id])
        #expect(unknown.status == .exited(4))
        #expect(unknown.errorLines.count == 1)
    }

    @Test func signalInterruptsTheForegroundJob() {
        let id = uniqueID("sig")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sleep", "100"])
        #expect(eventually { ControlConnection(id) != nil })
        #expect(runTool(["signal", id, "INT"]).status == .exited(0))
        #expect(proxy.finish(timeoutMilliseconds: 3000) == .exited(130))
    }

    /// Start-up cost: the supervisor's poll serves the control socket, the
    /// input thread starts at the host's first byte, the output reader at
    /// the master's first report and the output writer with the first full
    /// buffer, so a session whose program has not written yet, and nobody
    /// has typed to, runs one thread: the supervisor. The reader starts
    /// with the first output. Typed input and output, short and bulk,
    /// still arrive whole.
    @Test func anUntouchedSessionRunsOneThreadAndInputAndOutputArriveWhole() {
        let id = uniqueID("thr")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c",
                                          "read line; echo \"got $line\"; echo READY; read line; seq 1 200000; echo DONE"])
        // ThreadSanitizer's runtime runs one background thread of its own,
        // made with the first thread the program creates, if any.
        let sanitizerThreads = builtWithThreadSanitizer ? 1 : 0
        #expect(eventually { ControlConnection(id)?.request("ping") == "ok pong" })
        #expect((1...(1 + sanitizerThreads)).contains(threadCount(of: proxy.pid)))
        proxy.write("go\n")
        #expect(proxy.read(untilContains: "READY"))
        #expect(threadCount(of: proxy.pid) == 3 + sanitizerThreads,
                "the supervisor, the input thread and the output reader")
        proxy.write("go\n")
        #expect(proxy.read(untilContains: "got go"))
        #expect(proxy.read(untilContains: "DONE"))
        let text = String(decoding: proxy.output, as: UTF8.self)
        #expect(text.contains("\r\n199999\r\n200000\r\nDONE"))
        #expect(text.split(separator: "\r\n").filter { Int($0) != nil }.count == 200000)
        #expect(proxy.finish() == .exited(0))
    }

    /// Start-up cost: the relay's threads allocate from the main malloc
    /// arena; none maps an arena of its own (a 64 MiB reservation each),
    /// even after typed input and bulk output went through.
    @Test func noThreadMapsAMallocArenaOfItsOwn() {
        let id = uniqueID("arena")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c",
                                          "read line; seq 1 100000; echo DONE; read line; exit 0"])
        proxy.write("go\n")
        #expect(proxy.read(untilContains: "DONE"))
        #expect(ControlConnection(id)?.request("ping") == "ok pong")
        // A sanitizer's allocator replaces glibc's and reserves regions of
        // its own: there the arenas cannot be told apart, only the relay.
        if !builtWithSanitizer {
            #expect(mallocArenaReservations(of: proxy.pid) == 0)
        }
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }
}

/// Mappings of process `pid` that look like a thread's malloc arena: a
/// reservation of at least 32 MiB with no access, the rest of glibc's
/// 64 MiB heap once its start is in use.
func mallocArenaReservations(of pid: pid_t) -> Int {
    guard let file = fopen("/proc/\(pid)/maps", "r") else { return -1 }
    defer { fclose(file) }
    var count = 0
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = text.split(separator: " ")
        guard fields.count >= 2, fields[1] == "---p" else { continue }
        let range = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
        if range.count == 2, range[1] - range[0] >= 32 << 20 { count += 1 }
    }
    return count
}

/// The number of threads of process `pid` (entries of /proc/PID/task).
func threadCount(of pid: pid_t) -> Int {
    guard let directory = opendir("/proc/\(pid)/task") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        if entry.pointee.d_name.0 != CChar(UInt8(ascii: ".")) { count += 1 }
    }
    return count
}

/// The uptime field of a status reply, in seconds.
func uptime(_ reply: String) -> Double? {
    let parts = reply.split(separator: "\"uptime\":", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    return Double(parts[1].prefix(while: { $0.isNumber || $0 == "." }))
}

/// The bytes_out field of a status reply.
func bytesOut(_ reply: String) -> UInt64? {
    let parts = reply.split(separator: "\"bytes_out\":", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    return UInt64(parts[1].prefix(while: \.isNumber))
}
