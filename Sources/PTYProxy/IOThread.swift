// SPDX-License-Identifier: MIT
import Glibc
import SystemPackage

/// A plain POSIX thread running one closure; its owner must `join()` or
/// `detach()` it exactly once.
///
/// The relay's paths block in the kernel (read, write, poll) by design, so
/// they get threads of their own rather than tasks of the cooperative pool,
/// which must never block.
///
/// Creating a thread can fail (RLIMIT_NPROC, a pids cgroup, no address
/// space left for its stack): that is thrown, never a crash. A session
/// creates its threads before it spawns the child, parked at a
/// `StartGate`, so that no thread creation can fail once CMD runs.
struct IOThread: Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new thread with a small stack (the relay's buffers
    /// live on the heap, allocated once). With a `gate`, the thread waits
    /// there first, and returns without running `body` if the gate is
    /// cancelled.
    init(after gate: StartGate? = nil, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        final class Box {
            let gate: StartGate?
            let body: @Sendable () -> Void
            init(_ gate: StartGate?, _ body: @escaping @Sendable () -> Void) { self.gate = gate; self.body = body }
        }
        let context = Unmanaged.passRetained(Box(gate, body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        defer { pthread_attr_destroy(&attributes) }
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            if box.gate?.wait() ?? true { box.body() }
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            throw Errno(rawValue: result)
        }
        handle = thread
    }

    /// Waits for the thread to finish.
    func join() {
        pthread_join(handle, nil)
    }

    /// Lets the thread finish on its own (used only when it is stuck writing
    /// to a host that stopped reading and the process is about to exit, or
    /// when it is parked at a gate that is then cancelled).
    func detach() {
        pthread_detach(handle)
    }
}

/// Where threads created ahead of time wait until their work may begin:
/// `open()` lets them run their bodies, `cancel()` makes them return
/// without. Either is called once; a thread arriving later sees the outcome.
final class StartGate: @unchecked Sendable {
    // pthread objects must not move: they live on the heap, allocated once.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let decided = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// nil while undecided, then whether the bodies run; guarded by `mutex`.
    private var outcome: Bool?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(decided, nil)
    }

    deinit {
        pthread_cond_destroy(decided)
        pthread_mutex_destroy(mutex)
        decided.deallocate()
        mutex.deallocate()
    }

    func open() { decide(true) }
    func cancel() { decide(false) }

    /// Blocks until the gate is opened (true) or cancelled (false).
    func wait() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while outcome == nil { pthread_cond_wait(decided, mutex) }
        return outcome!
    }

    private func decide(_ run: Bool) {
        pthread_mutex_lock(mutex)
        if outcome == nil { outcome = run }
        pthread_cond_broadcast(decided)
        pthread_mutex_unlock(mutex)
    }
}
