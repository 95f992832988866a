// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage

/// A plain POSIX thread running one closure; its owner must `join()` or
/// `detach()` it exactly once.
///
/// The relay's paths block in the kernel (read, write, poll) by design, so
/// they get threads of their own rather than tasks of the cooperative pool,
/// which must never block.
///
/// Creating a thread can fail (RLIMIT_NPROC, a pids cgroup, no address
/// space left for its stack): that is thrown, never a crash. A kept
/// session creates its threads before it spawns the child, parked at a
/// `StartGate`; any other session starts each when it is first needed,
/// and has a way on without it (see `Session.startRelayAndChild`).
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
///
/// The threads wait on one word (a futex) rather than a condition variable:
/// opening the gate wakes them all at once, without each one queueing in
/// turn for a mutex as it leaves a pthread_cond_wait.
final class StartGate: @unchecked Sendable {
    // The word must not move: it lives on the heap, allocated once.
    private let word = UnsafeMutablePointer<CInt>.allocate(capacity: 1)

    init() { word.initialize(to: PTYSHIM_GATE_CLOSED) }

    deinit { word.deallocate() }

    func open() { ptyshim_gate_decide(word, PTYSHIM_GATE_OPEN) }
    func cancel() { ptyshim_gate_decide(word, PTYSHIM_GATE_CANCELLED) }

    /// Blocks until the gate is opened (true) or cancelled (false).
    func wait() -> Bool { ptyshim_gate_wait(word) == PTYSHIM_GATE_OPEN }
}
