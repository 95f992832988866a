// SPDX-License-Identifier: MIT
import Glibc
import Testing
@testable import PTYProxy

/// Soak: one session relaying for a bounded time, memory and descriptors flat.
///
/// The child is a shell loop that answers each typed line `N K` with a burst
/// (`begin N`, `seq 1 K`, a line with escape sequences, UTF-8 and a tab,
/// `end N`), and `size` with `stty size`. The test types a line, reads the
/// answer, checks it byte for byte (terminal echo included), and goes on;
/// every 250 ms it resizes the terminal through the control socket (every
/// tenth time with the `ptyproxy resize` tool) and checks that the child sees
/// it. Once a second it samples the proxy's VmRSS and /proc/PID/fd count.
///
/// 60 s by default; `PTYPROXY_SOAK_SECONDS=3600 swift test --filter soak` for an hour.
extension ReliabilityTests {
    static let soakScript = #"""
        while IFS= read -r line; do
          set -- $line
          case $1 in
            quit) exit 0 ;;
            size) echo "size $(stty size)" ;;
            *) echo "begin $1"; seq 1 "$2"; printf '\033[1mbold\033[0m \303\251\ttab\n'; echo "end $1" ;;
          esac
        done
        """#

    /// The bytes one `N K` round must produce: the terminal's echo of the typed
    /// line, then the child's answer, LF turned into CR LF.
    static func soakRound(_ round: Int, _ lines: Int) -> [UInt8] {
        var text = "\(round) \(lines)\nbegin \(round)\n"
        for value in 1...lines { text += String(value); text += "\n" }
        text += "\u{1b}[1mbold\u{1b}[0m \u{e9}\ttab\nend \(round)\n"
        return terminalText(text)
    }

    @Test(.timeLimit(.minutes(70)))
    func soakKeepsMemoryAndDescriptorsFlat() {
        let seconds = environmentInteger("PTYPROXY_SOAK_SECONDS", default: 60)
        let warmUp = Int64(min(10, max(2, seconds / 6))) * 1000
        let id = uniqueID("soak")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", Self.soakScript])
        guard eventually(timeoutMilliseconds: 5000, { ControlConnection(id) != nil }) else {
            Issue.record("the session's control socket never appeared: \(proxy.errorText.prefix(200))")
            return
        }

        let start = now()
        let end = start + Int64(seconds) * 1000
        var samples: [(time: Double, rss: Int, fds: Int)] = []
        var nextSample = start
        var nextResize = start + 250
        var resizes = 0
        var round = 0
        var typed = 0
        var received = 0
        var failures: [String] = []
        var failureCount = 0
        func fail(_ text: String) {
            failureCount += 1
            if failures.count < 5 { failures.append(text) }
        }

        /// Types `line`, reads until the output ends with `last`, checks it equals `expected`.
        func exchange(_ line: String, expected: [UInt8], what: String) -> Bool {
            proxy.output.removeAll(keepingCapacity: true)
            proxy.write(line + "\n")
            typed += line.utf8.count + 1
            let tail = Array(expected.suffix(min(expected.count, 24)))
            let done = proxy.read(timeoutMilliseconds: 10_000) { output in
                output.count >= expected.count && output.suffix(tail.count).elementsEqual(tail)
            }
            received += proxy.output.count
            if !done {
                fail("\(what): no complete answer within 10 s (\(proxy.output.count) bytes, exit \(String(describing: proxy.status)))")
                return false
            }
            if let difference = byteDifference(proxy.output, expected) { fail("\(what): \(difference)") }
            return true
        }

        while now() < end {
            let current = now()
            if current >= nextSample {
                // The least of three readings: a control client being closed
                // at that very moment is not a leak.
                let fds = (0..<3).compactMap { _ in ProcessProbe.descriptorCount(proxy.pid) }.min()
                guard let rss = ProcessProbe.residentKiB(proxy.pid), let fds else {
                    fail("cannot sample the proxy at \(current - start) ms: it is gone")
                    break
                }
                samples.append((Double(current - start) / 60_000, rss, fds))
                nextSample += 1000
            }
            if current >= nextResize {
                resizes += 1
                let (columns, rows) = (40 + (resizes * 37) % 160, 10 + (resizes * 13) % 50)
                if resizes % 10 == 0 {
                    let tool = runTool(["resize", id, "\(columns)", "\(rows)"])
                    if tool.status != .exited(0) { fail("ptyproxy resize #\(resizes): \(String(describing: tool.status)) \(tool.errorText.prefix(120))") }
                } else {
                    let reply = ControlConnection(id)?.request("resize \(columns) \(rows)")
                    if reply != "ok \(columns) \(rows)" { fail("resize #\(resizes): reply \(String(describing: reply))") }
                }
                guard exchange("size", expected: terminalText("size\nsize \(rows) \(columns)\n"), what: "size after resize #\(resizes)") else { break }
                nextResize += 250
                continue
            }
            round += 1
            let lines = 1 + (round &* 7919) % 4000
            guard exchange("\(round) \(lines)", expected: Self.soakRound(round, lines), what: "round \(round)") else { break }
        }

        // Every typed byte reached the pty.
        let status = ControlConnection(id)?.request("status") ?? ""
        let bytesIn = number(after: "\"bytes_in\":", in: status).map { UInt64($0) }
        #expect(bytesIn == UInt64(typed), "status says bytes_in \(String(describing: bytesIn)), typed \(typed)")
        proxy.output.removeAll()
        proxy.write("quit\n")
        #expect(proxy.finish(timeoutMilliseconds: 10_000) == .exited(0))
        #expect(proxy.errors.isEmpty, "proxy stderr: \(proxy.errorText.prefix(300))")
        #expect(failureCount == 0, "\(failureCount) failures, first: \(failures)")

        let steady = samples.filter { $0.time * 60_000 >= Double(warmUp) }
        let rssSlope = leastSquaresSlope(steady.map { ($0.time, Double($0.rss)) })
        let fdSlope = leastSquaresSlope(steady.map { ($0.time, Double($0.fds)) })
        let rssValues = steady.map(\.rss), fdValues = steady.map(\.fds)
        let elapsed = Double(now() - start) / 1000
        reliabilityLog("soak: \(oneDecimal(elapsed)) s, \(round) rounds, \(resizes) resizes, \(typed) bytes typed, "
            + "\(received) bytes received, \(samples.count) samples (\(steady.count) after \(warmUp / 1000) s warm-up); "
            + "RSS \(rssValues.min() ?? 0)...\(rssValues.max() ?? 0) KiB, slope \(oneDecimal(rssSlope)) KiB/min; "
            + "fds \(fdValues.min() ?? 0)...\(fdValues.max() ?? 0), slope \(oneDecimal(fdSlope)) fds/min")
        #expect(steady.count >= 3, "too few samples after the warm-up")
        // A leak of one 8 KiB buffer per second would be 480 KiB/min; a leak
        // of a few bytes per round (~150 rounds/s) would be several hundred.
        // Noise (malloc trimming, page cache of the binary) stays far below.
        #expect(abs(rssSlope) < 64, "RSS slope \(oneDecimal(rssSlope)) KiB/min (samples \(rssValues.prefix(60)))")
        // At rest the count must not move. A sample can land while a resize's
        // control connection is open (one more descriptor for a moment), so
        // the floor is compared, and at most that one extra is allowed: a leak
        // of one descriptor per resize would add over 200 here.
        let restBefore = fdValues.prefix(10).min() ?? 0, restAfter = fdValues.suffix(10).min() ?? 0
        #expect(restBefore == restAfter, "descriptor count at rest moved: \(fdValues.prefix(60))")
        #expect((fdValues.max() ?? 0) - (fdValues.min() ?? 0) <= 1, "descriptor count moved: \(fdValues.prefix(60))")
    }
}
