// SPDX-License-Identifier: MIT
import Glibc
import Synchronization
import Testing
@testable import PTYProxy

/// The reliability suite (issue 6): soak, churn, faults, fuzz regressions.
///
/// One serialized suite, spread over the Reliability*.swift files as
/// extensions, so that its long tests never run beside each other (they
/// measure time, memory and descriptors). Checks are written to be immune to
/// the other suites running in parallel: descriptors and zombies are matched
/// by identity (pipe inode, pid), not by global counts.
@Suite(.serialized) struct ReliabilityTests {}

/// Prints one result line that RELIABILITY.md quotes (visible in `swift test` output).
func reliabilityLog(_ line: String) {
    print("RELIABILITY \(line)")
}

/// Logs a trace line (`PTYPROXY_TRACE`) that says output came only on the
/// read confirming EIO: not a failure (nothing was lost), but the kernel
/// race that read guards against, worth seeing in a run's log.
func noteLateOutput(_ trace: String) {
    if trace.contains("came after the first EIO") { reliabilityLog("late output: \(trace)") }
}

/// An integer from the environment, or `fallback`.
func environmentInteger(_ name: String, default fallback: Int) -> Int {
    guard let raw = getenv(name), let value = Int(String(cString: raw)), value > 0 else { return fallback }
    return value
}

/// Facts about a process, from /proc.
enum ProcessProbe {
    /// Up to 64 KiB of a /proc file, or nil if it cannot be opened.
    static func contents(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 65536 {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }

    /// The value of a `Name:\tvalue` line of /proc/PID/status (or fdinfo), as text.
    static func field(_ name: String, in bytes: [UInt8]) -> Substring? {
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).drop(while: { $0 == " " || $0 == "\t" })
        }
        return nil
    }

    /// Resident set size in KiB (VmRSS).
    static func residentKiB(_ pid: pid_t) -> Int? {
        guard let status = contents("/proc/\(pid)/status"),
              let value = field("VmRSS", in: status) else { return nil }
        return Int(value.prefix(while: \.isNumber))
    }

    /// Number of open descriptors (entries of /proc/PID/fd).
    static func descriptorCount(_ pid: pid_t) -> Int? {
        guard let directory = opendir("/proc/\(pid)/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }

    /// State letter and parent of a process, or nil if it no longer exists.
    static func stateAndParent(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
        guard let stat = contents("/proc/\(pid)/stat"),
              let paren = stat.lastIndex(of: UInt8(ascii: ")")), paren + 2 < stat.count else { return nil }
        let fields = String(decoding: stat[(paren + 2)...], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }

    /// Our own open descriptors and what they point at (readlink of /proc/self/fd/N).
    static func ownDescriptors() -> [(fd: CInt, target: String)] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        var numbers: [CInt] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if let fd = CInt(name) { numbers.append(fd) }
        }
        closedir(directory)
        var result: [(CInt, String)] = []
        var buffer = [CChar](repeating: 0, count: 256)
        for fd in numbers {
            let count = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
            guard count > 0 else { continue }  // the directory stream we just closed
            result.append((fd, String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
        return result
    }

    /// The process a pidfd of ours refers to (fdinfo's `Pid:` line).
    static func pidfdTarget(_ fd: CInt) -> pid_t? {
        guard let info = contents("/proc/self/fdinfo/\(fd)"), let value = field("Pid", in: info) else { return nil }
        return pid_t(value)
    }
}

/// The inode of an open descriptor (pipes are named `pipe:[INODE]` in /proc).
func descriptorInode(_ fd: CInt) -> UInt64? {
    guard fd >= 0 else { return nil }
    var info = stat()
    guard fstat(fd, &info) == 0 else { return nil }
    return UInt64(info.st_ino)
}

/// Whether `pid` is gone: no such process, or dead and waiting to be reaped
/// by someone other than us (an orphan's zombie belongs to init).
func processIsGone(_ pid: pid_t) -> Bool {
    guard let (state, _) = ProcessProbe.stateAndParent(pid) else { return true }
    return state == "Z" || state == "X"
}

/// Least-squares slope of y over x.
func leastSquaresSlope(_ points: [(x: Double, y: Double)]) -> Double {
    guard points.count >= 2 else { return 0 }
    let n = Double(points.count)
    let meanX = points.map(\.x).reduce(0, +) / n
    let meanY = points.map(\.y).reduce(0, +) / n
    var numerator = 0.0, denominator = 0.0
    for point in points {
        numerator += (point.x - meanX) * (point.y - meanY)
        denominator += (point.x - meanX) * (point.x - meanX)
    }
    return denominator == 0 ? 0 : numerator / denominator
}

/// The number after `PID=` in a child's first line of output.
func reportedChildPID(_ output: [UInt8]) -> pid_t? {
    let head = Array(output.prefix(64))
    let marker = Array("PID=".utf8)
    guard head.count >= marker.count,
          let at = (0...(head.count - marker.count)).first(where: { head[$0..<($0 + marker.count)].elementsEqual(marker) }) else { return nil }
    return pid_t(String(decoding: head[(at + marker.count)...].prefix(while: { $0 >= 0x30 && $0 <= 0x39 }), as: UTF8.self))
}

/// Formats a number with one decimal.
func oneDecimal(_ value: Double) -> String {
    let scaled = (value * 10).rounded()
    let sign = scaled < 0 ? "-" : ""
    let magnitude = Int(abs(scaled))
    return "\(sign)\(magnitude / 10).\(magnitude % 10)"
}

/// A flag shared with a helper thread.
final class SharedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// A counter shared with a helper thread.
final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ amount: Int = 1) { value.add(amount, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

/// Failure descriptions collected by several threads (kept short by the callers).
final class SharedFailures: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ text: String) { list.withLock { $0.append(text) } }
    var all: [String] { list.withLock { $0 } }
}

/// Describes how `actual` differs from `expected` in one short line.
func byteDifference(_ actual: [UInt8], _ expected: [UInt8]) -> String? {
    guard actual != expected else { return nil }
    let first = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(actual.count, expected.count)
    let excerpt = { (bytes: [UInt8]) in
        String(decoding: bytes[max(0, first - 16)..<min(bytes.count, first + 16)], as: UTF8.self).debugDescription
    }
    return "\(actual.count) bytes, expected \(expected.count), first difference at \(first): got \(excerpt(actual)), expected \(excerpt(expected))"
}
