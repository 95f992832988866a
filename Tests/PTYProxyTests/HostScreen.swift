// SPDX-License-Identifier: MIT
import Glibc
import SystemPackage

/// What a test that plays a person's terminal has read from the master
/// side of its pseudo-terminal: every byte so far, so that a later wait
/// also sees text that arrived with an earlier read.
final class HostScreen {
    private let master: FileDescriptor
    private(set) var bytes: [UInt8] = []

    init(master: FileDescriptor) {
        self.master = master
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Reads the master until the screen so far contains `wanted`; false
    /// after `timeoutMilliseconds` without it.
    func read(until wanted: String, timeoutMilliseconds: Int64) -> Bool {
        eventually(timeoutMilliseconds: timeoutMilliseconds) {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { Glibc.read(master.rawValue, $0.baseAddress, $0.count) }
            if count > 0 { bytes += chunk[..<count] }
            return text.contains(wanted)
        }
    }
}
