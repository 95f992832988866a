// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage

/// The host's stdin and stdout as handed to `ptyproxy new`, checked before
/// anything starts (no pty, no socket, no child).
///
/// A stdout opened read-only, a write-only stdin or a closed one would
/// otherwise only show up as EBADF in the middle of the relay. They are
/// the host's mistake, not the proxy's, so they get one line and 125 up
/// front. Must run before `ensureStandardDescriptors()` puts /dev/null on
/// a closed descriptor.
public struct HostStdio: Sendable {
    /// One line for stderr (without the `ptyproxy: ` prefix), or nil when
    /// both descriptors are usable.
    public let problem: String?

    public static func check(input: Int32 = 0, output: Int32 = 1) -> HostStdio {
        HostStdio(problem: describe(ptyshim_check_stdio(input, 0), name: "stdin", direction: "reading")
            ?? describe(ptyshim_check_stdio(output, 1), name: "stdout", direction: "writing"))
    }

    private static func describe(_ result: Int32, name: String, direction: String) -> String? {
        switch result {
        case 0: return nil
        case EBADF: return "\(name) is closed; ptyproxy new needs it open for \(direction) (use \(name == "stdin" ? "</dev/null" : ">/dev/null"))"
        case EISDIR: return "\(name) is a directory; ptyproxy new needs a pipe, terminal or file"
        default: return "\(name) is not open for \(direction)"
        }
    }
}

extension HostStdio {
    /// Grows the host's stdout pipe. Best effort: stdout may be no pipe at
    /// all, and an unprivileged user may be over the pipe-size limits.
    static func growPipe(_ descriptor: FileDescriptor, to size: Int) {
        _ = ptyshim_grow_pipe(descriptor.rawValue, CInt(clamping: size))
    }
}
