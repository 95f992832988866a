// SPDX-License-Identifier: MIT
import Glibc
import Testing
import SystemPackage
@testable import PTYProxy

/// A person running ptyproxy by hand: stdin and stdout are a terminal.
@Suite struct HostTerminalTests {
    @Test func hostTerminalIsRawWhileRunningRestoredAfterAndItsSizeIsFollowed() throws {
        let host = try PseudoTerminal(size: WindowSize(columns: 100, rows: 30))
        defer { host.close() }
        let slave = open(host.slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        #expect(slave >= 0)
        let id = uniqueID("tty")
        let proxy = HostedProcess([ProxyBinary.path, "new", id, "80", "24", "sh", "-c",
                                   "stty size; read line; stty size; echo got=$line"],
                                  standardIO: slave)
        close(slave)
        let screen = HostScreen(master: host.master)
        func readHost(until text: String) -> Bool {
            screen.read(until: text, timeoutMilliseconds: 5000)
        }
        // The host's size wins over the arguments.
        #expect(readHost(until: "30 100"))
        #expect(try host.lineSettings().c_lflag & tcflag_t(ICANON) == 0, "host terminal not in raw mode")

        try host.resize(to: WindowSize(columns: 120, rows: 40))
        kill(proxy.pid, SIGWINCH)  // the kernel signals only the host's own session
        #expect(eventually { controlStatus(id).contains("\"cols\":120,\"rows\":40") })
        // Raw mode: the Enter key arrives as CR and the child's pty turns it into NL.
        _ = "typed\r".withCString { Glibc.write(host.master.rawValue, $0, 6) }
        #expect(readHost(until: "got=typed"))
        #expect(screen.text.contains("40 120"))
        #expect(proxy.waitForExit(timeoutMilliseconds: 5000) == .exited(0))
        #expect(try host.lineSettings().c_lflag & tcflag_t(ICANON) != 0, "host terminal not restored")
    }
}
