// SPDX-License-Identifier: MIT
import Glibc
import SystemPackage

/// A thin, allocation-free wrapper of poll(2).
///
/// poll is used instead of epoll/kqueue because every loop here watches at
/// most a handful of descriptors, and it is the same call on Linux and macOS.
enum Poller {
    struct Events: OptionSet, Sendable {
        let rawValue: Int16
        static let readable = Events(rawValue: Int16(POLLIN))
        static let writable = Events(rawValue: Int16(POLLOUT))
        /// Error or hang-up: always reported by poll, even when not asked for.
        static let failure = Events(rawValue: Int16(POLLERR | POLLHUP | POLLNVAL))
        static let none = Events([])
    }

    /// Waits until `descriptor` reports one of `events` (or a failure);
    /// returns what was reported, empty on timeout.
    static func wait(
        for descriptor: FileDescriptor, events: Events, timeoutMilliseconds: Int32
    ) throws(Errno) -> Events {
        var entry = pollfd(fd: descriptor.rawValue, events: events.rawValue, revents: 0)
        _ = try valueOrErrno { poll(&entry, 1, timeoutMilliseconds) }
        return Events(rawValue: entry.revents)
    }

    /// Waits on several descriptors at once. `entries` is caller-owned so the
    /// steady state allocates nothing. Returns the number ready (0 on timeout).
    @discardableResult
    static func wait(
        _ entries: UnsafeMutableBufferPointer<pollfd>, timeoutMilliseconds: Int32
    ) throws(Errno) -> Int {
        for index in entries.indices { entries[index].revents = 0 }
        do {
            return Int(try valueOrErrno { poll(entries.baseAddress, nfds_t(entries.count), timeoutMilliseconds) })
        } catch .invalidArgument {
            return try waitOnWatchedOnly(entries, timeoutMilliseconds: timeoutMilliseconds)
        }
    }

    /// poll refuses a list longer than the descriptor limit (RLIMIT_NOFILE)
    /// with EINVAL, even when most of its entries are -1 and would be
    /// skipped: a process whose limit is below a loop's list length would
    /// otherwise never wait, and never see what it waits for. Polls a copy
    /// of the entries that watch a descriptor instead, in their order, as
    /// many as the limit allows (all of them unless the limit was lowered
    /// below what the process holds open), on the stack.
    private static func waitOnWatchedOnly(
        _ entries: UnsafeMutableBufferPointer<pollfd>, timeoutMilliseconds: Int32
    ) throws(Errno) -> Int {
        var watched = entries.reduce(0) { $1.fd >= 0 ? $0 + 1 : $0 }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            watched = min(watched, Int(clamping: limit.rlim_cur))
        }
        let outcome = withUnsafeTemporaryAllocation(of: pollfd.self, capacity: watched) { copy in
            var taken = 0
            for entry in entries where entry.fd >= 0 && taken < watched {
                copy[taken] = entry
                taken += 1
            }
            let result = Result { () throws(Errno) in
                try valueOrErrno { poll(copy.baseAddress, nfds_t(taken), timeoutMilliseconds) }
            }
            taken = 0
            for index in entries.indices where entries[index].fd >= 0 && taken < watched {
                entries[index].revents = copy[taken].revents
                taken += 1
            }
            return result
        }
        return Int(try outcome.get())
    }
}

extension pollfd {
    init(_ descriptor: FileDescriptor, _ events: Poller.Events) {
        self.init(fd: descriptor.rawValue, events: events.rawValue, revents: 0)
    }

    func reported(_ events: Poller.Events) -> Bool {
        Poller.Events(rawValue: revents).intersection(events).isEmpty == false
    }
}

/// Monotonic time in milliseconds, for deadlines.
func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// Milliseconds left until `deadline`, as a poll timeout (never negative); -1 for no deadline.
func pollTimeout(until deadline: Int64?) -> Int32 {
    guard let deadline else { return -1 }
    return Int32(clamping: max(0, deadline - monotonicMilliseconds()))
}
