// SPDX-License-Identifier: MIT
import CPTYShim

/// The version of ptyproxy, read from the one place it is written
/// (`ptyproxy_version.h`, shared with the Windows program).
///
/// It names the release only, not the commit: a plain `swift build` has no
/// way to learn the commit, and `--version` must say the same whichever way
/// the binary was built.
public enum Version {
    /// The release number, such as `0.2.0`.
    public static let number: String = PTYPROXY_VERSION
    /// What `ptyproxy --version` prints: `ptyproxy 0.2.0`.
    public static var description: String { "ptyproxy \(number)" }
}
