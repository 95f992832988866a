// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage

/// How an attached host's time with a kept session ended.
public enum AttachOutcome: Equatable, Sendable {
    /// The session's program exited: the code `new` would have exited with.
    case exited(Int32)
    /// The session went on without this host (another one took it over,
    /// or this host's stdin and stdout broke).
    case detached(String)
    /// The session's server went away without a word (it was killed).
    case lost
}

extension ControlClient {
    /// Makes the caller session `id`'s host: passes `input` and `output` to
    /// it with `request` (SCM_RIGHTS), waits for `ok`, then waits for the
    /// session's last line. The data never passes through this process.
    /// `attached` runs once the session took the host. With `terminalSize`
    /// (the caller's stdin is a terminal), each SIGWINCH of this process
    /// resizes the session to what it returns.
    public func attach(_ request: AttachRequest, to id: String, input: CInt = 0, output: CInt = 1,
                       timeoutMilliseconds: Int32 = 5000, terminalSize: (() -> WindowSize?)? = nil,
                       attached: () -> Void = {}) throws(Failure) -> AttachOutcome {
        let deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds)
        // Blocked and read from a signalfd before any connection exists.
        let resizes = terminalSize == nil ? nil : try? SignalWatcher(signals: [SIGWINCH])
        defer { resizes?.close() }
        guard let directory = try liveDirectory(of: id) else {
            if let problem = problems.first { throw .failed(problem) }
            throw .noSuchSession(id)
        }
        let socket = try connect(to: id, in: directory, deadline: deadline)
        defer { socket.closeQuietly() }
        var reader = ReplyLines(socket: socket)
        do {
            try sendAttach(request.line, input: input, output: output, on: socket, id: id, deadline: deadline)
        } catch {
            // A session that ended meanwhile closed the connection unread.
            if try hasGone(id, before: deadline) { throw .noSuchSession(id) }
            throw error
        }
        guard let reply = reader.next(deadline: deadline) else {
            if reader.ended, try hasGone(id, before: deadline) { throw .noSuchSession(id) }
            throw .failed("session '\(id)' did not answer the attach \(reader.ended ? "(it closed the connection)" : "in time")")
        }
        // A session that ended before the attach was taken answers with the
        // program's exit status, the line an attached host ends with.
        if case .exited(let code)? = Self.lastLine(reply) { return .exited(code) }
        switch ControlReply.parse(reply, form: .text) {
        case .ok: break
        case .error(let reason): throw .refused(reason)
        case .unexpected(let quoted): throw .failed("unexpected reply from session '\(id)': \(quoted)")
        }
        attached()
        reader.resizes = resizes
        let resize = { [self] in
            guard let size = terminalSize?() else { return }
            _ = try? send(ControlRequest.line(resize: size), to: id)
        }
        guard let last = reader.next(deadline: nil, onResize: resize) else { return .lost }
        return Self.lastLine(last) ?? .lost
    }

    /// The session's last line to its host: `exit CODE` or `detached REASON`.
    private static func lastLine(_ line: [UInt8]) -> AttachOutcome? {
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("exit "), let code = Int32(text.dropFirst(5)), (0...255).contains(code) {
            return .exited(code)
        }
        if text.hasPrefix("detached") {
            return .detached(ControlReply.escape(line.dropFirst(min(9, line.count))))
        }
        return nil
    }

    /// Whether session `id` is gone, or goes before `deadline`: one that
    /// closed an attach's connection unanswered is ending, and its socket
    /// and lock go a moment later.
    private func hasGone(_ id: String, before deadline: Int64) throws(Failure) -> Bool {
        while try liveDirectory(of: id) != nil {
            guard monotonicMilliseconds() < deadline else { return false }
            usleep(10_000)
        }
        return true
    }

    private func liveDirectory(of id: String) throws(Failure) -> ControlDirectory? {
        for directory in directories {
            if try liveness(of: id, in: directory, cleanUpStale: false) == .live { return directory }
        }
        return nil
    }

    private func sendAttach(_ line: String, input: CInt, output: CInt, on socket: FileDescriptor,
                            id: String, deadline: Int64) throws(Failure) {
        var text = line + "\n"
        var fds: (CInt, CInt) = (input, output)
        while true {
            var sent = 0
            let result = text.withUTF8 { bytes in
                withUnsafeBytes(of: &fds) { raw in
                    ptyshim_send_with_fds(socket.rawValue, bytes.baseAddress, bytes.count,
                                          raw.baseAddress!.assumingMemoryBound(to: CInt.self), 2, &sent)
                }
            }
            if result == 0 {
                guard sent == text.utf8.count else { throw .failed("cannot send the attach to session '\(id)' whole") }
                return
            }
            guard result == EAGAIN || result == EWOULDBLOCK || result == EINTR else {
                throw .failed("cannot send to session '\(id)': \(Errno(rawValue: result))")
            }
            let ready = (try? Poller.wait(for: socket, events: .writable, timeoutMilliseconds: pollTimeout(until: deadline))) ?? []
            if ready.isEmpty { throw .failed("session '\(id)' did not take the attach in time") }
        }
    }
}

/// Lines read from a control socket, keeping what follows a newline for
/// the next line (the `ok` and the last line may come in one read).
private struct ReplyLines {
    let socket: FileDescriptor
    var pending: [UInt8] = []
    /// The stream ended, or a read failed (the session closed it).
    private(set) var ended = false
    /// SIGWINCH of the attaching terminal, when it is followed.
    var resizes: SignalWatcher?

    init(socket: FileDescriptor) { self.socket = socket }

    /// The next line without its newline; nil at the end of the stream, on
    /// a read error, past `deadline` (nil: no deadline), or when a line
    /// exceeds the reply limit. `onResize` runs for each SIGWINCH meanwhile.
    mutating func next(deadline: Int64?, onResize: () -> Void = {}) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                defer { pending.removeSubrange(...newline) }
                return Array(pending[..<newline])
            }
            guard pending.count <= ControlReply.maximumLength else { return nil }
            var entries = (pollfd(socket, .readable), pollfd(fd: resizes?.descriptor.rawValue ?? -1,
                                                             events: Poller.Events.readable.rawValue, revents: 0))
            let ready = withUnsafeMutableBytes(of: &entries) { raw in
                (try? Poller.wait(raw.bindMemory(to: pollfd.self), timeoutMilliseconds: pollTimeout(until: deadline))) ?? 0
            }
            if entries.1.revents != 0 {
                var resized = false
                while resizes?.next() != nil { resized = true }
                if resized { onResize() }
            }
            if entries.0.revents == 0 {
                if ready == 0 && deadline != nil { return nil }
                continue
            }
            let socket = self.socket
            let read = chunk.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in try readReady(socket.rawValue, into: raw) }
            }
            switch read {
            case .success(nil): continue
            case .success(let count?) where count > 0: pending += chunk[..<count]
            case .success, .failure:
                ended = true
                return nil
            }
        }
    }
}

/// The terminal of a person who attaches by hand: raw mode while attached
/// (as `new` puts it), restored after. Its size is the one asked for when
/// no COLS ROWS are given.
public final class AttachingTerminal: Sendable {
    private let terminal: HostTerminal?

    public init(input: CInt = 0) {
        terminal = HostTerminal(FileDescriptor(rawValue: input))
    }

    public var size: WindowSize? { terminal?.size() }
    public func enterRawMode() { terminal?.enterRawMode() }
    public func restore() { terminal?.restore() }
}
