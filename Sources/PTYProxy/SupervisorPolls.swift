// SPDX-License-Identifier: MIT
import Glibc
import SystemPackage

/// The supervisor's poll list, allocated once: a named slot for each
/// descriptor the supervisor watches, then the control socket's entries
/// (`ControlService`). A slot is armed (polled) or disarmed (its entry
/// holds -1, which poll skips); a slot made without a descriptor stays
/// disarmed.
struct SupervisorPolls: ~Copyable {
    /// The slots, in the list's order.
    enum Slot: Int, CaseIterable {
        /// Hang-up signals, SIGWINCH, SIGCONT (`SignalWatcher`).
        case signals
        /// The child's exit, while the supervisor is the one to see it.
        case childExit
        /// The host's stdout: its error is the host going away (POLLERR
        /// once the read end is closed); room is asked for only while the
        /// supervisor's own relay waits for it.
        case hostOutput
        /// The relay's wake-ups (the host seen gone by a relay thread, the
        /// output complete).
        case relayEvents
        /// The host's stdin, until the input thread starts.
        case hostInput
        /// The pty's master, until the output reader starts.
        case master
    }

    private let entries: UnsafeMutableBufferPointer<pollfd>
    /// Each slot's descriptor (-1 for none), which `arm` puts back.
    private let descriptors: UnsafeMutableBufferPointer<CInt>

    /// Every slot armed, with its descriptor (nil: the slot stays
    /// disarmed), for reading; the host's stdout for errors only.
    init(signals: FileDescriptor, childExit: FileDescriptor, hostOutput: FileDescriptor?,
         relayEvents: FileDescriptor, hostInput: FileDescriptor?, master: FileDescriptor?,
         controlEntryCount: Int) {
        descriptors = .allocate(capacity: Slot.allCases.count)
        entries = .allocate(capacity: Slot.allCases.count + controlEntryCount)
        let given = [signals, childExit, hostOutput, relayEvents, hostInput, master]
        for slot in Slot.allCases {
            descriptors[slot.rawValue] = given[slot.rawValue]?.rawValue ?? -1
            let events: Poller.Events = slot == .hostOutput ? .none : .readable
            entries[slot.rawValue] = pollfd(fd: descriptors[slot.rawValue], events: events.rawValue, revents: 0)
        }
    }

    deinit {
        entries.deallocate()
        descriptors.deallocate()
    }

    /// The entries `ControlService.prepare` fills and `handle` reads.
    var controlEntries: UnsafeMutableBufferPointer<pollfd> {
        UnsafeMutableBufferPointer(rebasing: entries[Slot.allCases.count...])
    }

    mutating func arm(_ slot: Slot) { entries[slot.rawValue].fd = descriptors[slot.rawValue] }

    mutating func disarm(_ slot: Slot) { entries[slot.rawValue].fd = -1 }

    mutating func setArmed(_ slot: Slot, _ armed: Bool) {
        if armed { arm(slot) } else { disarm(slot) }
    }

    /// What `slot` waits for, besides the failures poll always reports.
    mutating func watch(_ slot: Slot, for events: Poller.Events) {
        entries[slot.rawValue].events = events.rawValue
    }

    /// Whether `slot` holds its descriptor: the next wait polls it, and
    /// the last one did unless it was armed or disarmed since.
    func isArmed(_ slot: Slot) -> Bool { entries[slot.rawValue].fd >= 0 }

    /// Whether the last wait reported anything on `slot`.
    func reported(_ slot: Slot) -> Bool { entries[slot.rawValue].revents != 0 }

    /// Whether the last wait reported one of `events` on `slot`.
    func reported(_ slot: Slot, _ events: Poller.Events) -> Bool { entries[slot.rawValue].reported(events) }

    /// Waits until a slot or a control entry reports something, or until
    /// `deadline` (none: no limit).
    mutating func wait(until deadline: Int64?) {
        _ = try? Poller.wait(entries, timeoutMilliseconds: pollTimeout(until: deadline))
    }
}
