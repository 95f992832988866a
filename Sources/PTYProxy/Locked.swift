// SPDX-License-Identifier: MIT
import Glibc

/// A value guarded by a pthread mutex, with condition variables on the
/// monotonic clock for threads that wait for the value to change. The one
/// place that calls pthread_mutex_* and pthread_cond_*.
///
/// Not `Synchronization.Mutex`: on Linux that one locks through a futex
/// inside the Swift runtime, which ThreadSanitizer does not see, so it
/// reports every access it guards as a data race, and the sanitizer step
/// could then no longer tell a real race from a false one. A pthread mutex
/// is one ThreadSanitizer intercepts. Held only to read or update the value.
///
/// Everything is allocated by `init`: locking, waiting and waking allocate
/// nothing (the closures are not escaping), so the output path's hand-off
/// can use it on every buffer.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let conditions: UnsafeMutableBufferPointer<pthread_cond_t>
    /// Behind a pointer rather than a stored `var`: the mutex already
    /// makes every access exclusive, and a stored property would add the
    /// runtime's exclusivity check (swift_beginAccess) to each one, on
    /// the output path's hand-off too.
    private let value: UnsafeMutablePointer<Value>

    /// `conditions`: how many condition variables waiters can use
    /// (`LockCondition(0)` up to `LockCondition(conditions - 1)`).
    init(_ value: Value, conditions count: Int = 0) {
        precondition(count >= 0)
        self.value = .allocate(capacity: 1)
        self.value.initialize(to: value)
        pthread_mutex_init(mutex, nil)
        conditions = .allocate(capacity: count)
        // The monotonic clock, so that a deadline is not moved by a change
        // of the wall clock (a `monotonicMilliseconds()` value).
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        for index in 0..<count { pthread_cond_init(conditions.baseAddress! + index, &attributes) }
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        for index in conditions.indices { pthread_cond_destroy(conditions.baseAddress! + index) }
        conditions.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }

    /// Runs `body` with the lock held, then wakes the waiters `wake` names
    /// before letting the lock go: a waiter that tested the value before
    /// `body` changed it is asleep on the condition by then, so it is woken.
    func withLock<Result>(waking wake: LockWake, _ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer {
            wake.wake(conditions)
            pthread_mutex_unlock(mutex)
        }
        return try body(&value.pointee)
    }

    /// Takes the lock, sleeps on `condition` while `mustWait` says so (and,
    /// with a `deadline` in `monotonicMilliseconds()`, only until then), and
    /// runs `body` under the same hold, so nothing can change the value
    /// between the last test and `body`. A deadline already past makes no
    /// wait at all. `mustWait` is tested again after every wake-up (a
    /// spurious one, or a wake for another waiter) and the clock is read
    /// again, so neither ends the wait early; glibc's condition waits
    /// restart after a signal handler themselves (no EINTR).
    func withLock<Result>(waitingOn condition: LockCondition, while mustWait: (Value) -> Bool,
                          untilMonotonicMilliseconds deadline: Int64? = nil,
                          _ body: (inout Value) throws -> Result) rethrows -> Result {
        precondition(conditions.indices.contains(condition.index), "no such condition")
        let variable = conditions.baseAddress! + condition.index
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let deadline {
            var until = timespec(tv_sec: Int(deadline / 1000), tv_nsec: Int(deadline % 1000) * 1_000_000)
            while mustWait(value.pointee) && monotonicMilliseconds() < deadline {
                _ = pthread_cond_timedwait(variable, mutex, &until)
            }
        } else {
            while mustWait(value.pointee) { pthread_cond_wait(variable, mutex) }
        }
        return try body(&value.pointee)
    }
}

/// One of the condition variables of a `Locked` value, by number.
struct LockCondition: Sendable {
    let index: Int
    init(_ index: Int) { self.index = index }
}

/// Which waiters a change made under a `Locked` value's lock wakes.
enum LockWake: Sendable {
    /// One thread waiting on the condition (pthread_cond_signal): for a
    /// change only one waiter can act on.
    case one(LockCondition)
    /// Every thread waiting on the condition (pthread_cond_broadcast).
    case all(LockCondition)
    /// Every thread waiting on any of the value's conditions.
    case everyone

    fileprivate func wake(_ conditions: UnsafeMutableBufferPointer<pthread_cond_t>) {
        switch self {
        case .one(let condition):
            precondition(conditions.indices.contains(condition.index), "no such condition")
            pthread_cond_signal(conditions.baseAddress! + condition.index)
        case .all(let condition):
            precondition(conditions.indices.contains(condition.index), "no such condition")
            pthread_cond_broadcast(conditions.baseAddress! + condition.index)
        case .everyone:
            for index in conditions.indices { pthread_cond_broadcast(conditions.baseAddress! + index) }
        }
    }
}
