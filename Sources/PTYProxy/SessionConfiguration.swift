// SPDX-License-Identifier: MIT
import SystemPackage

/// Everything one `ptyproxy new` needs to know.
public struct SessionConfiguration: Sendable {
    /// The session's name; also the control socket's name.
    public var id: String
    /// The initial terminal size (when the host's stdin is a terminal, its size wins).
    public var size: WindowSize
    /// What runs on the terminal.
    public var command: Command
    /// SIGHUP -> SIGKILL grace period on hangup, and how long a hangup waits
    /// for the output to reach a host that does not read.
    public var hangupGraceMilliseconds: Int64 = 2000
    /// Output path tuning (buffer size and count, drain timing).
    public var output = OutputPath.Tuning()
    /// When stdout is a pipe smaller than this, it is grown to this size
    /// (F_SETPIPE_SZ); nil (the default) leaves the host's pipe alone. The
    /// benchmark harness found no consistent gain in growing it to 128 KiB or
    /// 1 MiB (BENCHMARKS.md), so the host's object is not touched unasked.
    public var stdoutPipeSize: Int?
    /// Where the control socket lives (a verified directory, see
    /// SessionDirectory.forNewSession(id:)); nil runs without a control channel.
    public var controlDirectory: ControlDirectory?
    /// The host's side: stdin and stdout.
    public var hostInput: FileDescriptor = .standardInput
    public var hostOutput: FileDescriptor = .standardOutput

    public init(id: String, size: WindowSize, command: Command) {
        self.id = id
        self.size = size
        self.command = command
    }
}
