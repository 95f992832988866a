// SPDX-License-Identifier: MIT
#if os(Linux)
import Glibc
import SystemPackage

/// Sends a signal to every process of a session (all processes whose
/// session id is the child's pid), which is what a terminal hangup means.
///
/// POSIX has no "kill session" call; Linux lists sessions in /proc. The
/// process group of the leader is signalled too, in case /proc is absent.
enum SessionSignaller {
    /// Sends `signals`, in order, to every member of session `sessionID`,
    /// with one scan of /proc; returns how many members were found alive.
    @discardableResult
    static func signal(session sessionID: pid_t, _ signals: [Int32]) -> Int {
        var found = 0
        for signal in signals { kill(-sessionID, signal) }
        forEachMember(of: sessionID) { pid in
            var alive = false
            for signal in signals where kill(pid, signal) == 0 { alive = true }
            if alive { found += 1 }
        }
        return found
    }

    private static func forEachMember(of sessionID: pid_t, _ body: (pid_t) -> Void) {
        guard let directory = opendir("/proc") else { return }
        defer { closedir(directory) }
        var statBuffer = [UInt8](repeating: 0, count: 512)
        while let entry = readdir(directory) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { raw -> pid_t? in
                var value: pid_t = 0
                for byte in raw {
                    if byte == 0 { break }
                    guard byte >= 0x30 && byte <= 0x39 else { return nil }
                    value = value &* 10 &+ pid_t(byte - 0x30)
                }
                return value > 0 ? value : nil
            }
            guard let pid, pid != getpid() else { continue }
            if sessionOf(pid, buffer: &statBuffer) == sessionID { body(pid) }
        }
    }

    /// Field 6 of /proc/PID/stat; the command name (field 2) may contain
    /// spaces and parentheses, so parsing starts after its last ')'.
    private static func sessionOf(_ pid: pid_t, buffer: inout [UInt8]) -> pid_t? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0, let close = buffer[..<count].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After ") ": state ppid pgrp session
        var field = 0
        var value: pid_t = 0
        var index = close + 2
        while index < count {
            let byte = buffer[index]
            if byte == UInt8(ascii: " ") {
                if field == 3 { return value }
                field += 1
                value = 0
            } else if field == 3 {
                value = value &* 10 &+ pid_t(byte &- 0x30)
            }
            index += 1
        }
        return nil
    }
}
#endif
