// SPDX-License-Identifier: MIT
import Glibc
import Testing
import SystemPackage
@testable import PTYProxy

/// How a kept session's output waits for its first host (issue 20): on
/// the attach itself, bounded, and without waking up meanwhile.
@Suite struct HostLinkTests {
    /// A host made of fresh pipes and a socket pair; the test keeps the
    /// other ends (closed with `ends`).
    static func makeHost(reopening: Bool = true) throws -> (PTYProxy.Attachment, ends: [CInt]) {
        var input: [CInt] = [-1, -1], output: [CInt] = [-1, -1], socket: [CInt] = [-1, -1]
        try #require(pipe(&input) == 0 && pipe(&output) == 0)
        try #require(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0, &socket) == 0)
        let host = Attachment(input: FileDescriptor(rawValue: input[0]), output: FileDescriptor(rawValue: output[1]),
                              socket: FileDescriptor(rawValue: socket[0]), reopening: reopening)
        return (host, [input[1], output[0], socket[1]])
    }

    /// What a thread that called `route` saw.
    final class Routed: Sendable {
        let result = Locked<(returned: Bool, host: PTYProxy.Attachment?, returnedAt: Int64, switches: Int)>((false, nil, 0, 0))
    }

    /// getrusage's RUSAGE_THREAD (a GNU name the C module does not export).
    static let thisThread = __rusage_who_t(1)

    /// Calls `route` with `bytes` on a thread of its own, as the output
    /// path does, counting the voluntary context switches it makes.
    static func route(_ link: HostLink, _ bytes: [UInt8], into routed: Routed) throws -> IOThread {
        try IOThread {
            var before = rusage(), after = rusage()
            getrusage(Self.thisThread, &before)
            let host = bytes.withUnsafeBytes { link.route(keeping: $0) }
            let returnedAt = monotonicMilliseconds()
            getrusage(Self.thisThread, &after)
            routed.result.withLock { $0 = (true, host, returnedAt, after.ru_nvcsw - before.ru_nvcsw) }
        }
    }

    static func kept(_ link: HostLink) -> [UInt8] {
        link.ring.runs().flatMap { Array($0) }
    }

    /// Output waiting for the first host goes to it as soon as it
    /// attaches, long before the bound, and nothing of it is kept.
    @Test func theAttachEndsTheWaitAtOnce() throws {
        let link = try HostLink(bufferBytes: 4096, firstHostWaitMilliseconds: 60_000)
        let (host, ends) = try Self.makeHost()
        defer { ends.forEach { close($0) } }
        let routed = Routed()
        let thread = try Self.route(link, Array("first".utf8), into: routed)
        usleep(100_000)
        #expect(routed.result.withLock { $0.returned } == false, "the output waits for the first host")
        let attachedAt = monotonicMilliseconds()
        #expect(link.attach(host, force: false, greeting: "ok") == .attached)
        thread.join()
        let waited = monotonicMilliseconds() - attachedAt
        let result = routed.result.withLock { $0 }
        #expect(result.host === host)
        #expect(waited < 10_000, "\(waited) ms after the attach (the bound is 60 s)")
        #expect(Self.kept(link).isEmpty)
    }

    /// A first host that never comes: the output goes to the ring once the
    /// bound has passed, and the thread sleeps until then rather than
    /// waking up to look (a poll every 2 ms would make hundreds of
    /// context switches in 500 ms).
    @Test func withNoHostTheOutputIsKeptAfterTheBound() throws {
        let created = monotonicMilliseconds()
        let link = try HostLink(bufferBytes: 4096, firstHostWaitMilliseconds: 500)
        let routed = Routed()
        try Self.route(link, Array("kept".utf8), into: routed).join()
        let result = routed.result.withLock { $0 }
        let waited = result.returnedAt - created
        #expect(result.host == nil)
        #expect(waited >= 500 && waited < 10_000, "\(waited) ms")
        #expect(result.switches < 20, "\(result.switches) voluntary context switches while waiting")
        #expect(Self.kept(link) == Array("kept".utf8))
        // The wait is over for good: later output is kept too.
        let later = Array("more".utf8).withUnsafeBytes { link.route(keeping: $0) }
        #expect(later == nil)
        #expect(Self.kept(link) == Array("keptmore".utf8))
    }

    /// The session's end waits for the first host the same way: `finish`
    /// returns once it attached (and tells it the status), or after the
    /// bound with none.
    @Test func theEndWaitsForTheFirstHostToo() throws {
        let start = monotonicMilliseconds()
        let alone = try HostLink(bufferBytes: 4096, firstHostWaitMilliseconds: 300)
        alone.finish(exitCode: 0)
        #expect(monotonicMilliseconds() - start >= 300)

        let link = try HostLink(bufferBytes: 4096, firstHostWaitMilliseconds: 60_000)
        let (host, ends) = try Self.makeHost()
        defer { ends.forEach { close($0) } }
        let finished = try IOThread { link.finish(exitCode: 7) }
        usleep(100_000)
        let attachedAt = monotonicMilliseconds()
        #expect(link.attach(host, force: false, greeting: "ok") == .attached)
        finished.join()
        #expect(monotonicMilliseconds() - attachedAt < 10_000)
        var reply = [UInt8](repeating: 0, count: 64)
        let got = read(ends[2], &reply, reply.count)
        #expect(got > 0 && Array(reply[..<max(got, 0)]) == Array("ok\nexit 7\n".utf8))
    }

    /// The first host's process is gone (the control thread saw its pidfd
    /// report): the output and the session's end stop waiting for it at
    /// once, long before the bound, and the output is kept for a later host.
    @Test func theFirstHostsExitEndsBothWaits() throws {
        let link = try HostLink(bufferBytes: 4096, firstHostWaitMilliseconds: 60_000)
        let routed = Routed()
        let output = try Self.route(link, Array("kept".utf8), into: routed)
        let finished = try IOThread { link.finish(exitCode: 0) }
        usleep(100_000)
        #expect(routed.result.withLock { $0.returned } == false, "the output waits for the first host")
        let goneAt = monotonicMilliseconds()
        link.firstHostIsGone()
        output.join()
        finished.join()
        let waited = monotonicMilliseconds() - goneAt
        #expect(waited < 10_000, "\(waited) ms after the first host was gone (the bound is 60 s)")
        #expect(routed.result.withLock { $0.host } == nil)
        #expect(Self.kept(link) == Array("kept".utf8))
        #expect(link.firstHostExitToWatch == nil)
    }

    /// Told which parent process is the first host: while it lives, its
    /// pidfd is there to watch and output waits for it; a pid that is not
    /// (or no longer) this process's parent is a first host already gone,
    /// and nothing waits for it.
    @Test func theFirstHostParentIsWatchedOnlyWhileItIsTheParent() throws {
        let parent = try HostLink(bufferBytes: 4096, firstHostWaitMilliseconds: 300, firstHostParent: getppid())
        #expect(parent.firstHostExitToWatch != nil)
        let start = monotonicMilliseconds()
        let routed = Routed()
        try Self.route(parent, Array("a".utf8), into: routed).join()
        #expect(routed.result.withLock { $0.returnedAt } - start >= 300, "waited for the living parent")

        let notParent = try HostLink(bufferBytes: 4096, firstHostWaitMilliseconds: 60_000, firstHostParent: getpid())
        #expect(notParent.firstHostExitToWatch == nil)
        let before = monotonicMilliseconds()
        let kept = Array("b".utf8).withUnsafeBytes { notParent.route(keeping: $0) }
        notParent.finish(exitCode: 0)
        #expect(kept == nil && Self.kept(notParent) == Array("b".utf8))
        #expect(monotonicMilliseconds() - before < 10_000)
    }

    /// Starts `new --keep ID ... command` and stops that front (SIGSTOP)
    /// as soon as its session's socket appears, which is before the
    /// server is ready, so before the front can attach; nil when it did
    /// attach all the same (the status says so: the caller tries again).
    static func frontStoppedBeforeItAttached(_ id: String, _ command: [String]) -> HostedProcess? {
        let socket = SessionDirectory.socketPath(directory: TestEnvironment.controlDirectory, id: id)
        let front = HostedProcess(proxy: ["new", "--keep", id, "80", "24"] + command)
        let deadline = monotonicMilliseconds() + 10_000
        while access(socket, F_OK) != 0 && monotonicMilliseconds() < deadline { usleep(100) }
        kill(front.pid, SIGSTOP)
        // Twice, apart: an attach request sent just before the stop is
        // answered by the second status at the latest.
        let unattached = (0..<2).allSatisfy { round in
            if round > 0 { usleep(100_000) }
            return KeepAttachTests.status(id)?.contains("\"attached\":false") == true
        }
        guard unattached else {
            kill(front.pid, SIGKILL)
            _ = front.waitForExit(timeoutMilliseconds: 5000)
            _ = runTool(["signal", id, "KILL"])
            return nil
        }
        return front
    }

    /// The `new --keep` front dies before it attached (killed while it
    /// starts, as a host that gives up at once does): the session waits
    /// for it no more. A program that ended at once, or is killed with
    /// `signal ID KILL`, ends its session at once rather than at the
    /// first host's bound (5 s after the start).
    @Test(arguments: [["sh", "-c", "exit 7"], ["sh", "-c", "echo out; exec sleep 100"]])
    func aFrontThatDiedBeforeAttachingIsNotWaitedFor(command: [String]) throws {
        for run in 0..<3 {
            let id = uniqueID("keep-nofront")
            defer { _ = runTool(["signal", id, "KILL"]) }  // a test that stops early leaves nothing
            var stopped: HostedProcess?
            for _ in 0..<20 where stopped == nil { stopped = Self.frontStoppedBeforeItAttached(id, command) }
            let front = try #require(stopped, "the front attached before it could be stopped, 20 times")
            kill(front.pid, SIGKILL)
            _ = front.waitForExit(timeoutMilliseconds: 5000)
            let killedAt = monotonicMilliseconds()
            if command.last!.contains("sleep") {
                #expect(eventually(timeoutMilliseconds: 10_000) {
                    (KeepAttachTests.status(id).flatMap { KeepAttachTests.field("buffered", in: $0) } ?? 0) > 0
                }, "run \(run): the output is kept once the front is gone")
                _ = runTool(["signal", id, "KILL"])
            }
            #expect(eventually(timeoutMilliseconds: 10_000) {
                KeepAttachTests.status(id) == nil && !KeepAttachTests.socketFileExists(id)
            }, "run \(run): the session ended")
            let ended = monotonicMilliseconds() - killedAt
            #expect(ended < 2500, "run \(run): the session ended \(ended) ms after its front died (the bound is 5 s)")
        }
    }

    /// A host stdout that is a blocking pipe the session could not reopen
    /// non-blocking: a write to it still never waits. It fills the pipe,
    /// then gets EAGAIN, and the pipe holds every byte written.
    @Test func aBlockingPipeThatCannotBeReopenedIsNeverWaitedOn() throws {
        let (host, ends) = try Self.makeHost(reopening: false)
        defer { ends.forEach { close($0) } }
        let chunk = [UInt8](repeating: 0x79, count: 65536)
        var written = 0
        var full = false
        for _ in 0..<10_000 where !full {
            do {
                written += try chunk.withUnsafeBytes { try host.writeOutput($0) }
            } catch .wouldBlock {
                full = true
            }
        }
        #expect(full, "EAGAIN once the pipe is full, after \(written) bytes")
        var queued: CInt = 0
        #expect(ioctl(ends[1], UInt(FIONREAD), &queued) == 0 && Int(queued) == written)
    }
}
