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
        // the end wrap at every offset.
        for size in [1, 7, 100, 4095, 4096, 4097, 3000, 1, 5000, 2048, 2049] {
            let piece = (0..<size).map { _ -> UInt8 in next &+= 1; return next }
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
}
