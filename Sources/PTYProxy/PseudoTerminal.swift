// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage
import Synchronization

/// A terminal size in character cells; both dimensions are in `dimensions`.
public struct WindowSize: Equatable, Sendable, CustomStringConvertible {
    public var columns: UInt16
    public var rows: UInt16

    /// The columns and rows a size may have: what the kernel's winsize
    /// (and ConPTY's COORD, for the Windows program) can hold, and not 0.
    public static let dimensions: ClosedRange<UInt32> = 1...UInt32(UInt16.max)

    /// `dimensions` as messages write it: `1..65535`.
    public static var dimensionsText: String { "\(dimensions.lowerBound)..\(dimensions.upperBound)" }

    public init(columns: UInt16, rows: UInt16) {
        self.columns = columns
        self.rows = rows
    }

    public var description: String { "\(columns)x\(rows)" }
}

/// The master side of a pseudo-terminal, and the path of its slave.
///
/// The master is opened close-on-exec and non-blocking (this process owns
/// it, so non-blocking mode cannot leak to anyone else); the slave is opened
/// by the child itself, by path, so that it becomes its controlling terminal.
public final class PseudoTerminal: Sendable {
    /// The master descriptor: reads give the child's output, writes are its input.
    public let master: FileDescriptor
    /// The slave device path, e.g. /dev/pts/3.
    public let slavePath: String
    /// Held until the child is started so the line settings and size stick
    /// (and, on macOS, until it is reaped so unread output is not discarded).
    private let slaveHold: FileDescriptor
    private let slaveReleased = Atomic<Bool>(false)

    /// Opens a pty (posix_openpt, grantpt, unlockpt, ptsname_r) with sane line
    /// settings (`stty sane iutf8 erase ^?`) and the given size.
    public init(size: WindowSize) throws(Errno) {
        var masterFD: CInt = -1
        var name = [CChar](repeating: 0, count: 128)
        try zeroOrErrno { ptyshim_open_master(&masterFD, &name, name.count) }
        let master = FileDescriptor(rawValue: masterFD)
        let path = String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            let slave = try valueOrErrno { open(path, O_RDWR | O_NOCTTY | O_CLOEXEC) }
            var settings = termios()
            ptyshim_sane_termios(&settings)
            try valueOrErrno { tcsetattr(slave, TCSANOW, &settings) }
            try zeroOrErrno { ptyshim_set_winsize(masterFD, size.columns, size.rows) }
            try zeroOrErrno { ptyshim_set_nonblocking(masterFD, 1) }
            self.master = master
            self.slavePath = path
            self.slaveHold = FileDescriptor(rawValue: slave)
        } catch {
            master.closeQuietly()
            throw error
        }
    }

    /// Sets the size (TIOCSWINSZ); the kernel sends SIGWINCH to the
    /// foreground process group when it changes.
    public func resize(to size: WindowSize) throws(Errno) {
        try zeroOrErrno { ptyshim_set_winsize(master.rawValue, size.columns, size.rows) }
    }

    /// The current size (TIOCGWINSZ).
    public func size() throws(Errno) -> WindowSize {
        var columns: UInt16 = 0, rows: UInt16 = 0
        try zeroOrErrno { ptyshim_get_winsize(master.rawValue, &columns, &rows) }
        return WindowSize(columns: columns, rows: rows)
    }

    /// The foreground process group of the terminal (tcgetpgrp on the master).
    public func foregroundProcessGroup() throws(Errno) -> pid_t {
        try valueOrErrno { tcgetpgrp(master.rawValue) }
    }

    /// The line settings the child currently uses (tcgetattr on the master
    /// reads the slave's settings).
    func lineSettings() throws(Errno) -> termios {
        var settings = termios()
        try valueOrErrno { tcgetattr(master.rawValue, &settings) }
        return settings
    }

    /// Gives up this process's own slave descriptor; safe to call more than once.
    ///
    /// On Linux call it as soon as the child has started: a master read
    /// reports EIO only once every slave descriptor is closed, which is how
    /// the relay knows that the child's output is complete. On macOS call it
    /// only after the child is reaped: there, closing the last slave discards
    /// output not yet read.
    public func releaseSlave() {
        if slaveReleased.exchange(true, ordering: .acquiringAndReleasing) == false {
            slaveHold.closeQuietly()
        }
    }

    /// Closes everything this object owns.
    public func close() {
        releaseSlave()
        master.closeQuietly()
    }
}
