// SPDX-License-Identifier: MIT
import Glibc
import Testing
import CPTYShim
@testable import PTYProxy

/// Resource exhaustion is bad input too (issue 15, findings 4 and 5): out
/// of descriptors, threads or address space, `new` ends with 125 and one
/// `ptyproxy: ` line, CMD did not run, and nothing is left behind (no
/// socket, no lock, no zombie); or it has everything it needs and runs CMD
/// to its end. Never a crash, never 125 after CMD ran.
@Suite(.serialized) struct HostileResourceTests {
    /// One `ptyproxy new ID 80 24 touch MARK` under `limit` (a prlimit
    /// option), run as `user` when given; records what went wrong.
    private func attempt(_ limit: String, as user: OtherUser? = nil, scratch: Scratch,
                         environment: [String]) -> (status: PTYProxy.ExitStatus?, problems: [String]) {
        let id = uniqueID("res")
        let mark = scratch.base + "/ran-\(id)"
        var command = ["/usr/bin/prlimit", limit]
        if let user { command = ["/usr/bin/prlimit", limit] + user.command([]) }
        let proxy = HostedProcess(command + [ProxyBinary.path, "new", id, "80", "24", "touch", mark],
                                  environment: environment)
        let status = proxy.finish()
        let ran = access(mark, F_OK) == 0
        var problems: [String] = []
        switch status {
        case .exited(125):
            if ran { problems.append("125, yet CMD ran") }
            if proxy.errorLines.count != 1 || !proxy.errorText.hasPrefix("ptyproxy: ") {
                problems.append("125 without exactly one 'ptyproxy: ' line: \(proxy.errorText)")
            }
        case .exited(0):
            if !ran { problems.append("0, yet CMD did not run") }
            if !proxy.errors.isEmpty { problems.append("stderr: \(proxy.errorText)") }
        default:
            problems.append("status \(String(describing: status)), stderr: \(proxy.errorText.prefix(300))")
        }
        let directory = scratch.base + "/runtime/ptyproxy"
        for suffix in [".sock", ".lock"] where access("\(directory)/\(id)\(suffix)", F_OK) == 0 {
            problems.append("\(id)\(suffix) left behind")
        }
        return (status, problems.map { "\(limit): \($0)" })
    }

    private func runtime(_ scratch: Scratch, owner: OtherUser? = nil) -> [String] {
        let path = scratch.directory("runtime")
        if let owner { chown(path, owner.uid, owner.gid) }
        chmod(scratch.base, 0o777)
        return TestEnvironment.variables(["XDG_RUNTIME_DIR=\(path)"])
    }

    /// Every descriptor limit from "cannot even lock" to "enough": the
    /// pidfd, the fallback pipe, the relay's pipes, the terminal the child
    /// opens. (Before: SIGILL at 12, and 125 after CMD ran at 16.)
    @Test func descriptorLimitsEndIn125BeforeCMDOrRunIt() {
        if builtWithSanitizer {
            print("descriptorLimitsEndIn125BeforeCMDOrRunIt: skipped: \(sanitizerReason)"); return
        }
        let scratch = Scratch("nofile")
        let environment = runtime(scratch)
        // Counted from what a child of this test inherits (the test runner
        // may hold descriptors that are not close-on-exec).
        let inherited = HostedProcess(["/bin/sh", "-c", "ls /proc/$$/fd | wc -l"])
        _ = inherited.finish()
        let base = Int(inherited.outputText.filter(\.isNumber)) ?? 3
        var problems: [String] = [], refused = 0, ran = 0, lines: [String] = []
        for limit in (base + 3)...(base + 30) {
            let result = attempt("--nofile=\(limit):\(limit)", scratch: scratch, environment: environment)
            lines.append("\(limit): \(String(describing: result.status))")
            problems += result.problems
            if result.status == .exited(125) { refused += 1 }
            if result.status == .exited(0) { ran += 1 }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        #expect(refused > 0 && ran > 0, "the limits must both bite and suffice: \(refused) refused, \(ran) ran; \(lines)")
    }

    /// A descriptor limit below the length of the supervisor's poll list
    /// (its own slots, then the control socket's entries), though above
    /// what it watches: poll refuses such a list with EINVAL, and the
    /// supervisor must still see the child's exit. Set on the running
    /// session, so that what the test runner lets the proxy inherit does
    /// not matter. (Before: it polled in vain for ever, spinning, blind to
    /// the exit, the host and SIGTERM; `ulimit -n 20` did the same to
    /// `ptyproxy new ID 80 24 true`.)
    @Test func aDescriptorLimitBelowThePollListLengthStillEndsTheSession() {
        let proxy = HostedProcess(proxy: ["new", uniqueID("pollnofile"), "80", "24", "cat"])
        proxy.write("up\n")  // echoed once the supervisor has started the output reader
        #expect(proxy.read(untilContains: "up\r\nup\r\n"))
        // Fewer than the list's entries (a slot per control client and
        // more), more than the few it watches now.
        let limit = HostedProcess(["/usr/bin/prlimit", "--pid", "\(proxy.pid)", "--nofile=\(ControlServer.maximumClients):"])
        #expect(limit.finish() == .exited(0), "\(limit.errorText)")
        proxy.closeInput()  // ^D: cat exits
        #expect(proxy.finish() == .exited(0), "\(proxy.errorText)")
    }

    /// Threads and processes: RLIMIT_NPROC counts a user's threads, and
    /// binds only a user other than root. (Before: SIGILL at 3..6 and 126
    /// "cannot execute" at 1.)
    @Test func threadLimitsEndIn125BeforeCMDOrRunIt() {
        if builtWithSanitizer {
            print("threadLimitsEndIn125BeforeCMDOrRunIt: skipped: \(sanitizerReason)"); return
        }
        guard let user = OtherUser() else {
            print("threadLimitsEndIn125BeforeCMDOrRunIt: skipped: \(rootOnly)"); return
        }
        let scratch = Scratch("nproc")
        let environment = runtime(scratch, owner: user)
        var problems: [String] = [], refused = 0, ran = 0
        for limit in 1...12 {
            let result = attempt("--nproc=\(limit)", as: user, scratch: scratch, environment: environment)
            problems += result.problems
            if result.status == .exited(125) { refused += 1 }
            if result.status == .exited(0) { ran += 1 }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        #expect(refused > 0 && ran > 0, "the limits must both bite and suffice: \(refused) refused, \(ran) ran")
        #expect(HostedProcess(["/usr/bin/pgrep", "-u", "\(user.uid)"]).finish() == .exited(1),
                "a process of the user is left")
    }

    /// Address space, in steps of 32 KiB over 3 MiB: thread stacks, the
    /// output buffers and posix_spawn are refused in turn, and the 1 MiB
    /// held until the spawn keeps the little allocated after it from
    /// running out. (Before: aborts on the output buffers, SIGILL on a
    /// refused thread, and crashes after CMD ran.)
    ///
    /// Not covered: the first ~0.3 MiB above the least the binary loads in,
    /// where the Swift runtime's own allocations (type metadata) fail
    /// before ptyproxy's code can check anything; the scan starts above.
    @Test func addressSpaceLimitsEndIn125BeforeCMDOrRunIt() {
        if builtWithSanitizer {
            print("addressSpaceLimitsEndIn125BeforeCMDOrRunIt: skipped: \(sanitizerReason)"); return
        }
        // The least address space `--version` runs in: below it the dynamic
        // loader fails, which is not ptyproxy's to report.
        var floor = 8 << 20
        while floor < 256 << 20,
              HostedProcess(["/usr/bin/prlimit", "--as=\(floor)", ProxyBinary.path, "--version"]).finish() != .exited(0) {
            floor += 256 << 10
        }
        let scratch = Scratch("as")
        let environment = runtime(scratch)
        var problems: [String] = [], refused = 0, ran = 0
        for limit in stride(from: floor + (512 << 10), through: floor + (3 << 20), by: 32 << 10) {
            let result = attempt("--as=\(limit)", scratch: scratch, environment: environment)
            problems += result.problems
            if result.status == .exited(125) { refused += 1 }
            if result.status == .exited(0) { ran += 1 }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        #expect(refused > 0 && ran > 0, "the limits must both bite and suffice: \(refused) refused, \(ran) ran")
    }
}

extension HostileResourceTests {
    /// A session's output reader starts when the master first reports
    /// something, after the spawn: a thread that cannot be created then (no
    /// address space left for its stack: the proxy's limit is set to what
    /// it maps already) must cost no output. The supervisor relays it
    /// itself, with the same end rules: EIO confirmed (the child exits
    /// after 20000 lines), or the pty quiet after the exit (a background
    /// job deaf to SIGHUP holds it). Output whole, in order, exit status
    /// the child's, no thread started.
    ///
    /// Variant 3: the host reads nothing until its pipe is full and the
    /// child has exited; the output is still whole (waiting for room in the
    /// host's pipe is no quiet pty).
    ///
    /// Variant 4: the host reads nothing until past the drain limit (2 s
    /// after the child's exit); what the pty still holds arrives whole, as
    /// it does through the reader, which ends at that limit only when a
    /// read finds the pty empty. (Before: the first pass after the host
    /// made room ended the output there, exit status 0, the rest lost.)
    @Test(arguments: [0, 1, 2, 3, 4])
    func outputArrivesWholeWhenTheReaderCannotStart(variant: Int) {
        if builtWithSanitizer {
            print("outputArrivesWholeWhenTheReaderCannotStart: skipped: \(sanitizerReason)"); return
        }
        let scratch = Scratch("reader")
        let go = scratch.base + "/go", end = scratch.base + "/end"
        #expect(mkfifo(go, 0o600) == 0 && mkfifo(end, 0o600) == 0)
        // Variants 3 and 4: the output must fit the host's pipe and the pty
        // together, for the child to exit while the host does not read.
        let count = variant >= 3 ? 6000 : 20000
        let lines = "i=0; while [ $i -lt \(count) ]; do echo \"line $i\"; i=$((i+1)); done; echo DONE"
        let script = ["\(lines); read x < \(end)", lines, "echo DONE; trap '' HUP; sleep 2 & exit 0", lines, lines][variant]
        let id = uniqueID("rdr")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "read x < \(go); \(script)"])
        #expect(eventually { ControlConnection(id)?.request("ping") == "ok pong" })
        #expect(threadCount(of: proxy.pid) == 1, "a relay thread runs before the program wrote")
        #expect(limitAddressSpaceToWhatIsMapped(proxy.pid))
        #expect(HostedProcess(["/bin/sh", "-c", "echo go > \(go)"]).finish() == .exited(0))
        if variant == 3 {
            var queued: CInt = 0
            #expect(eventually { proxy.stdoutPipeIsFull && childHasExited(of: proxy.pid) },
                    "queued \(ptyshim_bytes_queued(proxy.stdoutRead, &queued)) \(queued), exited \(childHasExited(of: proxy.pid))")
            usleep(300_000)  // three times the quiet period after the exit, with the pipe still full
        }
        if variant == 4 {
            #expect(eventually(timeoutMilliseconds: 10_000) { childHasExited(of: proxy.pid) })
            usleep(2_500_000)  // the host's stall: past the drain limit, counted from the exit
            #expect(threadCount(of: proxy.pid) == 1, "a thread started under the limit")
        }
        #expect(proxy.read(untilContains: "DONE"))
        if variant == 0 {
            #expect(threadCount(of: proxy.pid) == 1, "a thread started under the limit")
            #expect(HostedProcess(["/bin/sh", "-c", "echo end > \(end)"]).finish() == .exited(0))
        }
        #expect(proxy.finish() == .exited(0))
        let expected = variant == 2 ? "DONE\r\n" : (0..<count).map { "line \($0)\r\n" }.joined() + "DONE\r\n"
        #expect(proxy.outputText == expected, "\(proxy.outputText.count) bytes, stderr: \(proxy.errorText)")
        #expect(proxy.errors.isEmpty, "stderr: \(proxy.errorText)")
    }

    /// The supervisor relaying the output itself (no reader thread could
    /// start) never waits inside a write to a host that stopped reading:
    /// it reads no more than the host's pipe has room for, so SIGTERM still
    /// hangs the session up and the proxy exits after the grace period.
    /// (Before: the supervisor sat in write(2) with `yes` flooding, deaf to
    /// the signal, for as long as the host did not read.)
    @Test func theSupervisorsRelayNeverWaitsOnAHostThatStopsReading() {
        if builtWithSanitizer {
            print("theSupervisorsRelayNeverWaitsOnAHostThatStopsReading: skipped: \(sanitizerReason)"); return
        }
        let scratch = Scratch("full")
        let go = scratch.base + "/go"
        #expect(mkfifo(go, 0o600) == 0)
        let id = uniqueID("full")
        let proxy = HostedProcess(proxy: ["new", "--hangup-grace", "0.3", id, "80", "24", "sh", "-c",
                                          "read x < \(go); exec yes"])
        #expect(eventually { ControlConnection(id)?.request("ping") == "ok pong" })
        #expect(limitAddressSpaceToWhatIsMapped(proxy.pid))
        #expect(HostedProcess(["/bin/sh", "-c", "echo go > \(go)"]).finish() == .exited(0))
        // The host reads nothing until its pipe is full.
        #expect(eventually { proxy.stdoutPipeIsFull }, "the host's pipe did not fill")
        #expect(threadCount(of: proxy.pid) == 1, "a thread started under the limit")
        kill(proxy.pid, SIGTERM)
        let status = proxy.waitForExit(timeoutMilliseconds: 5000)
        #expect(status != nil, "the proxy did not end after SIGTERM: \(kernelStacks(of: proxy.pid))")
        if status == nil { kill(proxy.pid, SIGKILL) }
        _ = proxy.finish()
    }

    /// Whether the child of `pid` is a zombie (the proxy reaps it last).
    private func childHasExited(of pid: pid_t) -> Bool {
        let state = HostedProcess(["/bin/sh", "-c", "for c in $(cat /proc/\(pid)/task/\(pid)/children); do "
                                   + "cut -d ')' -f 2 /proc/$c/stat | cut -c 2; done"])
        _ = state.finish()
        return state.outputText == "Z\n"
    }

    /// Where each thread of `pid` waits in the kernel, for a failure's message.
    private func kernelStacks(of pid: pid_t) -> String {
        let stacks = HostedProcess(["/bin/sh", "-c", "head -4 /proc/\(pid)/task/*/stack"])
        _ = stacks.finish()
        return stacks.outputText
    }

    /// Sets the address-space limit of `pid` to what it maps now, plus
    /// 64 KiB: no new thread stack fits.
    private func limitAddressSpaceToWhatIsMapped(_ pid: pid_t) -> Bool {
        let status = HostedProcess(["/bin/sh", "-c", "awk '/^VmSize:/ { print $2 }' /proc/\(pid)/status"])
        guard status.finish() == .exited(0), let kib = Int(status.outputText.filter(\.isNumber)) else { return false }
        let bytes = (kib + 64) * 1024
        return HostedProcess(["/usr/bin/prlimit", "--pid", "\(pid)", "--as=\(bytes):\(bytes)"]).finish() == .exited(0)
    }
}

/// A sanitizer's runtime needs threads, descriptors and terabytes of address
/// space of its own: under these limits it fails before ptyproxy does.
let sanitizerReason = "a sanitizer's runtime fails first under these limits"
