// SPDX-License-Identifier: MIT
import CPTYShim

/// The process environment, as the C library holds it.
public enum ProcessEnvironment {
    /// environ: a NULL-terminated array of NAME=VALUE strings.
    public static var entries: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        ptyshim_environ()
    }

    /// Our environment, entry by entry, as raw bytes (never decoded: a value
    /// holding `\xff` reaches the child as `\xff`).
    public static var current: [ByteString] {
        var result: [ByteString] = []
        var entry = entries
        while let pointer = entry.pointee {
            result.append(ByteString(cString: pointer))
            entry += 1
        }
        return result
    }

    /// The child's environment: `inherited` minus COLUMNS, LINES (the pty
    /// knows its size and a stale value would override it) and PTYPROXY_*
    /// (those of an outer session), with TERM (`term`, else the inherited
    /// one when not empty, else xterm-256color) and PTYPROXY_ID set, and
    /// `overrides` (`--env NAME=VALUE`, the last of a name wins) replacing
    /// inherited entries of the same name.
    ///
    /// Linear in the number of entries: the overridden names are looked up
    /// in a set, so 1000 `--env` over 100 000 inherited variables costs one
    /// pass, not 10^8 comparisons.
    public static func forChild(inherited: [ByteString], term: ByteString?, id: String,
                                overrides: [ByteString]) -> [ByteString] {
        var overrideIndex: [ArraySlice<UInt8>: Int] = [:]
        for (index, pair) in overrides.enumerated() {
            overrideIndex[name(of: pair)] = index  // the last one of a name wins
        }
        var environment: [ByteString] = []
        environment.reserveCapacity(inherited.count + overrides.count + 2)
        var inheritedTerm: ByteString?
        for pair in inherited {
            let key = name(of: pair)
            if key.elementsEqual("COLUMNS".utf8) || key.elementsEqual("LINES".utf8) || key.starts(with: "PTYPROXY_".utf8) {
                continue
            }
            if key.elementsEqual("TERM".utf8) {
                inheritedTerm = ByteString(pair.bytes.dropFirst(5))
                continue
            }
            if overrideIndex[key] != nil { continue }
            environment.append(pair)
        }
        let chosenTerm = term ?? (inheritedTerm.flatMap { $0.isEmpty ? nil : $0 } ?? "xterm-256color")
        if overrideIndex[ArraySlice("TERM".utf8)] == nil { environment.append("TERM=" + chosenTerm) }
        if overrideIndex[ArraySlice("PTYPROXY_ID".utf8)] == nil { environment.append("PTYPROXY_ID=\(id)") }
        for (index, pair) in overrides.enumerated() where overrideIndex[name(of: pair)] == index {
            environment.append(pair)
        }
        return environment
    }

    /// `environment` with exactly one entry `name`: `value`. Every other
    /// entry of that name goes, even one given with `--env`: PTYPROXY_SOCKET
    /// is the session's own socket, and a child must not see two (the C
    /// library's getenv takes the first, other runtimes the last).
    public static func setting(_ name: String, to value: ByteString, in environment: [ByteString]) -> [ByteString] {
        environment.filter { !self.name(of: $0).elementsEqual(name.utf8) } + [ByteString(name + "=") + value]
    }

    /// The bytes before the first `=` (all of them when there is none).
    private static func name(of pair: ByteString) -> ArraySlice<UInt8> {
        let bytes = pair.bytes[...]
        return bytes.firstIndex(of: UInt8(ascii: "=")).map { bytes[..<$0] } ?? bytes
    }
}
