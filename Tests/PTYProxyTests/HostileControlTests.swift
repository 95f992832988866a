// SPDX-License-Identifier: MIT
//
// The control channel and its directory under attack (issue 9, findings 1,
// 2, 6-10, 12a-c): each test plays the hostile or careless party and checks
// the promise the README makes. Cross-user tests create a second user when
// run as root and are skipped, with the reason printed, otherwise.
import Glibc
import Testing
import Synchronization
import SystemPackage
@testable import PTYProxy

/// A throw-away local user, created with useradd and removed on deinit.
final class OtherUser {
    let name: String
    let uid: uid_t
    let gid: gid_t

    init?() {
        guard getuid() == 0 else { return nil }
        let name = "ptyx\(getpid())n\(otherUserCounter.add(1, ordering: .relaxed).newValue)"
        let made = HostedProcess(["/usr/sbin/useradd", "-M", "-N", "-d", "/nonexistent", "-s", "/bin/sh", name])
        guard made.finish() == .exited(0), let entry = getpwnam(name) else { return nil }
        self.name = name
        uid = entry.pointee.pw_uid
        gid = entry.pointee.pw_gid
    }

    deinit { _ = HostedProcess(["/usr/sbin/userdel", name]).finish() }

    /// `arguments` run as this user (setpriv: no setuid helper of our own).
    func command(_ arguments: [String]) -> [String] {
        ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups"] + arguments
    }
}

private let otherUserCounter = Atomic<Int>(0)

/// A scratch tree for one test: `base` (0711, so another user can reach
/// what is opened up below it), removed on deinit.
final class Scratch {
    let base: String

    init(_ prefix: String) {
        var template = Array("/tmp/ptyproxy-\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        base = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(base, 0o711)
    }

    deinit { _ = HostedProcess(["/bin/rm", "-rf", base]).finish() }

    /// Makes `base/name` with `mode` (chmod'ed, whatever the umask) and returns its path.
    @discardableResult
    func directory(_ name: String, mode: mode_t = 0o700) -> String {
        let path = base + "/" + name
        mkdir(path, 0o700)
        chmod(path, mode)
        return path
    }
}

/// Our environment without XDG_RUNTIME_DIR, with TMPDIR and HOME as given.
func environmentWithoutRuntimeDirectory(tmp: String?, home: String, _ extra: [String] = []) -> [String] {
    var result = TestEnvironment.variables().filter {
        !$0.hasPrefix("XDG_RUNTIME_DIR=") && !$0.hasPrefix("TMPDIR=") && !$0.hasPrefix("HOME=")
    }
    if let tmp { result.append("TMPDIR=\(tmp)") }
    result.append("HOME=\(home)")
    return result + extra
}

/// CPU time (user + system) of a process so far, in clock ticks.
func cpuTicks(_ pid: pid_t) -> Int? {
    guard let stat = ProcessProbe.contents("/proc/\(pid)/stat"),
          let paren = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
    let fields = String(decoding: stat[(paren + 2)...], as: UTF8.self).split(separator: " ")
    // Fields after the command: state is [0]; utime is field 14 of the line, [11] here.
    guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
    return user + system
}

/// Runs `ptyproxy ARGS` and returns it with how long it took (ms).
func timedTool(_ arguments: [String], environment: [String] = TestEnvironment.variables(),
               timeoutMilliseconds: Int64 = 20_000) -> (HostedProcess, Int64) {
    let start = now()
    let tool = HostedProcess(proxy: arguments, environment: environment)
    _ = tool.finish(timeoutMilliseconds: timeoutMilliseconds)
    return (tool, now() - start)
}

/// Reads the value printed as `NAME=value` on a line of `output`.
func printedValue(_ name: String, in output: String) -> String? {
    for line in output.split(whereSeparator: \.isNewline) where line.hasPrefix(name + "=") {
        return String(line.dropFirst(name.count + 1))
    }
    return nil
}

let rootOnly = "needs root to create a second user and play the attacker as that user"

@Suite(.serialized) struct HostileControlTests {
    // MARK: Finding 1: client-side trust of the directory

    @Test func squattedTemporaryDirectoryNeitherLocksOutNewNorReachesTheClients() throws {
        guard let attacker = OtherUser() else {
            print("skipped squattedTemporaryDirectory...: \(rootOnly)"); return
        }
        let scratch = Scratch("squat")
        let tmp = scratch.directory("tmp", mode: 0o1777)
        let home = scratch.directory("home")
        let squatted = "\(tmp)/ptyproxy-\(getuid())"
        // The attacker's fake session `x`: a socket answering an `ok` with
        // an escape sequence that would retitle the victim's terminal.
        let script = scratch.base + "/fake.sh"
        let text = """
            #!/bin/sh
            mkdir -m 777 "$1" || exit 1
            : > "$1/x.lock"; chmod 666 "$1/x.lock"
            exec /usr/bin/socat UNIX-LISTEN:"$1/x.sock",fork,mode=777 SYSTEM:'printf "ok \\033]0;pwned\\007\\n"'

            """
        let fd = open(script, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        chmod(script, 0o755)
        let fake = HostedProcess(attacker.command(["/bin/sh", script, squatted]))
        #expect(eventually { access("\(squatted)/x.sock", F_OK) == 0 })
        // (If the test stops early, HostedProcess's deinit kills it: only a
        // process not yet reaped may be signalled, or a reused pid is hit.)

        let environment = environmentWithoutRuntimeDirectory(tmp: tmp, home: home)
        // new still works: it falls back to a directory nobody else can pre-create.
        let real = uniqueID("real")
        let session = HostedProcess(proxy: ["new", real, "80", "24", "sh", "-c", "echo SOCK=$PTYPROXY_SOCKET; exec cat"],
                                    environment: environment)
        #expect(session.read(untilContains: "SOCK="))
        #expect(printedValue("SOCK", in: session.outputText) == "\(home)/.cache/ptyproxy/\(real).sock",
                "\(session.outputText) \(session.errorText)")
        let status = runTool(["status", real], environment: environment)
        #expect(status.status == .exited(0))
        #expect(status.outputText.contains("\"id\":\"\(real)\""))

        // The clients never talk to the squatter's socket, and print none of its bytes.
        for arguments in [["status", "x"], ["resize", "x", "100", "30"], ["signal", "x", "INT"]] {
            let tool = runTool(arguments, environment: environment)
            #expect(tool.status != .exited(0), "\(arguments)")
            #expect(tool.output.isEmpty, "\(arguments): \(tool.outputText)")
            #expect(tool.errorLines.count == 1, "\(arguments): \(tool.errorText)")
            #expect(!tool.errors.contains(0x1b) && !tool.errorText.contains("pwned"), "\(arguments): \(tool.errorText)")
        }
        let list = runTool(["list"], environment: environment)
        #expect(list.outputText.contains("\(real)\t{"))
        #expect(!list.output.contains(0x1b) && !list.outputText.contains("pwned") && !list.errorText.contains("pwned"))
        // Once the squatter is gone, `new` would use the preferred directory
        // again; an ID live in the fallback one is still refused.
        kill(fake.pid, SIGKILL)
        _ = fake.finish(timeoutMilliseconds: 5000)
        #expect(HostedProcess(attacker.command(["/bin/rm", "-rf", squatted])).finish() == .exited(0))
        let again = runTool(["new", real, "80", "24", "true"], environment: environment)
        #expect(again.status == .exited(125) && again.errorText.contains("already running"), "\(again.errorText)")
        session.closeInput()
        #expect(session.finish() == .exited(0))
    }

    @Test func listThroughASymlinkedDirectoryDeletesNothing() throws {
        let scratch = Scratch("symlink")
        let tmp = scratch.directory("tmp", mode: 0o1777)
        let home = scratch.directory("home")
        // One of the victim's own directories, with files named like sockets.
        let precious = scratch.directory("precious")
        for name in ["a.sock", "b.sock"] {
            let fd = open("\(precious)/\(name)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            close(fd)
        }
        // A real (not listening) socket too: the old client unlinked those as well.
        let socket = try UnixSocket.make()
        try UnixSocket.bind(socket, to: "\(precious)/c.sock")
        socket.closeQuietly()
        symlink(precious, "\(tmp)/ptyproxy-\(getuid())")
        let environment = environmentWithoutRuntimeDirectory(tmp: tmp, home: home)
        let list = runTool(["list"], environment: environment)
        for name in ["a.sock", "b.sock", "c.sock"] {
            #expect(access("\(precious)/\(name)", F_OK) == 0, "list deleted \(name)")
        }
        #expect(list.errorLines.count == 1, "\(list.errorText)")
        #expect(list.errorText.contains("not a directory"), "\(list.errorText)")
        let status = runTool(["status", "a"], environment: environment)
        #expect(status.status != .exited(0))
        #expect(access("\(precious)/a.sock", F_OK) == 0)
    }

    @Test func repliesArePrintedEscaped() {
        #expect(ControlReply.parse(Array("ok \u{1b}]0;pwned\u{7}".utf8)) == .ok("\\x1b]0;pwned\\x07"))
        #expect(ControlReply.parse(Array("error no\u{9b}31m way".utf8)) == .error("no\\xc2\\x9b31m way"))
        #expect(ControlReply.parse([UInt8]("ok caf\u{e9} ".utf8) + [0xff, 0x0d]) == .ok("caf\u{e9} \\xff"))
        #expect(ControlReply.parse(Array("ok".utf8)) == .ok(""))
        #expect(ControlReply.parse(Array("okay".utf8)) == .unexpected("okay"))
        if case .unexpected(let quoted) = ControlReply.parse(Array(repeating: UInt8(ascii: "z"), count: 500)) {
            #expect(quoted.count < 100)
        } else {
            Issue.record("a long unknown reply is not unexpected")
        }
    }

    @Test func theReplyFuzzCorpusParsesToPrintableText() {
        let corpus = ReliabilityTests.corpus("reply")
        #expect(corpus.count >= 10)
        for input in corpus {
            let text: String
            switch ControlReply.parse(input) {
            case .ok(let body): text = body
            case .error(let reason): text = reason
            case .unexpected(let quoted): text = quoted
            }
            #expect(text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f && !(0x80...0x9f).contains($0.value) },
                    "\(input.prefix(20))")
        }
    }

    // MARK: Finding 2: bounded waits

    @Test func aStoppedProxyWithAFullBacklogHangsNoClient() throws {
        // A runtime directory of its own: other suites' `list` must not meet the stopped proxy.
        let (environment, _, directory) = TestEnvironment.privateRuntime("stopped")
        let id = uniqueID("stopped")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"], environment: environment)
        #expect(eventually { ControlConnection(id, directory: directory)?.request("ping") == "ok pong" })
        kill(proxy.pid, SIGSTOP)
        defer { if proxy.status == nil { kill(proxy.pid, SIGCONT) } }  // never a reaped, maybe reused, pid
        let path = SessionDirectory.socketPath(directory: directory, id: id)
        var fillers: [FileDescriptor] = []
        defer { for filler in fillers { filler.closeQuietly() } }
        while fillers.count < 1000 {
            let filler = try UnixSocket.make(nonblocking: true)
            do {
                try UnixSocket.connect(filler, to: ByteString(path))
                fillers.append(filler)
            } catch {
                filler.closeQuietly()
                break
            }
        }
        #expect(fillers.count >= 10 && fillers.count < 1000, "\(fillers.count) connections filled the backlog")
        let (status, statusTime) = timedTool(["status", id], environment: environment)
        #expect(status.status == .exited(1) && statusTime < 8000, "status: \(String(describing: status.status)) after \(statusTime) ms")
        #expect(status.errorLines.count == 1)
        let (list, listTime) = timedTool(["list"], environment: environment)
        #expect(list.status == .exited(0) && listTime < 5000, "list after \(listTime) ms")
        let (duplicate, newTime) = timedTool(["new", id, "80", "24", "true"], environment: environment)
        #expect(duplicate.status == .exited(125) && newTime < 3000, "new after \(newTime) ms")
        #expect(duplicate.errorText.contains("already running"))
        kill(proxy.pid, SIGCONT)
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    // MARK: Finding 6: control denial of service

    @Test func slowLorisClientsHoldNoSlotAndEachLineHasAnAbsoluteDeadline() throws {
        // A runtime directory of its own: no other suite's client may take a slot here.
        let (environment, _, directory) = TestEnvironment.privateRuntime("loris")
        let id = uniqueID("loris")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"], environment: environment)
        #expect(eventually { ControlConnection(id, directory: directory)?.request("ping") == "ok pong" })
        let lorises = (0..<ControlServer.maximumClients).compactMap { _ in ControlConnection(id, directory: directory) }
        #expect(lorises.count == ControlServer.maximumClients)
        let descriptors = lorises.map(\.socket.rawValue)
        let started = now()
        // One byte every 300 ms, never a newline.
        let dripper = try IOThread {
            while now() - started < 7000 {
                for fd in descriptors { _ = Glibc.send(fd, "r", 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                usleep(300_000)
            }
        }
        usleep(1_500_000)
        for round in 0..<5 {
            let (resize, elapsed) = timedTool(["resize", id, "\(70 + round)", "20"], environment: environment)
            #expect(resize.status == .exited(0), "round \(round): \(resize.errorText)")
            #expect(elapsed < 2000, "round \(round) took \(elapsed) ms")
            usleep(300_000)
        }
        // Still-connected lorises are told `error timeout` 5 s after their first byte.
        for loris in lorises {
            let reply = loris.readLines(1, timeoutMilliseconds: 8000).first
            #expect(reply == "error timeout" || reply == "error busy", "\(String(describing: reply))")
        }
        #expect(now() - started < 7000, "line deadline not absolute: \(now() - started) ms")
        dripper.join()
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    @Test func clientsPingingEveryFewSecondsAreShedForANewcomer() {
        // A runtime directory of its own: no other suite's client may take a slot here.
        let (environment, _, directory) = TestEnvironment.privateRuntime("pinger")
        let id = uniqueID("pinger")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"], environment: environment)
        #expect(eventually { ControlConnection(id, directory: directory)?.request("ping") == "ok pong" })
        let pingers = (0..<ControlServer.maximumClients).compactMap { _ in ControlConnection(id, directory: directory) }
        for pinger in pingers { #expect(pinger.request("ping") == "ok pong") }
        usleep(300_000)
        for round in 0..<3 {
            let (resize, elapsed) = timedTool(["resize", id, "\(90 + round)", "20"], environment: environment)
            #expect(resize.status == .exited(0), "round \(round): \(resize.errorText)")
            #expect(elapsed < 2000)
        }
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    // MARK: Finding 7: lost replies

    @Test func twentyThousandPipelinedStatusRequestsGetTwentyThousandReplies() throws {
        let id = uniqueID("pipe")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"])
        #expect(eventually { ControlConnection(id) != nil })
        guard let connection = ControlConnection(id) else { Issue.record("cannot connect"); return }
        let total = 20_000
        let fd = connection.socket.rawValue
        let writer = try IOThread {
            let request = Array(String(repeating: "status\n", count: 100).utf8)
            for _ in 0..<(total / 100) {
                var offset = 0
                while offset < request.count {
                    let sent = request[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent <= 0 { return }
                    offset += sent
                }
            }
        }
        var replies = 0, good = 0, partial: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = now() + 60_000
        while replies < total && now() < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 1000) >= 0 else { continue }
            if entry.revents == 0 { continue }
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            for byte in chunk[..<count] {
                if byte == 10 {
                    replies += 1
                    if partial.starts(with: Array("ok {\"id\":".utf8)) && partial.last == UInt8(ascii: "}") { good += 1 }
                    partial.removeAll(keepingCapacity: true)
                } else {
                    partial.append(byte)
                }
            }
        }
        writer.join()
        #expect(replies == total)
        #expect(good == total)
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    @Test func aStatusLargerThanTheSocketBufferArrivesWhole() {
        let id = uniqueID("huge")
        let argument = String(repeating: "a", count: 100_000)
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "exec cat", "sh"]
                                  + Array(repeating: argument, count: 6))
        #expect(eventually { ControlConnection(id) != nil })
        let status = runTool(["status", id])
        #expect(status.status == .exited(0), "\(status.errorText)")
        #expect(status.output.count > 600_000)
        #expect(status.outputText.hasSuffix("\"]}\n"))
        let list = runTool(["list"])
        #expect(list.outputText.split(separator: "\n").contains { $0.hasPrefix("\(id)\t{") && $0.hasSuffix("\"]}") })
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }

    // MARK: Finding 8: atomic liveness

    @Test func racingNewsAndListsNeverRunTwoSessionsWithOneID() throws {
        let scratch = Scratch("race")
        let flag = scratch.base + "/running"
        // 24 rounds of 6 contenders and 3 lists: the starting commit ran two
        // sessions of one ID in 4 of 40 such rounds (a shell loop, outside the tests).
        for round in 0..<24 {
            let id = uniqueID("race")
            let path = SessionDirectory.socketPath(directory: TestEnvironment.controlDirectory, id: id)
            _ = try SessionDirectory.open(path: TestEnvironment.controlDirectory, create: true)
            let leftover = try UnixSocket.make()
            try UnixSocket.bind(leftover, to: ByteString(path))  // a dead session's socket
            leftover.closeQuietly()
            let script = "mkdir \(flag) 2>/dev/null || echo DOUBLE; sleep 0.3; rmdir \(flag) 2>/dev/null"
            var contenders: [HostedProcess] = []
            var listers: [HostedProcess] = []
            for index in 0..<6 {
                contenders.append(HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", script]))
                if index % 2 == 0 { listers.append(HostedProcess(proxy: ["list"])) }
            }
            var winners = 0
            for contender in contenders {
                let status = contender.finish()
                #expect(!contender.outputText.contains("DOUBLE"), "round \(round): two live sessions named \(id)")
                if status == .exited(0) { winners += 1 } else {
                    #expect(status == .exited(125) && contender.errorText.contains("already running"),
                            "round \(round): \(String(describing: status)) \(contender.errorText)")
                }
            }
            for lister in listers { _ = lister.finish() }
            #expect(winners >= 1, "round \(round)")
            #expect(access(path, F_OK) != 0, "round \(round): socket left behind")
        }
    }

    @Test func leftoversOfADeadProxyAreRemoved() throws {
        let (environment, _, directory) = TestEnvironment.privateRuntime("leftover")
        let id = uniqueID("dead")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"], environment: environment)
        #expect(eventually { access("\(directory)/\(id).sock", F_OK) == 0 })
        // A temporary name such as a proxy killed mid-start leaves.
        let temporary = "\(directory)/.\(id).999999.tmp"
        let socket = try UnixSocket.make()
        try UnixSocket.bind(socket, to: ByteString(temporary))
        socket.closeQuietly()
        // A second dead session, cleaned by `list` alone.
        let other = uniqueID("dead")
        let otherProxy = HostedProcess(proxy: ["new", other, "80", "24", "cat"], environment: environment)
        #expect(eventually { access("\(directory)/\(other).sock", F_OK) == 0 })
        let otherTemporary = "\(directory)/.\(other).999998.tmp"
        let otherSocket = try UnixSocket.make()
        try UnixSocket.bind(otherSocket, to: ByteString(otherTemporary))
        otherSocket.closeQuietly()
        kill(otherProxy.pid, SIGKILL)
        _ = otherProxy.waitForExit(timeoutMilliseconds: 5000)
        kill(proxy.pid, SIGKILL)
        _ = proxy.waitForExit(timeoutMilliseconds: 5000)
        // The lock went with the process: the client knows at once.
        let (status, elapsed) = timedTool(["status", id], environment: environment)
        #expect(status.status == .exited(4) && elapsed < 1000)
        _ = runTool(["list"], environment: environment)
        for name in ["\(id).sock", "\(id).lock", ".\(id).999999.tmp", "\(other).sock", "\(other).lock", ".\(other).999998.tmp"] {
            #expect(access("\(directory)/\(name)", F_OK) != 0, "\(name) left behind")
        }
    }

    @Test func theLockAndTheSocketGoWithEverySession() {
        let (environment, _, directory) = TestEnvironment.privateRuntime("lockgone")
        func leftovers() -> [String] {
            guard let handle = opendir(directory) else { return [] }
            defer { closedir(handle) }
            var names: [String] = []
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            return names
        }
        #expect(HostedProcess(proxy: ["new", uniqueID("ok"), "80", "24", "true"], environment: environment).finish() == .exited(0))
        #expect(leftovers().isEmpty, "\(leftovers())")
        let failed = HostedProcess(proxy: ["new", "--cwd", "/nonexistent/dir", uniqueID("bad"), "80", "24", "true"],
                                   environment: environment)
        #expect(failed.finish() == .exited(125))
        #expect(leftovers().isEmpty, "\(leftovers())")
        let id = uniqueID("term")
        let terminated = HostedProcess(proxy: ["new", id, "80", "24", "sleep", "100"], environment: environment)
        #expect(eventually { access("\(directory)/\(id).sock", F_OK) == 0 })
        #expect(access("\(directory)/\(id).lock", F_OK) == 0)
        kill(terminated.pid, SIGTERM)
        #expect(terminated.finish() == .exited(128 + SIGHUP))
        #expect(leftovers().isEmpty, "\(leftovers())")
    }

    // MARK: Finding 9: strict umask

    @Test func aStrictUmaskLocksNobodyOut() {
        let user = OtherUser()
        if user == nil { print("aStrictUmaskLocksNobodyOut: running as ourselves (\(rootOnly))") }
        let scratch = Scratch("umask")
        let runtime = scratch.directory("runtime")
        if let user { chown(runtime, user.uid, user.gid) }
        let environment = TestEnvironment.variables(["XDG_RUNTIME_DIR=\(runtime)"])
        func asUser(_ arguments: [String]) -> [String] { user?.command(arguments) ?? arguments }
        let strict = HostedProcess(asUser(["/bin/sh", "-c", "umask 0277; exec \(ProxyBinary.path) new u1 80 24 true"]),
                                   environment: environment)
        #expect(strict.finish() == .exited(0), "\(strict.errorText)")
        var info = stat()
        #expect(stat("\(runtime)/ptyproxy", &info) == 0 && info.st_mode & 0o7777 == 0o700,
                "mode \(String(info.st_mode & 0o7777, radix: 8))")
        let next = HostedProcess(asUser([ProxyBinary.path, "new", "u2", "80", "24", "true"]), environment: environment)
        #expect(next.finish() == .exited(0), "\(next.errorText)")
        // A directory of ours left with a wrong mode is repaired.
        chmod("\(runtime)/ptyproxy", 0o500)
        let repaired = HostedProcess(asUser([ProxyBinary.path, "new", "u3", "80", "24", "true"]), environment: environment)
        #expect(repaired.finish() == .exited(0), "\(repaired.errorText)")
        #expect(stat("\(runtime)/ptyproxy", &info) == 0 && info.st_mode & 0o7777 == 0o700)
    }

    // MARK: Finding 10: out of descriptors

    @Test func runningOutOfDescriptorsDoesNotSpin() {
        let (environment, _, directory) = TestEnvironment.privateRuntime("emfile")
        let id = uniqueID("emfile")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "cat"], environment: environment)
        // Fully started (the socket is published before the relay is set up,
        // and the limit must not hit the set-up): the server answers, the relay echoes.
        #expect(eventually { ControlConnection(id, directory: directory)?.request("ping") == "ok pong" })
        proxy.write("up\n")
        #expect(proxy.read(untilContains: "up\r\nup\r\n"))
        usleep(100_000)
        guard let open = ProcessProbe.descriptorCount(proxy.pid) else { Issue.record("no /proc"); return }
        // Room for two clients, no more.
        let limit = HostedProcess(["/usr/bin/prlimit", "--pid", "\(proxy.pid)", "--nofile=\(open + 2):"])
        #expect(limit.finish() == .exited(0), "\(limit.errorText)")
        let connections = (0..<8).compactMap { _ in ControlConnection(id, directory: directory) }
        #expect(connections.count == 8)
        usleep(200_000)
        let before = cpuTicks(proxy.pid) ?? 0
        usleep(2_000_000)
        let used = (cpuTicks(proxy.pid) ?? 0) - before
        let ticksPerSecond = sysconf(Int32(_SC_CLK_TCK))
        print("runningOutOfDescriptorsDoesNotSpin: the proxy used \(used) of \(ticksPerSecond) ticks/s over 2 s")
        #expect(used * 4 < ticksPerSecond, "the proxy used \(used) ticks of CPU in 2 s")
        // Those beyond the limit were told, not left hanging; the others are served.
        var busy = 0
        for connection in connections {
            if connection.readLines(1, timeoutMilliseconds: 100).first == "error busy" {
                busy += 1
            } else {
                #expect(connection.request("ping") == "ok pong")
            }
        }
        #expect(busy >= 3, "\(busy) told busy")
        _ = HostedProcess(["/usr/bin/prlimit", "--pid", "\(proxy.pid)", "--nofile=1024:"]).finish()
        #expect(runTool(["resize", id, "70", "20"], environment: environment).status == .exited(0))
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0), "\(proxy.errorText)")
    }

    // MARK: Finding 12a-c: environment

    @Test func anotherUsersRuntimeDirectoryIsNotUsed() {
        guard let user = OtherUser() else {
            print("skipped anotherUsersRuntimeDirectoryIsNotUsed: \(rootOnly)"); return
        }
        let scratch = Scratch("xdg")
        let runtime = scratch.directory("runtime")
        chown(runtime, user.uid, user.gid)
        let tmp = scratch.directory("tmp", mode: 0o1777)
        let home = scratch.directory("home")
        var environment = environmentWithoutRuntimeDirectory(tmp: tmp, home: home)
        environment.append("XDG_RUNTIME_DIR=\(runtime)")
        let id = uniqueID("su")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "echo SOCK=$PTYPROXY_SOCKET"],
                                  environment: environment)
        #expect(proxy.finish() == .exited(0), "\(proxy.errorText)")
        #expect(printedValue("SOCK", in: proxy.outputText) == "\(tmp)/ptyproxy-\(getuid())/\(id).sock", "\(proxy.outputText)")
        #expect(access("\(runtime)/ptyproxy", F_OK) != 0, "a directory was made in the other user's runtime directory")
    }

    @Test func aRelativeTMPDIRGivesAnAbsoluteSocketPath() {
        let scratch = Scratch("reltmp")
        let home = scratch.directory("home")
        let environment = environmentWithoutRuntimeDirectory(tmp: "relative/tmp", home: home)
        let id = uniqueID("rel")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "echo SOCK=$PTYPROXY_SOCKET"],
                                  environment: environment)
        #expect(proxy.finish() == .exited(0), "\(proxy.errorText)")
        let socket = printedValue("SOCK", in: proxy.outputText) ?? ""
        #expect(socket.hasPrefix("/") && socket.hasSuffix("/\(id).sock"), "\(socket)")
    }

    @Test func aLongTMPDIRWorksWhereTheSocketNameFits() {
        let scratch = Scratch("longtmp")
        let home = scratch.directory("home")
        let tmp = scratch.directory(String(repeating: "d", count: 120), mode: 0o1777)
        let environment = environmentWithoutRuntimeDirectory(tmp: tmp, home: home)
        let id = uniqueID("long")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "echo SOCK=$PTYPROXY_SOCKET; exec cat"],
                                  environment: environment)
        #expect(proxy.read(untilContains: "SOCK="), "\(proxy.errorText)")
        let socket = printedValue("SOCK", in: proxy.outputText) ?? ""
        #expect(socket.utf8.count > UnixSocket.maximumPathLength && socket.hasPrefix(tmp))
        #expect(runTool(["resize", id, "77", "21"], environment: environment).status == .exited(0))
        #expect(runTool(["status", id], environment: environment).outputText.contains("\"cols\":77,"))
        #expect(runTool(["list"], environment: environment).outputText.contains("\(id)\t{"))
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
        #expect(access(socket, F_OK) != 0)
    }
}
