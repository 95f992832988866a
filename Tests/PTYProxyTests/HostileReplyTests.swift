// SPDX-License-Identifier: MIT
import Glibc
import Testing
@testable import PTYProxy

/// What the control commands print, whatever the session's command holds
/// and wherever stdout goes (issue 15, finding 6 and the small ones): a
/// `status` and a `list` line are JSON a strict parser takes, a stdout
/// that refuses them is an error, a problem is one line, the child sees
/// one PTYPROXY_SOCKET.
@Suite(.serialized) struct HostileReplyTests {
    /// `sh -c SCRIPT PROXY ID`: sh builds the bytes a Swift String cannot hold.
    private func viaShell(_ script: String, id: String, environment: [String]) -> HostedProcess {
        HostedProcess(["/bin/sh", "-c", script, ProxyBinary.path, id], environment: environment)
    }

    /// Python's json module, strict: it refuses `\x` escapes and raw C0
    /// controls in strings. The script reads the document on stdin.
    private func python(_ script: String, input: [UInt8]) -> HostedProcess? {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { access($0, X_OK) == 0 })
                ?? which("python3") else { return nil }
        let checker = HostedProcess([python, "-c", script])
        checker.write(input)
        checker.closeInput()
        return checker
    }

    /// Every byte value 0x01-0xff as an argument of its own (a NUL cannot be
    /// in argv), then U+0085, U+2028, U+2029, é and a\xffb: `status` and
    /// `list` print JSON that parses, holding exactly the documented form
    /// (a byte that is not UTF-8 reads back as U+00XX), with no raw C1
    /// control or line separator. (Before: `\xc2\x85` printed, which no
    /// JSON parser takes.)
    @Test func statusAndListAreJSONForEveryByteOfTheCommand() throws {
        let runtime = TestEnvironment.privateRuntime("json")
        defer { _ = HostedProcess(["/bin/rm", "-rf", runtime.runtimeDirectory]).finish() }
        let id = uniqueID("json")
        let script = #"""
            id=$1; proxy=$0; set --
            for o in $(seq 1 255); do
                v=$(printf "\\$(printf %o "$o")x"); set -- "$@" "${v%x}"
            done
            exec "$proxy" new "$id" 80 24 -- sh -c 'echo READY; read x' \
                "$@" "$(printf '\302\205')" "$(printf '\342\200\250')" "$(printf '\342\200\251')" \
                "$(printf '\303\251')" "$(printf 'a\377b')"
            """#
        let proxy = viaShell(script, id: id, environment: runtime.environment)
        #expect(proxy.read(untilContains: "READY"), "stderr: \(proxy.errorText)")
        defer { proxy.write("\n"); _ = proxy.finish() }
        let status = HostedProcess(proxy: ["status", id], environment: runtime.environment)
        #expect(status.finish() == .exited(0), "stderr: \(status.errorText)")
        let list = HostedProcess(proxy: ["list"], environment: runtime.environment)
        #expect(list.finish() == .exited(0), "stderr: \(list.errorText)")
        let check = #"""
            import json, sys
            expected = ["sh", "-c", "echo READY; read x"] + [chr(b) for b in range(1, 256)] \
                + ["\u0085", "\u2028", "\u2029", "\u00e9", "a\u00ffb"]
            for line in sys.stdin.buffer.read().split(b"\n"):
                if not line: continue
                text = line.decode("utf-8")  # strict: a reply is UTF-8
                document = text.split("\t", 1)[-1]
                status = json.loads(document)
                assert status["command"] == expected, repr(status["command"])
                for c in text:
                    assert not (0x80 <= ord(c) <= 0x9f or ord(c) in (0x2028, 0x2029)), "raw " + hex(ord(c))
            print("ok")
            """#
        for (name, output) in [("status", status.output), ("list", list.output)] {
            #expect(!output.isEmpty, "\(name) printed nothing")
            guard let checker = python(check, input: output) else {
                Issue.record("no python3 to parse the JSON with"); return
            }
            #expect(checker.finish() == .exited(0), "\(name): \(checker.errorText)\n\(String(decoding: output, as: UTF8.self))")
            #expect(checker.outputText == "ok\n")
        }
    }

    /// The same escaping, byte by byte, without a session.
    @Test func jsonQuotingEscapesC1AndLineSeparators() {
        #expect(ByteString([0xc2, 0x85]).jsonQuoted == #""\u0085""#)
        #expect(ByteString([0xc2, 0x9f, 0xc2, 0xa0]).jsonQuoted == "\"\\u009f\u{a0}\"")
        #expect(ByteString("\u{2028}\u{2029}").jsonQuoted == #""\u2028\u2029""#)
        #expect(ByteString([0x7f, 0xff]).jsonQuoted == #""\u007f\u00ff""#)
        // A reply of another version, with raw C1 inside a string, stays JSON.
        #expect(ControlReply.parse(Array("ok {\"a\":\"x\u{85}\u{2028}\"}".utf8) + [0xff], form: .json)
            == .ok("{\"a\":\"x\\u0085\\u2028\"}\\u00ff"))
    }

    /// `status` and `list` whose stdout refuses the reply (/dev/full): one
    /// line, exit 1. (Before: silence and 0.)
    @Test(arguments: [["status"], ["list"]])
    func replyToAFullStdoutIsAnError(command: [String]) {
        let runtime = TestEnvironment.privateRuntime("full")
        defer { _ = HostedProcess(["/bin/rm", "-rf", runtime.runtimeDirectory]).finish() }
        let id = uniqueID("full")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "--", "sh", "-c", "echo READY; read x"],
                                  environment: runtime.environment)
        #expect(proxy.read(untilContains: "READY"))
        defer { proxy.write("\n"); _ = proxy.finish() }
        let arguments = command == ["status"] ? ["status", id] : command
        let tool = HostedProcess(["/bin/sh", "-c", #"exec "$0" "$@" >/dev/full"#, ProxyBinary.path] + arguments,
                                 environment: runtime.environment)
        #expect(tool.finish() == .exited(1), "stderr: \(tool.errorText)")
        #expect(tool.errorLines.count == 1 && tool.errorText.hasPrefix("ptyproxy: cannot write to stdout"),
                "stderr: \(tool.errorText)")
    }

    /// `--env PTYPROXY_SOCKET=...` cannot give the child a second entry:
    /// the session's own socket is the one it sees. (Before: two entries,
    /// bash seeing one and perl the other.)
    @Test func theChildSeesExactlyOneSocketVariable() {
        let runtime = TestEnvironment.privateRuntime("sockenv")
        defer { _ = HostedProcess(["/bin/rm", "-rf", runtime.runtimeDirectory]).finish() }
        let id = uniqueID("sockenv")
        // env(1) prints environ as it is; a shell would fold duplicates.
        let proxy = HostedProcess(proxy: ["new", "--env", "PTYPROXY_SOCKET=/evil", id, "80", "24", "--", "env"],
                                  environment: runtime.environment)
        #expect(proxy.finish() == .exited(0), "stderr: \(proxy.errorText)")
        let lines = proxy.outputText.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("PTYPROXY_SOCKET=") }
        #expect(lines == ["PTYPROXY_SOCKET=\(runtime.controlDirectory)/\(id).sock"], "env: \(proxy.outputText)")
    }

    /// Both candidate directories exist and neither can be trusted: `list`
    /// says so in one line. (Before: one line each.)
    @Test func listNamesEveryBadDirectoryInOneLine() {
        let scratch = Scratch("twobad")
        let tmp = scratch.directory("tmp", mode: 0o1777)
        let home = scratch.directory("home")
        // Without XDG_RUNTIME_DIR, the candidates are $TMPDIR/ptyproxy-UID
        // and ~/.cache/ptyproxy: each open to others, neither can be used.
        scratch.directory("tmp/ptyproxy-\(getuid())", mode: 0o777)
        scratch.directory("home/.cache")
        scratch.directory("home/.cache/ptyproxy", mode: 0o777)
        let environment = environmentWithoutRuntimeDirectory(tmp: tmp, home: home)
        let list = HostedProcess(proxy: ["list"], environment: environment)
        #expect(list.finish() == .exited(1), "stderr: \(list.errorText)")
        #expect(list.errorLines.count == 1, "stderr: \(list.errorText)")
        #expect(list.errorText.hasPrefix("ptyproxy: "))
        #expect(list.output.isEmpty)
    }
}

/// Clients that pipeline requests and take their replies slowly: every
/// slot holds a full reply queue that moves just often enough never to time
/// out. A newcomer must still get in (issue 15, finding 7).
@Suite(.serialized) struct SlowReplyReaderTests {
    /// Sends `ping` lines until the socket takes no more (the server stopped
    /// reading: this client's reply queue is full), at most 1 MiB.
    private static func pipelinePings(_ socket: CInt) {
        let pings = Array(String(repeating: "ping\n", count: 800).utf8)
        var total = 0
        while total < 1 << 20 {
            let sent = pings.withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if sent <= 0 { return }
            total += sent
        }
    }

    /// Takes what has arrived, without waiting.
    private static func drain(_ socket: CInt) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while chunk.withUnsafeMutableBytes({
            Glibc.recv(socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
        }) > 0 {}
    }

    /// 16 such clients, each draining its replies every 2 s (well within
    /// the 5 s a stalled reader is given): `resize` and `status` are
    /// answered, each within 2 s. (Before: `refused: busy`, for as long as
    /// the clients kept going.)
    @Test func clientsReadingRepliesSlowlyDoNotLockOutResizeOrStatus() throws {
        let (environment, _, directory) = TestEnvironment.privateRuntime("slowread")
        defer { _ = HostedProcess(["/bin/rm", "-rf", directory]).finish() }
        let id = uniqueID("slowread")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"], environment: environment)
        #expect(eventually { ControlConnection(id, directory: directory)?.request("ping") == "ok pong" })
        let readers = (0..<ControlServer.maximumClients).compactMap { _ in ControlConnection(id, directory: directory) }
        #expect(readers.count == ControlServer.maximumClients)
        let descriptors = readers.map(\.socket.rawValue)
        for socket in descriptors { Self.pipelinePings(socket) }
        let stop = SharedFlag()
        let slowReading = try IOThread {
            while !stop.isSet {
                for _ in 0..<20 where !stop.isSet { usleep(100_000) }
                for socket in descriptors { Self.drain(socket); Self.pipelinePings(socket) }
            }
        }
        usleep(1_500_000)  // every queue has been full for over a second
        for round in 0..<4 {
            let (resize, resizeTime) = timedTool(["resize", id, "\(90 + round)", "20"], environment: environment)
            #expect(resize.status == .exited(0), "round \(round): \(resize.errorText)")
            #expect(resizeTime < 2000, "round \(round): resize took \(resizeTime) ms")
            let (status, statusTime) = timedTool(["status", id], environment: environment)
            #expect(status.status == .exited(0), "round \(round): \(status.errorText)")
            #expect(statusTime < 2000, "round \(round): status took \(statusTime) ms")
            usleep(500_000)
        }
        stop.set()
        slowReading.join()
        withExtendedLifetime(readers) {}
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }
}

/// The first `name` in PATH that can be run.
private func which(_ name: String) -> String? {
    guard let path = getenv("PATH") else { return nil }
    return String(cString: path).split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
}
