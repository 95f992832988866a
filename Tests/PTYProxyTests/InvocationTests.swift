// SPDX-License-Identifier: MIT
import Testing
@testable import PTYProxy

@Suite struct InvocationTests {
    private func newOptions(_ arguments: [String]) -> Invocation.NewOptions? {
        if case .success(.new(let options)) = Invocation.parse(arguments) { return options }
        return nil
    }

    @Test func conptyProxyCallShape() {
        let options = newOptions(["new", "emacs-1", "120", "40", "cmd.exe"])
        #expect(options?.id == "emacs-1")
        #expect(options?.size == WindowSize(columns: 120, rows: 40))
        #expect(options?.command == ["cmd.exe"])
    }

    @Test func doubleDashBeforeOrAfterThePositionals() {
        #expect(newOptions(["new", "x", "80", "24", "--", "ls", "--color"])?.command == ["ls", "--color"])
        #expect(newOptions(["new", "--", "x", "80", "24", "ls", "-l"])?.command == ["ls", "-l"])
        // After CMD starts, options belong to CMD.
        #expect(newOptions(["new", "x", "80", "24", "sh", "--term", "vt100"])?.command == ["sh", "--term", "vt100"])
    }

    @Test func optionsInBothSpellings() {
        let options = newOptions(["new", "--term=vt220", "--cwd", "/tmp", "--env", "A=1", "--env=B=2=3",
                                  "--hangup-grace", "0.25", "--output-buffers=1", "--output-buffer-size", "8192",
                                  "--stdout-pipe-size", "1048576", "x", "80", "24", "true"])
        #expect(options?.term == "vt220")
        #expect(options?.workingDirectory == "/tmp")
        #expect(options?.environment == ["A=1", "B=2=3"])
        #expect(options?.hangupGraceMilliseconds == 250)
        #expect(options?.outputBufferCount == 1)
        #expect(options?.outputBufferSize == 8192)
        #expect(options?.stdoutPipeSize == 1_048_576)
    }

    @Test func stdoutPipeIsLeftAloneUnlessAsked() {
        #expect(newOptions(["new", "x", "80", "24", "true"])?.stdoutPipeSize == nil)
        #expect(newOptions(["new", "--stdout-pipe-size", "0", "x", "80", "24", "true"])?.stdoutPipeSize == nil)
        #expect(newOptions(["new", "--stdout-pipe-size", "131072", "x", "80", "24", "true"])?.stdoutPipeSize == 131_072)
    }

    @Test(arguments: [
        ["new", "x", "80", "24"], ["new", "x", "0", "24", "sh"], ["new", "x", "65536", "24", "sh"],
        ["new", "x", "+5", "24", "sh"], ["new", "x", " 80", "24", "sh"], ["new", "x", "80", "24", ""],
        ["new", String(repeating: "a", count: 65), "80", "24", "sh"], ["new", "..", "80", "24", "sh"],
        ["new", "--env", "NOVALUE", "x", "80", "24", "sh"], ["new", "--env", "=v", "x", "80", "24", "sh"],
        ["new", "--hangup-grace", "-1", "x", "80", "24", "sh"], ["new", "--hangup-grace", "1.2345", "x", "80", "24", "sh"],
        ["new", "--output-buffers", "3", "x", "80", "24", "sh"], ["new", "--term"], ["signal", "x", "NOPE"],
        ["status"], ["list", "extra"], ["resize", "x", "1", "2", "3"],
    ])
    func rejected(arguments: [String]) {
        guard case .failure(let error) = Invocation.parse(arguments) else {
            Issue.record("accepted \(arguments)")
            return
        }
        #expect(!error.message.isEmpty && !error.message.contains("\n"))
    }

    @Test func controlVerbs() {
        #expect(Invocation.parse(["resize", "a.b_c-1", "1", "65535"]) == .success(.resize(id: "a.b_c-1", size: WindowSize(columns: 1, rows: 65535))))
        #expect(Invocation.parse(["signal", "x", "SIGINT"]) == .success(.signal(id: "x", signal: "SIGINT")))
        #expect(Invocation.parse(["status", "x"]) == .success(.status(id: "x")))
        #expect(Invocation.parse(["--help"]) == .success(.help))
        #expect(Invocation.parse(["-h"]) == .success(.help))
        // Help is only ever the first argument: after `new`, -h is a (bad) ID.
        if case .success(let parsed) = Invocation.parse(["new", "-h", "80", "24", "sh"]) {
            Issue.record("accepted as \(parsed)")
        }
    }

    /// IDs that Windows cannot keep apart are refused on Linux too (one rule
    /// for both programs, docs/INTERFACE.md); their neighbours are not.
    @Test func idsWindowsCannotKeepApart() {
        for id in ["t.", "a..", "con", "CON", "Nul", "aux.txt", "prn.tar.gz", "com1", "COM9.log", "lpt1", "LPT0"] {
            for arguments in [["new", id, "80", "24", "sh"], ["status", id], ["resize", id, "80", "24"]] {
                guard case .failure(let error) = Invocation.parse(arguments) else {
                    Issue.record("accepted \(arguments)"); continue
                }
                #expect(error.message.contains("Windows"), "\(error.message)")
            }
        }
        guard case .failure(let error) = Invocation.parse(["status", "cOm7.tar"]) else {
            Issue.record("accepted cOm7.tar"); return
        }
        #expect(error.message == "invalid ID 'cOm7.tar': COM7 is a Windows device name (also with an extension); choose another ID")
        for id in ["console", "nulls", "com10", "lpt", "x.con", "aux_1", "t.x", "a.b_c-1",
                   "co", "com", "comx", "con0", "nul_", ".con", "auxx.txt", "com1x"] {
            #expect(Invocation.parse(["status", id]) == .success(.status(id: id)), "\(id)")
        }
    }

    @Test func errorMessagesNeverCarryControlCharacters() {
        guard case .failure(let error) = Invocation.parse(["new", "a\nb\u{1b}[2J", "80", "24", "sh"]) else {
            Issue.record("accepted"); return
        }
        #expect(!error.message.unicodeScalars.contains { $0.value < 0x20 })
    }

    /// `--arg-encoding percent`: the contract of the Windows program, where
    /// Emacs sends non-ASCII arguments so; on Linux it decodes the same form.
    @Test func percentEncodedArguments() throws {
        let options = newOptions(["new", "--arg-encoding", "percent", "--cwd", "/home/Jos%C3%A9", "--env", "A=%E6%97%A5",
                                  "x", "80", "24", "echo", "%E6%97%A5%E6%9C%AC 100%25", "%FF"])
        #expect(options?.workingDirectory == "/home/José")
        #expect(options?.environment == ["A=日"])
        #expect(options?.command == ["echo", "日本 100%", ByteString([0xff])])
        #expect(newOptions(["new", "--arg-encoding=percent", "x", "80", "24", "a%20b"])?.command == ["a b"])
        // Without the option, or not first, nothing is decoded.
        #expect(newOptions(["new", "x", "80", "24", "a%20b"])?.command == ["a%20b"])
        #expect(newOptions(["new", "x", "80", "24", "sh", "--arg-encoding", "percent"])?.command == ["sh", "--arg-encoding", "percent"])
        func failure(_ arguments: [String]) -> String? {
            if case .failure(let error) = Invocation.parse(arguments) { return error.message }
            return nil
        }
        #expect(failure(["new", "--arg-encoding", "base64", "x", "80", "24", "sh"]) == "--arg-encoding supports only 'percent'")
        #expect(failure(["new", "--arg-encoding"]) == "option --arg-encoding needs a value (percent)")
        #expect(failure(["new", "--arg-encoding", "percent", "x", "80", "24", "100%"])
                == "--arg-encoding percent: argument 4: '%' at byte 4 is not followed by two hex digits")
        #expect(failure(["new", "--arg-encoding", "percent", "x", "80", "24", "a%00"])?.contains("NUL") == true)
        #expect(failure(["new", "--arg-encoding", "percent", "x", "80", "24", "José"])?.contains("argument 4: byte 4 (0xc3) is not percent-encoded") == true)
        #expect(failure(["new", "--arg-encoding", "percent", "x", "80", "24", "%G0"]) != nil)
        #expect(failure(["new", "--cwd", "/", "--arg-encoding", "percent", "x", "80", "24", "sh"]) == "unknown option '--arg-encoding' (try: ptyproxy --help)")
    }
}

@Suite struct ControlRequestTests {
    private func parse(_ text: String) -> Result<ControlRequest, ControlRequestError> {
        ControlRequest.parse(Array(text.utf8))
    }

    @Test func requests() {
        #expect(parse("resize 80 24") == .success(.resize(WindowSize(columns: 80, rows: 24))))
        #expect(parse("  RESIZE\t100 30 \r") == .success(.resize(WindowSize(columns: 100, rows: 30))))
        #expect(parse("120 40") == .success(.resize(WindowSize(columns: 120, rows: 40))))
        #expect(parse("signal INT") == .success(.signal(2)))
        #expect(parse("signal sigterm") == .success(.signal(15)))
        #expect(parse("signal 9") == .success(.signal(9)))
        #expect(parse("status") == .success(.status))
        #expect(parse("ping") == .success(.ping))
    }

    @Test(arguments: ["", "   ", "0 0", "-1 24", "80 -1", "70000 24", "80 65536", "abc def", "resize", "resize 80",
                      "resize 80 24 1", "resize 0x50 24", "frobnicate", "signal", "signal NOPE", "signal 0", "signal 65",
                      "status now", "80 24\u{0}", "\u{1b}[A", "résize 80 24", "99999999999999999999 1"])
    func refused(line: String) {
        guard case .failure(let error) = parse(line) else {
            Issue.record("accepted \(line.debugDescription)")
            return
        }
        #expect(!error.description.isEmpty)
    }

    @Test func overlongLineIsRefused() {
        #expect(ControlRequest.parse([UInt8](repeating: 0x31, count: 257)) == .failure(.lineTooLong))
    }

    /// What a client sends is what the server parses: the encoder and the
    /// parser agree on every verb, at the limits of the sizes.
    @Test func encodedRequestsParse() {
        for size in [WindowSize(columns: 1, rows: 1), WindowSize(columns: 80, rows: 24),
                     WindowSize(columns: UInt16.max, rows: UInt16.max)] {
            #expect(ControlRequest.line(resize: size) == "resize \(size.columns) \(size.rows)")
            #expect(parse(ControlRequest.line(resize: size)) == .success(.resize(size)))
        }
        #expect(parse(ControlRequest.line(.signal, "INT")) == .success(.signal(2)))  // SIGINT
        #expect(parse(ControlRequest.line(.status)) == .success(.status))
        #expect(parse(ControlRequest.line(.ping)) == .success(.ping))
        #expect(parse("resize 0 24") == .failure(.badSize))
        #expect(ControlRequestError.badSize.description == "size must be two integers in 1..65535")
    }

    /// Session files are named from the ID in one place.
    @Test func sessionFileNames() {
        #expect(SessionDirectory.socketName("emacs-1") == "emacs-1.sock")
        #expect(SessionLock.lockName("emacs-1") == "emacs-1.lock")
        #expect(SessionDirectory.socketPath(directory: "/run/x", id: "a") == "/run/x/a.sock")
        #expect(SessionDirectory.isValidID(String(repeating: "a", count: SessionDirectory.maximumIDLength)))
        #expect(!SessionDirectory.isValidID(String(repeating: "a", count: SessionDirectory.maximumIDLength + 1)))
    }

}
