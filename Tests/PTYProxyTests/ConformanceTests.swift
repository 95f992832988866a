// SPDX-License-Identifier: MIT
import Foundation
import Glibc
import Testing
import CPTYShim
@testable import PTYProxy

/// The conformance cases of docs/conformance/ (format: its README.md), which
/// ptyproxy.exe must pass too (windows/tests/conformance_tests.c,
/// windows/e2e/test_conformance_wine.py). Cases of platform `windows` are
/// counted, not run.
enum Conformance {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/conformance").path

    /// One line of a case file, its fields unescaped.
    struct Row: Sendable {
        let file: String
        let lineNumber: Int
        let fields: [[UInt8]]
        /// Field `index`, empty when the row is short (caseFilesAreWellFormed reports it).
        func field(_ index: Int) -> [UInt8] { index < fields.count ? fields[index] : [] }
        func text(_ index: Int) -> String { String(decoding: field(index), as: UTF8.self) }
    }

    /// The rows of `name` (comments left out), and what was wrong with the file.
    static func rows(_ name: String) -> (rows: [Row], problems: [String]) {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
            return ([], ["\(name): cannot read \(directory)/\(name)"])
        }
        var rows: [Row] = []
        var problems: [String] = []
        for (index, line) in data.split(separator: 10, omittingEmptySubsequences: false).enumerated() {
            var line = Array(line)
            if line.last == 13 { line.removeLast() }
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            var fields: [[UInt8]] = []
            for raw in line.split(separator: 9, omittingEmptySubsequences: false) {
                guard let field = unescape(Array(raw)) else {
                    problems.append("\(name):\(index + 1): a bad escape in '\(String(decoding: raw, as: UTF8.self))'")
                    break
                }
                fields.append(field)
            }
            rows.append(Row(file: name, lineNumber: index + 1, fields: fields))
        }
        return (rows, problems)
    }

    /// `\\ \t \n \r \xHH \xHH*N`, as docs/conformance/README.md says; nil for anything else.
    static func unescape(_ text: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var index = 0
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x61...0x66: byte - 0x61 + 10
            case 0x41...0x46: byte - 0x41 + 10
            default: nil
            }
        }
        while index < text.count {
            let byte = text[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else { out.append(byte); continue }
            guard index < text.count else { return nil }
            let escape = text[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\\"): out.append(byte)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "x"):
                guard index + 2 <= text.count, let high = hex(text[index]), let low = hex(text[index + 1]) else { return nil }
                index += 2
                var repeats = 1
                if index < text.count && text[index] == UInt8(ascii: "*") {
                    index += 1
                    let digits = text[index...].prefix { $0 >= 0x30 && $0 <= 0x39 }
                    guard let count = Int(String(decoding: digits, as: UTF8.self)) else { return nil }
                    repeats = count
                    index += digits.count
                }
                out += repeatElement(high << 4 | low, count: repeats)
            default:
                return nil
            }
        }
        return out
    }

    /// The rows of `name` for this program, and how many are for Windows only.
    static func posixRows(_ name: String) -> (rows: [Row], windowsOnly: Int) {
        let all = rows(name).rows
        return (all.filter { $0.fields.count > 1 && ($0.text(1) == "all" || $0.text(1) == "posix") },
                all.filter { $0.fields.count > 1 && $0.text(1) == "windows" }.count)
    }

    static let maximumSize = "65535"

    static func expandMaximumSize(_ text: String) -> String {
        text.replacingOccurrences(of: "{max-size}", with: maximumSize)
    }
}

/// A case of cli.tsv.
struct CommandLineCase: Sendable, CustomTestStringConvertible {
    let name, parser, stdout, stderr: String
    let exit: Int32
    let arguments: [[UInt8]]
    var testDescription: String { name }

    init(_ row: Conformance.Row) {
        name = row.text(0)
        parser = row.text(2)
        exit = Int32(row.text(3)) ?? -1
        stdout = row.text(4)
        stderr = row.text(5)
        arguments = Array(row.fields.dropFirst(6))
    }

    static let all = Conformance.posixRows("cli.tsv").rows.map(CommandLineCase.init)

    /// An executable file without `#!` holding `text`, in the tests' own directory.
    static func script(_ text: [UInt8]) -> String {
        let name = text.map { String($0, radix: 16) }.joined().prefix(64)
        let path = ConformanceTests.runtime.runtimeDirectory + "/script-\(name)"
        FileManager.default.createFile(atPath: path, contents: Data(text + [10]), attributes: [.posixPermissions: 0o755])
        return path
    }

    var needsLiveSession: Bool { arguments.contains(Array("{live}".utf8)) }

    /// The arguments with the placeholders replaced by this system's
    /// commands, and `{live}` by `liveID`.
    func expandedArguments(liveID: String = "") -> [[UInt8]] {
        arguments.flatMap { argument -> [[UInt8]] in
            let text = String(decoding: argument, as: UTF8.self)
            if text == "{live}" { return [Array(liveID.utf8)] }
            if text.hasPrefix("{exit "), text.hasSuffix("}") {  // /bin/sh -c 'exit N'
                return [Array("/bin/sh".utf8), Array("-c".utf8), Array(text.dropFirst().dropLast().utf8)]
            }
            if text.hasPrefix("{shell "), text.hasSuffix("}") {
                return [Array("/bin/sh".utf8), Array("-c".utf8), Array(argument.dropFirst(7).dropLast())]
            }
            if text.hasPrefix("{script "), text.hasSuffix("}") {
                return [Array(Self.script(Array(argument.dropFirst(8).dropLast())).utf8)]
            }
            switch text {
            case "{not-executable}": return [Array("/dev/null".utf8)]
            case "{missing-dir}": return [Array("/nonexistent/ptyproxy-conformance".utf8)]
            default: return [argument]
            }
        }
    }
}

/// A case of control.tsv.
struct ControlCase: Sendable, CustomTestStringConvertible {
    let name: String
    let line: [UInt8]
    let request, reply: String
    var testDescription: String { name }

    init(_ row: Conformance.Row) {
        name = row.text(0)
        line = row.field(2)
        request = Conformance.expandMaximumSize(row.text(3))
        reply = Conformance.expandMaximumSize(row.text(4))
    }

    static let all = Conformance.posixRows("control.tsv").rows.map(ControlCase.init)

    /// A line ending in `{unfinished}` is sent without its newline.
    var unfinished: Bool { line.count >= 12 && line.suffix(12).elementsEqual("{unfinished}".utf8) }
    var bytesToSend: [UInt8] { unfinished ? Array(line.dropLast(12)) : line + [10] }

    func matches(reply got: String) -> Bool {
        reply.hasSuffix("*") ? got.hasPrefix(String(reply.dropLast())) : got == reply
    }
}

/// A case of json-strings.tsv.
struct JSONStringCase: Sendable, CustomTestStringConvertible {
    let name: String
    let argument, json: [UInt8]
    var testDescription: String { name }
    static let all = Conformance.posixRows("json-strings.tsv").rows.map {
        JSONStringCase(name: $0.text(0), argument: $0.field(2), json: $0.field(3))
    }
}

/// A program run to its end with argv as bytes (the Strings of HostedProcess
/// cannot hold bytes that are not UTF-8), stdin a pipe held open, stdout and
/// stderr collected.
struct RawRun {
    var status: PTYProxy.ExitStatus?
    var output: [UInt8] = []
    var errors: [UInt8] = []

    init(_ arguments: [[UInt8]], environment: [String], timeoutMilliseconds: Int64 = 20_000) {
        var inPipe: [CInt] = [-1, -1], outPipe: [CInt] = [-1, -1], errPipe: [CInt] = [-1, -1]
        precondition(ptyshim_pipe(&inPipe, 0) == 0 && ptyshim_pipe(&outPipe, 0) == 0 && ptyshim_pipe(&errPipe, 0) == 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // As a host would start it: no signal blocked or ignored, whatever this test process does.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { bytes in strdup(bytes.map { CChar(bitPattern: $0) } + [0]) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0].map { CChar(bitPattern: $0) } + [0], &actions, &attributes, argv, envp)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        defer { close(inPipe[1]) }
        guard spawned == 0 else { close(outPipe[0]); close(errPipe[0]); return }
        let deadline = now() + timeoutMilliseconds
        var open = [outPipe[0], errPipe[0]]
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open.contains(where: { $0 >= 0 }) && now() < deadline {
            var entries = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&entries, 2, Int32(max(1, deadline - now()))) <= 0 { continue }
            for (index, entry) in entries.enumerated() where entry.revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if index == 0 { output += chunk[..<count] } else { errors += chunk[..<count] }
                } else if count == 0 || errno != EINTR {
                    close(entry.fd)
                    open[index] = -1
                }
            }
        }
        for fd in open where fd >= 0 { close(fd) }
        var raw: Int32 = 0
        // Both pipes ended, so the program has exited (or is about to): the
        // bounded wait is for a program that closed them and kept running.
        while now() < deadline {
            let reaped = waitpid(pid, &raw, WNOHANG)
            if reaped == pid { status = PTYProxy.ExitStatus(waitStatus: raw); return }
            if reaped < 0 && errno != EINTR { return }
            usleep(2000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &raw, 0)
    }
}

/// The fields of a status reply's JSON object, in order (no library: the
/// order is part of what is checked).
enum StatusJSON {
    enum Value: Equatable { case string(String), number(String), strings([String]) }

    static func fields(_ text: String) -> [(String, Value)]? {
        var scalars = Array(text.unicodeScalars)[...]
        func take(_ scalar: Unicode.Scalar) -> Bool {
            guard scalars.first == scalar else { return false }
            scalars.removeFirst()
            return true
        }
        func string() -> String? {
            guard take("\"") else { return nil }
            var result = ""
            while let scalar = scalars.popFirst() {
                switch scalar {
                case "\"": return result
                case "\\":
                    guard let escape = scalars.popFirst() else { return nil }
                    switch escape {
                    case "n": result += "\n"
                    case "r": result += "\r"
                    case "t": result += "\t"
                    case "u":
                        guard scalars.count >= 4, let value = UInt32(String(String.UnicodeScalarView(scalars.prefix(4))), radix: 16),
                              let decoded = Unicode.Scalar(value) else { return nil }
                        scalars.removeFirst(4)
                        result.unicodeScalars.append(decoded)
                    default: result.unicodeScalars.append(escape)
                    }
                default: result.unicodeScalars.append(scalar)
                }
            }
            return nil
        }
        guard take("{") else { return nil }
        var fields: [(String, Value)] = []
        while !take("}") {
            if !fields.isEmpty && !take(",") { return nil }
            guard let key = string(), take(":") else { return nil }
            if scalars.first == "\"" {
                guard let value = string() else { return nil }
                fields.append((key, .string(value)))
            } else if take("[") {
                var items: [String] = []
                while !take("]") {
                    if !items.isEmpty && !take(",") { return nil }
                    guard let item = string() else { return nil }
                    items.append(item)
                }
                fields.append((key, .strings(items)))
            } else {
                let number = scalars.prefix { ("0"..."9").contains($0) || $0 == "." }
                guard !number.isEmpty else { return nil }
                scalars.removeFirst(number.count)
                fields.append((key, .number(String(String.UnicodeScalarView(number)))))
            }
        }
        return scalars.isEmpty ? fields : nil
    }
}

@Suite(.serialized) struct ConformanceTests {
    static let runtime = TestEnvironment.privateRuntime("conformance")

    @Test func caseFilesAreWellFormed() {
        let widths = ["cli.tsv": 6, "control.tsv": 5, "json-strings.tsv": 4, "status.tsv": 4]
        for (file, width) in widths {
            let (rows, problems) = Conformance.rows(file)
            #expect(problems.isEmpty, "\(problems)")
            #expect(!rows.isEmpty, "\(file) has no cases")
            for row in rows {
                #expect(file == "cli.tsv" ? row.fields.count >= width : row.fields.count == width,
                        "\(file):\(row.lineNumber): \(row.fields.count) fields")
                let platform = row.text(file == "status.tsv" ? 3 : 1)
                #expect(["all", "posix", "windows"].contains(platform), "\(file):\(row.lineNumber): platform")
            }
        }
        let counted = ["cli.tsv", "control.tsv", "json-strings.tsv"].map { file in
            let (rows, windowsOnly) = Conformance.posixRows(file)
            return "\(file): \(rows.count) for POSIX, \(windowsOnly) for Windows only"
        }
        print("conformance: " + counted.joined(separator: "; "))
    }

    // MARK: cli.tsv

    @Test(arguments: CommandLineCase.all) func commandLineParser(_ test: CommandLineCase) {
        let parsed = Invocation.parse(test.expandedArguments(liveID: "conformance-live").map { ByteString($0) })
        switch (test.parser, parsed) {
        case ("refuse", .failure): break
        case ("help", .success(.help)), ("version", .success(.version)): break
        case ("accept", .success(let invocation)):
            let verb = switch invocation {
            case .new: "new"
            case .resize: "resize"
            case .signal: "signal"
            case .status: "status"
            case .attach: "attach"
            case .list: "list"
            case .help: "help"
            case .version: "version"
            }
            #expect(test.arguments.first.map { String(decoding: $0, as: UTF8.self) } == verb, "parsed as \(invocation)")
        default:
            Issue.record("expected \(test.parser), parsed as \(parsed)")
        }
    }

    @Test(arguments: CommandLineCase.all) func commandLine(_ test: CommandLineCase) throws {
        let liveID = uniqueID("conf-live")
        let live = test.needsLiveSession ? try #require(Self.startSession(liveID)) : nil
        defer {
            if let live {
                kill(live.pid, SIGTERM)
                _ = live.finish()
            }
        }
        let run = RawRun([Array(ProxyBinary.path.utf8)] + test.expandedArguments(liveID: liveID),
                         environment: Self.runtime.environment)
        #expect(run.status == PTYProxy.ExitStatus.exited(test.exit), "exit: stderr \(String(decoding: run.errors, as: UTF8.self))")
        let out = String(decoding: run.output, as: UTF8.self)
        switch test.stdout {
        case "empty": #expect(run.output.isEmpty, "stdout: \(out)")
        case "usage": #expect(out.hasPrefix("usage: ptyproxy "), "stdout: \(out)")
        case "version":
            #expect(out.hasPrefix("ptyproxy ") && out.hasSuffix("\n") && out.filter { $0 == "\n" }.count == 1, "stdout: \(out)")
        case "json":
            #expect(out.hasSuffix("\n") && out.filter { $0 == "\n" }.count == 1, "stdout: \(out)")
            #expect(StatusJSON.fields(String(out.dropLast())) != nil, "stdout is not a JSON object: \(out)")
        case "any": break
        default: Issue.record("unknown stdout shape '\(test.stdout)'")
        }
        let err = String(decoding: run.errors, as: UTF8.self)
        if test.stderr == "empty" {
            #expect(run.errors.isEmpty, "stderr: \(err)")
        } else if test.stderr == "error" || test.stderr.hasPrefix("error~") {
            let lines = err.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 2 && lines[1].isEmpty && lines[0].hasPrefix("ptyproxy: "),
                    "stderr must be one line 'ptyproxy: ...', is \(err.debugDescription)")
            if test.stderr.hasPrefix("error~") {
                let expected = Conformance.expandMaximumSize(String(test.stderr.dropFirst(6)))
                #expect(err.contains(expected), "stderr \(err.debugDescription) lacks \(expected.debugDescription)")
            }
        } else {
            Issue.record("unknown stderr shape '\(test.stderr)'")
        }
    }

    // MARK: control.tsv

    @Test(arguments: ControlCase.all.filter { $0.request != "-" }) func requestParser(_ test: ControlCase) {
        let parsed: String = switch ControlRequest.parse(test.line) {
        case .success(.resize(let size)): "resize \(size.columns) \(size.rows)"
        case .success(.signal(let number)): "signal \(number)"
        case .success(.status): "status"
        case .success(.ping): "ping"
        case .failure(let error): "error \(error)"
        }
        #expect(parsed == test.request)
    }

    /// A live session whose child is `cat`, with `arguments` after it.
    static func startSession(_ id: String, arguments: [String] = []) -> HostedProcess? {
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "/bin/sh", "-c", "echo READY; exec cat"] + arguments,
                                  environment: runtime.environment)
        guard proxy.read(untilContains: "READY"),
              eventually({ ControlConnection(id, directory: runtime.controlDirectory) != nil }) else { return nil }
        return proxy
    }

    /// The reply to `bytes` (a line and its newline, or an unfinished line).
    static func reply(_ id: String, _ bytes: [UInt8]) -> String? {
        guard let connection = ControlConnection(id, directory: runtime.controlDirectory) else { return nil }
        connection.send(bytes)
        return connection.readLines(1, timeoutMilliseconds: 10_000).first
    }

    /// Every request line to a live session, each on a connection of its
    /// own. A request that signals the child gets a session of its own: the
    /// signal may end it. A reply that ends the connection races the close
    /// after it, so such cases are sent 10 times.
    @Test func liveSessionReplies() throws {
        let id = uniqueID("conf")
        let session = try #require(Self.startSession(id))
        let cases = ControlCase.all.flatMap { test in
            Array(repeating: test, count: test.reply.hasPrefix("error line too long") ? 10 : 1)
        }
        for test in cases {
            var target = id
            var own: HostedProcess?
            if test.request.hasPrefix("signal ") {
                target = uniqueID("conf-sig")
                own = Self.startSession(target)
                #expect(own != nil, "\(test.name): no session to signal")
            }
            let got = Self.reply(target, test.bytesToSend)
            #expect(got.map(test.matches) == true, "\(test.name): reply \(got.debugDescription), expected \(test.reply)")
            if let own {
                kill(own.pid, SIGTERM)
                #expect(own.finish() != nil)
            }
        }
        kill(session.pid, SIGTERM)
        #expect(session.finish() != nil)
    }

    /// "A connection may carry several requests. Every request gets its
    /// reply, in order and whole": every line that neither signals nor is
    /// too long (which ends what the connection may ask), written at once;
    /// then a last line ended by shutting down the write side.
    @Test func oneConnectionCarriesEveryRequest() throws {
        let id = uniqueID("conf-many")
        let session = try #require(Self.startSession(id))
        let cases = ControlCase.all.filter {
            !$0.request.hasPrefix("signal ") && !$0.request.contains("too long") && !$0.unfinished
        }
        let connection = try #require(ControlConnection(id, directory: Self.runtime.controlDirectory))
        connection.send(cases.flatMap { $0.line + [10] } + Array("ping".utf8))
        connection.shutdownWrite()
        let replies = connection.readLines(cases.count + 1, timeoutMilliseconds: 10_000)
        #expect(replies.count == cases.count + 1, "\(replies.count) replies to \(cases.count + 1) requests")
        for (test, reply) in zip(cases, replies) {
            #expect(test.matches(reply: reply), "\(test.name): reply \(reply), expected \(test.reply)")
        }
        #expect(replies.count == cases.count + 1 && replies.last == "ok pong", "the line ended by shutdown")
        kill(session.pid, SIGTERM)
        #expect(session.finish() != nil)
    }

    // MARK: status.tsv

    /// The status of a live session, from its socket and from the tool
    /// (`status ID`, and its line of `list`), against status.tsv.
    @Test func statusFields() throws {
        let id = uniqueID("conf-status")
        let extra = ["a \"b\" \\ c", "caf\u{e9}", "tab\there"]
        let session = try #require(Self.startSession(id, arguments: extra))
        let command = ["/bin/sh", "-c", "echo READY; exec cat"] + extra
        #expect(Self.reply(id, Array("resize 132 43\n".utf8)) == "ok 132 43")
        let reply = try #require(Self.reply(id, Array("status\n".utf8)))
        #expect(reply.hasPrefix("ok {"))
        Self.checkStatus(String(reply.dropFirst(3)), id: id, command: command)

        let status = runTool(["status", id], environment: Self.runtime.environment)
        #expect(status.status == .exited(0) && status.errors.isEmpty, "status: \(status.errorText)")
        #expect(status.outputText.hasSuffix("\n") && status.outputText.filter { $0 == "\n" }.count == 1, "\(status.outputText)")
        Self.checkStatus(String(status.outputText.dropLast()), id: id, command: command)

        let list = runTool(["list"], environment: Self.runtime.environment)
        #expect(list.status == .exited(0) && list.errors.isEmpty, "list: \(list.errorText)")
        let line = list.outputText.split(separator: "\n").first { $0.hasPrefix(id + "\t") }
        #expect(line != nil, "list names no \(id): \(list.outputText)")
        if let line { Self.checkStatus(String(line.dropFirst(id.count + 1)), id: id, command: command) }

        kill(session.pid, SIGTERM)
        #expect(session.finish() != nil)
    }

    static func checkStatus(_ json: String, id: String, command: [String]) {
        guard let fields = StatusJSON.fields(json) else {
            Issue.record("not a JSON object: \(json)")
            return
        }
        let table = Conformance.rows("status.tsv").rows.filter { $0.text(3) != "windows" }
        #expect(fields.map(\.0) == table.map { $0.text(0) }, "fields of \(json)")
        for (row, (name, value)) in zip(table, fields) where row.text(0) == name {
            let type = row.text(1), expected = row.text(2)
            switch (type, value) {
            case ("string", .string(let text)):
                #expect(expected != "=id" || text == id, "\(name): \(text)")
            case ("strings", .strings(let items)):
                #expect(expected != "=command" || items == command, "\(name): \(items)")
            case ("integer", .number(let digits)), ("seconds", .number(let digits)):
                let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
                #expect(type == "integer" ? parts.count == 1 : parts.count == 2 && parts[1].count == 3, "\(name): \(digits)")
                let whole = Int(parts[0]) ?? -1
                switch expected {
                case ">0": #expect(whole > 0 || (parts.count == 2 && Int(parts[1])! > 0), "\(name): \(digits)")
                case ">=0": #expect(whole >= 0, "\(name): \(digits)")
                case "=cols": #expect(digits == "132", "\(name): \(digits)")
                case "=rows": #expect(digits == "43", "\(name): \(digits)")
                default: Issue.record("\(name): unknown value '\(expected)'")
                }
            default:
                Issue.record("\(name): \(value) is not of type \(type)")
            }
        }
    }

    // MARK: json-strings.tsv

    @Test(arguments: JSONStringCase.all) func commandArgumentAsJSON(_ test: JSONStringCase) {
        #expect(Array(ByteString(test.argument).jsonQuoted.utf8) == test.json,
                "\(ByteString(test.argument).jsonQuoted) != \(String(decoding: test.json, as: UTF8.self))")
    }
}
