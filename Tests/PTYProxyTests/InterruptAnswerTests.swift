// SPDX-License-Identifier: MIT
import Glibc
import Synchronization
import Testing
import SystemPackage
import CPTYShim
@testable import PTYProxy

/// A ^C drops the output the proxy holds, never what the program writes
/// after it: the echoed "^C" and the prompt must reach the host however the
/// ^C meets the output reader.
@Suite struct InterruptAnswerTests {
    /// Plays the input path's part at one exact moment: just before the
    /// reader's second read of the master, it discards the held output and
    /// writes the program's answer to the slave, as a ^C and a shell's
    /// prompt would. That read returns the answer.
    private final class DiscardBeforeSecondRead: Sendable {
        let slave: CInt
        let reads = Atomic<Int>(0)
        let output = Locked<OutputPath?>(nil)
        init(slave: CInt) { self.slave = slave }

        func readWillStart() {
            guard reads.add(1, ordering: .relaxed).newValue == 2,
                  let output = self.output.withLock({ $0 }) else { return }
            output.discardHeldOutput()
            _ = "ANSWER".withCString { Glibc.write(slave, $0, 6) }
        }
    }

    @Test func whatARacingReadTakesAfterADiscardReachesTheHost() throws {
        let terminal = try PseudoTerminal(size: WindowSize(columns: 80, rows: 24))
        defer { terminal.close() }
        let slave = open(terminal.slavePath, O_RDWR | O_NOCTTY)
        try #require(slave >= 0)
        var slaveOpen = true
        defer { if slaveOpen { close(slave) } }
        terminal.releaseSlave()
        var sink: [CInt] = [-1, -1]
        try #require(pipe(&sink) == 0)
        defer { close(sink[0]); close(sink[1]) }
        let events = try Wakeup()
        defer { events.close() }

        _ = "HELD".withCString { Glibc.write(slave, $0, 4) }  // output held when the ^C comes
        let race = DiscardBeforeSecondRead(slave: slave)
        let output = try OutputPath(terminal: terminal, output: FileDescriptor(rawValue: sink[1]),
                                    tuning: OutputPath.Tuning(), counters: RelayCounters(), notify: events,
                                    beforeEachRead: { race.readWillStart() })
        race.output.withLock { $0 = output }
        let gate = StartGate()
        let threads = try output.start(after: gate)
        gate.open()

        var received: [UInt8] = []
        let answered = eventually(timeoutMilliseconds: 3000) {
            received += readAvailable(sink[0])
            return String(decoding: received, as: UTF8.self).hasSuffix("ANSWER")
        }
        close(slave)  // every slave closed: the output ends
        slaveOpen = false
        #expect(eventually(timeoutMilliseconds: 5000) { output.isComplete }, "the output did not end")
        if !output.isComplete { output.stop() }
        for thread in threads { thread.join() }
        race.output.withLock { $0 = nil }  // the hook's closure and `race` hold each other
        received += readAvailable(sink[0])
        let text = String(decoding: received, as: UTF8.self)
        #expect(answered, "the answer read after the discard was dropped: the host got \(text.debugDescription)")
        #expect(race.reads.load(ordering: .relaxed) >= 2, "the reader read the master \(race.reads.load(ordering: .relaxed)) times")
        // The held bytes go unless the same read returned them with the answer.
        #expect(text == "ANSWER" || text == "HELDANSWER", "the host got \(text.debugDescription)")
    }

    /// The whole way, many times: a shell floods the host, ^C stops the
    /// flood, and the shell's numbered prompt after it always arrives. A
    /// lost prompt leaves the shell waiting at it, so the round times out.
    @Test func everyPromptAfterAFloodStoppedByInterruptArrives() {
        let rounds = 300
        let proxy = HostedProcess(proxy: ["new", uniqueID("flood-intr"), "80", "24", "sh", "-c",
                                          "trap : INT; n=0; echo READY; while read go; do n=$((n+1)); yes flood; echo PROMPT-$n.; done"])
        #expect(proxy.read(untilContains: "READY"))
        for round in 1...rounds {
            proxy.output = []
            proxy.write("go\r")
            guard proxy.read(untilContains: "flood\r\nflood\r\n") else {
                Issue.record("round \(round): the flood did not start: \(proxy.errorText)")
                break
            }
            proxy.write([0x03])
            guard proxy.read(untilContains: "PROMPT-\(round).", timeoutMilliseconds: 15_000) else {
                let got = proxy.output.count
                Issue.record("round \(round): the prompt after ^C never reached the host (\(got) bytes after the flood began)")
                break
            }
        }
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
    }
}

/// What a non-blocking look at `descriptor` finds now.
private func readAvailable(_ descriptor: CInt) -> [UInt8] {
    var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    guard poll(&entry, 1, 0) == 1 else { return [] }
    var bytes = [UInt8](repeating: 0, count: 4096)
    let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
    return count > 0 ? Array(bytes[..<count]) : []
}
