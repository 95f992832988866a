// SPDX-License-Identifier: MIT
import Glibc
import Testing
@testable import PTYProxy

/// Churn: many sessions, ended in turn by each way a session can end.
///
/// Afterwards nothing may be left behind:
/// - no zombie: every proxy was reaped by us, none of them is a zombie child of ours;
/// - no leaked descriptor in the test process: none of the sessions' pipes
///   (matched by inode) nor pidfds (matched by fdinfo's Pid) is still open;
/// - no orphaned child: every child pid (reported by the child itself) is gone,
///   including after SIGKILL of its proxy, when only the kernel's hangup of
///   the pty can end it;
/// - no stale socket: sessions ended in any way but SIGKILL removed their
///   socket themselves, at once. A SIGKILLed proxy cannot: its socket
///   remains, stale (nothing listens). `ptyproxy list` removes stale sockets;
///   after it, no socket of the churn is left.
///
/// `PTYPROXY_CHURN_SESSIONS=N` changes the count (default 1000).
extension ReliabilityTests {
    enum Ending: String, CaseIterable, Sendable {
        case childExits, stdinEndOfFile, hostGoesAway, proxyTerminated, proxyKilled
    }

    @Test(.timeLimit(.minutes(10)))
    func churnOfSessionsEndedEveryWayLeavesNothingBehind() {
        let total = environmentInteger("PTYPROXY_CHURN_SESSIONS", default: 1000)
        // A runtime directory of its own: `ptyproxy list` in a parallel suite
        // would otherwise clean up the stale sockets this test counts.
        let (environment, _, directory) = TestEnvironment.privateRuntime("churn")
        let prefix = "churn\(getpid())x"
        var proxyPIDs: Set<pid_t> = []
        var childPIDs: [pid_t: Ending] = [:]
        var pipeInodes: Set<UInt64> = []
        var killedIDs: [String] = []
        var failures: [String] = []
        var failureCount = 0
        var durations: [Ending: Int64] = [:]
        func fail(_ text: String) {
            failureCount += 1
            if failures.count < 8 { failures.append(text) }
        }

        let start = now()
        for index in 0..<total {
            let ending = Ending.allCases[index % Ending.allCases.count]
            let id = "\(prefix)\(index)"
            let socket = SessionDirectory.socketPath(directory: directory, id: id)
            let script = switch ending {
            case .childExits: "echo PID=$$; exit 3"
            case .stdinEndOfFile: "echo PID=$$; exec cat"
            default: "echo PID=$$; exec sleep 100"
            }
            let began = now()
            let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", script], environment: environment)
            proxyPIDs.insert(proxy.pid)
            for fd in [proxy.stdinWrite, proxy.stdoutRead, proxy.stderrRead] {
                if let inode = descriptorInode(fd) { pipeInodes.insert(inode) }
            }
            guard proxy.read(until: { $0.contains(Array("\r\n".utf8)) }), let child = reportedChildPID(proxy.output) else {
                fail("#\(index) \(ending): no PID line (output \(proxy.output.prefix(60)), stderr \(proxy.errorText.prefix(120)))")
                continue
            }
            childPIDs[child] = ending
            let expected: PTYProxy.ExitStatus
            switch ending {
            case .childExits:
                expected = .exited(3)
            case .stdinEndOfFile:
                proxy.closeInput()
                expected = .exited(0)
            case .hostGoesAway:
                proxy.closeOutput()
                expected = .exited(128 + SIGHUP)
            case .proxyTerminated:
                kill(proxy.pid, SIGTERM)
                expected = .exited(128 + SIGHUP)
            case .proxyKilled:
                kill(proxy.pid, SIGKILL)
                killedIDs.append(id)
                expected = .signaled(SIGKILL)
            }
            let status = proxy.finish(timeoutMilliseconds: 10_000)
            if status != expected {
                fail("#\(index) \(ending): \(String(describing: status)), expected \(expected); stderr \(proxy.errorText.prefix(120))")
            }
            if ending != .proxyKilled && access(socket, F_OK) == 0 {
                fail("#\(index) \(ending): socket left behind")
            }
            if ending == .proxyKilled && access(socket, F_OK) != 0 {
                fail("#\(index) \(ending): socket vanished although its proxy was SIGKILLed (unexpected)")
            }
            durations[ending, default: 0] += now() - began
        }
        let churnTime = now() - start

        // Orphans: every child is gone, the SIGKILLed proxies' ones included.
        let lingering = childPIDs.keys.filter { !processIsGone($0) }
        if !lingering.isEmpty {
            _ = eventually(timeoutMilliseconds: 5000) { lingering.allSatisfy(processIsGone) }
        }
        let orphans = lingering.filter { !processIsGone($0) }
        #expect(orphans.isEmpty, "children still alive: \(orphans.prefix(10).map { "\($0) (\(childPIDs[$0]!))" })")
        for pid in orphans { kill(pid, SIGKILL) }

        // Zombies: none of our proxies is a zombie child of ours.
        let zombies = zombieChildren().filter { proxyPIDs.contains($0) }
        #expect(zombies.isEmpty, "zombie proxies: \(zombies.prefix(10))")

        // Descriptors: none of the sessions' pipes or pidfds is still open here.
        let leaked = ProcessProbe.ownDescriptors().filter { entry in
            if entry.target.hasPrefix("pipe:["), let inode = UInt64(entry.target.dropFirst(6).dropLast()) {
                return pipeInodes.contains(inode)
            }
            if entry.target.contains("pidfd"), let pid = ProcessProbe.pidfdTarget(entry.fd) {
                return proxyPIDs.contains(pid)
            }
            return false
        }
        #expect(leaked.isEmpty, "descriptors left open: \(leaked.prefix(10).map { "\($0.fd) -> \($0.target)" })")

        // Sockets: exactly the SIGKILLed sessions' remain, stale; `list` clears them.
        let remaining = Set(SessionDirectory.socketIDs(in: directory).filter { $0.hasPrefix(prefix) })
        #expect(remaining.symmetricDifference(killedIDs).isEmpty,
                "\(remaining.count) sockets remain, \(killedIDs.count) proxies were SIGKILLed; unexpected: \(remaining.subtracting(killedIDs).sorted().prefix(5))")
        let list = runTool(["list"], environment: environment)
        #expect(list.status == .exited(0))
        #expect(!list.outputText.contains(prefix), "list shows a churned session")
        let afterList = SessionDirectory.socketIDs(in: directory).filter { $0.hasPrefix(prefix) }
        #expect(afterList.isEmpty, "\(afterList.count) sockets remain after list: \(afterList.prefix(5))")

        #expect(failureCount == 0, "\(failureCount) sessions misbehaved, first: \(failures)")
        let perEnding = Ending.allCases.map { "\($0.rawValue) \(oneDecimal(Double(durations[$0, default: 0]) / Double(max(1, total / 5)))) ms" }
        reliabilityLog("churn: \(total) sessions in \(oneDecimal(Double(churnTime) / 1000)) s (mean per session: \(perEnding.joined(separator: ", "))); "
            + "\(childPIDs.count) child pids checked, \(orphans.count) orphans, \(zombies.count) zombies, \(leaked.count) leaked fds, "
            + "\(remaining.count) stale sockets before list, \(afterList.count) after")
    }
}
