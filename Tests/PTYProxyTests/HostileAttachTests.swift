// SPDX-License-Identifier: MIT
import Glibc
import Testing
import SystemPackage
import CPTYShim
@testable import PTYProxy

/// What a same-user client can pass with `attach` (SCM_RIGHTS), and an
/// attach that races the session's end, end to end with the real binary:
/// a descriptor the session cannot take is refused with one line, none
/// stays open in the server, the session goes on for the next host, and
/// a late attach gets the program's status.
@Suite(.serialized) struct HostileAttachTests {
    typealias Keep = KeepAttachTests

    /// Sends `line` with `descriptors` on a new control connection; the
    /// connection (an accepted attach keeps it) and the reply line. The
    /// descriptors are looked at before whether the session is attached
    /// already: a plain `attach` to a session whose host stays is enough
    /// to see them refused.
    static func attachRaw(_ id: String, _ descriptors: [CInt],
                          line: String = "attach") throws -> (ControlConnection, String) {
        let connection = try #require(ControlConnection(id))
        let bytes = Array((line + "\n").utf8)
        var sent = 0
        let result = bytes.withUnsafeBytes { raw in
            ptyshim_send_with_fds(connection.socket.rawValue, raw.baseAddress, raw.count,
                                  descriptors, CInt(descriptors.count), &sent)
        }
        try #require(result == 0)
        return (connection, connection.readLines(1).first ?? "")
    }

    static func pids(_ id: String) throws -> (server: pid_t, child: pid_t) {
        let json = try #require(Keep.status(id))
        let server = try #require(Keep.field("pid", in: json))
        let child = try #require(Keep.field("child_pid", in: json))
        return (pid_t(server), pid_t(child))
    }

    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The server's pty master, taken from it with pidfd_getfd(2) (as any
    /// process of the user may, where ptrace rules allow); nil if refused.
    static func serversMaster(_ server: pid_t) -> CInt? {
        guard let directory = opendir("/proc/\(server)/fd") else { return nil }
        defer { closedir(directory) }
        var number: CInt?
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if let fd = CInt(name), link("/proc/\(server)/fd/\(name)")?.hasSuffix("ptmx") == true { number = fd }
        }
        var pidfd: CInt = -1
        guard let number, ptyshim_pidfd_open(server, &pidfd) == 0 else { return nil }
        defer { close(pidfd) }
        typealias GetFD = @convention(c) (CInt, CInt, CUnsignedInt) -> CInt
        guard let getfd: GetFD = Self.libc("pidfd_getfd") else { return nil }
        let taken = getfd(pidfd, number, 0)
        return taken >= 0 ? taken : nil
    }

    /// A C function of the C library that Swift's Glibc module does not
    /// show (eventfd, epoll_create1, pidfd_getfd).
    static func libc<Function>(_ name: String) -> Function? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
    }

    static func contents(of path: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let file = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(file) }
        let count = read(file, &bytes, bytes.count)
        return String(decoding: bytes[..<max(0, count)], as: UTF8.self)
    }

    static func bytesOut(_ id: String) -> Int { Keep.status(id).flatMap { Keep.field("bytes_out", in: $0) } ?? -1 }

    /// The session's own pty as the host's stdin or stdout would make it
    /// read back what it writes: output written to the slave comes back
    /// from the master (growing by a CR per round under ONLCR), input read
    /// from it is typed again. Refused.
    @Test func theSessionsOwnTerminalIsRefused() throws {
        let id = uniqueID("hostile-pty")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = Keep.keptCat(id)
        let (server, child) = try Self.pids(id)
        Keep.killHostUntilDetached(front, id)
        let baseline = Keep.openDescriptors(server)
        let slavePath = try #require(Self.link("/proc/\(child)/fd/0"))
        let slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(slave >= 0)
        defer { close(slave) }
        var typing: [CInt] = [-1, -1], output: [CInt] = [-1, -1]
        try #require(pipe(&typing) == 0 && pipe(&output) == 0)
        defer { close(typing[0]); close(typing[1]); close(output[0]); close(output[1]) }
        var cases: [(String, [CInt])] = [("slave as stdout", [typing[0], slave]), ("slave as stdin", [slave, output[1]])]
        let master = Self.serversMaster(server)
        defer { if let master { close(master) } }
        if let master { cases += [("master as stdout", [typing[0], master]), ("master as stdin", [master, output[1]])] }
        let before = Self.bytesOut(id)
        for (name, descriptors) in cases {
            let (connection, reply) = try Self.attachRaw(id, descriptors, line: "attach force")
            #expect(reply.hasPrefix("error ") && reply.contains("own terminal"), "\(name): \(reply)")
            _ = write(typing[1], "x\n", 2)  // something to loop, were it taken
            usleep(100_000)  // time for a loop to show, were there one
            withExtendedLifetime(connection) {}
        }
        #expect(eventually { Keep.isDetached(id) })
        #expect(Self.bytesOut(id) - before < 4096, "no loop: \(Self.bytesOut(id) - before) bytes out")
        #expect(eventually { Keep.openDescriptors(server) <= baseline }, "no passed descriptor stays open")
        Keep.expectEchoThenEnd(HostedProcess(proxy: ["attach", id]), "still")
    }

    /// A socket connected to the session's own control socket as stdout
    /// would run the program's output as control requests (a `resize` or
    /// `signal KILL` that the program prints, or that is typed and echoed).
    /// Refused, as stdin too.
    @Test func aSocketToTheSessionItselfIsRefused() throws {
        let id = uniqueID("hostile-self")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = Keep.keptCat(id)
        let (server, _) = try Self.pids(id)
        Keep.killHostUntilDetached(front, id)
        var typing: [CInt] = [-1, -1], output: [CInt] = [-1, -1]
        try #require(pipe(&typing) == 0 && pipe(&output) == 0)
        defer { close(typing[0]); close(typing[1]); close(output[0]); close(output[1]) }
        let other = try #require(ControlConnection(id))
        let baseline = Keep.openDescriptors(server)
        for (name, descriptors) in [("stdout", [typing[0], other.socket.rawValue]), ("stdin", [other.socket.rawValue, output[1]])] {
            let (connection, reply) = try Self.attachRaw(id, descriptors, line: "attach force")
            #expect(reply.hasPrefix("error ") && reply.contains("control socket"), "\(name): \(reply)")
            _ = write(typing[1], "resize 33 11\n", 13)  // echoed by the terminal, then by cat
            usleep(200_000)  // time for the echo to be run as a request, were it
            withExtendedLifetime(connection) {}
        }
        #expect(Keep.status(id).flatMap { Keep.field("cols", in: $0) } == 80, "the echo ran as no request")
        #expect(eventually { Keep.isDetached(id) && Keep.openDescriptors(server) <= baseline })
        Keep.expectEchoThenEnd(HostedProcess(proxy: ["attach", id]), "still")
    }

    /// An eventfd as stdout wedges the output path: poll says writable,
    /// but an 8-byte write that would overflow its counter blocks, so
    /// neither `attach --force` nor `signal KILL` could end the session.
    /// Descriptors that are no pipe, socket, terminal or file (eventfd,
    /// epoll, timerfd, signalfd, pidfd) are refused both ways.
    @Test func descriptorsThatAreNoStreamAreRefused() throws {
        let id = uniqueID("hostile-anon")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = Keep.keptCat(id)
        let (server, _) = try Self.pids(id)
        var ends: [CInt] = [-1, -1]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        typealias MakeEvent = @convention(c) (CUnsignedInt, CInt) -> CInt
        typealias MakePoller = @convention(c) (CInt) -> CInt
        let makeEvent: MakeEvent = try #require(Self.libc("eventfd"))
        let makePoller: MakePoller = try #require(Self.libc("epoll_create1"))
        let event = makeEvent(0, O_CLOEXEC), poller = makePoller(O_CLOEXEC)  // EFD_, EPOLL_CLOEXEC are O_CLOEXEC
        var pidfd: CInt = -1
        try #require(event >= 0 && poller >= 0 && ptyshim_pidfd_open(getpid(), &pidfd) == 0)
        defer { close(event); close(poller); close(pidfd) }
        let baseline = Keep.openDescriptors(server)
        let cases: [(String, [CInt])] = [
            ("eventfd as stdout", [ends[0], event]), ("eventfd as stdin", [event, ends[1]]),
            ("epoll as stdin", [poller, ends[1]]), ("pidfd as stdin", [pidfd, ends[1]]),
        ]
        for (name, descriptors) in cases {
            let (_, reply) = try Self.attachRaw(id, descriptors)
            #expect(reply.hasPrefix("error ") && reply.contains("no pipe, socket, terminal or file"), "\(name): \(reply)")
        }
        #expect(eventually { Keep.openDescriptors(server) <= baseline })
        let taker = HostedProcess(proxy: ["attach", "--force", id])
        #expect(front.finish() == .exited(3))
        taker.write("mine\n")
        #expect(taker.read(untilContains: "mine\r\nmine"))
        _ = runTool(["signal", id, "KILL"])
        #expect(taker.finish() == .exited(137))
    }

    /// The threads of `server` inside read(2) (syscall 0), by thread ID.
    static func threadsInRead(_ server: pid_t) -> [String] {
        guard let directory = opendir("/proc/\(server)/task") else { return [] }
        defer { closedir(directory) }
        var found: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name.first != "." else { continue }
            if contents(of: "/proc/\(server)/task/\(name)/syscall").hasPrefix("0 ") { found.append(name) }
        }
        return found
    }

    /// A host's stdin that another process reads too (a terminal its shell
    /// also reads, a shared pipe): poll says readable, the other reader
    /// takes the bytes, and a blocking read(2) would keep the session's
    /// input thread on that old stdin, so the next host's typing would
    /// not arrive until the old stdin had more. The session reads a
    /// description of its own, non-blocking.
    @Test func aStdinSharedWithAnotherReaderDoesNotHoldTheNextHost() throws {
        let id = uniqueID("hostile-shared")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = Keep.keptCat(id)
        let (server, _) = try Self.pids(id)
        Keep.killHostUntilDetached(front, id)
        let terminal = try PseudoTerminal(size: WindowSize(columns: 80, rows: 24))
        defer { terminal.close() }
        let slave = open(terminal.slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(slave >= 0)
        defer { close(slave) }
        var raw = termios()
        tcgetattr(slave, &raw)
        ptyshim_make_raw(&raw)
        tcsetattr(slave, TCSANOW, &raw)  // each byte readable on its own
        var output: [CInt] = [-1, -1]
        try #require(pipe(&output) == 0)
        defer { close(output[0]); close(output[1]) }
        let (old, reply) = try Self.attachRaw(id, [slave, output[1]], line: "attach force")
        #expect(reply.hasPrefix("ok attached"))
        // The other reader: a cat on the same terminal, taking what it can.
        let thief = HostedProcess(["/bin/sh", "-c", "exec cat >/dev/null"], standardInput: terminal.slavePath)
        var stuck: [String] = []
        for _ in 0..<300 where stuck.isEmpty {
            _ = write(terminal.master.rawValue, "x", 1)
            usleep(1000)
            let inRead = Self.threadsInRead(server)
            guard !inRead.isEmpty else { continue }
            // A read may sleep a moment on a lock of the terminal's (the
            // thief holds one while it reads): only one still asleep after
            // 200 ms with nothing typed is held by the old stdin.
            usleep(200_000)
            stuck = Set(inRead).intersection(Self.threadsInRead(server)).sorted()
        }
        #expect(stuck.isEmpty, "threads of the server inside read(2): \(stuck)")
        let next = HostedProcess(proxy: ["attach", "--force", id])
        #expect(old.readLines(1).first == "detached another host attached")
        next.write("\u{15}mine\n")  // ^U: the x typed through the old host are no part of the line
        #expect(next.read(untilContains: "mine\r\nmine", timeoutMilliseconds: 5000),
                "the next host's typing arrives: \(next.outputText.suffix(80).debugDescription)")
        _ = write(terminal.master.rawValue, "y", 1)  // what would free a stuck read, for the clean-up
        kill(thief.pid, SIGKILL)
        next.closeInput()
        #expect(next.finish() == .exited(0))
    }

    /// Odd stdouts and stdins that a session can take: each attach is
    /// accepted, the session goes on (status answers), no descriptor stays
    /// in the server after the detach, and the next host gets the output.
    /// The passed pipe's file status flags are what they were.
    @Test func oddButUsableDescriptorsLeaveTheSessionWhole() throws {
        let id = uniqueID("hostile-odd")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "sh", "-c",
                                          "echo READY; while read -r l; do echo \"got:$l\"; done"])
        #expect(front.read(untilContains: "READY"))
        let (server, _) = try Self.pids(id)
        Keep.killHostUntilDetached(front, id)
        let baseline = Keep.openDescriptors(server)
        let file = TestEnvironment.runtimeDirectory + "/\(id).out"
        defer { unlink(file) }
        var closedReader: [CInt] = [-1, -1]
        try #require(pipe(&closedReader) == 0)
        close(closedReader[0])
        defer { close(closedReader[1]) }
        let listener = socket(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        #expect(withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(listener, $0, socklen_t(MemoryLayout<sa_family_t>.size)) } } == 0)  // an autobound name
        #expect(listen(listener, 1) == 0)
        var blocking: [CInt] = [-1, -1]
        try #require(pipe(&blocking) == 0)
        defer { close(blocking[0]); close(blocking[1]) }
        let appended = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let stdouts: [(String, CInt)] = [
            ("/dev/null", open("/dev/null", O_WRONLY | O_CLOEXEC)), ("/dev/full", open("/dev/full", O_WRONLY | O_CLOEXEC)),
            ("an appended file", appended),
            ("a pipe nobody reads any more", closedReader[1]), ("a listening socket", listener),
            ("a blocking pipe", blocking[1]),
        ]
        let failing = [stdouts[1].1, closedReader[1], listener]
        let flagsBefore = fcntl(blocking[1], F_GETFL)
        for (round, (name, output)) in stdouts.enumerated() {
            var typing: [CInt] = [-1, -1]
            try #require(pipe(&typing) == 0)
            do {
                // The client goes (its connection is closed) before its
                // stdin ends: that end alone would be the user's ^D.
                let (connection, reply) = try Self.attachRaw(id, [typing[0], output], line: "attach force")
                #expect(reply.hasPrefix("ok attached"), "\(name): \(reply)")
                let typed = Keep.status(id).flatMap { Keep.field("bytes_in", in: $0) } ?? 0
                _ = write(typing[1], "w\(round)\n", 3 + String(round).count)
                if failing.contains(output) {
                    // The first write fails (the replay's, or the echo's):
                    // the session detaches this host itself, while its
                    // client is still connected.
                    #expect(eventually { Keep.isDetached(id) }, "\(name)")
                } else {
                    #expect(eventually { (Keep.status(id).flatMap { Keep.field("bytes_in", in: $0) } ?? 0) > typed }, "\(name)")
                }
                if output == appended { #expect(eventually { Self.contents(of: file).contains("got:w\(round)") }) }
                withExtendedLifetime(connection) {}
            }
            #expect(eventually { Keep.isDetached(id) }, "\(name): detached once the client is gone")
            close(typing[0]); close(typing[1])
        }
        #expect(fcntl(blocking[1], F_GETFL) == flagsBefore, "the host's description keeps its flags")
        // An endless typist: /dev/zero as stdin, taken over by the next host.
        let zero = open("/dev/zero", O_RDONLY | O_CLOEXEC), null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        let (typist, reply) = try Self.attachRaw(id, [zero, null], line: "attach force")
        #expect(reply.hasPrefix("ok attached"))
        #expect(eventually { (Keep.status(id).flatMap { Keep.field("bytes_in", in: $0) } ?? 0) > 1 << 16 })
        close(zero)
        for (_, output) in stdouts where output != closedReader[1] && output != listener && output != blocking[1] {
            close(output)
        }
        let next = HostedProcess(proxy: ["attach", "--force", id])
        #expect(typist.readLines(1).first == "detached another host attached")
        next.write("\u{15}next\n")  // ^U: the NULs typed so far are not part of the line
        #expect(next.read(untilContains: "got:"), "\(next.outputText.debugDescription)")
        #expect(next.read(untilContains: "next\r\n"))
        kill(next.pid, SIGKILL)
        _ = next.waitForExit(timeoutMilliseconds: 5000)
        #expect(eventually { Keep.isDetached(id) && Keep.openDescriptors(server) <= baseline },
                "no descriptor stays: \(Keep.openDescriptors(server)) against \(baseline)")
    }

    /// Descriptors that come with any request but `attach` (status, ping,
    /// resize, an unknown verb, a bad size), or more than fit the server's
    /// control buffer (a cut message, MSG_CTRUNC), are all closed: the
    /// server's descriptor count returns to its baseline.
    @Test func descriptorsWithOtherRequestsAreClosed() throws {
        let id = uniqueID("hostile-other")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = Keep.keptCat(id)
        let (server, _) = try Self.pids(id)
        let baseline = Keep.openDescriptors(server)
        var ends: [CInt] = [-1, -1]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let requests: [(String, [CInt], String)] = [
            ("status", [ends[0], ends[1]], "ok {"), ("ping", [ends[0], ends[1]], "ok pong"),
            ("resize 90 30", [ends[0], ends[1]], "ok 90 30"), ("bogus", [ends[0], ends[1]], "error unknown"),
            ("attach 0 0", [ends[0], ends[1]], "error size"),
            ("attach force", Array(repeating: ends[0], count: 4), "error attach takes exactly two"),
        ]
        for (line, descriptors, expected) in requests {
            let (_, reply) = try Self.attachRaw(id, descriptors, line: line)
            #expect(reply.hasPrefix(expected), "\(line): \(reply)")
        }
        do {
            // 200 descriptors: more than the server's control buffer takes.
            let connection = try #require(ControlConnection(id))
            let many = Array(repeating: ends[0], count: 200)
            #expect(Self.sendWithManyDescriptors(connection, "attach force\n", many) == 0)
            #expect(connection.readLines(1).first?.hasPrefix("error attach takes exactly two") == true)
            #expect(eventually { Keep.openDescriptors(server) <= baseline + 1 }, "the connection's socket only")
        }
        #expect(eventually { Keep.openDescriptors(server) <= baseline })
        Keep.expectEchoThenEnd(front, "still")
    }

    /// sendmsg(2) with any number of descriptors (the shim sends at most 4).
    static func sendWithManyDescriptors(_ connection: ControlConnection, _ line: String, _ descriptors: [CInt]) -> CInt {
        var bytes = Array(line.utf8)
        let space = MemoryLayout<cmsghdr>.stride + descriptors.count * MemoryLayout<CInt>.stride + 8
        var control = [UInt8](repeating: 0, count: space)
        return bytes.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { raw in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    let header = raw.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                    header.pointee.cmsg_level = SOL_SOCKET
                    header.pointee.cmsg_type = CInt(SCM_RIGHTS)
                    header.pointee.cmsg_len = MemoryLayout<cmsghdr>.stride + descriptors.count * MemoryLayout<CInt>.stride
                    let payload = raw.baseAddress! + MemoryLayout<cmsghdr>.stride
                    descriptors.withUnsafeBytes { payload.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    var message = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: vectorPointer, msg_iovlen: 1,
                                         msg_control: raw.baseAddress, msg_controllen: header.pointee.cmsg_len, msg_flags: 0)
                    return sendmsg(connection.socket.rawValue, &message, CInt(MSG_NOSIGNAL)) >= 0 ? 0 : errno
                }
            }
        }
    }

    /// Two `attach --force` at once, many times: one host ends up
    /// attached and works, the other is told it was detached (3).
    @Test func forceRacingForceLeavesOneHost() throws {
        let id = uniqueID("hostile-race")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = Keep.keptCat(id)
        let (server, _) = try Self.pids(id)
        Keep.killHostUntilDetached(front, id)
        let baseline = Keep.openDescriptors(server)
        for round in 0..<12 {
            let hosts = [HostedProcess(proxy: ["attach", "--force", id]), HostedProcess(proxy: ["attach", "--force", id])]
            var loser: Int?
            #expect(eventually(timeoutMilliseconds: 10_000) {
                loser = hosts.indices.first { hosts[$0].waitForExit(timeoutMilliseconds: 0) != nil }
                return loser != nil
            }, "round \(round): one of the two is detached")
            guard let loser else { continue }
            #expect(hosts[loser].finish() == .exited(3), "round \(round): \(hosts[loser].errorText)")
            let winner = hosts[1 - loser]
            winner.write("r\(round)\n")
            #expect(winner.read(untilContains: "r\(round)\r\nr\(round)"), "round \(round): the other one is the host")
            kill(winner.pid, SIGKILL)
            _ = winner.waitForExit(timeoutMilliseconds: 5000)
            #expect(eventually { Keep.isDetached(id) })
        }
        #expect(eventually { Keep.openDescriptors(server) <= baseline })
    }

    /// `--keep-buffer` and `attach` sizes out of range, and a ring larger
    /// than the address space allows: one line, 125, nothing left behind.
    @Test func keepBufferAndSizeExtremesAreOneLine() throws {
        for value in ["0", "1", "-1", "4095", "1073741825", "9223372036854775808", "1e9", "1k", ""] {
            let id = uniqueID("hostile-buffer")
            let tool = runTool(["new", "--keep", "--keep-buffer", value, id, "80", "24", "true"])
            #expect(tool.status == .exited(125) && tool.errorLines.count == 1, "\(value): \(tool.errorText)")
            #expect(!Keep.socketFileExists(id))
        }
        if builtWithSanitizer {
            print("keepBufferAndSizeExtremesAreOneLine: the address-space case skipped: \(sanitizerReason)")
        } else {
            let id = uniqueID("hostile-as")
            let limited = HostedProcess(["/bin/sh", "-c", "ulimit -v 400000; exec \"$0\" new --keep --keep-buffer 1073741824 \(id) 80 24 true",
                                         ProxyBinary.path])
            limited.closeInput()
            #expect(limited.finish() == .exited(125))
            #expect(limited.errorLines.count == 1 && limited.errorText.contains("kept output"), "\(limited.errorText)")
            #expect(!Keep.socketFileExists(id))
        }
        for size in [["0", "24"], ["80", "65536"], ["-1", "5"], ["80"]] {
            let tool = runTool(["attach", uniqueID("hostile-size")] + size)
            #expect(tool.status == .exited(125) && tool.errorLines.count == 1, "\(size): \(tool.errorText)")
        }
    }

    /// The kept server is forked from `new --keep`; the thread fork copied
    /// keeps its parent's thread ID in the Swift runtime's per-thread
    /// cache, so a runtime lock it held while another thread waited named
    /// a thread of another process: ESRCH for the waiter, EPERM for the
    /// holder's unlock, both spinning for ever (a server at 200 % CPU that
    /// answered nothing, once in about 200 short sessions raced by an
    /// attach). The server's Swift code runs on a thread made after the
    /// fork; the copied one only waits (futex), every signal blocked.
    @Test func theServersForkedThreadRunsNoSwift() throws {
        let id = uniqueID("hostile-fork")
        defer { _ = runTool(["signal", id, "KILL"]) }
        let front = Keep.keptCat(id)
        let (server, _) = try Self.pids(id)
        let call = Self.contents(of: "/proc/\(server)/task/\(server)/syscall").prefix { $0 != " " }
        #expect(call == "202", "the forked thread waits in futex(2), it does not serve: syscall \(call)")
        let status = Self.contents(of: "/proc/\(server)/task/\(server)/status")
        let blocked = status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") }
            .flatMap { UInt64(String($0.dropFirst(7).filter { !$0.isWhitespace }), radix: 16) } ?? 0
        for signal in [SIGTERM, SIGHUP, SIGINT, SIGCHLD, SIGWINCH] {
            #expect(blocked & (1 << UInt64(signal - 1)) != 0, "signal \(signal) is blocked there")
        }
        Keep.expectEchoThenEnd(front, "served")
    }

    /// `attach` while the program exits: the answer is the program's
    /// status (5) while the server still answers, else "no session" (4);
    /// never 1 with a misleading line, never a hang. Racy by nature: many
    /// rounds, at delays around the moment of the exit.
    @Test func attachRacingTheProgramsExitGetsItsStatus() throws {
        for round in 0..<24 {
            let id = uniqueID("hostile-end")
            let delays = ["0", "0.001", "0.003", "0.01", "0.02", "0.05"]
            let front = HostedProcess(proxy: ["new", "--keep", id, "80", "24", "sh", "-c",
                                              "echo READY; sleep \(delays[round % delays.count]); exit 5"])
            #expect(front.read(untilContains: "READY"))
            let late = HostedProcess(proxy: ["attach", "--force", id])
            let status = late.finish(timeoutMilliseconds: 10_000)
            #expect(status == .exited(5) || status == .exited(4), "round \(round): \(String(describing: status)) \(late.errorText)")
            if status == .exited(4) { #expect(late.errorText.contains("no session"), "\(late.errorText)") }
            #expect(late.errorLines.count <= 1)
            let frontStatus = front.finish(timeoutMilliseconds: 10_000)
            #expect(frontStatus == .exited(5) || frontStatus == .exited(3),
                    "round \(round): front \(String(describing: frontStatus)) \(front.errorText)")
            _ = runTool(["signal", id, "KILL"])
        }
    }

    /// The server's side of that race, without timing: once the session
    /// has ended, an attach is answered with the program's status.
    @Test func anAttachAfterTheEndIsAnsweredWithTheStatus() throws {
        let link = try HostLink(bufferBytes: 4096, firstHostWaitMilliseconds: 0)
        link.finish(exitCode: 5)
        var ends: [CInt] = [-1, -1], sockets: [CInt] = [-1, -1]
        try #require(pipe(&ends) == 0)
        try #require(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0, &sockets) == 0)
        defer { close(sockets[1]) }
        let host = Attachment(input: FileDescriptor(rawValue: ends[0]), output: FileDescriptor(rawValue: ends[1]),
                              socket: FileDescriptor(rawValue: sockets[0]), reopening: false)
        #expect(link.attach(host, force: true, greeting: "ok") == .ended(5))
    }
}
