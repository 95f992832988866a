// SPDX-License-Identifier: MIT

/// Why a session could not run; `exitCode` follows `env`/`timeout`:
/// 125 the proxy failed, 126 the command cannot run, 127 it was not found.
public struct SessionError: Error, Sendable, CustomStringConvertible {
    public let exitCode: Int32
    public let message: String

    public init(exitCode: Int32 = 125, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    public var description: String { message }
}
