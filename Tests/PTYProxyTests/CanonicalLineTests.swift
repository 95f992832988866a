// SPDX-License-Identifier: MIT
import Glibc
import Testing
import CPTYShim
@testable import PTYProxy

/// The input path's model of the line discipline, against the rules of
/// n_tty, without a pty (`TypedInputTests` checks the same end to end).
@Suite struct CanonicalLineTests {
    private func rules(_ change: (inout termios) -> Void = { _ in }) -> LineRules {
        var settings = termios()
        ptyshim_sane_termios(&settings)
        change(&settings)
        return LineRules(settings)
    }

    private func line(_ typed: [UInt8], _ rules: LineRules) -> (line: CanonicalLine, cuts: [Int]) {
        var line = CanonicalLine()
        line.renew(rules)
        var cuts: [Int] = []
        for (index, byte) in typed.enumerated() where line.take(byte) { cuts.append(index) }
        return (line, cuts)
    }

    @Test(arguments: [
        ("hello\r", 1), ("hello\n", 1), ("hello", 2), ("", 1), ("hello\r\r", 1),
        ("abc\u{15}", 1), ("abc\u{3}", 1), ("abc\u{4}", 1), ("hi\u{16}", 3), ("hi\u{16}\n", 2),
    ])
    func endOfFileCountUnderSaneSettings(typed: String, expected: Int) {
        #expect(line(Array(typed.utf8), rules()).line.endOfFileCount() == expected, "\(typed.debugDescription)")
    }

    @Test func endOfFileCountFollowsTheLineEndFlags() {
        let noCR = rules { $0.c_iflag &= ~tcflag_t(ICRNL) }
        #expect(line(Array("hello\r".utf8), noCR).line.endOfFileCount() == 2)
        let ignoreCR = rules { $0.c_iflag |= tcflag_t(IGNCR) }
        #expect(line(Array("hello\n\r".utf8), ignoreCR).line.endOfFileCount() == 1)
        #expect(line(Array("hello\r".utf8), ignoreCR).line.endOfFileCount() == 2)
        let newlineToCR = rules { $0.c_iflag |= tcflag_t(INLCR) }
        #expect(line(Array("hello\n".utf8), newlineToCR).line.endOfFileCount() == 2)  // NL became CR, which ends nothing
        let endOfLine = rules { settings in withUnsafeMutableBytes(of: &settings.c_cc) { $0[Int(VEOL)] = UInt8(ascii: ";") } }
        #expect(line(Array("hello;".utf8), endOfLine).line.endOfFileCount() == 1)
        let raw = rules { $0.c_lflag &= ~tcflag_t(ICANON) }
        #expect(line(Array("hello".utf8), raw).line.endOfFileCount() == 1)
    }

    @Test func aLongLineIsCutBeforeItPassesTheLimit() {
        let typed = [UInt8](repeating: UInt8(ascii: "x"), count: 10_000) + [0x0d]
        #expect(line(typed, rules()).cuts == [4095, 8190])
        // Short lines are never cut, however many.
        let lines = Array(repeating: [UInt8](repeating: UInt8(ascii: "y"), count: 4095) + [0x0a], count: 5).flatMap { $0 }
        #expect(line(lines, rules()).cuts.isEmpty)
        // Not in non-canonical mode, nor without a VEOF.
        #expect(line(typed, rules { $0.c_lflag &= ~tcflag_t(ICANON) }).cuts.isEmpty)
        #expect(line(typed, rules { settings in withUnsafeMutableBytes(of: &settings.c_cc) { $0[Int(VEOF)] = 0 } }).cuts.isEmpty)
    }

    @Test func aCutNeverFallsBetweenLiteralNextAndItsByte() {
        let typed = [UInt8](repeating: UInt8(ascii: "x"), count: 4095) + [0x16, 0x0a, UInt8(ascii: "z")]
        #expect(line(typed, rules()).cuts == [4095])  // before the VLNEXT
    }

    @Test func flushingCharactersFollowISIGAndNOFLSH() {
        #expect(rules().effect(of: 0x03) == .flushingSignal)
        #expect(rules().effect(of: 0x1c) == .flushingSignal)
        #expect(rules().effect(of: 0x1a) == .flushingSignal)
        #expect(rules { $0.c_lflag |= tcflag_t(NOFLSH) }.effect(of: 0x03) == .signal)
        #expect(rules { $0.c_lflag &= ~tcflag_t(ISIG) }.effect(of: 0x03) == .ordinary)
    }
}
