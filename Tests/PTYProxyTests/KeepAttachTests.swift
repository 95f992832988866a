// SPDX-License-Identifier: MIT
import Glibc
import Testing
import SystemPackage
import CPTYShim
@testable import PTYProxy

/// Sessions that outlive their host (issue 20): `new --keep` and `attach`,
/// end to end with the real binary.
@Suite(.serialized) struct KeepAttachTests {
    /// A shell loop driven by typed lines: `later` prints a line once the
    /// file $FLAG exists (the test makes it once detached), `size` prints the
    /// terminal's size, `stop` exits 7, anything else is echoed back.
    static let driven = """
        echo READY; while read -r l; do case "$l" in \
        later) (while [ ! -e "$FLAG" ]; do sleep 0.05; done; echo DETACHED-OUTPUT) & echo STARTED;; \
        size) echo "SIZE $(stty size)";; \
        stop) exit 7;; \
        *) echo "got:$l";; esac; done
        """

    /// The status JSON of session `id`, nil when it is not running.
    static func status(_ id: String) -> String? {
        let tool = runTool(["status", id])
        return tool.status == .exited(0) ? tool.outputText : nil
    }

    /// A host running `cat` in kept session `id`, once `cat` has started.
    static func keptCat(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) -> HostedProcess {
        let host = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "sh", "-c", "echo READY; exec cat"])
        #expect(host.read(untilContains: "READY"), sourceLocation: sourceLocation)
        return host
    }

    /// The `cat` behind `host` still echoes `word`, and ends with status 0
    /// when the host closes its input (the user's ^D).
    static func expectEchoThenEnd(_ host: HostedProcess, _ word: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        host.write(word + "\n")
        #expect(host.read(untilContains: word + "\r\n" + word), sourceLocation: sourceLocation)
        host.closeInput()
        #expect(host.finish() == .exited(0), sourceLocation: sourceLocation)
    }

    /// Kills `host` as Emacs does (SIGKILL) and waits until its session
    /// `id` is detached.
    static func killHostUntilDetached(_ host: HostedProcess, _ id: String,
                                      sourceLocation: SourceLocation = #_sourceLocation) {
        kill(host.pid, SIGKILL)
        _ = host.waitForExit(timeoutMilliseconds: 5000)
        #expect(eventually { Self.isDetached(id) }, sourceLocation: sourceLocation)
    }

    /// A number field of a status JSON.
    static func field(_ name: String, in json: String) -> Int? {
        guard let range = json.range(of: "\"\(name)\":") else { return nil }
        return Int(json[range.upperBound...].prefix(while: { $0.isNumber }))
    }

    static func isDetached(_ id: String) -> Bool {
        status(id)?.contains("\"attached\":false") == true
    }

    static func socketFileExists(_ id: String) -> Bool {
        access(SessionDirectory.socketPath(directory: TestEnvironment.controlDirectory, id: id), F_OK) == 0
    }

    @Test func detachByKillingTheHostsThenAttachAgain() throws {
        let id = uniqueID("keep")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let flag = TestEnvironment.runtimeDirectory + "/\(id).flag"
        defer { unlink(flag) }
        let front = HostedProcess(proxy: ["new", "--keep", "--env", "FLAG=\(flag)", id, "80", "24", "sh", "-c", Self.driven])
        #expect(front.read(untilContains: "READY"))
        #expect(Self.status(id)?.contains("\"kept\":true,\"attached\":true") == true)
        front.write("later\n")
        #expect(front.read(untilContains: "STARTED"))
        // Emacs's way: SIGKILL. The test still holds the host's pipes, so
        // only the control connection tells the session its host is gone.
        Self.killHostUntilDetached(front, id)
        close(open(flag, O_CREAT | O_WRONLY, 0o600))
        // The program goes on while detached; its output is kept.
        #expect(eventually(timeoutMilliseconds: 10_000) { (Self.status(id).flatMap { Self.field("buffered", in: $0) } ?? 0) > 0 })
        let json = try #require(Self.status(id))
        #expect(Self.field("detached_since", in: json) != nil)

        let first = HostedProcess(proxy: ["attach", id, "100", "30"])
        #expect(first.read(untilContains: "DETACHED-OUTPUT"), "the kept output is replayed: \(first.outputText.debugDescription)")
        #expect(!first.outputText.contains("STARTED"), "what the first host got is not replayed again")
        first.write("size\n")
        #expect(first.read(untilContains: "SIZE 30 100"))
        first.write("hello\n")
        #expect(first.read(untilContains: "got:hello"))
        #expect(Self.status(id).flatMap { Self.field("buffered", in: $0) } == 0)
        #expect(Self.status(id)?.contains("detached_since") == false)
        Self.killHostUntilDetached(first, id)

        let second = HostedProcess(proxy: ["attach", id])
        #expect(eventually { Self.status(id)?.contains("\"attached\":true") == true })
        second.write("size\n")
        #expect(second.read(untilContains: "SIZE 30 100"), "without COLS ROWS the size stays")
        second.write("stop\n")
        #expect(second.finish() == .exited(7), "attach exits with the program's status: \(second.errorText)")
        #expect(eventually { Self.status(id) == nil && !Self.socketFileExists(id) })
    }

    /// The end of stdin is the user's ^D; a host that dies closes stdin
    /// and stdout together, and that is a detach, not a ^D.
    @Test func endOfStdinIsControlDUnlessTheHostIsGone() throws {
        let id = uniqueID("keep-eof")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let dying = Self.keptCat(id)
        dying.closeOutput()
        dying.closeInput()
        #expect(dying.finish() == .exited(3), "the host is told it was detached")
        #expect(dying.errorText.contains("detached"), "\(dying.errorText)")
        #expect(eventually { Self.isDetached(id) }, "cat got no ^D: the session goes on")

        let typing = HostedProcess(proxy: ["attach", id])
        #expect(eventually { Self.status(id)?.contains("\"attached\":true") == true })
        typing.write("abc\n")
        #expect(typing.read(untilContains: "abc\r\nabc"))
        typing.closeInput()  // the user's ^D: cat ends
        #expect(typing.finish() == .exited(0))
        #expect(eventually { Self.status(id) == nil })
    }

    @Test func secondAttachForceAndRefusals() throws {
        let id = uniqueID("keep-two")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = Self.keptCat(id)

        let refused = runTool(["attach", id])
        #expect(refused.status == .exited(1))
        #expect(refused.errorLines.count == 1 && refused.errorText.contains("attached to another host"), "\(refused.errorText)")

        let taker = HostedProcess(proxy: ["attach", "--force", id])
        #expect(front.finish() == .exited(3), "the host taken over exits 3")
        #expect(front.errorLines.count == 1 && front.errorText.contains("another host attached"), "\(front.errorText)")
        taker.write("mine\n")
        #expect(taker.read(untilContains: "mine\r\nmine"))

        let unknown = runTool(["attach", uniqueID("keep-none")])
        #expect(unknown.status == .exited(4))
        #expect(unknown.errorLines.count == 1)

        let plainID = uniqueID("plain")
        let plain = HostedProcess(proxy: ["new", plainID, "80", "24", "sh", "-c", "echo READY; exec cat"])
        #expect(plain.read(untilContains: "READY"))
        let notKept = runTool(["attach", plainID])
        #expect(notKept.status == .exited(1))
        #expect(notKept.errorLines.count == 1 && notKept.errorText.contains("not started with --keep"), "\(notKept.errorText)")
        #expect(Self.status(plainID)?.contains("kept") == false, "a session without --keep has no new field")
        plain.closeInput()
        #expect(plain.finish() == .exited(0))

        // A detached session ends on `signal ID HUP`: 129, as `new` gives.
        _ = runTool(["signal", id, "HUP"])
        #expect(taker.finish() == .exited(129))
        #expect(eventually { Self.status(id) == nil && !Self.socketFileExists(id) })
    }

    @Test func setUpErrorsOfKeptSessionsAreTodays() {
        let id = uniqueID("keep-err")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let missing = runTool(["new", "--keep", id, "80", "24", "/nonexistent/program"])
        #expect(missing.status == .exited(127))
        #expect(missing.errorLines.count == 1, "\(missing.errorText)")

        let front = Self.keptCat(id)
        let busy = runTool(["new", "--keep", id, "80", "24", "true"])
        #expect(busy.status == .exited(125))
        #expect(busy.errorLines.count == 1 && busy.errorText.contains("already running"), "\(busy.errorText)")
        front.closeInput()
        #expect(front.finish() == .exited(0))
    }

    /// The first host of `new --keep` gets the program's output from its
    /// first byte, even when the program writes far more than the ring
    /// holds before that host has attached: output waits for it.
    @Test func firstHostGetsTheOutputFromItsFirstByte() {
        let expected = sequenceThroughTerminal(20_000)  // 129 KiB: 32 rings of 4 KiB
        for run in 0..<10 {
            let front = HostedProcess(proxy: ["new", "--keep", "--keep-buffer", "4096", uniqueID("keep-first"),
                                              "80", "24", "seq", "1", "20000"])
            let status = front.finish()
            #expect(status == .exited(0), "run \(run): \(front.errorText)")
            #expect(front.output == expected, "run \(run): \(bytesDifference(front.output, expected))")
            if status != .exited(0) || front.output != expected { break }
        }
        // A program that ends at once, with no output, before its first
        // host attached: that host still gets its status.
        for run in 0..<10 {
            let front = HostedProcess(proxy: ["new", "--keep", uniqueID("keep-first"), "80", "24", "sh", "-c", "exit 7"])
            #expect(front.finish() == .exited(7), "run \(run): \(front.errorText)")
        }
    }

    /// Numbered lines, flooding: each attach sees the replayed tail, then
    /// the live stream, and the numbers from the first whole line on are
    /// consecutive (no byte lost or doubled where replay meets live), and
    /// they go on from where the last attach left them (the program never
    /// stopped, nothing is replayed twice).
    @Test func floodedDetachAttachCycles() throws {
        let id = uniqueID("keep-flood")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = HostedProcess(proxy: ["new", "--keep", "--keep-buffer", "65536", id, "80", "24",
                                          "seq", "1", "1000000000"])
        #expect(front.read(untilContains: "\n1000\r\n"))
        kill(front.pid, SIGKILL)
        _ = front.waitForExit(timeoutMilliseconds: 5000)
        var lastSeen = 0
        let server = try #require(Self.status(id).flatMap { Self.field("pid", in: $0) })
        var descriptorsWhenDetached: Int?
        for cycle in 0..<100 {
            #expect(eventually { Self.isDetached(id) }, "cycle \(cycle)")
            // Every host's descriptors go with it (a status client's
            // socket may still be open for a moment: hence "eventually").
            if cycle == 0 { descriptorsWhenDetached = Self.openDescriptors(pid_t(server)) }
            #expect(eventually { Self.openDescriptors(pid_t(server)) <= descriptorsWhenDetached! }, "cycle \(cycle)")
            let host = HostedProcess(proxy: ["attach", id])
            let enough = host.read(timeoutMilliseconds: 20_000) { output in
                output.count > 70_000 && output.filter { $0 == 10 }.count > 3000
            }
            kill(host.pid, SIGKILL)
            _ = host.waitForExit(timeoutMilliseconds: 5000)
            try #require(enough, "cycle \(cycle): \(host.output.count) bytes, \(host.errorText)")
            let numbers = Self.wholeLines(host.output)
            try #require(numbers.count > 1000, "cycle \(cycle)")
            #expect(numbers.first! > lastSeen, "cycle \(cycle): \(numbers.first!) after \(lastSeen)")
            let gap = zip(numbers, numbers.dropFirst()).first { $1 != $0 + 1 }
            #expect(gap == nil, "cycle \(cycle): \(gap.map { "\($0.0) then \($0.1)" } ?? "")")
            lastSeen = numbers.last!
        }
        _ = runTool(["signal", id, "KILL"])
        #expect(eventually(timeoutMilliseconds: 10_000) { Self.status(id) == nil && !Self.socketFileExists(id) })
    }

    static func openDescriptors(_ pid: pid_t) -> Int {
        guard let directory = opendir("/proc/\(pid)/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != CChar(46) { count += 1 }  // not "." or ".."
        }
        return count
    }

    /// A host that stops reading holds the program as it would under
    /// `new`, but `attach --force` takes over at once: the output path
    /// does not stay inside a write to the old host.
    @Test func forceTakesOverFromAHostThatDoesNotRead() throws {
        let id = uniqueID("keep-stuck")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "yes"])
        #expect(front.read(untilContains: "y\r\ny\r\n"))
        // The test reads the front no more: its pipe fills up.
        #expect(eventually(timeoutMilliseconds: 10_000) {
            let before = Self.status(id).flatMap { Self.field("bytes_out", in: $0) } ?? 0
            usleep(200_000)
            return before > 0 && Self.status(id).flatMap { Self.field("bytes_out", in: $0) } == before
        }, "the output stalls on the full pipe")
        let taker = HostedProcess(proxy: ["attach", "--force", id])
        #expect(taker.read { $0.count > 1 << 20 }, "the new host gets the stream: \(taker.output.count) bytes")
        _ = runTool(["signal", id, "KILL"])
        #expect(taker.finish() == .exited(137))
        #expect(front.finish() == .exited(3))
    }

    /// The same with a host whose stdout is a socket (a description that
    /// cannot be reopened through /proc): the output is sent to it without
    /// waiting (MSG_DONTWAIT), so `attach --force` takes over at once
    /// from a socket nobody reads.
    @Test func forceTakesOverFromASocketHostThatDoesNotRead() throws {
        let id = uniqueID("keep-sock")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "yes"])
        #expect(front.read(untilContains: "y\r\ny\r\n"))
        var input: [CInt] = [-1, -1], stdout: [CInt] = [-1, -1]
        try #require(pipe(&input) == 0)
        try #require(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0, &stdout) == 0)
        defer { close(input[1]); close(stdout[1]) }  // the socket's reading end: never read
        let connection = try #require(ControlConnection(id))
        let line = Array("attach force\n".utf8)
        var sent = 0
        let result = line.withUnsafeBytes { bytes in
            ptyshim_send_with_fds(connection.socket.rawValue, bytes.baseAddress, bytes.count,
                                  [input[0], stdout[0]], 2, &sent)
        }
        close(input[0])
        close(stdout[0])
        try #require(result == 0)
        #expect(connection.readLines(1).first?.hasPrefix("ok attached") == true)
        #expect(front.finish() == .exited(3), "the front is detached: \(front.errorText)")
        #expect(eventually(timeoutMilliseconds: 10_000) {
            let before = Self.status(id).flatMap { Self.field("bytes_out", in: $0) } ?? 0
            usleep(200_000)
            return before > 0 && Self.status(id).flatMap { Self.field("bytes_out", in: $0) } == before
        }, "the output stalls on the full socket")
        let start = monotonicMilliseconds()
        let taker = HostedProcess(proxy: ["attach", "--force", id])
        #expect(taker.read { $0.count > 1 << 20 }, "the new host gets the stream: \(taker.output.count) bytes")
        let took = monotonicMilliseconds() - start
        #expect(took < 10_000, "\(took) ms")
        #expect(connection.readLines(1).first == "detached another host attached")
        _ = runTool(["signal", id, "KILL"])
        #expect(taker.finish() == .exited(137))
    }

    /// An attach must come with exactly two descriptors, a readable stdin
    /// and a writable stdout; anything else is refused, and every
    /// descriptor received is closed (none stays in the server).
    @Test func attachWithWrongDescriptorsIsRefused() throws {
        let id = uniqueID("keep-fds")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = Self.keptCat(id)
        #expect(eventually { Self.isDetached(id) == false && Self.status(id) != nil })
        let serverPID: Int? = Self.status(id).flatMap { Self.field("pid", in: $0) }
        let server = pid_t(try #require(serverPID, "no pid in the session's status"))
        let baseline = Self.openDescriptors(server)
        var ends: [CInt] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let cases: [(String, [CInt])] = [
            ("no descriptor", []), ("one", [ends[0]]), ("three", [ends[0], ends[1], ends[1]]),
            ("stdout read-only", [ends[0], ends[0]]), ("stdin write-only", [ends[1], ends[1]]),
        ]
        for (name, descriptors) in cases {
            let connection = try #require(ControlConnection(id))
            let line = Array("attach force\n".utf8)
            if descriptors.isEmpty {
                connection.send(line)
            } else {
                var sent = 0
                let result = line.withUnsafeBytes { bytes in
                    ptyshim_send_with_fds(connection.socket.rawValue, bytes.baseAddress, bytes.count,
                                          descriptors, CInt(descriptors.count), &sent)
                }
                #expect(result == 0, "\(name)")
            }
            let reply = connection.readLines(1).first ?? ""
            #expect(reply.hasPrefix("error "), "\(name): \(reply)")
        }
        #expect(eventually { Self.openDescriptors(server) <= baseline }, "no passed descriptor stays open")
        #expect(Self.status(id)?.contains("\"attached\":true") == true, "the host stays attached")
        Self.expectEchoThenEnd(front, "still")
    }

    /// Many hosts trying to attach at once: each refused with one line and
    /// 1, bounded in time; the attached host and the session go on.
    @Test func attachStormIsRefusedAndTheSessionGoesOn() throws {
        let id = uniqueID("keep-storm")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = Self.keptCat(id)
        let storm = (0..<40).map { _ in HostedProcess(proxy: ["attach", id]) }
        for host in storm {
            #expect(host.finish() == .exited(1), "\(host.errorText)")
            #expect(host.errorLines.count == 1)
        }
        Self.expectEchoThenEnd(front, "after")
    }

    /// After the replay the program gets SIGWINCH (a full-screen program
    /// repaints), also when the size stays: its answer follows the replay.
    /// Another user can neither reach a kept session nor attach to it: the
    /// private directory keeps it out; with the directory opened up, the
    /// client does not trust a directory that is not its user's, and a raw
    /// connection meets the server's peer check before any descriptor is
    /// taken.
    @Test(.enabled(if: getuid() == 0, "needs root to act as another user"))
    func anotherUserCannotAttach() {
        let (environment, runtime, directory) = TestEnvironment.privateRuntime("keep-other")
        let id = uniqueID("keep-other")
        let socket = SessionDirectory.socketPath(directory: directory, id: id)
        let host = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "sh", "-c", "echo READY; exec cat"],
                                 environment: environment)
        #expect(host.read(untilContains: "READY"))
        kill(host.pid, SIGKILL)
        _ = host.waitForExit(timeoutMilliseconds: 5000)
        let statusLine = { runTool(["status", id], environment: environment).outputText }
        #expect(eventually { statusLine().contains("\"attached\":false") })
        let asNobody = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        let denied = HostedProcess(asNobody + [ProxyBinary.path, "attach", id], environment: environment)
        #expect(denied.finish() != .exited(0))
        #expect(denied.errorLines.count == 1, "stderr: \(denied.errorText)")
        chmod(runtime, 0o755)
        chmod(directory, 0o755)
        chmod(socket, 0o666)
        let refused = HostedProcess(asNobody + [ProxyBinary.path, "attach", id], environment: environment)
        #expect(refused.finish() != .exited(0))
        #expect(refused.errorLines.count == 1, "stderr: \(refused.errorText)")
        // A raw connection (no client's directory check) meets the server's
        // peer check at accept, before an attach could pass descriptors.
        let raw = HostedProcess(asNobody + ["/usr/bin/socat", "-u", "UNIX-CONNECT:\(socket)", "-"], environment: environment)
        #expect(raw.finish() != nil)
        #expect(raw.outputText.contains("error permission denied"), "\(raw.outputText) \(raw.errorText)")
        chmod(directory, 0o700); chmod(socket, 0o600); chmod(runtime, 0o700)
        #expect(statusLine().contains("\"attached\":false"), "another user's attach changed the session")
        // The session's own user still attaches, and the shell is the same.
        let owner = HostedProcess(proxy: ["attach", id], environment: environment)
        owner.write("mine\n")
        #expect(owner.read(untilContains: "mine\r\nmine\r\n"), "output: \(owner.outputText.debugDescription)")
        _ = runTool(["signal", id, "KILL"], environment: environment)
        #expect(owner.finish() == .exited(137))
    }

    @Test func attachSendsSigwinchAfterTheReplay() throws {
        let id = uniqueID("keep-winch")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let flag = TestEnvironment.runtimeDirectory + "/\(id).flag"
        defer { unlink(flag) }
        let script = """
            trap 'echo "WINCH $(stty size)"' WINCH; echo READY; \
            while [ ! -e "$FLAG" ]; do sleep 0.05; done; echo KEPT-LINE; : > "$FLAG.done"; \
            while :; do sleep 0.05; done
            """
        let front = HostedProcess(proxy: ["new", "--keep", "--env", "FLAG=\(flag)", id, "80", "24", "sh", "-c", script])
        #expect(front.read(untilContains: "READY"))
        Self.killHostUntilDetached(front, id)
        defer { unlink(flag + ".done") }
        close(open(flag, O_CREAT | O_WRONLY, 0o600))
        // KEPT-LINE is written once the shell makes the .done file: the
        // answer to the next SIGWINCH comes after it in the pty's stream.
        #expect(eventually(timeoutMilliseconds: 10_000) { access(flag + ".done", F_OK) == 0 })
        #expect(eventually(timeoutMilliseconds: 10_000) { (Self.status(id).flatMap { Self.field("buffered", in: $0) } ?? 0) > 0 })

        // (The front's own attach sent one too: its answer may be in the
        // kept output, before KEPT-LINE.)
        let same = HostedProcess(proxy: ["attach", id])
        let answered = same.read { output in
            let text = String(decoding: output, as: UTF8.self)
            guard let kept = text.range(of: "KEPT-LINE") else { return false }
            return text[kept.upperBound...].contains("WINCH 24 80")
        }
        #expect(answered, "the replay, then the answer to SIGWINCH (the size stays): \(same.outputText.debugDescription)")
        Self.killHostUntilDetached(same, id)

        let resized = HostedProcess(proxy: ["attach", id, "132", "43"])
        #expect(resized.read(untilContains: "WINCH 43 132"))
        _ = runTool(["signal", id, "KILL"])
        #expect(resized.finish() == .exited(137))
    }

    /// A python3 with pyte (a terminal emulator): Debian's first, which
    /// python3-pyte serves (.ci/run installs it), then the one on PATH.
    static let pytePython: String? = ["/usr/bin/python3", "python3"].first { python in
        HostedProcess(["/bin/sh", "-c", "\"$0\" -c 'import pyte' 2>/dev/null", python]).finish() == .exited(0)
    }

    /// Whether the repaint test can run: pyte, and vim.
    static let canEmulateATerminal: Bool =
        pytePython != nil && HostedProcess(["/bin/sh", "-c", "command -v vim >/dev/null"]).finish() == .exited(0)

    /// vim in a kept session, detached, then attached by a new host whose
    /// screen (pyte's) starts blank: the whole of vim's screen must be
    /// drawn there, at a new size and at the same size.
    @Test(.enabled(if: canEmulateATerminal, "needs python3 with pyte, and vim"))
    func vimRepaintsAfterAttach() throws {
        let directory = TestEnvironment.runtimeDirectory
        let script = directory + "/keep-repaint.py"
        let file = fopen(script, "w")
        fputs(Self.repaintScript, file)
        fclose(file)
        defer { unlink(script) }
        for size in [["100", "30"], []] {
            let id = uniqueID("keep-vim")
            defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
            let text = directory + "/\(id).txt"
            defer { unlink(text) }
            let python = try #require(Self.pytePython)
            let run = HostedProcess(["/usr/bin/env", python, script, ProxyBinary.path, id, text] + size)
            let status = run.finish(timeoutMilliseconds: 60_000)
            #expect(status == .exited(0), "size \(size): \(run.outputText) \(run.errorText)")
            _ = runTool(["signal", id, "KILL"])
        }
    }

    static let repaintScript = #"""
# Drives vim in a kept session: detach, attach, and checks with a terminal
# emulator (pyte) that the new host's screen, blank at first, shows vim's.
import os, select, signal, subprocess, sys, time, json
import pyte
binary, session, text_file = sys.argv[1], sys.argv[2], sys.argv[3]
size = sys.argv[4:6]  # [] keeps the size
columns, rows = (int(size[0]), int(size[1])) if size else (80, 24)

def status():
    r = subprocess.run([binary, "status", session], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else None

def wait_until(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition(): return True
        time.sleep(0.02)
    return False

def read_into(process, stream, screen, condition, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition(screen): return True
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            data = os.read(process.stdout.fileno(), 65536)
            if not data: break
            stream.feed(data)
    return condition(screen)

with open(text_file, "w") as f:
    for n in range(1, 201): f.write(f"line {n}\n")
vim = ["vim", "-u", "NONE", "-i", "NONE", "-N", "-n", text_file]
front = subprocess.Popen([binary, "new", "--keep", "--term", "vt100", session, "80", "24"] + vim,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
screen = pyte.Screen(80, 24); stream = pyte.ByteStream(screen)
assert read_into(front, stream, screen, lambda s: s.display[0].startswith("line 1")), "vim did not start"
front.kill(); front.wait()
assert wait_until(lambda: (status() or {}).get("attached") is False), "not detached"

host = subprocess.Popen([binary, "attach", session] + size, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
screen = pyte.Screen(columns, rows); stream = pyte.ByteStream(screen)
def repainted(s):
    return s.display[0].startswith("line 1") and s.display[rows - 2].startswith(f"line {rows - 1}")
ok = read_into(host, stream, screen, repainted)
if not ok:
    print("screen after attach:\n" + "\n".join(screen.display), file=sys.stderr)
host.stdin.write(b"\x1b:q!\r"); host.stdin.flush()
code = host.wait(timeout=10)
print(f"repainted={ok} exit={code}")
sys.exit(0 if ok and code == 0 else 1)
"""#

    /// Attaching from a terminal: its size is taken, it is raw while
    /// attached and restored after, and its size changes are followed.
    @Test func attachFromATerminalFollowsItsSize() throws {
        let id = uniqueID("keep-tty")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "sh", "-c",
                                          "trap 'echo \"WINCH $(stty size)\"' WINCH; echo READY; while :; do sleep 0.05; done"])
        #expect(front.read(untilContains: "READY"))
        Self.killHostUntilDetached(front, id)

        let host = try PseudoTerminal(size: WindowSize(columns: 90, rows: 20))
        defer { host.close() }
        let slave = open(host.slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        #expect(slave >= 0)
        let attach = HostedProcess([ProxyBinary.path, "attach", id], standardIO: slave)
        close(slave)
        let screen = HostScreen(master: host.master)
        func readHost(until text: String) -> Bool {
            screen.read(until: text, timeoutMilliseconds: 10_000)
        }
        #expect(readHost(until: "WINCH 20 90"), "the terminal's size is taken: \(screen.text)")
        #expect(try host.lineSettings().c_lflag & tcflag_t(ICANON) == 0, "raw while attached")
        try host.resize(to: WindowSize(columns: 110, rows: 33))
        kill(attach.pid, SIGWINCH)  // the kernel signals only the terminal's own session
        #expect(readHost(until: "WINCH 33 110"))
        _ = runTool(["signal", id, "KILL"])
        #expect(attach.waitForExit(timeoutMilliseconds: 10_000) == .exited(137))
        #expect(try host.lineSettings().c_lflag & tcflag_t(ICANON) != 0, "restored after")
    }

    /// A host whose stdout breaks (EPIPE), its stdin still open, is
    /// detached; its attach process is told and exits 3.
    @Test func brokenStdoutDetaches() throws {
        let id = uniqueID("keep-epipe")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "sh", "-c",
                                          "echo READY; while :; do echo tick; sleep 0.05; done"])
        #expect(front.read(untilContains: "READY"))
        front.closeOutput()
        #expect(front.finish() == .exited(3))
        #expect(front.errorLines.count == 1 && front.errorText.contains("cannot write to the host's stdout"), "\(front.errorText)")
        #expect(eventually { Self.isDetached(id) })
    }

    /// SIGHUP of the host's process (its terminal went) detaches too.
    @Test func hangupOfTheHostDetaches() throws {
        let id = uniqueID("keep-hup")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = Self.keptCat(id)
        kill(front.pid, SIGHUP)
        _ = front.finish()
        #expect(eventually { Self.isDetached(id) })
        let host = HostedProcess(proxy: ["attach", id])
        Self.expectEchoThenEnd(host, "again")
    }

    /// The numbers of the whole lines in `output`: the first (maybe cut by
    /// the ring's start) and the last (cut by the kill) are left out.
    static func wholeLines(_ output: [UInt8]) -> [Int] {
        var lines = output.split(separator: 10, omittingEmptySubsequences: false).dropFirst().dropLast()
        if lines.last?.isEmpty == true { lines = lines.dropLast() }
        return lines.map { line in
            Int(String(decoding: line.filter { $0 != 13 }, as: UTF8.self)) ?? -1
        }
    }

    /// One line of `colouredLines`, as the pty passes it: its number, in
    /// a colour, with text of two- and three-byte characters.
    static func colouredLine(_ number: Int) -> [UInt8] {
        Array("\u{1b}[3\(number % 8)m\(number) \u{e9}\u{20ac}\u{6f22}\u{5b57}\u{1b}[0m\r\n".utf8)
    }

    static let colouredLines = """
        i=0; while :; do i=$((i+1)); printf '\\033[3%dm%d \u{e9}\u{20ac}\u{6f22}\u{5b57}\\033[0m\\n' $((i%8)) $i; done
        """

    /// Whether `output` is whole lines of `colouredLines`, consecutive,
    /// from its first byte (the last line may be cut); the first may be
    /// only the end of one (`ESC[0m`), whose text was dropped.
    static func startsAtABoundary(_ output: [UInt8]) -> Bool {
        var lines = output.split(separator: 10, omittingEmptySubsequences: false).map { Array($0) + [10] }
        lines.removeLast()
        if lines.first == Array("\u{1b}[0m\r\n".utf8) { lines.removeFirst() }
        guard let first = lines.first, first.starts(with: [0x1b, 0x5b, 0x33]), first.count > 5,
              let number = Int(String(decoding: first[5...].prefix { $0 != 0x20 }, as: UTF8.self)) else { return false }
        return lines.enumerated().allSatisfy { $1 == colouredLine(number + $0) }
    }

    /// A program whose output overflows the ring while detached, all of it
    /// colour sequences and multibyte characters: each attach's replay
    /// starts at a boundary (after a line feed, or at an ESC), never
    /// inside a sequence or a character.
    @Test func replayAfterOverflowStartsAtABoundary() throws {
        let id = uniqueID("keep-cut")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let front = HostedProcess(proxy: ["new", "--keep", "--keep-buffer", "4096", id, "80", "24",
                                          "sh", "-c", Self.colouredLines])
        #expect(front.read(untilContains: "\u{5b57}"))
        var host = front
        let json = try #require(Self.status(id))
        let child = try #require(Self.field("child_pid", in: json).map { pid_t($0) })
        for cycle in 0..<20 {
            Self.killHostUntilDetached(host, id)
            // The ring (4 KiB) overflows many times over. What the child
            // wrote may still wait in the pty (about 68 KiB) and in the
            // output path's two 128 KiB buffers before it reaches the
            // ring: only past those has the ring surely overflowed (with
            // no overflow the replay rightly starts where the killed host's
            // stream stopped, maybe inside a sequence).
            let detachedAt = try #require(Self.written(by: child))
            #expect(eventually(timeoutMilliseconds: 20_000) { (Self.written(by: child) ?? 0) > detachedAt + (512 << 10) })
            host = HostedProcess(proxy: ["attach", id])
            #expect(host.read { $0.count > 8192 }, "cycle \(cycle): \(host.output.count) bytes")
            let start = host.output.prefix(8192)
            #expect(Self.startsAtABoundary(Array(start)), "cycle \(cycle): \(String(decoding: start.prefix(80), as: UTF8.self).debugDescription)")
        }
        _ = runTool(["signal", id, "KILL"])
        #expect(host.finish() == .exited(137))
    }

    /// `yes` while detached: the server's memory stays within the buffer
    /// and a fixed margin, however much the program writes.
    @Test func memoryStaysBoundedWhileDetached() throws {
        let id = uniqueID("keep-yes")
        defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
        let buffer = 1 << 20
        let front = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "yes"])
        #expect(front.read(untilContains: "y\r\ny\r\n"))
        kill(front.pid, SIGKILL)
        _ = front.waitForExit(timeoutMilliseconds: 5000)
        let json = try #require(eventually { Self.isDetached(id) } ? Self.status(id) : nil)
        let server = try #require(Self.field("pid", in: json).map { pid_t($0) })
        let child = try #require(Self.field("child_pid", in: json).map { pid_t($0) })
        // Full: the buffer less what precedes its first line feed (see `OutputRing`).
        #expect(eventually(timeoutMilliseconds: 10_000) {
            (Self.status(id).flatMap { Self.field("buffered", in: $0) } ?? 0) > buffer - OutputRing.boundaryWindow
        })
        let fullAt = try #require(Self.written(by: child))
        let residentWhenFull = try #require(Self.residentKiB(server))
        // 64 times the buffer written since it filled up.
        #expect(eventually(timeoutMilliseconds: 60_000) { (Self.written(by: child) ?? 0) > fullAt + 64 * buffer })
        let resident = try #require(Self.residentKiB(server))
        #expect(resident - residentWhenFull < 4096, "VmRSS \(residentWhenFull) KiB -> \(resident) KiB")
        #expect(resident < 64 * 1024 + buffer / 1024, "VmRSS \(resident) KiB")
        _ = runTool(["signal", id, "TERM"])
        #expect(eventually(timeoutMilliseconds: 10_000) { Self.status(id) == nil && !Self.socketFileExists(id) })
    }

    static func residentKiB(_ pid: pid_t) -> Int? {
        procField("/proc/\(pid)/status", "VmRSS:")
    }

    /// Bytes `pid` has written (wchar of /proc/PID/io).
    static func written(by pid: pid_t) -> Int? {
        procField("/proc/\(pid)/io", "wchar:")
    }

    static func procField(_ path: String, _ name: String) -> Int? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix(name) {
                return Int(text.dropFirst(name.count).filter { $0.isNumber })
            }
        }
        return nil
    }
}
