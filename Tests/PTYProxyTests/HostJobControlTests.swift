// SPDX-License-Identifier: MIT
import Glibc
import Testing
@testable import PTYProxy

/// A person's shell with job control runs ptyproxy on its terminal: the test
/// owns the terminal (a pty) and scripts the shell (`set -m`), which stops,
/// continues, backgrounds and foregrounds the proxy as a user would.
@Suite struct HostJobControlTests {
    final class Screen {
        let host: PseudoTerminal
        var bytes: [UInt8] = []

        init() throws { host = try PseudoTerminal(size: WindowSize(columns: 80, rows: 24)) }
        deinit { host.close() }

        var text: String { String(decoding: bytes, as: UTF8.self) }

        func read(until needle: String, timeoutMilliseconds: Int64 = 10_000) -> Bool {
            let wanted = Array(needle.utf8)
            let deadline = now() + timeoutMilliseconds
            var chunk = [UInt8](repeating: 0, count: 4096)
            while now() < deadline {
                if bytes.contains(wanted) { return true }
                var entry = pollfd(fd: host.master.rawValue, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, 100) >= 0 || errno == EINTR else { return false }
                if entry.revents & Int16(POLLIN) != 0 {
                    let count = Glibc.read(host.master.rawValue, &chunk, chunk.count)
                    if count > 0 { bytes += chunk[..<count] }
                }
            }
            return bytes.contains(wanted)
        }

        func type(_ text: String) {
            let data = Array(text.utf8)
            #expect(Glibc.write(host.master.rawValue, data, data.count) == data.count)
        }

        var isRaw: Bool { (try? host.lineSettings()).map { $0.c_lflag & tcflag_t(ICANON | ISIG) == 0 } ?? false }

        /// The proxy's pid, from the inner program's `PROXY=$PPID`.
        func proxyPID() -> pid_t? {
            guard read(until: "PROXY=") else { return nil }
            let line = text.split(whereSeparator: \.isNewline).first { $0.hasPrefix("PROXY=") }
            return line.flatMap { pid_t($0.dropFirst(6).prefix(while: \.isNumber)) }
        }
    }

    /// The shell: `/bin/sh` with job control, session leader of the pty.
    private func startShell(_ script: String, on screen: Screen, inner: String, extra: [String] = []) throws -> HostedProcess {
        let slave = open(screen.host.slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(slave >= 0)
        defer { close(slave) }
        return HostedProcess(["/usr/bin/setsid", "-c", "/bin/sh", "-c", "set -m; " + script,
                              ProxyBinary.path, uniqueID("jobs"), inner] + extra, standardIO: slave)
    }

    private var canRun: Bool { access("/usr/bin/setsid", X_OK) == 0 }

    /// Stopped, then `fg`: the shell put cooked modes back meanwhile (as
    /// shells do), so the proxy must make the terminal raw again, and ^C
    /// must reach the inner program instead of hanging up the session.
    /// Three rounds.
    @Test func foregroundAgainAfterAStopIsRawAgain() throws {
        guard canRun else { print("skipped: no setsid(1)"); return }
        let screen = try Screen()
        let inner = #"trap 'echo GOT-INT' INT; echo PROXY=$PPID; while :; do sleep 0.1; done"#
        let shell = try startShell(#""$0" new "$1" 80 24 sh -c "$2"; for i in 0 1 2; do "#
                                   + #"stty sane; echo "SHELL-MODES-$i"; read go; fg %1; done; echo "FG-STATUS=$?""#,
                                   on: screen, inner: inner)
        let proxy = try #require(screen.proxyPID(), "screen: \(screen.text.debugDescription)")
        #expect(eventually { screen.isRaw }, "the proxy did not make the terminal raw")
        for round in 0..<3 {
            kill(proxy, SIGSTOP)
            #expect(screen.read(until: "SHELL-MODES-\(round)"), "round \(round): \(screen.text.debugDescription)")
            #expect(!screen.isRaw)
            screen.bytes = []
            screen.type("go\n")
            #expect(eventually { screen.isRaw }, "round \(round): the terminal stayed cooked after fg")
            screen.type("\u{3}")
            #expect(screen.read(until: "GOT-INT"), "round \(round): ^C did not reach the inner program: \(screen.text.debugDescription)")
            #expect(!screen.text.contains("FG-STATUS="), "round \(round): ^C ended the session: \(screen.text.debugDescription)")
        }
        kill(proxy, SIGTERM)
        #expect(screen.read(until: "FG-STATUS="))
        #expect(shell.waitForExit(timeoutMilliseconds: 10_000) == .exited(0))
    }

    /// Stopped, `bg`, and a line typed at the shell: the proxy in the
    /// background must neither read the terminal nor end the session; it
    /// is stopped by SIGTTIN, and after `fg` typing reaches the inner
    /// program. Three rounds.
    @Test func aBackgroundProxyNeitherReadsNorEndsTheSession() throws {
        guard canRun else { print("skipped: no setsid(1)"); return }
        let screen = try Screen()
        let inner = #"echo PROXY=$PPID; while IFS= read -r x; do echo "GOT-LINE=$x"; done; echo INNER-EOF"#
        // The shell leaves the typed line unread until the test has seen
        // the proxy stopped, so the background proxy surely tries to read it.
        let flag = TestEnvironment.runtimeDirectory + "/" + uniqueID("flag")
        defer { for round in 0..<3 { unlink(flag + ".\(round)") } }
        let shell = try startShell(#""$0" new "$1" 80 24 sh -c "$2"; for i in 0 1 2; do bg %1; echo "BG-DONE-$i"; "#
                                   + #"while [ ! -e "$3.$i" ]; do sleep 0.05; done; read line; echo "OUTER-READ-$i=$line"; "#
                                   + #"read go; fg %1; done; echo "FG-STATUS=$?""#, on: screen, inner: inner, extra: [flag])
        let proxy = try #require(screen.proxyPID(), "screen: \(screen.text.debugDescription)")
        #expect(eventually { screen.isRaw }, "the proxy did not make the terminal raw")
        for round in 0..<3 {
            kill(proxy, SIGSTOP)
            #expect(screen.read(until: "BG-DONE-\(round)"), "round \(round): \(screen.text.debugDescription)")
            screen.type("outer-\(round)\n")
            #expect(eventually(timeoutMilliseconds: 10_000) { ProcessProbe.stateAndParent(proxy)?.0 == "T" },
                    "round \(round): the background proxy was not stopped: \(screen.text.debugDescription)")
            close(open(flag + ".\(round)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o600))
            #expect(screen.read(until: "OUTER-READ-\(round)=outer-\(round)"), "round \(round): \(screen.text.debugDescription)")
            #expect(!screen.text.contains("INNER-EOF"), "round \(round): the background proxy ended the input: \(screen.text.debugDescription)")
            screen.type("go\n")
            #expect(eventually { ProcessProbe.stateAndParent(proxy)?.0 != "T" })
            screen.type("typed-\(round)\r")
            #expect(screen.read(until: "GOT-LINE=typed-\(round)"), "round \(round): typing after fg was lost: \(screen.text.debugDescription)")
        }
        kill(proxy, SIGTERM)
        #expect(screen.read(until: "FG-STATUS="))
        #expect(shell.waitForExit(timeoutMilliseconds: 10_000) == .exited(0))
        #expect(!screen.text.contains("INNER-EOF"))
    }
}
