// SPDX-License-Identifier: MIT
import Glibc

/// A value guarded by a pthread mutex.
///
/// Not `Synchronization.Mutex`: on Linux that one locks through a futex
/// inside the Swift runtime, which ThreadSanitizer does not see, so it
/// reports every access it guards as a data race, and the sanitizer step
/// could then no longer tell a real race from a false one. A pthread mutex
/// is one ThreadSanitizer intercepts. Held only to read or update the value.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
