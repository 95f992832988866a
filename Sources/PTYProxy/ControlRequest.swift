// SPDX-License-Identifier: MIT
import Glibc

/// One request of the control protocol, parsed from one line.
///
/// The parser is a pure function of the bytes (no I/O, no allocation on the
/// error paths it can avoid) so that it can be fuzzed on its own.
public enum ControlRequest: Equatable, Sendable {
    /// `resize COLS ROWS`, or the bare `COLS ROWS` of conpty_proxy.exe clients.
    case resize(WindowSize)
    /// `signal NAME|NUMBER`: to the terminal's foreground process group.
    case signal(Int32)
    /// `status`: one line of JSON.
    case status
    /// `ping`: is the session alive?
    case ping

    /// The longest request line accepted, newline excluded.
    public static let maximumLineLength = 256

    /// The request line for `verb` and its arguments, without the newline:
    /// the one place a request is spelled, for clients and for the
    /// parser's usage messages.
    public static func line(_ verb: Verb, _ arguments: String...) -> String {
        ([verb.rawValue] + arguments).joined(separator: " ")
    }

    /// The request line asking for `size`.
    public static func line(resize size: WindowSize) -> String {
        line(.resize, String(size.columns), String(size.rows))
    }

    /// The verbs of the control protocol, spelled as on the wire.
    public enum Verb: String, Sendable {
        case resize, signal, status, ping
    }

    /// Parses one line (without its newline; a trailing CR and surrounding
    /// blanks are ignored). Returns the request or the reason for `error REASON`.
    public static func parse<Bytes: Collection>(_ line: Bytes) -> Result<ControlRequest, ControlRequestError>
    where Bytes.Element == UInt8 {
        guard line.count <= maximumLineLength else { return .failure(.lineTooLong) }
        var words: [Substring] = []
        var current: [UInt8] = []
        current.reserveCapacity(16)
        for byte in line {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                if !current.isEmpty { words.append(Substring(decoding: current, as: UTF8.self)); current.removeAll(keepingCapacity: true) }
            case 0x21...0x7e:
                current.append(byte)
            default:
                return .failure(.malformed)
            }
        }
        if !current.isEmpty { words.append(Substring(decoding: current, as: UTF8.self)) }
        guard let verb = words.first else { return .failure(.empty) }

        switch Verb(rawValue: verb.lowercased()) {
        case .resize:
            guard words.count == 3 else { return .failure(.usage(ControlRequest.line(.resize, "COLS", "ROWS"))) }
            return parseSize(words[1], words[2])
        case .signal:
            guard words.count == 2 else { return .failure(.usage(ControlRequest.line(.signal, "NAME|NUMBER"))) }
            guard let number = SignalName.number(of: words[1]) else { return .failure(.unknownSignal) }
            return .success(.signal(number))
        case .status:
            return words.count == 1 ? .success(.status) : .failure(.usage(ControlRequest.line(.status)))
        case .ping:
            return words.count == 1 ? .success(.ping) : .failure(.usage(ControlRequest.line(.ping)))
        case nil:
            if words.count == 2, verb.first.map({ $0.isNumber || $0 == "-" || $0 == "+" }) == true {
                return parseSize(words[0], words[1])
            }
            return .failure(.unknownRequest)
        }
    }

    private static func parseSize(_ columns: Substring, _ rows: Substring) -> Result<ControlRequest, ControlRequestError> {
        guard let columns = parseDimension(columns), let rows = parseDimension(rows) else {
            return .failure(.badSize)
        }
        return .success(.resize(WindowSize(columns: columns, rows: rows)))
    }

    /// A terminal dimension: a decimal integer in `WindowSize.dimensions`,
    /// digits only.
    public static func parseDimension<S: StringProtocol>(_ text: S) -> UInt16? {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = UInt32(text), WindowSize.dimensions.contains(value) else { return nil }
        return UInt16(value)
    }
}

/// Why a control request was refused; `description` is the REASON of `error REASON`.
public enum ControlRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case lineTooLong
    case malformed
    case unknownRequest
    case usage(String)
    case badSize
    case unknownSignal

    public var description: String {
        switch self {
        case .empty: "empty request"
        case .lineTooLong: "line too long (limit \(ControlRequest.maximumLineLength) bytes)"
        case .malformed: "malformed request (control or non-ASCII bytes)"
        case .unknownRequest:
            "unknown request (try: \(ControlRequest.line(.resize, "COLS", "ROWS")), "
                + "\(ControlRequest.line(.signal, "SIG")), \(ControlRequest.line(.status)), \(ControlRequest.line(.ping)))"
        case .usage(let usage): "usage: \(usage)"
        case .badSize: "size must be two integers in \(WindowSize.dimensionsText)"
        case .unknownSignal: "unknown signal"
        }
    }
}

/// Signal names as `kill -l` spells them, with or without SIG, any case.
public enum SignalName {
    private static let table: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL), ("USR1", SIGUSR1),
        ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM), ("TERM", SIGTERM),
        ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP), ("TTIN", SIGTTIN),
        ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM),
        ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO), ("SYS", SIGSYS),
    ]

    /// The signal number for a name (`INT`, `SIGINT`, `int`) or a number in 1...64.
    public static func number<S: StringProtocol>(of text: S) -> Int32? {
        if let first = text.utf8.first, first >= 0x30 && first <= 0x39 {
            guard text.utf8.count <= 2, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = Int32(text), (1...64).contains(value) else { return nil }
            return value
        }
        // ASCII upper-casing of the bytes, not String.uppercased(): Unicode
        // case mapping would turn the Turkish dotless `ınt` into `INT`.
        var name = text.utf8.map { $0 >= 0x61 && $0 <= 0x7a ? $0 - 0x20 : $0 }
        if name.starts(with: "SIG".utf8) { name.removeFirst(3) }
        return table.first { $0.0.utf8.elementsEqual(name) }?.1
    }
}
