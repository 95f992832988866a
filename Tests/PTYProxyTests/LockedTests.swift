// SPDX-License-Identifier: MIT
import Glibc
import Testing
import Synchronization
@testable import PTYProxy

/// The waits of `Locked`: until a change another thread makes (and wakes
/// it for), or until a deadline on the monotonic clock, whichever comes
/// first; never ended early by a wake-up that changed nothing.
@Suite struct LockedTests {
    struct Flag {
        var isSet = false
    }

    static let changed = LockCondition(0)
    static let other = LockCondition(1)

    /// Waits on `changed` for `isSet`; returns `isSet` as the body saw it.
    static func waitForFlag(_ locked: Locked<Flag>, until deadline: Int64?) -> Bool {
        locked.withLock(waitingOn: changed, while: { !$0.isSet }, untilMonotonicMilliseconds: deadline) { $0.isSet }
    }

    /// A thread waiting on `changed` for `isSet`: when it returned, what
    /// it saw, and how often it tested the value (with the lock held).
    final class Waiter: Sendable {
        private let returned = Atomic<Int64>(0)
        private let sawFlag = Atomic<Bool>(false)
        private let tests = Atomic<Int>(0)

        var returnedAt: Int64 { returned.load(ordering: .acquiring) }
        var saw: Bool { sawFlag.load(ordering: .acquiring) }
        var testCount: Int { tests.load(ordering: .relaxed) }

        func start(_ locked: Locked<Flag>, until deadline: Int64?) throws -> IOThread {
            try IOThread { [self] in
                let saw = locked.withLock(waitingOn: LockedTests.changed, while: { flag in
                    tests.add(1, ordering: .relaxed)
                    return !flag.isSet
                }, untilMonotonicMilliseconds: deadline) { $0.isSet }
                sawFlag.store(saw, ordering: .releasing)
                returned.store(monotonicMilliseconds(), ordering: .releasing)
            }
        }

        /// Waits (bounded) until the thread has found the flag unset: it
        /// holds the lock from then until it sleeps on the condition, so
        /// whatever is done under the lock next happens while it sleeps.
        func untilAsleep() -> Bool {
            eventually(timeoutMilliseconds: 10_000) { tests.load(ordering: .relaxed) > 0 }
        }
    }

    @Test func aDeadlineInThePastReturnsAtOnce() {
        let locked = Locked(Flag(), conditions: 1)
        let start = monotonicMilliseconds()
        var usage = (rusage(), rusage())
        getrusage(HostLinkTests.thisThread, &usage.0)
        let saw = Self.waitForFlag(locked, until: start - 10_000)
        getrusage(HostLinkTests.thisThread, &usage.1)
        #expect(!saw, "the body runs with the value as it is")
        #expect(monotonicMilliseconds() - start < 1000)
        #expect(usage.1.ru_nvcsw == usage.0.ru_nvcsw, "it did not sleep at all")
    }

    @Test func aWakeFromAnotherThreadEndsTheWaitLongBeforeItsDeadline() throws {
        for wake in [LockWake.one(Self.changed), .all(Self.changed), .everyone] {
            let locked = Locked(Flag(), conditions: 2)
            let waiter = Waiter()
            let thread = try waiter.start(locked, until: monotonicMilliseconds() + 60_000)
            #expect(waiter.untilAsleep())
            let setAt = monotonicMilliseconds()
            locked.withLock(waking: wake) { $0.isSet = true }
            thread.join()
            let waited = waiter.returnedAt - setAt
            #expect(waiter.saw, "\(wake)")
            #expect(waited < 10_000, "\(wake): \(waited) ms after the wake (the deadline is 60 s)")
        }
    }

    /// No deadline: only the change ends the wait.
    @Test func aWaitWithoutDeadlineEndsWithTheChange() throws {
        let locked = Locked(Flag(), conditions: 1)
        let waiter = Waiter()
        let thread = try waiter.start(locked, until: nil)
        #expect(waiter.untilAsleep())
        locked.withLock(waking: .one(Self.changed)) { $0.isSet = true }
        thread.join()
        #expect(waiter.saw)
    }

    /// Wake-ups that change nothing (as a spurious one would), and wakes
    /// of the other condition, do not end the wait: it lasts until its
    /// deadline, and the body sees the value unchanged.
    @Test func aWaitWithNoChangeLastsUntilItsDeadline() throws {
        let locked = Locked(Flag(), conditions: 2)
        let start = monotonicMilliseconds()
        let deadline = start + 400
        let waiter = Waiter()
        let thread = try waiter.start(locked, until: deadline)
        #expect(waiter.untilAsleep())
        var wakes = 0
        while monotonicMilliseconds() < deadline - 50 {
            locked.withLock(waking: wakes % 3 == 0 ? .all(Self.changed) : wakes % 3 == 1 ? .all(Self.other) : .everyone) { _ in }
            wakes += 1
            usleep(10_000)
        }
        thread.join()
        let returned = waiter.returnedAt
        #expect(returned >= deadline, "returned \(deadline - returned) ms before the deadline after \(wakes) wakes")
        #expect(returned - start < 10_000)
        #expect(!waiter.saw)
        #expect(waiter.testCount > 1, "woken and sent back to sleep")
    }

    /// A change made before the wait starts is not missed: no wait at all.
    @Test func aChangeBeforeTheWaitIsNotMissed() {
        let locked = Locked(Flag(), conditions: 1)
        locked.withLock(waking: .one(Self.changed)) { $0.isSet = true }
        let start = monotonicMilliseconds()
        #expect(Self.waitForFlag(locked, until: start + 60_000))
        #expect(monotonicMilliseconds() - start < 10_000)
    }
}
