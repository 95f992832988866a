// SPDX-License-Identifier: MIT
import SystemPackage

/// The relay's parts, all acquired before the child is spawned. A kept
/// session's threads are created then too, parked at `gate`; any other
/// session's are started after the spawn by the supervisor (see
/// `Supervisor`), so that the only thread creation that can fail before
/// the spawn is a kept session's.
struct Relay {
    let events: Wakeup
    let input: InputPath
    let output: OutputPath
    let gate = StartGate()
    /// A kept session's output reader; any other session's is started by
    /// the supervisor when the master first reports something.
    let outputThreads: [IOThread]
    /// A kept session's input thread; any other session's is started by
    /// the supervisor at the host's first byte (see `Supervisor`).
    let inputThread: IOThread?
    let controlThread: IOThread?

    init(configuration: SessionConfiguration, terminal: PseudoTerminal, counters: RelayCounters,
         control: ControlServer?, link: HostLink? = nil) throws(SessionError) {
        do {
            events = try Wakeup()
        } catch {
            throw SessionError("cannot set up the relay: \(error)")
        }
        do {
            output = try OutputPath(terminal: terminal, output: configuration.hostOutput,
                                    tuning: configuration.output, counters: counters, notify: events,
                                    link: link)
        } catch {
            events.close()
            throw SessionError("cannot set up the relay: \(error)")
        }
        do {
            // A typed ^C drops the output held for the host (see InputPath).
            input = try InputPath(input: configuration.hostInput, terminal: terminal, counters: counters,
                                  discardHeldOutput: { [output] in output.discardHeldOutput() }, link: link)
        } catch {
            events.close()
            throw SessionError("cannot set up the relay: \(error)")
        }
        var started: [IOThread] = []
        do {
            outputThreads = link == nil ? [] : try output.start(after: gate)
            started += outputThreads
            inputThread = link == nil ? nil : try input.start(after: gate)
            if let inputThread { started.append(inputThread) }
            // A kept session's control socket has a thread of its own (see
            // `ControlServer`); any other is served by the supervisor.
            controlThread = link == nil ? nil : try control?.start(after: gate)
        } catch {
            Self.cancel(gate: gate, threads: started)
            input.close()
            events.close()
            throw SessionError("cannot start a thread: \(error) (a limit on processes or memory?)")
        }
    }

    /// The child did not start: the parked threads return without running.
    func cancel() {
        Self.cancel(gate: gate, threads: outputThreads + [inputThread, controlThread].compactMap { $0 })
        input.close()
        events.close()
    }

    private static func cancel(gate: StartGate, threads: [IOThread]) {
        gate.cancel()
        for thread in threads { thread.join() }
    }
}
