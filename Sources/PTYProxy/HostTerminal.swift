// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage

/// The terminal of a person who runs ptyproxy by hand (stdin is a tty).
///
/// Like `script`, it puts that terminal in raw mode, so every key (^C
/// included) goes to the child's pty untouched, and restores the saved
/// settings on every exit path.
final class HostTerminal: Sendable {
    let descriptor: FileDescriptor
    private let saved: termios

    /// Returns nil when `descriptor` is not a terminal.
    init?(_ descriptor: FileDescriptor) {
        guard isatty(descriptor.rawValue) == 1 else { return nil }
        var settings = termios()
        guard tcgetattr(descriptor.rawValue, &settings) == 0 else { return nil }
        self.descriptor = descriptor
        self.saved = settings
    }

    /// Also registers the saved settings with the fault handlers, so that
    /// even a crash restores the terminal (`ptyshim_install_fault_handlers`).
    func enterRawMode() {
        var settings = saved
        ptyshim_register_host_terminal(descriptor.rawValue, &settings)
        applyRawSettings()
    }

    /// Back from a stop (SIGCONT): the shell put its own modes on the
    /// terminal while this job was stopped, so raw mode is applied again,
    /// as vim and less do. Only in the foreground: after `bg` the terminal
    /// is the shell's, and the next SIGCONT (from `fg`) comes here again.
    func resumeRawMode() {
        let foreground = tcgetpgrp(descriptor.rawValue)
        guard foreground > 0, foreground == getpgrp() else { return }
        applyRawSettings()
    }

    private func applyRawSettings() {
        var raw = saved
        ptyshim_make_raw(&raw)
        _ = try? zeroOrErrno(on: .host) { ptyshim_tcsetattr_as_job(descriptor.rawValue, &raw) }
    }

    /// Both changes go through job control (`ptyshim_tcsetattr_as_job`): in
    /// the background, the proxy is stopped instead of changing the terminal
    /// under the foreground job.
    func restore() {
        var settings = saved
        _ = try? zeroOrErrno(on: .host) { ptyshim_tcsetattr_as_job(descriptor.rawValue, &settings) }
        ptyshim_register_host_terminal(-1, nil)
    }

    /// The host terminal's size, if it knows one.
    func size() -> WindowSize? {
        var columns: UInt16 = 0, rows: UInt16 = 0
        guard ptyshim_get_winsize(descriptor.rawValue, &columns, &rows) == 0, columns > 0, rows > 0 else { return nil }
        return WindowSize(columns: columns, rows: rows)
    }
}
