// SPDX-License-Identifier: MIT
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage
import Synchronization

/// Host stdin -> pty: the interactive path, kept deliberately simple.
///
/// The seed's first rule: never optimise it. Each read (at most 8 KiB) is
/// written to the pty at once; no coalescing, no timers. It runs on its own
/// thread so that a child which stops reading its input never delays the
/// output path or the control channel.
final class InputPath: Sendable {
    static let bufferSize = 8 * 1024

    private let input: FileDescriptor
    private let terminal: PseudoTerminal
    private let counters: RelayCounters
    private let wakeup: Wakeup
    private let stopping = Atomic<Bool>(false)
    private let readErrno = Atomic<Int32>(0)

    init(input: FileDescriptor, terminal: PseudoTerminal, counters: RelayCounters) throws(Errno) {
        self.input = input
        self.terminal = terminal
        self.counters = counters
        self.wakeup = try Wakeup()
    }

    /// Creates the thread, parked at `gate` (see `Session`).
    func start(after gate: StartGate) throws(Errno) -> IOThread {
        try IOThread(after: gate) { [self] in run() }
    }

    /// Makes the thread return promptly, wherever it waits.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
    }

    func close() { wakeup.close() }

    /// Why reading the host's stdin failed, if it did with something other
    /// than EIO (a terminal that hung up, or a background read): that error
    /// was taken as the end of input, and is worth one line on stderr.
    var hostReadError: Errno? {
        let value = readErrno.load(ordering: .acquiring)
        return value == 0 ? nil : Errno(rawValue: value)
    }

    private func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var lastByte: UInt8?
        while waitUntil(input, is: .readable) {
            let count: Int
            do {
                count = try valueOrErrno(on: .host) { system_read(input.rawValue, buffer.baseAddress, buffer.count) }
            } catch .wouldBlock {
                continue  // the host shares a non-blocking stdin with us
            } catch {
                // A failed stdin is the end of the host's input.
                if error != .ioError { readErrno.store(error.rawValue, ordering: .releasing) }
                count = 0
            }
            if count == 0 {
                sendEndOfFile(after: lastByte)
                return
            }
            guard deliver(UnsafeRawBufferPointer(rebasing: buffer[..<count])) else { return }
            lastByte = buffer[count - 1]
        }
    }

    /// The host closed stdin: the user typed ^D. In canonical mode a VEOF
    /// after a partial line only ends that line, so a second one is sent to
    /// make the child's read() see end of file.
    private func sendEndOfFile(after lastByte: UInt8?) {
        guard let settings = try? terminal.lineSettings() else { return }
        let endOfFile = withUnsafeBytes(of: settings.c_cc) { $0[Int(VEOF)] }
        let canonical = settings.c_lflag & tcflag_t(ICANON) != 0
        var bytes: (UInt8, UInt8) = (endOfFile, endOfFile)
        let count = canonical && lastByte != nil && lastByte != UInt8(ascii: "\n") && lastByte != endOfFile ? 2 : 1
        _ = withUnsafeBytes(of: &bytes) { deliver(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }

    /// Writes all of `bytes` to the pty; false when the relay is stopping or the pty is gone.
    private func deliver(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            do {
                offset += try valueOrErrno {
                    system_write(terminal.master.rawValue, bytes.baseAddress! + offset, bytes.count - offset)
                }
            } catch .wouldBlock {
                guard waitUntil(terminal.master, is: .writable) else { return false }
            } catch {
                return false  // EIO: the terminal was hung up
            }
        }
        counters.addInput(bytes.count)
        return true
    }

    /// Waits for `descriptor` or for `stop()`; false when stopping.
    private func waitUntil(_ descriptor: FileDescriptor, is events: Poller.Events) -> Bool {
        var entries = (pollfd(descriptor, events), pollfd(wakeup.readEnd, .readable))
        return withUnsafeMutableBytes(of: &entries) { raw in
            let list = raw.bindMemory(to: pollfd.self)
            while true {
                guard (try? Poller.wait(list, timeoutMilliseconds: -1)) != nil else { return false }
                if stopping.load(ordering: .acquiring) { return false }
                if list[1].reported(.readable) { wakeup.drain() }
                if list[0].revents != 0 { return true }
            }
        }
    }
}
