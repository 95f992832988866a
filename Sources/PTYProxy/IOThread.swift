// SPDX-License-Identifier: MIT
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain POSIX thread running one closure; its owner must `join()` or
/// `detach()` it exactly once.
///
/// The relay's paths block in the kernel (read, write, poll) by design, so
/// they get threads of their own rather than tasks of the cooperative pool,
/// which must never block.
struct IOThread: Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new thread with a small stack (the relay's buffers
    /// live on the heap, allocated once).
    init(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        defer { pthread_attr_destroy(&attributes) }
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let result = pthread_create(&thread, &attributes, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.body()
            return nil
        }, context)
        precondition(result == 0, "ptyproxy: cannot start a thread (error \(result))")
        #if canImport(Glibc)
        handle = thread
        #else
        handle = thread!
        #endif
    }

    /// Waits for the thread to finish.
    func join() {
        pthread_join(handle, nil)
    }

    /// Lets the thread finish on its own (used only when it is stuck writing
    /// to a host that stopped reading and the process is about to exit).
    func detach() {
        pthread_detach(handle)
    }
}
