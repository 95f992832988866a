// SPDX-License-Identifier: MIT
import Glibc
import Testing
@testable import PTYProxy

/// Faults: each must end correctly with its output intact.
extension ReliabilityTests {
    /// SIGWINCH, SIGCHLD, SIGCONT and SIGURG hammer the proxy while it relays
    /// about 7 MiB. SIGUSR1 is left out on purpose: ptyproxy does not ignore
    /// it (default action: terminate), so it is not a harmless signal for it;
    /// see RELIABILITY.md.
    @Test func signalStormDuringALargeOutputLosesNothing() throws {
        let count = 1_000_000
        let expected = sequenceThroughTerminal(count)
        // Under scripts/reliability/sanitizers.sh (ASan), LeakSanitizer's
        // stop-the-world at exit livelocks when signals keep arriving (the
        // proxy spins in R state, ptrace-attached by LSan's tracer, for
        // good): leak checking is turned off for this one proxy.
        let asanOptions = getenv("ASAN_OPTIONS").map { String(cString: $0) + ":" } ?? ""
        let proxy = HostedProcess(proxy: ["new", uniqueID("storm"), "80", "24", "--", "seq", "1", "\(count)"],
                                  environment: TestEnvironment.variables(["ASAN_OPTIONS=\(asanOptions)detect_leaks=0"]))
        let target = proxy.pid
        let stop = SharedFlag()
        let sent = SharedCounter()
        let storm = try IOThread {
            let signals = [SIGWINCH, SIGCHLD, SIGCONT, SIGURG]
            var index = 0
            while !stop.isSet {
                // The proxy is not reaped before `stop` is set, so the pid is still ours.
                if kill(target, signals[index % signals.count]) == 0 { sent.add() }
                index += 1
                if index % 64 == 0 { usleep(100) }
            }
        }
        let start = now()
        proxy.read(timeoutMilliseconds: 60_000)  // until EOF on stdout and stderr
        let readTime = now() - start
        let threadsDuringStorm = threadStates(proxy.pid)
        stop.set()
        storm.join()
        let status = proxy.waitForExit(timeoutMilliseconds: 10_000)
        #expect(status == .exited(0),
                "after \(readTime) ms of reading (EOF: \(proxy.stdoutRead < 0)); proxy threads then: \(threadsDuringStorm); after the storm: \(threadStates(proxy.pid))")
        #expect(proxy.errors.isEmpty, "stderr: \(proxy.errorText.prefix(200))")
        expectSameBytes(proxy.output, expected)
        #expect(sent.current > 1000, "only \(sent.current) signals were sent")
        reliabilityLog("signal storm: \(sent.current) signals during \(proxy.output.count) bytes of output, exit \(String(describing: status))")
    }

    /// SIGUSR1 (like SIGUSR2 and SIGALRM) is received and dropped: a stray
    /// `kill -USR1` must not end a session relaying someone's terminal.
    @Test
    func sigusr1DuringALargeOutputLosesNothing() {
        let count = 300_000
        let proxy = HostedProcess(proxy: ["new", uniqueID("usr1"), "80", "24", "sh", "-c", "echo GO; seq 1 \(count)"])
        #expect(proxy.read(untilContains: "GO\r\n"))
        for _ in 0..<100 { kill(proxy.pid, SIGUSR1) }
        #expect(proxy.finish(timeoutMilliseconds: 30_000) == .exited(0))
        expectSameBytes(proxy.output, terminalText("GO\n") + sequenceThroughTerminal(count))
    }

    /// The host closes its end of stdout while the proxy is in the middle of
    /// writing a large output: proxy and child end (129), the socket is removed.
    @Test func hostClosingStdoutDuringALargeWrite() {
        let id = uniqueID("close")
        let socket = SessionDirectory.socketPath(directory: TestEnvironment.controlDirectory, id: id)
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "echo PID=$$; exec seq 1 100000000"])
        #expect(proxy.read { $0.count > 4 << 20 })
        guard let child = reportedChildPID(proxy.output) else {
            Issue.record("no PID line"); return
        }
        #expect(access(socket, F_OK) == 0)
        let closed = now()
        proxy.closeOutput()
        let status = proxy.waitForExit(timeoutMilliseconds: 5000)
        let elapsed = now() - closed
        #expect(status == .exited(128 + SIGHUP), "proxy ended with \(String(describing: status))")
        #expect(elapsed < 3000, "took \(elapsed) ms")
        #expect(eventually(timeoutMilliseconds: 3000) { processIsGone(child) }, "child \(child) still alive")
        #expect(access(socket, F_OK) != 0, "socket left behind")
        proxy.read(timeoutMilliseconds: 1000)
        #expect(proxy.errors.isEmpty, "stderr: \(proxy.errorText.prefix(200))")
        reliabilityLog("host closes stdout mid-write: proxy exit \(String(describing: status)) after \(elapsed) ms")
    }

    /// The child closes its terminal and lives on: the pty reports EIO long
    /// before the child exits; the proxy must still wait for its status, and
    /// the output written before the close arrives intact.
    @Test func childClosingItsTerminalAndLivingOn() {
        let lines = 20_000
        let proxy = HostedProcess(proxy: ["new", uniqueID("detach"), "80", "24", "sh", "-c",
                                          "seq 1 \(lines); exec </dev/null >/dev/null 2>&1; sleep 1; exit 3"])
        let start = now()
        let status = proxy.finish(timeoutMilliseconds: 10_000)
        let elapsed = now() - start
        #expect(status == .exited(3))
        #expect(elapsed >= 900 && elapsed < 3000, "took \(elapsed) ms")
        expectSameBytes(proxy.output, sequenceThroughTerminal(lines))
        reliabilityLog("child closes its tty: exit \(String(describing: status)) after \(elapsed) ms")
    }

    /// A background job keeps the pty open after the child exits. The proxy
    /// must exit promptly with the child's status and the job be hung up:
    /// - the issue's case, `(sleep 30 &)`: the job is in the shell's process
    ///   group, so the kernel's hangup of the exiting session leader reaches it;
    /// - `set -m`: the job has a process group of its own, which the kernel
    ///   leaves alone: only the proxy's SIGHUP to the session ends it;
    /// - the same job writing all the time: the pty is never quiet, so only
    ///   the drain limit (2 s) ends the output.
    @Test(arguments: [
        ("(sleep 30 & echo BG=$!) ; echo done", Int64(1500)),
        ("set -m; sleep 30 & echo BG=$!; echo done", 1500),
        ("set -m; while :; do echo bg; sleep 0.01; done & echo BG=$!; echo done", 3000),
    ])
    func backgroundJobHoldingThePtyAfterTheChildExits(script: String, limit: Int64) {
        let proxy = HostedProcess(proxy: ["new", uniqueID("bg"), "80", "24", "sh", "-c", script])
        let start = now()
        let status = proxy.finish(timeoutMilliseconds: 10_000)
        let elapsed = now() - start
        #expect(status == .exited(0))
        #expect(elapsed < limit, "took \(elapsed) ms")
        let text = proxy.outputText
        #expect(text.contains("done\r\n"), "output: \(text.prefix(200).debugDescription)")
        let background = number(after: "BG=", in: text).map { pid_t($0) }
        guard let background else { Issue.record("no BG line in \(text.prefix(100).debugDescription)"); return }
        let hungUp = eventually(timeoutMilliseconds: 3000) { processIsGone(background) }
        #expect(hungUp, "background job \(background) still alive")
        if !hungUp { kill(background, SIGKILL) }
        reliabilityLog("background job (\(script)): exit \(String(describing: status)) after \(elapsed) ms, job hung up: \(hungUp)")
    }

    /// The same, with a job that ignores SIGHUP (as under nohup; inherited
    /// from the shell, so it is ignored from the job's first instant): nothing
    /// can hang it up and it keeps the pty open, but the proxy still ends
    /// promptly, once the pty has been quiet briefly.
    @Test func backgroundJobIgnoringHangupDoesNotHoldTheProxy() {
        let proxy = HostedProcess(proxy: ["new", uniqueID("bg"), "80", "24", "sh", "-c",
                                          "trap '' HUP; sleep 30 & echo BG=$!; echo done"])
        let start = now()
        let status = proxy.finish(timeoutMilliseconds: 10_000)
        let elapsed = now() - start
        #expect(status == .exited(0))
        #expect(elapsed < 3000, "took \(elapsed) ms")
        #expect(proxy.outputText.hasSuffix("done\r\n"))
        #expect(elapsed >= 90, "ended after \(elapsed) ms: the job did not hold the pty, the test tests nothing")
        let background = number(after: "BG=", in: proxy.outputText).map { pid_t($0) }
        if let background { kill(background, SIGKILL) }  // it chose to outlive its terminal
        reliabilityLog("job ignoring SIGHUP holds the pty: exit \(String(describing: status)) after \(elapsed) ms")
    }

    /// A job that left the child's session (setsid) but keeps writing to the
    /// terminal: the proxy drains it up to its limit, then hangs up what is
    /// left of the child's session and group. Until then the exited child
    /// stays its unreaped zombie, so its pid, group and session ids cannot
    /// be taken by a new process in between (pid_max is 32768 here) and
    /// the hangup cannot reach a stranger. Before: reaped at once, the
    /// numbers were free for the whole drain. (The job ignores SIGHUP: the
    /// child's exit hangs up its foreground group, which the job may still
    /// be in until `setsid` has run.)
    @Test func exitedChildStaysAZombieUntilTheSessionIsHungUp() {
        let proxy = HostedProcess(proxy: ["new", uniqueID("zombie"), "80", "24", "sh", "-c",
                                          "trap '' HUP; echo CHILD=$$; setsid yes tick & echo DAEMON=$!"])
        #expect(proxy.read { String(decoding: $0, as: UTF8.self).contains(/DAEMON=[0-9]+\r\n/) })
        guard let child = number(after: "CHILD=", in: proxy.outputText).map({ pid_t($0) }),
              let daemon = number(after: "DAEMON=", in: proxy.outputText).map({ pid_t($0) }) else {
            Issue.record("no CHILD/DAEMON lines in \(proxy.outputText.prefix(200).debugDescription)")
            return
        }
        #expect(eventually { ProcessProbe.stateAndParent(child).map { $0.state == "Z" } ?? true }, "the child never exited")
        // Well after the exit (256 KiB more of the job's output), the proxy
        // still draining: the child is still its zombie.
        let mark = proxy.output.count
        #expect(proxy.read { $0.count > mark + 256 * 1024 })
        let probe = ProcessProbe.stateAndParent(child)
        #expect(proxy.waitForExit(timeoutMilliseconds: 0) == nil, "the proxy ended before the drain limit")
        #expect(probe?.state == "Z" && probe?.parent == proxy.pid,
                "child \(child) after its exit: \(probe.map { "state \($0.state), parent \($0.parent)" } ?? "reaped") (proxy \(proxy.pid))")
        proxy.closeOutput()  // stop reading the flood; the proxy ends at its drain limit
        #expect(proxy.finish(timeoutMilliseconds: 10_000) != nil)
        // The master closed, the job's writes fail and `yes` ends.
        let jobEnded = eventually { processIsGone(daemon) }
        #expect(jobEnded, "the job \(daemon) outlived the terminal")
        if !jobEnded { kill(daemon, SIGKILL) }
    }

    /// The host goes away while a job that left the child's session floods
    /// the terminal: the child is hung up, and when the grace period runs out
    /// the proxy exits with its status while its reader is still reading.
    /// Before: the master was closed under the running reader, whose next
    /// read failed with EBADF, a precondition: the proxy crashed, its
    /// backtrace on stderr (seen under ThreadSanitizer in CI; in a debug
    /// build here, in the first of the five runs).
    @Test func givingUpOnOutputLeavesTheReaderNothingClosed() {
        for run in 0..<5 {
            let proxy = HostedProcess(proxy: ["new", "--hangup-grace", "0.3", uniqueID("giveup"), "80", "24", "sh", "-c",
                                              "(trap '' HUP; exec setsid yes tick) & echo JOB=$!; exec sleep 100"])
            #expect(proxy.read { String(decoding: $0, as: UTF8.self).contains(/JOB=[0-9]+\r\n(.|\r|\n)*tick\r\n/) })
            let job = number(after: "JOB=", in: proxy.outputText).map { pid_t($0) }
            proxy.closeOutput()  // the host goes away: hang-up, then 0.3 s of grace
            let status = proxy.finish(timeoutMilliseconds: 10_000)
            #expect(status == .exited(128 + SIGHUP), "run \(run): \(String(describing: status)); stderr: \(proxy.errorText.prefix(300))")
            #expect(proxy.errors.isEmpty, "run \(run): stderr: \(proxy.errorText.prefix(300))")
            // The master closed with the proxy: the job's writes fail and `yes` ends.
            if let job {
                let ended = eventually { processIsGone(job) }
                #expect(ended, "run \(run): the job \(job) outlived the terminal")
                if !ended { kill(job, SIGKILL) }
            } else {
                Issue.record("run \(run): no JOB line")
            }
            if status != .exited(128 + SIGHUP) || !proxy.errors.isEmpty { break }
        }
    }

    /// A child that puts the terminal in raw mode and exits at once.
    @Test func childSettingRawModeAndExiting() {
        for _ in 0..<20 {
            let proxy = HostedProcess(proxy: ["new", uniqueID("raw"), "80", "24", "sh", "-c", "stty raw -echo; printf X; exit 0"])
            let status = proxy.finish(timeoutMilliseconds: 5000)
            #expect(status == .exited(0))
            #expect(proxy.outputText == "X", "output \(proxy.outputText.prefix(40).debugDescription)")
            if status != .exited(0) || proxy.outputText != "X" { break }
        }
    }

    /// Eight sessions relaying at full speed at once, each output byte-exact.
    @Test func eightSessionsAtFullSpeedInParallel() throws {
        let count = 1_000_000
        let expected = sequenceThroughTerminal(count)
        let failures = SharedFailures()
        let start = now()
        let threads = try (0..<8).map { index in
            try IOThread {
                // PTYPROXY_TRACE: a session that loses output says how its output ended.
                let proxy = HostedProcess(proxy: ["new", uniqueID("par"), "80", "24", "--", "seq", "1", "\(count)"],
                                          environment: TestEnvironment.variables(["PTYPROXY_TRACE=1"]))
                let status = proxy.finish(timeoutMilliseconds: 120_000)
                let trace = proxy.errorText
                if status != .exited(0) { failures.add("session \(index): \(String(describing: status)); \(trace)") }
                if let difference = byteDifference(proxy.output, expected) { failures.add("session \(index): \(difference); \(trace)") }
                if proxy.errorLines.count != 1 || !trace.hasPrefix("ptyproxy: trace: ") {
                    failures.add("session \(index) stderr: \(trace.prefix(240))")
                }
                noteLateOutput(trace)
            }
        }
        for thread in threads { thread.join() }
        let elapsed = now() - start
        #expect(failures.all.isEmpty, "\(failures.all.prefix(8))")
        reliabilityLog("8 parallel sessions: \(8 * expected.count) bytes in \(elapsed) ms (\(oneDecimal(Double(8 * expected.count) / Double(max(1, elapsed)) / 1000)) MB/s)")
    }
}

/// The decimal number that follows `marker` in `text`.
func number(after marker: String, in text: String) -> Int? {
    let parts = text.split(separator: marker, maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    return Int(parts[1].prefix(while: \.isNumber))
}

/// Each thread of a process: name, state, kernel wait channel and current
/// syscall (/proc/PID/task/TID/{comm,stat,wchan,syscall}), for hang reports.
func threadStates(_ pid: pid_t) -> [String] {
    guard let directory = opendir("/proc/\(pid)/task") else { return ["(gone)"] }
    defer { closedir(directory) }
    var result: [String] = []
    while let entry = readdir(directory) {
        let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        guard Int(tid) != nil else { continue }
        let base = "/proc/\(pid)/task/\(tid)"
        let text = { (file: String) in
            String(decoding: ProcessProbe.contents("\(base)/\(file)") ?? [], as: UTF8.self)
                .split(separator: "\n").first.map(String.init) ?? "?"
        }
        let state = ProcessProbe.stateAndParent(pid_t(tid)!).map { String($0.state) } ?? "?"
        let syscall = text("syscall").split(separator: " ").first.map(String.init) ?? "?"
        result.append("\(tid) \(text("comm")) \(state) wchan=\(text("wchan")) syscall=\(syscall)")
    }
    return result
}
