// SPDX-License-Identifier: MIT

/// Passes filled output buffers from the reading thread to the writing
/// thread, in order, through a fixed ring of slots (double buffering when
/// there are two). Allocation-free after init; one lock with two
/// conditions (`Locked`), held only to update a counter.
final class BufferHandoff: Sendable {
    private struct Ring {
        /// The length of each slot's bytes, set when it is published.
        let lengths: UnsafeMutableBufferPointer<Int>
        var filled = 0
        var finished = false
        var cancelled = false
    }

    /// A slot was released, or the hand-off was cancelled: the reader waits on it.
    private static let slotFree = LockCondition(0)
    /// A slot was published, the reader finished, or the hand-off was
    /// cancelled: the writer waits on it.
    private static let slotFilled = LockCondition(1)

    private let ring: Locked<Ring>
    let slotCount: Int

    init(slotCount: Int) {
        self.slotCount = slotCount
        let lengths = UnsafeMutableBufferPointer<Int>.allocate(capacity: slotCount)
        lengths.initialize(repeating: 0)
        ring = Locked(Ring(lengths: lengths), conditions: 2)
    }

    deinit {
        ring.withLock { $0.lengths.deallocate() }
    }

    /// Reader: waits until the next slot in the ring is free; false if cancelled.
    func waitForFreeSlot() -> Bool {
        ring.withLock(waitingOn: Self.slotFree, while: { $0.filled == self.slotCount && !$0.cancelled }) {
            !$0.cancelled
        }
    }

    /// Reader: the slot it was writing into holds `length` bytes.
    func publish(slot: Int, length: Int) {
        ring.withLock(waking: .one(Self.slotFilled)) { ring in
            ring.lengths[slot] = length
            ring.filled += 1
        }
    }

    /// Reader: whether every published slot has been written out, so that
    /// bytes written now by someone else cannot overtake queued ones.
    var isDrained: Bool {
        ring.withLock { $0.filled == 0 }
    }

    /// Reader: no more slots will be published.
    func finish() {
        ring.withLock(waking: .one(Self.slotFilled)) { $0.finished = true }
    }

    /// Writer: the length of the next filled slot, or nil when the reader
    /// has finished and everything was taken, or on cancel.
    func waitForFilledSlot(_ slot: Int) -> Int? {
        ring.withLock(waitingOn: Self.slotFilled, while: { $0.filled == 0 && !$0.finished && !$0.cancelled }) { ring in
            ring.filled > 0 && !ring.cancelled ? ring.lengths[slot] : nil
        }
    }

    /// Writer: the slot was written out and may be filled again.
    func release() {
        ring.withLock(waking: .one(Self.slotFree)) { $0.filled -= 1 }
    }

    /// Wakes both sides for good.
    func cancel() {
        ring.withLock(waking: .everyone) { $0.cancelled = true }
    }
}
