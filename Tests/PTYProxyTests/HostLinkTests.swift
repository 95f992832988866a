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
