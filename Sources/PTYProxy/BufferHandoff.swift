// SPDX-License-Identifier: MIT
import Glibc

/// Passes filled output buffers from the reading thread to the writing
/// thread, in order, through a fixed ring of slots (double buffering when
/// there are two). Allocation-free after init; a mutex and two condition
/// variables, held only to update a counter.
final class BufferHandoff: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let slotFree = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let slotFilled = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let lengths: UnsafeMutableBufferPointer<Int>
    private var filled = 0
    private var finished = false
    private var cancelled = false
    let slotCount: Int

    init(slotCount: Int) {
        self.slotCount = slotCount
        lengths = .allocate(capacity: slotCount)
        lengths.initialize(repeating: 0)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(slotFree, nil)
        pthread_cond_init(slotFilled, nil)
    }

    deinit {
        pthread_cond_destroy(slotFilled)
        pthread_cond_destroy(slotFree)
        pthread_mutex_destroy(mutex)
        slotFilled.deallocate()
        slotFree.deallocate()
        mutex.deallocate()
        lengths.deallocate()
    }

    /// Reader: waits until the next slot in the ring is free; false if cancelled.
    func waitForFreeSlot() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while filled == slotCount && !cancelled { pthread_cond_wait(slotFree, mutex) }
        return !cancelled
    }

    /// Reader: the slot it was writing into holds `length` bytes.
    func publish(slot: Int, length: Int) {
        pthread_mutex_lock(mutex)
        lengths[slot] = length
        filled += 1
        pthread_cond_signal(slotFilled)
        pthread_mutex_unlock(mutex)
    }

    /// Reader: whether every published slot has been written out, so that
    /// bytes written now by someone else cannot overtake queued ones.
    var isDrained: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return filled == 0
    }

    /// Reader: no more slots will be published.
    func finish() {
        pthread_mutex_lock(mutex)
        finished = true
        pthread_cond_signal(slotFilled)
        pthread_mutex_unlock(mutex)
    }

    /// Writer: the length of the next filled slot, or nil when the reader
    /// has finished and everything was taken, or on cancel.
    func waitForFilledSlot(_ slot: Int) -> Int? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while filled == 0 && !finished && !cancelled { pthread_cond_wait(slotFilled, mutex) }
        return filled > 0 && !cancelled ? lengths[slot] : nil
    }

    /// Writer: the slot was written out and may be filled again.
    func release() {
        pthread_mutex_lock(mutex)
        filled -= 1
        pthread_cond_signal(slotFree)
        pthread_mutex_unlock(mutex)
    }

    /// Wakes both sides for good.
    func cancel() {
        pthread_mutex_lock(mutex)
        cancelled = true
        pthread_cond_broadcast(slotFree)
        pthread_cond_broadcast(slotFilled)
        pthread_mutex_unlock(mutex)
    }
}
