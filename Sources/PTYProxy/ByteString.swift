// SPDX-License-Identifier: MIT
import Glibc

/// Bytes as the kernel hands them over: an argument, an environment entry,
/// a path.
///
/// Unix arguments, environment variables and file names are byte strings
/// with no encoding; decoding them as UTF-8 (as `CommandLine.arguments`
/// does) turns every invalid byte into U+FFFD, and the child would receive
/// different bytes than the user typed. So they stay bytes from `argv` and
/// `environ` all the way to posix_spawn. Conversion to `String` happens only
/// for display (`printable`) and JSON (`jsonQuoted`), both lossy on purpose
/// and documented where they are used.
public struct ByteString: Hashable, Sendable, ExpressibleByStringLiteral, ExpressibleByStringInterpolation,
                          CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 { self.bytes = Array(bytes) }
    /// The UTF-8 encoding of `string`.
    public init(_ string: String) { bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(stringInterpolation: DefaultStringInterpolation) { self.init(String(stringInterpolation: stringInterpolation)) }

    /// The bytes of a NUL-terminated C string, untouched.
    public init(cString: UnsafePointer<CChar>) {
        let length = strlen(cString)
        bytes = cString.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    public var isEmpty: Bool { bytes.isEmpty }
    public var count: Int { bytes.count }

    public func hasPrefix(_ prefix: ByteString) -> Bool {
        bytes.count >= prefix.bytes.count && bytes[..<prefix.bytes.count].elementsEqual(prefix.bytes)
    }

    public func contains(_ byte: UInt8) -> Bool { bytes.contains(byte) }

    public static func + (lhs: ByteString, rhs: ByteString) -> ByteString { ByteString(lhs.bytes + rhs.bytes) }

    /// The text, when every byte is printable ASCII; nil otherwise. What the
    /// parser uses for verbs, IDs, numbers and signal names, which are ASCII
    /// by definition: no Unicode case folding or normalisation can sneak a
    /// look-alike through.
    public var ascii: String? {
        bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// For messages only: decoded as UTF-8 with repair, control characters
    /// replaced by `?`, at most 80 characters.
    public var printable: String { printable(limit: 80) }

    /// For messages naming a path: as `printable`, but whole (a shortened
    /// path is no help), so only its control characters and invalid bytes
    /// are lost, and only in the message.
    public var printablePath: String { printable(limit: nil) }

    private func printable(limit: Int?) -> String {
        var result = ""
        let scalars = String(decoding: bytes, as: UTF8.self).unicodeScalars
        for scalar in scalars.prefix(limit ?? scalars.count) {
            result += scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) ? "?" : String(scalar)
        }
        return scalars.count > (limit ?? scalars.count) ? result + "..." : result
    }

    /// This string followed by `/` and `name`.
    public func appending(component name: String) -> ByteString {
        ByteString(bytes + [UInt8(ascii: "/")] + Array(name.utf8))
    }

    public var description: String { printable }

    /// A JSON string literal for these bytes that is valid JSON whatever the
    /// bytes are, and safe to print on a terminal. Valid UTF-8 sequences
    /// appear as their characters, except `"` and `\` (escaped), C0 and C1
    /// controls, DEL, U+2028 and U+2029 (written `\uXXXX`: JSON itself only
    /// requires it of C0, but a raw C1 control acts on a terminal, and some
    /// JavaScript parsers end a line at U+2028/U+2029). Each byte that is not
    /// part of a valid UTF-8 sequence appears as `\u00XX`, XX its value:
    /// `\xff` becomes `"\u00ff"`. Not injective: the byte 0xFF and the
    /// character U+00FF both read back as U+00FF (a consumer that needs the
    /// exact bytes of such an argument should not take them from `status`).
    /// Documented in docs/INTERFACE.md.
    public var jsonQuoted: String {
        var result = "\""
        var index = 0
        while index < bytes.count {
            if let (scalar, length) = Self.decodeScalar(bytes, at: index) {
                result += Self.jsonEscaped(scalar)
                index += length
            } else {
                result += Self.unicodeEscape(UInt32(bytes[index]))
                index += 1
            }
        }
        return result + "\""
    }

    /// One character as it appears inside a JSON string (see `jsonQuoted`).
    static func jsonEscaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case _ where needsUnicodeEscape(scalar): return unicodeEscape(scalar.value)
        default: return String(scalar)
        }
    }

    /// C0 and C1 controls, DEL, LINE SEPARATOR and PARAGRAPH SEPARATOR.
    static func needsUnicodeEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// `\uXXXX` for a value of the Basic Multilingual Plane.
    static func unicodeEscape(_ value: UInt32) -> String {
        let digits = Array("0123456789abcdef".utf8)
        let nibbles = [12, 8, 4, 0].map { digits[Int((value >> UInt32($0)) & 15)] }
        return "\\u" + String(decoding: nibbles, as: UTF8.self)
    }

    /// One well-formed UTF-8 scalar at `index` (no overlongs, no surrogates,
    /// nothing above U+10FFFF), or nil. Also what ControlReply's escaping
    /// reads replies with.
    static func decodeScalar(_ bytes: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[index]
        if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
        let length: Int, minimum: UInt32
        switch lead {
        case 0xc2...0xdf: length = 2; minimum = 0x80
        case 0xe0...0xef: length = 3; minimum = 0x800
        case 0xf0...0xf4: length = 4; minimum = 0x10000
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        var value = UInt32(lead) & (0xff >> UInt32(length + 1))
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xc0 == 0x80 else { return nil }
            value = value << 6 | UInt32(byte & 0x3f)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }

    /// Calls `body` with the bytes as a NUL-terminated C string.
    public func withCString<Result>(_ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        var terminated = bytes
        terminated.append(0)
        return try terminated.withUnsafeBufferPointer {
            try $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: terminated.count) { try body($0) }
        }
    }

    /// A malloc'd NUL-terminated copy, for argv/envp arrays; free() it.
    func duplicateCString() -> UnsafeMutablePointer<CChar> {
        let copy = malloc(bytes.count + 1)!.assumingMemoryBound(to: CChar.self)
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress { memcpy(copy, base, bytes.count) }
        }
        copy[bytes.count] = 0
        return copy
    }
}
