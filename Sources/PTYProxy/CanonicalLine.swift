// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim

/// What one input byte does to the child's pending line, by the rules of
/// the Linux line discipline (n_tty): the flags and characters of a termios.
enum InputEffect: UInt8 {
    /// Becomes part of the line.
    case ordinary
    /// Ends the line: NL (after ICRNL/INLCR), VEOF, VEOL, VEOL2 (IEXTEN).
    case lineEnd
    /// Never reaches the line: CR under IGNCR, START/STOP under IXON, REPRINT.
    case ignored
    /// VERASE: the line loses its last character, if it has one.
    case erase
    /// VKILL: the line is emptied.
    case kill
    /// VWERASE: the line loses a word, of a length only the kernel knows.
    case wordErase
    /// VLNEXT (IEXTEN): the next byte is taken literally.
    case literalNext
    /// VINTR, VQUIT or VSUSP under ISIG with NOFLSH clear: a signal, and
    /// the kernel empties the line and the output queue.
    case flushingSignal
    /// The same under NOFLSH: a signal; line and queues stay.
    case signal
}

/// The line discipline's rules that decide where a canonical line ends and
/// which bytes flush, as a table built once per look at the termios (in
/// place: a look allocates nothing).
struct LineRules {
    let canonical: Bool
    /// VEOF; 0 when disabled.
    let endOfFile: UInt8
    /// Whether a long line can be ended early: canonical, with a VEOF.
    var cutsLongLines: Bool { canonical && endOfFile != 0 }
    private var table = InlineArray<256, InputEffect>(repeating: .ordinary)

    init(_ settings: termios) {
        canonical = settings.c_lflag & tcflag_t(ICANON) != 0
        endOfFile = Self.character(VEOF, settings) ?? 0
        for byte in 0...255 { table[byte] = Self.classify(UInt8(byte), settings) }
    }

    /// The control character at `index`; nil when disabled (0).
    private static func character(_ index: Int32, _ settings: termios) -> UInt8? {
        let value = withUnsafeBytes(of: settings.c_cc) { $0[Int(index)] }
        return value == 0 ? nil : value
    }

    /// What `byte` does, in the order of n_tty_receive_char_special.
    private static func classify(_ byte: UInt8, _ settings: termios) -> InputEffect {
        func iflag(_ flag: Int32) -> Bool { settings.c_iflag & tcflag_t(flag) != 0 }
        func lflag(_ flag: Int32) -> Bool { settings.c_lflag & tcflag_t(flag) != 0 }
        func char(_ index: Int32) -> UInt8? { character(index, settings) }
        var c = byte
        if iflag(ISTRIP) { c &= 0x7f }
        if iflag(IUCLC) && lflag(IEXTEN), c >= 0x41 && c <= 0x5a { c += 0x20 }
        if iflag(IXON) && (c == char(VSTART) || c == char(VSTOP)) { return .ignored }
        if lflag(ISIG) && (c == char(VINTR) || c == char(VQUIT) || c == char(VSUSP)) {
            return lflag(NOFLSH) ? .signal : .flushingSignal
        }
        if c == 0x0d {
            if iflag(IGNCR) { return .ignored }
            if iflag(ICRNL) { c = 0x0a }
        } else if c == 0x0a && iflag(INLCR) {
            c = 0x0d
        }
        guard lflag(ICANON) else { return .ordinary }
        let extended = lflag(IEXTEN)
        if c == char(VERASE) { return .erase }
        if c == char(VKILL) { return .kill }
        if extended && c == char(VWERASE) { return .wordErase }
        if extended && c == char(VLNEXT) { return .literalNext }
        if extended && lflag(ECHO) && c == char(VREPRINT) { return .ignored }
        if c == 0x0a || c == char(VEOF) || c == char(VEOL) || (extended && c == char(VEOL2)) { return .lineEnd }
        return .ordinary
    }

    /// The settings a new pty starts with (`PseudoTerminal`).
    static let sane: LineRules = {
        var settings = termios()
        ptyshim_sane_termios(&settings)
        return LineRules(settings)
    }()

    @inline(__always)
    func effect(of byte: UInt8) -> InputEffect { table[Int(byte)] }
}

/// Follows the child's pending canonical line as the host's bytes go to the
/// pty, cheaply enough for every keystroke: a table look-up per byte, no
/// system call. The rules are those of the last look at the terminal
/// (`rules`), which the input path renews only when it matters: a line
/// near the limit, a flushing character, the end of input.
///
/// `pending` never undercounts the kernel's line under those rules (an
/// erased word, or a multibyte character erased, is still counted), so a
/// line is cut no later than the kernel would start dropping bytes.
struct CanonicalLine {
    /// The most bytes a pending canonical line holds on Linux with room
    /// left for the byte that ends it: N_TTY_BUF_SIZE (4096) keeps one slot
    /// free; a longer line loses its excess silently.
    static let limit = 4095

    private(set) var rules = LineRules.sane
    /// An upper bound on the bytes of the line not yet ended.
    private(set) var pending = 0
    /// The last byte was VLNEXT: the next one is taken literally.
    private var literal = false
    /// The last eight bytes sent, newest in the low byte, and how many there are.
    private var recent: UInt64 = 0
    private var recentCount = 0

    /// Whether `count` more bytes can go without a look at the terminal: no
    /// line can reach the limit on them.
    func fitsWithoutLook(_ count: Int) -> Bool { pending + count <= Self.limit }

    mutating func renew(_ rules: LineRules) {
        if !rules.canonical { pending = 0; literal = false }
        self.rules = rules
    }

    /// Takes `byte` into the line; returns true when the line must be ended
    /// (with VEOF) before it, because the byte would not fit.
    @inline(__always)
    mutating func take(_ byte: UInt8) -> Bool {
        defer { remember(byte) }
        if literal {
            literal = false
            pending += 1  // room was kept when VLNEXT came
            return false
        }
        switch rules.effect(of: byte) {
        case .ordinary:
            guard rules.canonical else { return false }
            if pending >= Self.limit && rules.cutsLongLines { pending = 1; return true }
            pending += 1
        case .literalNext:
            literal = true
            if pending >= Self.limit && rules.cutsLongLines { pending = 0; return true }  // the literal byte must fit
        case .lineEnd, .kill, .flushingSignal:
            pending = 0
        case .erase:
            pending = max(0, pending - 1)
        case .ignored, .wordErase, .signal:
            break
        }
        return false
    }

    @inline(__always)
    private mutating func remember(_ byte: UInt8) {
        recent = recent << 8 | UInt64(byte)
        recentCount = min(8, recentCount + 1)
    }

    /// The line was cut with a VEOF sent outside `take`.
    mutating func cut() { pending = 0 }

    /// How many VEOFs make the child's read() return end of file, by the
    /// current `rules` (renewed just before): one when the line is empty
    /// (the last byte ended it, or nothing was sent), two when a partial
    /// line must first be pushed, three after a VLNEXT that would make the
    /// first one literal.
    func endOfFileCount() -> Int {
        guard rules.canonical, recentCount > 0 else { return 1 }
        // Replay the last bytes under the current rules.
        enum State { case unknown, empty, partial }
        var state = State.unknown
        var literalNext = false
        for index in stride(from: recentCount - 1, through: 0, by: -1) {
            let byte = UInt8(truncatingIfNeeded: recent >> (8 * UInt64(index)))
            if literalNext { literalNext = false; state = .partial; continue }
            switch rules.effect(of: byte) {
            case .ordinary: state = .partial
            case .lineEnd, .kill, .flushingSignal: state = .empty
            case .literalNext: literalNext = true
            case .erase, .wordErase: if state != .empty { state = .unknown }
            case .ignored, .signal: break
            }
        }
        if literalNext { return 3 }
        switch state {
        case .empty: return 1
        case .partial: return 2
        case .unknown: return pending == 0 ? 1 : 2
        }
    }
}
