// SPDX-License-Identifier: MIT
/// The command line of the `ptyproxy` tool, parsed.
///
/// Hand-written rather than built on swift-argument-parser: `new` must pass
/// everything after CMD through untouched and stay call-compatible with
/// conpty_proxy.exe (`new ID W H CMD`), the grammar is five verbs, and the
/// parser is a pure function that the fuzzer can drive.
///
/// The input is the raw argv bytes (`ByteString`), never decoded: CMD, its
/// arguments, `--cwd`, `--env` and `--term` reach the child byte for byte.
/// Verbs, IDs, numbers and signal names are ASCII by definition and are
/// compared as ASCII bytes. Help is only ever the first argument
/// (`ptyproxy -h`, `--help`, `help`): after `new`, `-h` is an ID like any other
/// word (and refused as one), so a host that builds the command line from
/// data never gets help text on stdout instead of a session.
public enum Invocation: Equatable, Sendable {
    case new(NewOptions)
    case resize(id: String, size: WindowSize)
    case signal(id: String, signal: String)
    case status(id: String)
    /// `attach ID [COLS ROWS] [--force]`: become a kept session's host.
    case attach(id: String, size: WindowSize?, force: Bool)
    case list
    case help
    case version

    /// Options of `ptyproxy new`.
    public struct NewOptions: Equatable, Sendable {
        public var id: String
        public var size: WindowSize
        public var command: [ByteString]
        public var term: ByteString?
        public var workingDirectory: ByteString?
        public var environment: [ByteString] = []
        public var hangupGraceMilliseconds: Int64 = 2000
        public var outputBufferCount = 2
        public var outputBufferSize = 128 * 1024
        public var stdoutPipeSize: Int?
        /// `--keep`: the session outlives its host (it can be attached again).
        public var keep = false
        /// `--keep-buffer N`: the most output kept while no host is attached.
        public var keepBufferBytes = 1 << 20
    }

    /// A usage error: one line for stderr, exit 125.
    public struct UsageError: Error, Equatable, Sendable, CustomStringConvertible {
        public let message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    public static let usage = """
        usage: ptyproxy new [OPTIONS] [--] ID COLS ROWS CMD [ARG...]
               ptyproxy resize ID COLS ROWS
               ptyproxy signal ID SIGNAL
               ptyproxy status ID
               ptyproxy list
               ptyproxy attach ID [COLS ROWS] [--force]

        Runs CMD on a pseudo-terminal of COLS x ROWS, relaying stdin to it and
        its output to stdout, and exits with CMD's status. A single CMD that
        contains whitespace is run by /bin/sh -c.

        Options of new:
          --term NAME              TERM for CMD (default: inherited, else xterm-256color)
          --cwd DIR                working directory for CMD
          --env NAME=VALUE         set a variable for CMD (repeatable)
          --hangup-grace SECONDS   SIGHUP to SIGKILL grace when the host goes away (default 2)
          --output-buffers 1|2     single or double buffered output (default 2)
          --output-buffer-size N   output buffer size in bytes (default 131072)
          --stdout-pipe-size N     grow a smaller stdout pipe to N bytes (default: leave it alone)
          --keep                   the session outlives its host: it goes on detached and
                                   `ptyproxy attach ID` makes the caller its host again
          --keep-buffer N          output kept while detached, in bytes (default 1048576)
          --arg-encoding percent   first after new: every later argument is %XX-escaped
                                   UTF-8 (for hosts that cannot pass Unicode, as Emacs on Windows)

        ptyproxy -h, --help shows this help; ptyproxy --version the version.

        Exit status of new: CMD's status, 128+N if CMD was killed by signal N,
        125 if ptyproxy itself failed, 126 if CMD cannot run, 127 if not found.
        """

    /// Parses the arguments after the program name, as UTF-8 text (tests, tools).
    public static func parse(_ arguments: [String]) -> Result<Invocation, UsageError> {
        parse(arguments.map { ByteString($0) })
    }

    /// Parses the arguments after the program name, as the raw bytes of argv.
    public static func parse(_ arguments: [ByteString]) -> Result<Invocation, UsageError> {
        guard let verb = arguments.first else { return .failure(UsageError("missing command (try: ptyproxy --help)")) }
        let rest = Array(arguments.dropFirst())
        switch verb {
        case "-h", "--help", "help": return .success(.help)
        case "--version", "version": return .success(.version)
        case "new": return decodingArguments(rest).flatMap(parseNew)
        case "resize":
            guard rest.count == 3 else { return .failure(UsageError("usage: ptyproxy resize ID COLS ROWS")) }
            return validID(rest[0]).flatMap { id in size(rest[1], rest[2]).map { .resize(id: id, size: $0) } }
        case "signal":
            guard rest.count == 2 else { return .failure(UsageError("usage: ptyproxy signal ID SIGNAL")) }
            guard let signal = rest[1].ascii, SignalName.number(of: signal) != nil else {
                return .failure(UsageError("unknown signal '\(rest[1].printable)'"))
            }
            return validID(rest[0]).map { .signal(id: $0, signal: signal) }
        case "status":
            guard rest.count == 1 else { return .failure(UsageError("usage: ptyproxy status ID")) }
            return validID(rest[0]).map { .status(id: $0) }
        case "attach":
            return parseAttach(rest)
        case "list":
            guard rest.isEmpty else { return .failure(UsageError("usage: ptyproxy list")) }
            return .success(.list)
        default:
            return .failure(UsageError("unknown command '\(verb.printable)' (try: ptyproxy --help)"))
        }
    }

    private static func parseNew(_ arguments: [ByteString]) -> Result<Invocation, UsageError> {
        var positional: [ByteString] = []
        var options = NewOptions(id: "", size: WindowSize(columns: 80, rows: 24), command: [])
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if !optionsEnded && argument == "--" {
                optionsEnded = true
                continue
            }
            let isOption = !optionsEnded && argument.hasPrefix("--") && argument.count > 2
            if positional.count == 3 && !isOption {
                // CMD starts here; everything after it is CMD's own.
                options.command = Array(arguments[(index - 1)...])
                break
            }
            guard isOption else {
                positional.append(argument)
                continue
            }
            // --name=value or --name value
            let spelled = argument.bytes.dropFirst(2)
            let equals = spelled.firstIndex(of: UInt8(ascii: "="))
            let name = ByteString(equals.map { spelled[..<$0] } ?? spelled).printable
            let value = equals.map { ByteString(spelled[($0 + 1)...]) }
            func takeValue() -> Result<ByteString, UsageError> {
                if let value { return .success(value) }
                guard index < arguments.count else { return .failure(UsageError("option --\(name) needs a value")) }
                index += 1
                return .success(arguments[index - 1])
            }
            let outcome: Result<Void, UsageError>
            switch name {
            case "term":
                outcome = takeValue().flatMap { term in
                    term.isEmpty || term.contains(0) ? .failure(UsageError("--term needs a terminal type")) : .success(options.term = term)
                }
            case "cwd":
                outcome = takeValue().flatMap { dir in
                    dir.isEmpty || dir.contains(0) ? .failure(UsageError("--cwd needs a directory")) : .success(options.workingDirectory = dir)
                }
            case "env":
                outcome = takeValue().flatMap { pair in
                    guard let equals = pair.bytes.firstIndex(of: UInt8(ascii: "=")), equals != 0, !pair.contains(0) else {
                        return .failure(UsageError("--env needs NAME=VALUE, got '\(pair.printable)'"))
                    }
                    options.environment.append(pair)
                    return .success(())
                }
            case "hangup-grace":
                outcome = takeValue().flatMap { text in
                    guard let milliseconds = text.ascii.flatMap(parseSeconds) else {
                        return .failure(UsageError("--hangup-grace needs seconds between 0 and 3600, got '\(text.printable)'"))
                    }
                    options.hangupGraceMilliseconds = milliseconds
                    return .success(())
                }
            case "output-buffers":
                outcome = takeValue().flatMap { text in
                    guard text == "1" || text == "2" else { return .failure(UsageError("--output-buffers must be 1 or 2")) }
                    options.outputBufferCount = text == "1" ? 1 : 2
                    return .success(())
                }
            case "output-buffer-size":
                outcome = takeValue().flatMap { byteCount($0, in: outputBufferSizes, option: name) }
                    .map { options.outputBufferSize = $0 }
            case "stdout-pipe-size":
                outcome = takeValue().flatMap { text in
                    guard let bytes = text.ascii.flatMap({ Int($0) }), bytes == 0 || stdoutPipeSizes.contains(bytes) else {
                        return .failure(UsageError("--stdout-pipe-size must be 0 (leave it alone) or \(rangeText(stdoutPipeSizes)) bytes"))
                    }
                    options.stdoutPipeSize = bytes == 0 ? nil : bytes
                    return .success(())
                }
            case "keep":
                guard value == nil else { return .failure(UsageError("--keep takes no value")) }
                options.keep = true
                outcome = .success(())
            case "keep-buffer":
                outcome = takeValue().flatMap { byteCount($0, in: keepBufferSizes, option: name) }
                    .map { options.keepBufferBytes = $0 }
            default:
                return .failure(UsageError("unknown option '--\(name)' (try: ptyproxy --help)"))
            }
            if case .failure(let error) = outcome { return .failure(error) }
        }
        guard positional.count == 3 else {
            let missing = ["ID", "COLS", "ROWS"][positional.count...].joined(separator: " ")
            return .failure(UsageError("missing \(missing) (usage: ptyproxy new [OPTIONS] ID COLS ROWS CMD [ARG...])"))
        }
        guard !options.command.isEmpty else {
            return .failure(UsageError("missing CMD (usage: ptyproxy new [OPTIONS] ID COLS ROWS CMD [ARG...])"))
        }
        guard !options.command[0].isEmpty else { return .failure(UsageError("CMD is empty")) }
        guard !options.command.contains(where: { $0.contains(0) }) else {
            return .failure(UsageError("CMD contains a NUL byte"))
        }
        switch validID(positional[0]).flatMap({ id in size(positional[1], positional[2]).map { (id, $0) } }) {
        case .success(let (id, size)):
            options.id = id
            options.size = size
            return .success(.new(options))
        case .failure(let error):
            return .failure(error)
        }
    }

    /// `new --arg-encoding percent ...` (or `--arg-encoding=percent`): every
    /// later argument is percent-encoded, the form Emacs on Windows uses
    /// because its arguments reach the program through the ANSI code page.
    /// The contract is the Windows program's (docs/INTERFACE.md); here argv
    /// is bytes already, so decoding the form is all there is to do.
    private static func decodingArguments(_ arguments: [ByteString]) -> Result<[ByteString], UsageError> {
        let option: ByteString = "--arg-encoding"
        guard let first = arguments.first, first.hasPrefix(option) else { return .success(arguments) }
        let span: Int
        let value: ByteString?
        if first == option {
            span = 2
            value = arguments.count > 1 ? arguments[1] : nil
        } else if first.bytes[option.count] == UInt8(ascii: "=") {
            span = 1
            value = ByteString(first.bytes[(option.count + 1)...])
        } else {
            return .success(arguments)
        }
        guard let value else { return .failure(UsageError("option --arg-encoding needs a value (percent)")) }
        guard value == "percent" else { return .failure(UsageError("--arg-encoding supports only 'percent'")) }
        var decoded: [ByteString] = []
        for (number, argument) in arguments.dropFirst(span).enumerated() {
            switch percentDecoded(argument) {
            case .success(let bytes): decoded.append(bytes)
            case .failure(let reason):
                return .failure(UsageError("--arg-encoding percent: argument \(number + 1): \(reason.message)"))
            }
        }
        return .success(decoded)
    }

    /// `%XX` -> the byte XX; printable ASCII other than `%` stands for itself.
    static func percentDecoded(_ argument: ByteString) -> Result<ByteString, UsageError> {
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        let bytes = argument.bytes
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) else {
                    return .failure(UsageError("'%' at byte \(index + 1) is not followed by two hex digits"))
                }
                guard high | low != 0 else { return .failure(UsageError("%00 at byte \(index + 1): NUL cannot be an argument")) }
                out.append(high << 4 | low)
                index += 3
            } else {
                guard (0x20...0x7e).contains(byte) else {
                    return .failure(UsageError("byte \(index + 1) (0x\(String(byte, radix: 16))) is not percent-encoded"))
                }
                out.append(byte)
                index += 1
            }
        }
        return .success(ByteString(out))
    }

    /// An ID on the command line: the socket name's grammar, and not
    /// starting with `-`, so that a mistyped option (`new -h 80 24 cmd`) is
    /// refused as an ID instead of becoming a session called `-h`.
    private static func validID(_ id: ByteString) -> Result<String, UsageError> {
        guard let text = id.ascii, SessionDirectory.isValidID(text) else {
            return .failure(UsageError("invalid ID '\(id.printable)': use 1 to \(SessionDirectory.maximumIDLength) of A-Z a-z 0-9 . _ -"))
        }
        guard !text.hasPrefix("-") else {
            return .failure(UsageError("invalid ID '\(id.printable)': an ID may not start with '-' (options of new are --NAME)"))
        }
        if let reason = windowsProblem(text) { return .failure(UsageError("invalid ID '\(id.printable)': \(reason)")) }
        return .success(text)
    }

    /// The names Windows cannot keep apart, refused by both programs so that
    /// an ID names one session on either (docs/INTERFACE.md): Windows drops
    /// a trailing '.' from file names, and a device name (CON, NUL, COM1...,
    /// any case, with or without an extension) is the device, not a file.
    static func windowsProblem(_ id: String) -> String? {
        if id.hasSuffix(".") { return "an ID may not end with '.' (Windows drops it)" }
        let base = id.utf8.prefix { $0 != UInt8(ascii: ".") }
        guard isWindowsDeviceName(base) else { return nil }
        return "\(String(decoding: base, as: UTF8.self).uppercased()) is a Windows device name (also with an extension); choose another ID"
    }

    /// CON PRN AUX NUL, COM0-9 and LPT0-9, in any ASCII case: the bytes,
    /// upper-cased, packed into one word and compared, so that every `new`
    /// pays no allocation for a rule about another system.
    private static func isWindowsDeviceName(_ name: Substring.UTF8View) -> Bool {
        var word: UInt32 = 0, count = 0
        for byte in name {
            count += 1
            guard count <= 4 else { return false }
            word = word << 8 | UInt32(byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte)
        }
        switch count {
        case 3:
            return word == packed("CON") || word == packed("PRN") || word == packed("AUX") || word == packed("NUL")
        case 4:
            let (stem, digit) = (word >> 8, word & 0xff)
            return (stem == packed("COM") || stem == packed("LPT")) && digit >= 0x30 && digit <= 0x39
        default:
            return false
        }
    }

    /// Three ASCII letters as `isWindowsDeviceName` packs them.
    private static func packed(_ name: StaticString) -> UInt32 {
        name.withUTF8Buffer { $0.reduce(0) { $0 << 8 | UInt32($1) } }
    }

    /// The sizes `--output-buffer-size` accepts, in bytes.
    static let outputBufferSizes = 1024...(16 << 20)
    /// The sizes `--keep-buffer` accepts, in bytes.
    static let keepBufferSizes = 4096...(1 << 30)

    private static let attachUsage = UsageError("usage: ptyproxy attach ID [COLS ROWS] [--force]")

    /// `attach ID [COLS ROWS] [--force]` (`--force` anywhere after the verb).
    private static func parseAttach(_ arguments: [ByteString]) -> Result<Invocation, UsageError> {
        let force = arguments.contains("--force")
        let rest = arguments.filter { $0 != "--force" }
        guard rest.count == 1 || rest.count == 3 else { return .failure(attachUsage) }
        return validID(rest[0]).flatMap { id in
            guard rest.count == 3 else { return .success(.attach(id: id, size: nil, force: force)) }
            return size(rest[1], rest[2]).map { .attach(id: id, size: $0, force: force) }
        }
    }

    /// The sizes `--stdout-pipe-size` accepts besides 0, in bytes.
    static let stdoutPipeSizes = 4096...(64 << 20)

    /// A range as messages write it: `LOW..HIGH`.
    private static func rangeText(_ range: ClosedRange<Int>) -> String { "\(range.lowerBound)..\(range.upperBound)" }

    /// The value of `--OPTION`, a byte count within `range`.
    private static func byteCount(_ text: ByteString, in range: ClosedRange<Int>, option: String) -> Result<Int, UsageError> {
        guard let bytes = text.ascii.flatMap({ Int($0) }), range.contains(bytes) else {
            return .failure(UsageError("--\(option) must be \(rangeText(range)) bytes"))
        }
        return .success(bytes)
    }

    private static func size(_ columns: ByteString, _ rows: ByteString) -> Result<WindowSize, UsageError> {
        guard let c = columns.ascii.flatMap({ ControlRequest.parseDimension($0) }) else {
            return .failure(UsageError("invalid COLS '\(columns.printable)': must be an integer in \(WindowSize.dimensionsText)"))
        }
        guard let r = rows.ascii.flatMap({ ControlRequest.parseDimension($0) }) else {
            return .failure(UsageError("invalid ROWS '\(rows.printable)': must be an integer in \(WindowSize.dimensionsText)"))
        }
        return .success(WindowSize(columns: c, rows: r))
    }

    /// Seconds as a decimal (`2`, `0.5`) to milliseconds, 0...3600 s.
    static func parseSeconds(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty || parts.count == 2,
              whole.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), whole.utf8.count <= 4 else { return nil }
        var milliseconds = (Int64(whole) ?? 0) * 1000
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.utf8.count <= 3, fraction.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            milliseconds += Int64(fraction + String(repeating: "0", count: 3 - fraction.count))!
        }
        return milliseconds <= 3_600_000 ? milliseconds : nil
    }
}
