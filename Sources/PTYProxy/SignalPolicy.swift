// SPDX-License-Identifier: MIT
import Glibc
import CPTYShim

/// What the proxy does with every signal it may be sent, decided one by one
/// (docs/REFERENCE.md, "The host's side", has the same table):
///
/// | signal | action | why |
/// |---|---|---|
/// | HUP INT TERM QUIT | hang up (child's status, 129) | requests to end |
/// | XCPU | hang up | CPU soft limit: end cleanly before the hard limit's SIGKILL |
/// | PWR | hang up | power failing: the system is going down |
/// | ILL TRAP ABRT BUS FPE SEGV SYS, sent by kill | hang up | the fault handler turns them into SIGTERM |
/// | the same, from a real fault | fatal | a crash: host terminal restored, then the previous handler (Swift's backtracer) or the default |
/// | WINCH | resize | the host terminal's new size, when stdin is a terminal |
/// | CONT | resumes (the kernel), then raw mode again | a shell puts its own modes back on the terminal while a job is stopped: once in the foreground again, the host terminal's raw settings and size are applied anew, as vim and less do |
/// | USR1 USR2 ALRM VTALRM PROF IO STKFLT TSTP TTIN TTOU, RTMIN..RTMAX | ignored | taken from the signalfd and dropped: a stray signal must not end, or stop, a session (with the host terminal raw). TTOU is unblocked around the host terminal's tcsetattr only, so job control still stops a background ptyproxy before it changes the terminal (`HostTerminal`); TTIN likewise around a read of a terminal stdin that failed in the background, so job control stops it rather than it taking EIO for the end of input (`InputPath`) |
/// | PIPE XFSZ | ignored (SIG_IGN) | thread-directed; the write fails instead: EPIPE is the host gone, EFBIG one line and 125 |
/// | CHLD URG | default (ignore) | harmless; CHLD gets a handler only when the child's pidfd is refused after the spawn, to tell its exit (`ExitWatch`) |
/// | KILL STOP | cannot be caught | KILL: the kernel hangs up the child when the pty closes, the socket stays until the next `new`/`list` replaces it, a raw host terminal stays raw. STOP: the relay pauses, CONT resumes it, nothing is lost |
///
/// The child gets none of this: posix_spawn resets every disposition to
/// the default and empties the mask (`ChildProcess`).
enum SignalPolicy {
    /// Requests to end: the session is hung up and the child's status returned.
    static let hangup: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXCPU, SIGPWR]
    /// Signals that must not end or stop a session relaying someone's
    /// terminal (a stray `kill -USR1`, a profiling timer, a job-control
    /// stop): received and dropped.
    static var ignored: [Int32] {
        [SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGSTKFLT, SIGTSTP, SIGTTIN, SIGTTOU]
            + realTimeSignals
    }
    /// Everything the supervisor takes from its signalfd. Blocking SIGCONT
    /// does not keep it from resuming the process: the kernel does that when
    /// it is sent; the signalfd only tells the supervisor that it happened.
    static var watched: [Int32] { hangup + ignored + [SIGWINCH, SIGCONT] }

    /// The dispositions that are not "blocked and read from the signalfd".
    static func applyDispositions() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        _ = ptyshim_install_fault_handlers()
    }
}
