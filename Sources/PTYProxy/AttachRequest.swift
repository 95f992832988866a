// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage

/// `attach [COLS ROWS] [force]`: the control request a host sends, with its
/// stdin and stdout passed in the same message (SCM_RIGHTS), to become a
/// kept session's host (`HostLink`). Only `ptyproxy attach` sends it.
public struct AttachRequest: Equatable, Sendable {
    public var size: WindowSize?
    public var force: Bool

    public init(size: WindowSize?, force: Bool) {
        self.size = size
        self.force = force
    }

    /// The request line, without the newline.
    public var line: String {
        var words = ["attach"]
        if let size { words += [String(size.columns), String(size.rows)] }
        if force { words.append("force") }
        return words.joined(separator: " ")
    }

    static let usage = ControlRequestError.usage("attach [COLS ROWS] [force]")

    /// nil when `line` is no attach request; else the request or why it is
    /// refused.
    static func parse(_ line: ArraySlice<UInt8>) -> Result<AttachRequest, ControlRequestError>? {
        let words = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d })
        guard let verb = words.first, verb.count == 6,
              verb.map({ $0 | 0x20 }).elementsEqual("attach".utf8) else { return nil }
        var rest = Array(words.dropFirst())
        var request = AttachRequest(size: nil, force: false)
        if let last = rest.last, last.elementsEqual("force".utf8) {
            request.force = true
            rest.removeLast()
        }
        switch rest.count {
        case 0: return .success(request)
        case 2:
            let text = rest.map { String(decoding: $0, as: UTF8.self) }
            guard let columns = ControlRequest.parseDimension(text[0]),
                  let rows = ControlRequest.parseDimension(text[1]) else { return .failure(.badSize) }
            request.size = WindowSize(columns: columns, rows: rows)
            return .success(request)
        default: return .failure(usage)
        }
    }
}

/// The descriptors a control client passed with its bytes (SCM_RIGHTS):
/// only `attach` takes them, every other path closes them.
struct PassedDescriptors {
    private(set) var descriptors: [CInt] = []
    /// Why what was passed is refused (a cut message, too many descriptors).
    private(set) var problem: String?

    /// recvmsg(2) on a non-blocking socket: the byte count (0 at the end of
    /// the stream), or nil when nothing is ready yet.
    mutating func receive(_ socket: CInt, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        var got = 0
        var fds: (CInt, CInt) = (-1, -1)
        var count: CInt = 0
        var refused: CInt = 0
        let result = withUnsafeMutableBytes(of: &fds) { raw in
            ptyshim_recv_with_fds(socket, buffer.baseAddress, buffer.count, &got,
                                  raw.baseAddress!.assumingMemoryBound(to: CInt.self), &count, &refused)
        }
        if result == EAGAIN || result == EWOULDBLOCK { return nil }
        if result == EINTR { return nil }
        guard result == 0 else { throw Errno(rawValue: result) }
        if refused != 0 { problem = "attach takes exactly two descriptors (stdin, stdout); the message was refused" }
        if count >= 1 { descriptors.append(fds.0) }
        if count >= 2 { descriptors.append(fds.1) }
        return got
    }

    /// Keeps what `newer` received instead, when it received anything.
    mutating func replace(with newer: PassedDescriptors) {
        guard !newer.descriptors.isEmpty || newer.problem != nil else { return }
        close()
        self = newer
    }

    /// Hands over what is held, leaving nothing here.
    mutating func take() -> PassedDescriptors {
        defer { self = PassedDescriptors() }
        return self
    }

    /// Exactly two descriptors, a readable stdin and a writable stdout
    /// (`ptyshim_check_stdio`: open, the right way, no directory), handed
    /// over; nil otherwise (they stay here, for `close`).
    mutating func takePair() -> (FileDescriptor, FileDescriptor)? {
        guard descriptors.count == 2, ptyshim_check_stdio(descriptors[0], 0) == 0,
              ptyshim_check_stdio(descriptors[1], 1) == 0 else { return nil }
        defer { descriptors = [] }
        return (FileDescriptor(rawValue: descriptors[0]), FileDescriptor(rawValue: descriptors[1]))
    }

    mutating func close() {
        for descriptor in descriptors { FileDescriptor(rawValue: descriptor).closeQuietly() }
        descriptors = []
    }
}
