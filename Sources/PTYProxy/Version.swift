// SPDX-License-Identifier: MIT
import CPTYShim

/// The version of ptyproxy, read from the one place it is written
/// (`ptyproxy_version.h`, shared with the Windows program), and the commit
/// the binary was built from when the build passed it in.
public enum Version {
    /// The release number, such as `0.2.0`.
    public static let number: String = PTYPROXY_VERSION
    /// The abbreviated commit, or `nil` when the build did not record one.
    public static let commit: String? = {
        let recorded = String(cString: ptyshim_build_commit())
        return recorded.isEmpty ? nil : recorded
    }()
    /// What `ptyproxy --version` prints: `ptyproxy 0.2.0 (commit abc1234)`.
    public static var description: String {
        commit.map { "ptyproxy \(number) (commit \($0))" } ?? "ptyproxy \(number)"
    }
}
