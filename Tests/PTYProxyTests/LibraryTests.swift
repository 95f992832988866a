// SPDX-License-Identifier: MIT
import Glibc
import Testing
import SystemPackage
import CPTYShim
@testable import PTYProxy

/// The library's pieces, used directly as another Swift program would.
@Suite struct LibraryTests {
    @Test func childOnAPseudoTerminalAndItsExitStatus() throws {
        let terminal = try PseudoTerminal(size: WindowSize(columns: 90, rows: 33))
        defer { terminal.close() }
        let child = try ChildProcess(
            spawning: Command(arguments: ["sh", "-c", "stty size; exit 7"], environment: ["PATH=/usr/bin:/bin"]),
            terminalPath: terminal.slavePath)
        defer { child.close() }
        terminal.releaseSlave()
        #expect(try Poller.wait(for: child.exitDescriptor, events: .readable, timeoutMilliseconds: 5000) != [])
        #expect(child.reap() == .exited(7))
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(terminal.master.rawValue, $0.baseAddress, $0.count) }
        #expect(count > 0 && String(decoding: bytes[..<count], as: UTF8.self) == "33 90\r\n")
    }

    /// With `exitsAfterRun` (as `ptyproxy new` runs it), `run()` returns
    /// without waking and joining the input thread (started by the line
    /// typed ahead): it goes on reading the host's stdin until the process
    /// exits. Here the process goes on, so the thread is seen taking bytes
    /// typed after the end; the end of stdin then ends it. The pty's master
    /// and the pipe's read end are left open, as they would be until an
    /// exit.
    @Test func anExitingCallerLeavesTheInputThreadToTheExit() throws {
        var input: [CInt] = [-1, -1], output: [CInt] = [-1, -1]
        #expect(pipe(&input) == 0 && pipe(&output) == 0)
        defer { close(output[0]); close(output[1]) }
        var configuration = SessionConfiguration(
            id: "library", size: WindowSize(columns: 80, rows: 24),
            command: Command(arguments: ["sh", "-c", "read line"], environment: ["PATH=/usr/bin:/bin"]))
        configuration.hostInput = FileDescriptor(rawValue: input[0])
        configuration.hostOutput = FileDescriptor(rawValue: output[1])
        #expect(write(input[1], "line\n", 5) == 5)
        #expect(try Session(configuration, exitsAfterRun: true).run() == .exited(0))
        #expect(write(input[1], "typed late", 10) == 10)
        #expect(eventually {
            var queued: CInt = -1
            return ptyshim_bytes_queued(input[0], &queued) == 0 && queued == 0
        }, "no thread read stdin after run() returned")
        close(input[1])
    }

    /// The output reader watches the child's exit itself
    /// (`OutputPath.watchChildExit`), so the supervisor need not wake to
    /// pass it on: with a background job holding the pty after the child
    /// exited (it ignores SIGHUP), the output still ends after its quiet
    /// period, with no word from anyone else.
    @Test func theOutputReaderSeesTheChildExitByItself() throws {
        let terminal = try PseudoTerminal(size: WindowSize(columns: 80, rows: 24))
        defer { terminal.close() }
        let child = try ChildProcess(
            spawning: Command(arguments: ["/bin/sh", "-c", "trap '' HUP; sleep 10 & echo started"],
                              environment: ["PATH=/usr/bin:/bin"]),
            terminalPath: terminal.slavePath)
        defer { child.close() }
        terminal.releaseSlave()
        var sink: [CInt] = [-1, -1]
        #expect(pipe(&sink) == 0)
        defer { close(sink[0]); close(sink[1]) }
        let events = try Wakeup()
        defer { events.close() }
        let output = try OutputPath(terminal: terminal, output: FileDescriptor(rawValue: sink[1]),
                                    tuning: OutputPath.Tuning(), counters: RelayCounters(), notify: events)
        output.watchChildExit(child.exitDescriptor)
        let gate = StartGate()
        let threads = try output.start(after: gate)
        gate.open()
        #expect(eventually(timeoutMilliseconds: 5000) { output.isComplete }, "the output did not end")
        #expect(output.ending == .quietAfterExit)
        if !output.isComplete { output.stop() }
        for thread in threads { thread.join() }
        _ = SessionSignaller.signal(session: child.pid, [SIGKILL])  // the background sleep, deaf to SIGHUP
        #expect(child.reap() == .exited(0))
    }

    /// Where pidfd_open is refused before the spawn, a thread waits for the
    /// exit; where the child's own pidfd is refused after it, a SIGCHLD
    /// handler tells it. Either leaves it unreaped, so the status is still
    /// the owner's to collect.
    @Test(arguments: [ExitWatch.Mode.thread, .pidfdRefusedAfterSpawn, .pidfd])
    func exitNotificationWithoutPidfd(mode: ExitWatch.Mode) throws {
        let terminal = try PseudoTerminal(size: WindowSize(columns: 80, rows: 24))
        defer { terminal.close() }
        for round in 0..<20 {
            let child = try ChildProcess(
                spawning: Command(arguments: ["/bin/sh", "-c", round % 2 == 0 ? "exit 5" : "sleep 0.01; exit 5"],
                                  environment: []),
                terminalPath: terminal.slavePath)
            defer { child.close() }
            let notification = try ChildProcess.exitNotification(for: child.pid, mode)
            defer { notification.closeQuietly() }
            #expect(try Poller.wait(for: notification, events: .readable, timeoutMilliseconds: 5000) != [])
            #expect(child.exitStatus() == .exited(5), "readable before the exit (\(mode), round \(round))")
            #expect(child.reap() == .exited(5))
        }
    }

    @Test func resizeAndForegroundGroup() throws {
        let terminal = try PseudoTerminal(size: WindowSize(columns: 80, rows: 24))
        defer { terminal.close() }
        try terminal.resize(to: WindowSize(columns: 200, rows: 60))
        #expect(try terminal.size() == WindowSize(columns: 200, rows: 60))
    }

    @Test func spawnErrorsMapToEnvExitCodes() throws {
        let terminal = try PseudoTerminal(size: WindowSize(columns: 80, rows: 24))
        defer { terminal.close() }
        #expect(throws: ChildProcess.SpawnError.self) {
            _ = try ChildProcess(spawning: Command(arguments: ["no-such-program-\(getpid())"], environment: []),
                                 terminalPath: terminal.slavePath)
        }
        do {
            _ = try ChildProcess(spawning: Command(arguments: ["/etc"], environment: []), terminalPath: terminal.slavePath)
            Issue.record("spawned a directory")
        } catch {
            #expect(error.exitCode == 126)
        }
    }
}
