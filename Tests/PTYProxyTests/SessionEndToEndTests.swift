// SPDX-License-Identifier: MIT
import Glibc
import Testing
@testable import PTYProxy

/// `ptyproxy new` end to end: the real binary, real ptys, real programs.
@Suite(.serialized) struct SessionEndToEndTests {
    @Test func tailOfOutputIsNeverLost() {
        let expected = sequenceThroughTerminal(150_000)  // about 1 MiB
        var failures: [String] = []
        var tailLosses: [String] = []
        for run in 0..<environmentInteger("PTYPROXY_TAIL_RUNS", default: 300) {
            let started = now()
            // PTYPROXY_TRACE: a failed run's stderr says how the proxy's output ended.
            let proxy = HostedProcess(proxy: ["new", uniqueID("tail"), "80", "24", "--", "seq", "1", "150000"],
                                      environment: TestEnvironment.variables(["PTYPROXY_TRACE=1"]))
            let status = proxy.finish()
            noteLateOutput(proxy.errorText)
            if status != .exited(0) || proxy.output != expected {  // never dump 1 MiB into the log
                let report = "run \(run): \(String(describing: status)) after \(now() - started) ms, "
                    + "\(bytesDifference(proxy.output, expected)), stderr \(proxy.errorText.debugDescription), "
                    + "test's read: \(proxy.readFailure ?? "no error")"
                if isUnexplainedTailLoss(status: status, output: proxy.output, expected: expected, trace: proxy.errorText) {
                    tailLosses.append(report)
                } else {
                    failures.append(report)
                }
            }
        }
        expectNoLoss(failures, tailLosses: tailLosses)
    }

    /// PTYPROXY_TRACE: one line on stderr saying how the session ended.
    @Test(arguments: [
        ("seq 3", "9 bytes out; output ended by EIO"),
        ("set -m; sleep 30 & echo x", "3 bytes out; output ended by the pty staying quiet after the child exited"),
    ])
    func traceSaysHowTheOutputEnded(script: String, expected: String) {
        let id = uniqueID("trace")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", script],
                                  environment: TestEnvironment.variables(["PTYPROXY_TRACE=1"]))
        #expect(proxy.finish() == .exited(0))
        #expect(proxy.errorLines.count == 1, "stderr: \(proxy.errorText)")
        #expect(proxy.errorText.hasPrefix("ptyproxy: trace: session '\(id)': \(expected)"), "stderr: \(proxy.errorText)")
        #expect(proxy.errorText.hasSuffix("; the child exited with 0\n"), "stderr: \(proxy.errorText)")
    }

    @Test(arguments: [0, 1, 42])
    func exitStatusIsTheChilds(code: Int32) {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "sh", "-c", "exit \(code)"])
        #expect(proxy.finish() == .exited(code))
    }

    @Test(arguments: [("INT", Int32(130)), ("TERM", 143), ("KILL", 137)])
    func killedChildGives128PlusSignal(signal: String, code: Int32) {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "sh", "-c", "kill -\(signal) $$"])
        #expect(proxy.finish()?.shellCode == code)
    }

    @Test func missingCommandIs127() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "no-such-command-\(getpid())"])
        #expect(proxy.finish() == .exited(127))
        #expect(proxy.errorLines.count == 1)
        #expect(proxy.errorText.contains("not found"))
        #expect(proxy.output.isEmpty)
    }

    @Test func nonExecutableFileIs126() {
        let path = TestEnvironment.runtimeDirectory + "/not-executable"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
        close(fd)
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", path])
        #expect(proxy.finish() == .exited(126))
        #expect(proxy.errorLines.count == 1)
        #expect(proxy.output.isEmpty)
    }

    @Test func childHasAControllingTerminalOfTheGivenSize() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "132", "43", "sh", "-c",
                                          "tty; test -r /dev/tty && echo TTY-OK; stty size"])
        #expect(proxy.finish() == .exited(0))
        let text = proxy.outputText
        #expect(text.hasPrefix("/dev/pts/"))
        #expect(text.contains("TTY-OK\r\n"))
        #expect(text.contains("43 132\r\n"))
    }

    @Test func controlCByteInterruptsTheForegroundJob() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "sh", "-c", "echo READY; exec sleep 100"])
        #expect(proxy.read(untilContains: "READY\r\n"))
        // The shell has exec'd sleep once READY is out, or is about to: a
        // ^C delivered before the exec would end sh the same way (130).
        proxy.write([0x03])
        #expect(proxy.finish(timeoutMilliseconds: 5000) == .exited(128 + SIGINT))
    }

    @Test func controlCEndsAFloodWithinASecond() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "yes"])
        #expect(proxy.read(timeoutMilliseconds: 5000) { $0.count > 1 << 20 })
        let sent = now()
        proxy.write([0x03])
        let status = proxy.finish(timeoutMilliseconds: 5000)
        let elapsed = now() - sent
        #expect(status == .exited(128 + SIGINT))
        // A second, as a terminal user expects; a sanitizer's runtime slows
        // every step of the flood and of its end (1008 ms seen under TSan).
        let bound = builtWithSanitizer ? 3000 : 1000
        #expect(elapsed < bound, "took \(elapsed) ms")
    }

    @Test func childSeesOnlyStandardDescriptors() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "ls", "/proc/self/fd"])
        #expect(proxy.finish() == .exited(0))
        let names = proxy.outputText.split(whereSeparator: \.isWhitespace)
        // 3 is the directory that ls itself opened to list.
        #expect(names == ["0", "1", "2", "3"])
    }

    @Test func childEnvironmentAndTermios() {
        var environment = TestEnvironment.variables(["COLUMNS=1", "LINES=2"])
        environment.removeAll { $0.hasPrefix("TERM=") }
        let id = uniqueID()
        let proxy = HostedProcess(
            proxy: ["new", id, "80", "24", "sh", "-c",
                    "echo T=$TERM I=$PTYPROXY_ID C=${COLUMNS-unset} L=${LINES-unset}; stty -a; grep -E 'Sig(Blk|Ign)' /proc/self/status"],
            environment: environment)
        #expect(proxy.finish() == .exited(0))
        let text = proxy.outputText
        #expect(text.contains("T=xterm-256color I=\(id) C=unset L=unset"))
        #expect(text.contains("erase = ^?"))
        let flags = Set(text.split(whereSeparator: \.isWhitespace))
        for flag in ["iutf8", "icanon", "echo", "isig", "icrnl", "onlcr", "opost", "-ixon", "cs8", "iexten"] {
            #expect(flags.contains(Substring(flag)), "stty -a lacks \(flag)")
        }
        #expect(text.contains("SigBlk:\t0000000000000000"))
        #expect(text.contains("SigIgn:\t0000000000000000"))
    }

    /// A proxy started with signals ignored (as under nohup, or by a host
    /// that ignores SIGINT and SIGPIPE) still starts CMD with every
    /// disposition at its default and an empty mask: what the proxy
    /// inherited is reset as well as what it set itself. (cat reads its own
    /// status: grep would show the SIGSEGV handler it installs itself.)
    @Test func childStartsWithDefaultDispositionsWhateverTheProxyInherited() {
        let proxy = HostedProcess(
            ["/bin/sh", "-c", "trap '' HUP INT QUIT PIPE USR1 USR2 TERM ALRM TSTP TTIN TTOU CHLD WINCH; exec \"$0\" \"$@\"",
             ProxyBinary.path, "new", uniqueID(), "80", "24", "cat", "/proc/self/status"])
        #expect(proxy.finish() == .exited(0))
        let lines = proxy.outputText.split(whereSeparator: \.isNewline).map(String.init)
        for field in ["SigBlk", "SigIgn", "SigCgt"] {
            #expect(lines.contains("\(field):\t0000000000000000"), "\(field) in \(lines)")
        }
    }

    @Test func optionsTermCwdAndEnv() {
        let proxy = HostedProcess(proxy: ["new", "--term", "vt100", "--cwd=/tmp", "--env", "GREETING=hi there",
                                          uniqueID(), "80", "24", "--", "sh", "-c", "echo $TERM:$(pwd):$GREETING"])
        #expect(proxy.finish() == .exited(0))
        #expect(proxy.outputText.contains("vt100:/tmp:hi there\r\n"))
    }

    @Test func stdoutPipeIsGrownOnlyWhenAsked() {
        let getPipeSize: Int32 = 1032  // F_GETPIPE_SZ, hidden from Swift without _GNU_SOURCE
        let grown = HostedProcess(proxy: ["new", "--stdout-pipe-size", "262144", uniqueID(), "80", "24",
                                          "sh", "-c", "echo READY; read x"])
        #expect(grown.read(untilContains: "READY"))
        #expect(fcntl(grown.stdoutRead, getPipeSize) == 262_144)
        grown.write("\n")
        #expect(grown.finish() == .exited(0))

        let untouched = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "sh", "-c", "echo READY; read x"])
        #expect(untouched.read(untilContains: "READY"))
        #expect(fcntl(untouched.stdoutRead, getPipeSize) == 65_536)
        untouched.write("\n")
        #expect(untouched.finish() == .exited(0))
    }

    @Test(arguments: ["/no/such/directory", "/etc/passwd"])
    func unusableWorkingDirectoryIs125(directory: String) {
        let proxy = HostedProcess(proxy: ["new", "--cwd", directory, uniqueID(), "80", "24", "true"])
        #expect(proxy.finish() == .exited(125))
        #expect(proxy.errorLines.count == 1)
        #expect(proxy.errorText.contains("cannot change to directory"))
        #expect(proxy.output.isEmpty)
    }

    @Test func singleArgumentWithSpacesIsACommandLine() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "echo one; echo two; exit 3"])
        #expect(proxy.finish() == .exited(3))
        #expect(proxy.outputText == "one\r\ntwo\r\n")
    }

    @Test func stdinEndOfFileEndsCat() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "cat"])
        proxy.write("hello\n")
        #expect(proxy.read { $0.count >= 14 })  // the echo and cat's copy
        proxy.closeInput()
        #expect(proxy.finish(timeoutMilliseconds: 5000) == .exited(0))
        #expect(proxy.outputText == "hello\r\nhello\r\n")
    }

    @Test func stdinEndOfFileAfterAPartialLineStillEndsCat() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "cat"])
        proxy.write("partial")
        proxy.closeInput()
        #expect(proxy.finish(timeoutMilliseconds: 5000) == .exited(0))
        #expect(proxy.outputText == "partialpartial")
    }

    @Test func hostGoingAwayEndsProxyAndChild() {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "sh", "-c", "echo PID=$$; exec sleep 100"])
        #expect(proxy.read(untilContains: "\r\n"))
        let text = proxy.outputText
        let childPID = pid_t(text.dropFirst(4).prefix(while: { $0.isNumber }))!
        let closed = now()
        proxy.closeOutput()
        let status = proxy.waitForExit(timeoutMilliseconds: 3000)
        #expect(status == .exited(128 + SIGHUP), "proxy ended with \(String(describing: status))")
        #expect(eventually(timeoutMilliseconds: max(0, 3000 - (now() - closed))) { processIsGone(childPID) })
    }

    @Test(arguments: [SIGTERM, SIGINT, SIGHUP])
    func signalToProxyHangsUpTheSession(signal: Int32) {
        let proxy = HostedProcess(proxy: ["new", uniqueID(), "80", "24", "sh", "-c", "echo PID=$$; exec sleep 100"])
        #expect(proxy.read(untilContains: "\r\n"))
        let childPID = pid_t(proxy.outputText.dropFirst(4).prefix(while: { $0.isNumber }))!
        kill(proxy.pid, signal)
        #expect(proxy.finish(timeoutMilliseconds: 3000) == .exited(128 + SIGHUP))
        #expect(eventually { processIsGone(childPID) })
    }

    @Test func childIgnoringHangupIsKilledAfterTheGracePeriod() {
        let proxy = HostedProcess(proxy: ["new", "--hangup-grace", "0.3", uniqueID(), "80", "24",
                                          "sh", "-c", "trap '' HUP; echo READY; while :; do sleep 1; done"])
        #expect(proxy.read(untilContains: "READY"))
        let start = now()
        kill(proxy.pid, SIGTERM)
        #expect(proxy.finish(timeoutMilliseconds: 3000) == .exited(128 + SIGKILL))
        #expect(now() - start >= 300)
    }

    @Test func stalledHostLosesNothing() {
        let count = 2_600_000  // about 20 MiB of text
        let expected = sequenceThroughTerminal(count)
        let id = uniqueID()
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "stty -echo; echo GO; seq 1 \(count)"])
        #expect(proxy.read { $0.count >= expected.count / 2 })
        // The stall itself: the host reads nothing for 2 s. Input keeps
        // flowing into the pty meanwhile, as the session's counters show.
        let stallEnds = now() + 2000
        proxy.write("typed while stalled\n")
        #expect(eventually { controlStatus(id).contains("\"bytes_in\":20,") })
        usleep(useconds_t(max(0, stallEnds - now()) * 1000))
        #expect(proxy.finish(timeoutMilliseconds: 60_000) == .exited(0))
        expectSameBytes(proxy.output, terminalText("GO\n") + expected)
    }

    @Test func manySessionsLeaveNothingBehind() {
        // Checked by identity (pids, pipe inodes), not by global counts, so
        // that suites running beside this one cannot disturb it.
        var pipes: Set<String> = []
        var proxies: [pid_t] = []
        for _ in 0..<200 {
            let proxy = HostedProcess(proxy: ["new", uniqueID("churn"), "80", "24", "true"])
            for fd in [proxy.stdinWrite, proxy.stdoutRead, proxy.stderrRead] {
                if let inode = descriptorInode(fd) { pipes.insert("pipe:[\(inode)]") }
            }
            proxies.append(proxy.pid)
            #expect(proxy.finish() == .exited(0))
        }
        let zombies = Set(zombieChildren())
        #expect(proxies.filter { zombies.contains($0) || !processIsGone($0) }.isEmpty)
        let ours = Set(proxies)
        let leftovers = ProcessProbe.ownDescriptors().filter {
            pipes.contains($0.target) || ProcessProbe.pidfdTarget($0.fd).map(ours.contains) == true
        }
        #expect(leftovers.isEmpty, "\(leftovers.count) descriptors of the sessions still open")
        #expect(SessionDirectory.socketIDs(in: TestEnvironment.controlDirectory).filter { $0.hasPrefix("churn") }.isEmpty)
    }

    @Test(arguments: [
        [], ["new"], ["new", "x"], ["new", "x", "80"], ["new", "x", "80", "24"],
        ["new", "x", "0", "24", "true"], ["new", "x", "80", "0", "true"],
        ["new", "x", "-1", "24", "true"], ["new", "x", "80", "-1", "true"],
        ["new", "x", "70000", "24", "true"], ["new", "x", "80", "70000", "true"],
        ["new", "x", "abc", "24", "true"], ["new", "", "80", "24", "true"],
        ["new", "a/b", "80", "24", "true"], ["new", "--bogus", "x", "80", "24", "true"],
        ["new", "--hangup-grace", "soon", "x", "80", "24", "true"],
        ["frobnicate"], ["resize", "x", "80"], ["resize", "x", "0", "24"],
    ])
    func badArgumentsExit125WithOneLine(arguments: [String]) {
        let proxy = HostedProcess(proxy: arguments)
        #expect(proxy.finish() == .exited(125))
        #expect(proxy.errorLines.count == 1, "stderr: \(proxy.errorText)")
        #expect(proxy.errorText.hasPrefix("ptyproxy: "))
        #expect(proxy.output.isEmpty)
    }
}

/// Compares byte strings and names the first difference instead of dumping them.
func expectSameBytes(_ actual: [UInt8], _ expected: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual != expected else { return }
    Issue.record(Comment(rawValue: bytesDifference(actual, expected)), sourceLocation: sourceLocation)
}

/// Where two byte strings part, with a little context around it (never the
/// megabytes themselves): a lost tail, a hole in the middle and a reordering
/// look different here.
func bytesDifference(_ actual: [UInt8], _ expected: [UInt8]) -> String {
    let firstDifference = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? min(actual.count, expected.count)
    let context = { (bytes: [UInt8]) in
        String(decoding: bytes[min(bytes.count, max(0, firstDifference - 20))..<min(bytes.count, firstDifference + 20)],
               as: UTF8.self)
    }
    return "\(actual.count) bytes, expected \(expected.count); first difference at \(firstDifference): "
        + "got \(context(actual).debugDescription), expected \(context(expected).debugDescription)"
}

/// `ptyproxy status ID`'s output (empty on failure).
func controlStatus(_ id: String) -> String {
    let client = HostedProcess(proxy: ["status", id])
    _ = client.finish()
    return client.outputText
}
