// SPDX-License-Identifier: MIT
import Glibc
import Testing
@testable import PTYProxy

/// The fuzzers' seed corpus and every input a fuzzer ever crashed on, fed to
/// the parsers in the ordinary test run, with the same properties the
/// harnesses in Fuzz/ check. A crash found by scripts/reliability/fuzz.sh
/// goes into `crashes` below (as bytes) before it is fixed.
extension ReliabilityTests {
    /// Inputs that once crashed a fuzzer: (harness, bytes). None so far.
    static let crashes: [(harness: String, bytes: [UInt8])] = []

    /// Edge cases worth keeping even though they never crashed.
    static let controlEdges: [[UInt8]] = [
        [], [0], [0x0d], Array(repeating: 0x20, count: 256), Array(repeating: 0x20, count: 257),
        Array("resize 65535 65535".utf8), Array("resize 99999 1".utf8), Array("resize 00001 00001".utf8),
        Array("signal 64".utf8), Array("signal 65".utf8), Array("signal 0".utf8), Array("signal sig".utf8),
        Array("signal SIGSIGINT".utf8), Array("+1 +1".utf8), Array("1 2 3".utf8), [0xc3, 0xa9], [0x7f],
    ]

    static let invocationEdges: [[String]] = [
        [], [""], ["new", "--"], ["new", "--", "--", "1", "1", "x"], ["new", "--=x"], ["new", "--term"],
        ["new", "--term="], ["new", "--hangup-grace", "3600.000", "x", "1", "1", "y"], ["new", "--hangup-grace", "."],
        ["new", "--hangup-grace", "3600.001", "x", "1", "1", "y"], ["new", "--output-buffer-size", "99999999999999999999999"],
        ["new", "x", "1", "1", "--help"], ["new", "x", "1", "1", "\u{0}"], ["new", "\u{fffd}", "1", "1", "y"],
        ["new", String(repeating: "a", count: 65), "1", "1", "y"], ["signal", "x", "99"], ["resize", "..", "1", "1"],
    ]

    /// Fuzz/corpus/NAME/*, found from this file's path.
    static func corpus(_ name: String) -> [[UInt8]] {
        var directory = #filePath
        for _ in 0..<3 { while !directory.isEmpty && directory.removeLast() != "/" {} }
        directory += "/Fuzz/corpus/\(name)"
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var inputs: [[UInt8]] = []
        while let entry = readdir(handle) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if file.hasPrefix(".") { continue }
            if let bytes = ProcessProbe.contents("\(directory)/\(file)") { inputs.append(bytes) }
        }
        return inputs
    }

    /// The properties FuzzControlRequest checks; nil when they hold.
    static func controlViolation(_ line: [UInt8]) -> String? {
        let result = ControlRequest.parse(line)
        guard ControlRequest.parse(line) == result else { return "not deterministic" }
        switch result {
        case .success(.resize(let size)) where size.columns == 0 || size.rows == 0: return "zero size accepted"
        case .success(.signal(let number)) where !(1...64).contains(number): return "signal \(number) accepted"
        case .failure(let error) where error.description.utf8.contains(10): return "multi-line reason"
        default: break
        }
        if line.count > ControlRequest.maximumLineLength && result != .failure(.lineTooLong) { return "long line accepted" }
        return nil
    }

    /// The properties FuzzInvocation checks; nil when they hold.
    static func invocationViolation(_ arguments: [String]) -> String? {
        switch Invocation.parse(arguments) {
        case .success(.new(let options)):
            if !SessionDirectory.isValidID(options.id) { return "invalid ID accepted" }
            if options.size.columns == 0 || options.size.rows == 0 { return "zero size accepted" }
            if options.command.isEmpty || options.command[0].isEmpty { return "empty CMD accepted" }
        case .success(.resize(let id, _)), .success(.signal(let id, _)), .success(.status(let id)):
            if !SessionDirectory.isValidID(id) { return "invalid ID accepted" }
        case .success:
            break
        case .failure(let error):
            if error.message.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { return "control character in message" }
        }
        return nil
    }

    /// How FuzzInvocation turns bytes into arguments.
    static func arguments(_ bytes: [UInt8]) -> [String] {
        bytes.isEmpty ? [] : bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func controlParserOnCorpusEdgesAndPastCrashes() {
        let seeds = Self.corpus("control")
        #expect(seeds.count >= 10, "seed corpus not found (\(seeds.count) files)")
        let inputs = seeds + Self.controlEdges + Self.crashes.filter { $0.harness == "FuzzControlRequest" }.map(\.bytes)
        let violations = inputs.compactMap { input in Self.controlViolation(input).map { "\(input.prefix(40)): \($0)" } }
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        // The seeds mean what they say.
        #expect(ControlRequest.parse(Array("  120\t40\r".utf8)) == .success(.resize(WindowSize(columns: 120, rows: 40))))
        #expect(ControlRequest.parse(Array(repeating: UInt8(ascii: "9"), count: 300)) == .failure(.lineTooLong))
    }

    @Test func commandLineParserOnCorpusEdgesAndPastCrashes() {
        let seeds = Self.corpus("invocation")
        #expect(seeds.count >= 10, "seed corpus not found (\(seeds.count) files)")
        let inputs = seeds.map(Self.arguments) + Self.invocationEdges
            + Self.crashes.filter { $0.harness == "FuzzInvocation" }.map { Self.arguments($0.bytes) }
        let violations = inputs.compactMap { input in Self.invocationViolation(input).map { "\(input.prefix(6)): \($0)" } }
        #expect(violations.isEmpty, "\(violations.prefix(5))")
    }
}
