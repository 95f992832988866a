// SPDX-License-Identifier: MIT
import Testing
@testable import PTYProxy

/// The output a kept session holds while detached (issue 20): bounded,
/// the oldest bytes dropped first, in order across the wrap.
@Suite struct OutputRingTests {
    static func contents(_ ring: OutputRing) -> [UInt8] {
        ring.runs().flatMap { Array($0) }
    }

    static func append(_ ring: OutputRing, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { ring.append($0) }
    }

    @Test func keepsTheNewestBytesInOrderAcrossTheWrap() throws {
        let ring = try OutputRing(capacity: 4096)
        var expected: [UInt8] = []
        var next: UInt8 = 0
        // Pieces of every size around the capacity, so that the start and
        // the end wrap at every offset. Printable ASCII only: every byte is
        // a boundary (see `boundaryAfterOverflow...`).
        for size in [1, 7, 100, 4095, 4096, 4097, 3000, 1, 5000, 2048, 2049] {
            let piece = (0..<size).map { _ -> UInt8 in next = next % 95 + 1; return 0x1f + next }
            Self.append(ring, piece)
            expected = Array((expected + piece).suffix(4096))
            #expect(ring.count == expected.count)
            #expect(Self.contents(ring) == expected, "after a piece of \(size)")
        }
    }

    @Test func consumingPartOfItKeepsTheRestInOrder() throws {
        let ring = try OutputRing(capacity: 4096)
        Self.append(ring, Array(repeating: 1, count: 3000))
        Self.append(ring, Array(repeating: 2, count: 3000))  // wraps, drops 1904 of the 1s
        ring.consume(1000)
        #expect(Self.contents(ring) == Array(repeating: 1, count: 96) + Array(repeating: 2, count: 3000))
        Self.append(ring, Array(repeating: 3, count: 10))
        ring.consume(ring.count)
        #expect(ring.count == 0 && Self.contents(ring).isEmpty)
        Self.append(ring, [9, 8, 7])
        #expect(Self.contents(ring) == [9, 8, 7])
    }

    /// Once older bytes were dropped, the kept bytes start after the first
    /// line feed or at the first ESC, whichever comes first, within the
    /// first 4 KiB; with neither, at the first byte that starts a UTF-8
    /// character. `before` bytes kept first move the ring's start, so that
    /// the boundary is also looked for across the wrap.
    @Test(arguments: [0, 1000, 4000])
    func boundaryAfterOverflowIsALineFeedAnEscapeOrACharacter(_ before: Int) throws {
        /// What a ring of `capacity` keeps of `tail` (`capacity` bytes)
        /// when older output came first.
        func kept(_ tail: [UInt8], capacity: Int = 4096) throws -> [UInt8] {
            let ring = try OutputRing(capacity: capacity)
            Self.append(ring, Array(repeating: 0x2e, count: before))
            Self.append(ring, Array("older output\n".utf8) + tail)
            return Self.contents(ring)
        }
        func padded(_ text: String, with filler: UInt8 = 0x2e, to size: Int = 4096) -> [UInt8] {
            Array(text.utf8) + Array(repeating: filler, count: size - text.utf8.count)
        }
        // Cut inside "ESC [31m" and inside "é": the ESC before the line feed wins.
        let escape = padded("1mred\u{1b}[0m \u{e9}\r\nnext line\n")
        #expect(try kept(escape) == Array(escape[5...]))
        // Cut inside a line (inside "€"): after its line feed.
        let line = [0x82, 0xac] + padded("ail of line\r\nwhole line\r\n", to: 4094)
        #expect(try kept(line) == Array(line[15...]))
        // Neither a line feed nor an ESC: at the first whole character.
        let euros = [0x82, 0xac] + Array(String(repeating: "\u{20ac}", count: 1364).utf8) + [0x41, 0x42]
        #expect(euros.count == 4096)
        #expect(try kept(euros) == Array(euros[2...]))
        // A line feed beyond the first 4 KiB does not count.
        let long = [0xac] + padded("x", with: 0x78, to: 5000) + padded("\nrest", to: 3191)
        #expect(try kept(long, capacity: 8192) == Array(long[1...]))
    }

    /// With nothing dropped, the ring keeps what it was given as it is.
    @Test func noBoundaryIsLookedForWhenNothingWasDropped() throws {
        let ring = try OutputRing(capacity: 4096)
        let bytes: [UInt8] = [0x82, 0xac, 0x31, 0x6d, 0x41, 0x0a, 0x42]
        Self.append(ring, bytes)
        #expect(Self.contents(ring) == bytes)
    }
}
