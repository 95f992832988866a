// SPDX-License-Identifier: MIT

/// One reply of the control protocol, as a client reads it.
///
/// A pure function of the bytes, so that it can be fuzzed on its own. What
/// it returns is safe to print on a terminal: every byte that is not
/// printable text (C0 and C1 controls, DEL, bytes that are not UTF-8) is
/// shown as `\xHH`, so a reply can never move the cursor, set a title or
/// inject keystrokes through the user's terminal.
///
/// A reply that carries JSON (`status`) is escaped the JSON way instead
/// (`escapeJSON`), so that what is printed stays a JSON document.
public enum ControlReply: Equatable, Sendable {
    /// `ok` or `ok TEXT`: the (escaped) text, empty for a bare `ok`.
    case ok(String)
    /// `error REASON`: the (escaped) reason.
    case error(String)
    /// Anything else: the (escaped, shortened) reply, for a message.
    case unexpected(String)

    /// The longest reply line a client accepts (a status with a long command line is large).
    public static let maximumLength = 16 << 20
    /// How much of an unexpected reply is quoted in a message.
    static let quotedLength = 80

    /// What the text of an `ok` reply is: text, or a JSON document.
    public enum Form: Sendable { case text, json }

    /// Parses one reply line (without its newline; a trailing CR is ignored).
    public static func parse<Bytes: Collection>(_ line: Bytes, form: Form = .text) -> ControlReply
    where Bytes.Element == UInt8 {
        var bytes = Array(line.prefix(maximumLength + 1))
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        if bytes.count > maximumLength { return .unexpected(escape(bytes.prefix(quotedLength)) + "...") }
        if bytes.elementsEqual("ok".utf8) { return .ok("") }
        if bytes.starts(with: "ok ".utf8) {
            return .ok(form == .json ? escapeJSON(bytes.dropFirst(3)) : escape(bytes.dropFirst(3)))
        }
        if bytes.starts(with: "error ".utf8) { return .error(escape(bytes.dropFirst(6))) }
        let quoted = escape(bytes.prefix(quotedLength))
        return .unexpected(bytes.count > quotedLength ? quoted + "..." : quoted)
    }

    /// Printable text stays (ASCII and valid UTF-8 beyond it); every other
    /// byte, C0 and C1 controls and DEL included, becomes `\xHH`.
    public static func escape<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var result: [UInt8] = []
        result.reserveCapacity(input.count)
        let digits = Array("0123456789abcdef".utf8)
        var index = 0
        while index < input.count {
            let length = printableSequenceLength(input, at: index)
            if length > 0 {
                result += input[index..<index + length]
                index += length
            } else {
                let byte = input[index]
                result += [UInt8(ascii: "\\"), UInt8(ascii: "x"), digits[Int(byte >> 4)], digits[Int(byte & 15)]]
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// The JSON text of a reply, kept JSON and made safe to print: what
    /// `ByteString.jsonQuoted` escapes (C0 and C1 controls, DEL, U+2028,
    /// U+2029) becomes `\uXXXX`, and each byte that is not UTF-8 `\u00XX`.
    /// A ptyproxy's own reply holds none of them; one of another version
    /// that writes them raw, inside its strings, stays valid JSON this way,
    /// where `\xHH` would not be.
    public static func escapeJSON<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var result = ""
        result.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            if let (scalar, length) = ByteString.decodeScalar(input, at: index) {
                result += ByteString.needsUnicodeEscape(scalar) ? ByteString.unicodeEscape(scalar.value) : String(scalar)
                index += length
            } else {
                result += ByteString.unicodeEscape(UInt32(input[index]))
                index += 1
            }
        }
        return result
    }

    /// The length of the printable, well-formed UTF-8 sequence at `index`, or
    /// 0: C0 and C1 controls and DEL are not printable.
    static func printableSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        guard let (scalar, length) = ByteString.decodeScalar(bytes, at: index) else { return 0 }
        return scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) ? 0 : length
    }
}
