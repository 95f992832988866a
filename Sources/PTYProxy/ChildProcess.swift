// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim
import SystemPackage
import Synchronization

/// What to run on the terminal.
///
/// Arguments, environment and directory are bytes (`ByteString`), passed to
/// posix_spawn exactly as given: nothing on the way decodes them.
public struct Command: Sendable, Equatable {
    /// argv[0] is the program, searched in PATH when it has no slash.
    public var arguments: [ByteString]
    /// The complete environment of the child, as NAME=VALUE entries.
    public var environment: [ByteString]
    /// The working directory, or nil to inherit ours.
    public var workingDirectory: ByteString?

    public init(arguments: [ByteString], environment: [ByteString], workingDirectory: ByteString? = nil) {
        precondition(!arguments.isEmpty, "a command needs at least a program")
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// conpty_proxy.exe compatibility: a single argument that contains
    /// whitespace is a command line, run by `/bin/sh -c`.
    public static func argumentsForCompatibility(_ words: [ByteString]) -> [ByteString] {
        if words.count == 1, words[0].bytes.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a }) {
            return ["/bin/sh", "-c", words[0]]
        }
        return words
    }
}

/// A child process started as the leader of a new session on a terminal.
///
/// It is never reaped behind its owner's back: `exitDescriptor` (a pidfd on
/// Linux) becomes readable when it exits, `exitStatus()` reads the status
/// and `reap()` collects it.
///
/// Until it is reaped, an exited child stays a zombie, and its pid, process
/// group id and session id stay reserved: no new process can take the
/// number. So an owner that signals the child's group or session after it
/// exited (a hangup of what is left on the terminal) reads the status with
/// `exitStatus()`, signals, and only then reaps. Reaped first, the number
/// could be reused in between (pid_max is 32768 on many systems), and the
/// hangup would reach a stranger's processes.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// Readable once the child has exited (a pidfd, or a pipe; see `exitNotification`).
    public let exitDescriptor: FileDescriptor

    /// Why a child could not be started, mapped to `env`'s exit codes.
    public struct SpawnError: Error, Sendable {
        public let errno: Errno
        public let program: ByteString

        /// 125 when the proxy ran out of something it needs to start any
        /// program (processes, memory, descriptors: `resources`), 127 when
        /// the program does not exist, 126 when it exists but cannot run.
        public var exitCode: Int32 {
            if Self.resources.contains(errno) { return 125 }
            return errno == .noSuchFileOrDirectory || errno == .notDirectory ? 127 : 126
        }

        /// What the system refuses when the proxy, not CMD, is short of
        /// something: EAGAIN from clone (RLIMIT_NPROC, a pids cgroup), ENOMEM,
        /// EMFILE and ENFILE (the terminal opened for the child, a pipe).
        static let resources: [Errno] = [.resourceTemporarilyUnavailable, .noMemory,
                                         .tooManyOpenFiles, .tooManyOpenFilesInSystem]

        public var message: String {
            switch exitCode {
            case 125: return "cannot start \(program.printable): \(errno)"
            case 127: return "\(program.printable): command not found"
            default: return "\(program.printable): cannot execute: \(errno)"
            }
        }
    }

    /// Starts `command` with `terminalPath` as its controlling terminal and
    /// fds 0-2, nothing else open, default signal dispositions, empty mask.
    /// A program the kernel cannot execute because it has no `#!` line
    /// (ENOEXEC) is run by /bin/sh, as execvp(3) and every shell do.
    ///
    /// Nothing can fail once the child runs: what the exit watch needs (see
    /// `ExitWatch`) is made before the spawn, so a thrown error always means
    /// that the command did not run.
    public init(spawning command: Command, terminalPath: String) throws(SpawnError) {
        let program = command.arguments[0]
        let watch: ExitWatch
        do {
            watch = try ExitWatch()
        } catch {
            throw SpawnError(errno: error, program: program)
        }
        var childPID: pid_t = 0
        let result = withCStrings(command.arguments) { argv in
            withCStrings(command.environment) { envp in
                program.withCString { path in
                    withOptionalCString(command.workingDirectory) { directory in
                        ptyshim_spawn_session_sh_fallback(&childPID, path, argv, envp, terminalPath, directory,
                                                          program.contains(UInt8(ascii: "/")) ? 0 : 1)
                    }
                }
            }
        }
        guard result == 0 else {
            watch.discard()
            throw SpawnError(errno: Errno(rawValue: result), program: program)
        }
        pid = childPID
        exitDescriptor = watch.descriptor(for: childPID)
    }

    /// Refuses a working directory the child could not change into, with
    /// the directory's own error. Called before the session is published (no
    /// client may reach a session that never starts), and needed because
    /// posix_spawn reports a failed chdir as the exec's error: ENOENT (127,
    /// "not found") or EACCES (126, "cannot execute"), when it is the
    /// directory that is wrong.
    static func checkWorkingDirectory(of command: Command) throws(SessionError) {
        guard let directory = command.workingDirectory else { return }
        var info = stat()
        do {
            _ = try directory.withCString { path throws(Errno) in try valueOrErrno { stat(path, &info) } }
        } catch {
            throw SessionError("cannot change to directory '\(directory.printable)': \(error)")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw SessionError("cannot change to directory '\(directory.printable)': not a directory")
        }
        let access = directory.withCString { ptyshim_can_enter($0) }
        guard access == 0 else {
            throw SessionError("cannot change to directory '\(directory.printable)': \(Errno(rawValue: access))")
        }
    }

    /// A descriptor that becomes readable when `pid` exits, made the way
    /// `mode` says (see `ExitWatch`; the other modes are for tests).
    static func exitNotification(for pid: pid_t, _ mode: ExitWatch.Mode = .pidfd) throws(Errno) -> FileDescriptor {
        try ExitWatch(mode).descriptor(for: pid)
    }

    /// The exit status if the child has exited, leaving it unreaped (waitid
    /// WNOWAIT): its pid, group and session stay reserved until `reap()`.
    public func exitStatus() -> ExitStatus? {
        var status: CInt = 0
        guard ptyshim_exit_status_without_reaping(pid, &status) == 0 else { return nil }
        return ExitStatus(waitStatus: status)
    }

    /// Collects the exit status if the child has exited (waitpid, WNOHANG).
    public func reap() -> ExitStatus? {
        var status: Int32 = 0
        guard let reaped = try? valueOrErrno({ waitpid(pid, &status, WNOHANG) }), reaped == pid else {
            return nil
        }
        return ExitStatus(waitStatus: status)
    }

    /// Waits for the child to exit and collects its status.
    public func wait() -> ExitStatus {
        var status: Int32 = 0
        while true {
            do {
                _ = try valueOrErrno { waitpid(pid, &status, 0) }
                return ExitStatus(waitStatus: status)
            } catch {
                // ECHILD: someone else reaped it; nothing more can be known.
                return .exited(0)
            }
        }
    }

    /// Sends `signal` to the child itself.
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    public func close() {
        exitDescriptor.closeQuietly()
    }
}

/// What tells a child's exit: its pidfd; where pidfd_open is refused
/// (kernels before 5.3, seccomp filters, valgrind), a pipe written by a
/// thread that waits for the exit without reaping (waitid WNOWAIT), so
/// `reap()` still collects it.
///
/// The pidfd can only be opened once the child exists, and nothing may fail
/// after CMD started; so what the pidfd needs is made sure of before the
/// spawn. A pidfd of our own process proves the system call works and holds
/// a descriptor slot, given back just before the child's pidfd takes it.
/// Only where that probe is refused are the fallback's pipe and thread made,
/// the thread parked at a gate until it is told the pid: a thread and its
/// wake-ups cost more than the rest of the watch, so a system with pidfd
/// does not pay for them.
///
/// What may still refuse the child's pidfd in that instant (the kernel out
/// of memory, or of file structures) gets a SIGCHLD handler that writes to
/// a pipe made before the spawn: installing a handler cannot fail.
final class ExitWatch: Sendable {
    enum Mode {
        /// Through a pidfd (a refused one gets the SIGCHLD handler).
        case pidfd
        /// A pidfd refused after the spawn (tests): the SIGCHLD handler.
        case pidfdRefusedAfterSpawn
        /// A pidfd refused before the spawn (tests): the waiting thread.
        case thread
    }

    private let readEnd: FileDescriptor
    private let writeEnd: FileDescriptor
    /// The probe pidfd, holding the slot of the child's pidfd.
    private let reserved: FileDescriptor?
    private let refuseChildPidfd: Bool
    private let gate = StartGate()
    private let watched = WatchedPID()
    private let thread: IOThread?

    init(_ mode: Mode = .pidfd) throws(Errno) {
        (readEnd, writeEnd) = try FileDescriptor.makePipe(nonblocking: false)
        refuseChildPidfd = mode == .pidfdRefusedAfterSpawn
        var probe: CInt = -1
        if mode != .thread && ptyshim_pidfd_open(getpid(), &probe) == 0 {
            reserved = FileDescriptor(rawValue: probe)
            thread = nil
            return
        }
        reserved = nil
        let (gate, watched, writeEnd) = (self.gate, self.watched, self.writeEnd)
        do {
            thread = try IOThread(after: gate) {
                _ = ptyshim_wait_exit_without_reaping(watched.value.load(ordering: .acquiring))
                var byte: UInt8 = 1
                _ = system_write(writeEnd.rawValue, &byte, 1)
                writeEnd.closeQuietly()
            }
        } catch {
            readEnd.closeQuietly()
            writeEnd.closeQuietly()
            throw error
        }
    }

    /// The child's pidfd, else the prepared pipe (the thread is released, or
    /// the SIGCHLD handler set to write to it).
    func descriptor(for pid: pid_t) -> FileDescriptor {
        guard let thread else {
            reserved?.closeQuietly()
            var pidfd: CInt = -1
            if !refuseChildPidfd && ptyshim_pidfd_open(pid, &pidfd) == 0 {
                readEnd.closeQuietly()
                writeEnd.closeQuietly()
                return FileDescriptor(rawValue: pidfd)
            }
            ptyshim_notify_exit_by_sigchld(pid, writeEnd.rawValue)
            return readEnd
        }
        watched.value.store(pid, ordering: .releasing)
        gate.open()
        thread.detach()
        return readEnd
    }

    /// Not needed (the spawn failed): the thread returns without waiting,
    /// the descriptors are closed.
    func discard() {
        if let thread {
            gate.cancel()
            thread.join()
        }
        reserved?.closeQuietly()
        readEnd.closeQuietly()
        writeEnd.closeQuietly()
    }
}

/// The pid the fallback thread waits for, handed over through the gate.
private final class WatchedPID: Sendable {
    let value = Atomic<pid_t>(0)
}

/// Calls `body` with a NULL-terminated array of C strings (argv, envp), freed afterwards.
func withCStrings<Result>(_ strings: [ByteString], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.duplicateCString() }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// The same for UTF-8 text (test harnesses).
func withCStrings<Result>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result) -> Result {
    withCStrings(strings.map { ByteString($0) }, body)
}

/// Calls `body` with a C string, or with NULL for nil.
func withOptionalCString<Result>(_ string: ByteString?, _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
