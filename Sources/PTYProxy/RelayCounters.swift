// SPDX-License-Identifier: MIT
import Synchronization

/// Bytes moved by the relay and requests served, readable from any thread
/// (for `status`).
public final class RelayCounters: Sendable {
    private let input = Atomic<UInt64>(0)
    private let output = Atomic<UInt64>(0)
    private let requestCount = Atomic<UInt64>(0)
    private let lateOutput = Atomic<UInt64>(0)

    public init() {}

    /// Bytes written from the host's stdin to the pty (not the VEOFs the
    /// input path adds to end a long line or the input).
    public var bytesIn: UInt64 { input.load(ordering: .relaxed) }
    /// Bytes written from the pty to the host's stdout, counted as each
    /// write returns (`OutputPath` sizes writes to the host's pipe).
    public var bytesOut: UInt64 { output.load(ordering: .relaxed) }

    /// Control request lines carried out, malformed ones and the current
    /// one included: a client can tell that none of its requests was lost.
    public var requests: UInt64 { requestCount.load(ordering: .relaxed) }

    /// Bytes the pty gave after its master had already reported EIO once
    /// (see `OutputPath`): none, unless the kernel raced its own flush;
    /// `PTYPROXY_TRACE` reports them.
    public var bytesAfterFirstHangUp: UInt64 { lateOutput.load(ordering: .relaxed) }

    func addInput(_ count: Int) { input.add(UInt64(count), ordering: .relaxed) }
    func addOutput(_ count: Int) { output.add(UInt64(count), ordering: .relaxed) }
    func addLateOutput(_ count: Int) { lateOutput.add(UInt64(count), ordering: .relaxed) }
    func addRequest() { requestCount.add(1, ordering: .relaxed) }
}
