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

    /// Exactly two descriptors, a stdin and a stdout a kept session can
    /// take (`ptyshim_check_attach_descriptor`: open the right way, a pipe,
    /// socket, terminal or file, and neither the session's own pty, whose
    /// `master` is given, nor a socket connected to the session itself),
    /// handed over; else why not (they stay here, for `close`).
    mutating func takePair(master: FileDescriptor) -> Result<(FileDescriptor, FileDescriptor), AttachRefusal> {
        guard descriptors.count == 2 else { return .failure(.count) }
        for (index, name) in ["stdin", "stdout"].enumerated() {
            let result = ptyshim_check_attach_descriptor(descriptors[index], CInt(index), master.rawValue)
            guard result == 0 else { return .failure(.unusable(name, result)) }
        }
        defer { descriptors = [] }
        return .success((FileDescriptor(rawValue: descriptors[0]), FileDescriptor(rawValue: descriptors[1])))
    }

    mutating func close() {
        for descriptor in descriptors { FileDescriptor(rawValue: descriptor).closeQuietly() }
        descriptors = []
    }
}

/// Why the descriptors passed with `attach` are refused: the REASON of
/// `error REASON`.
enum AttachRefusal: Error, CustomStringConvertible {
    case count
    /// The host's `stdin` or `stdout`, and the errno of the check.
    case unusable(String, CInt)

    var description: String {
        switch self {
        case .count:
            return "attach needs the host's stdin and stdout passed with it (SCM_RIGHTS)"
        case .unusable(let name, let error):
            let way = name == "stdin" ? "reading" : "writing"
            switch error {
            case EBADF: return "the host's \(name) is closed"
            case EACCES: return "the host's \(name) is not open for \(way)"
            case EISDIR: return "the host's \(name) is a directory"
            case EPROTOTYPE: return "the host's \(name) is no pipe, socket, terminal or file"
            case ELOOP: return "the host's \(name) is this session's own terminal or control socket"
            default: return "the host's \(name) cannot be used: \(Errno(rawValue: error))"
            }
        }
    }
}
