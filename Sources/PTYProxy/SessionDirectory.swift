#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// Where control sockets live, and the rules for session IDs.
///
/// `$XDG_RUNTIME_DIR/ptyproxy/` when that variable is set (a per-user,
/// private directory by definition), else `${TMPDIR:-/tmp}/ptyproxy-UID/`.
/// The directory must be a real directory (not a symlink), owned by us,
/// with no permissions for group or others; it is created 0700 if absent.
public enum SessionDirectory {
    /// The directory path for this user, from the environment.
    public static func defaultPath() -> String {
        if let runtime = environmentValue("XDG_RUNTIME_DIR"), !runtime.isEmpty {
            return runtime + "/ptyproxy"
        }
        var temporary = environmentValue("TMPDIR") ?? "/tmp"
        if temporary.isEmpty { temporary = "/tmp" }
        while temporary.count > 1 && temporary.hasSuffix("/") { temporary.removeLast() }
        return "\(temporary)/ptyproxy-\(getuid())"
    }

    /// IDs are `[A-Za-z0-9._-]{1,64}`, and not `.` or `..`: safe as file names.
    public static func isValidID(_ id: String) -> Bool {
        guard (1...64).contains(id.utf8.count), id != ".", id != ".." else { return false }
        return id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    /// The socket path of session `id` in `directory`.
    public static func socketPath(directory: String, id: String) -> String {
        "\(directory)/\(id).sock"
    }

    /// Creates the directory if needed and checks that it is private to us.
    public static func prepare(_ path: String) throws(SessionError) {
        do {
            try valueOrErrno { mkdir(path, 0o700) }
        } catch .fileExists {
            // Made earlier; checked below like a new one.
        } catch {
            throw SessionError("cannot create control directory \(path): \(error)")
        }
        try checkPrivate(path)
    }

    /// Refuses a directory that someone else could use to spoof or hijack sessions.
    public static func checkPrivate(_ path: String) throws(SessionError) {
        var info = stat()
        do {
            try valueOrErrno { lstat(path, &info) }
        } catch {
            throw SessionError("cannot use control directory \(path): \(error)")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw SessionError("control directory \(path) is not a directory")
        }
        guard info.st_uid == getuid() else {
            throw SessionError("control directory \(path) is owned by uid \(info.st_uid), not by us")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw SessionError("control directory \(path) is accessible to other users (mode \(String(info.st_mode & 0o777, radix: 8)))")
        }
    }

    /// The IDs of the sockets in `directory` (live or stale).
    public static func socketIDs(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var ids: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasSuffix(".sock") else { continue }
            let id = String(name.dropLast(5))
            if isValidID(id) { ids.append(id) }
        }
        return ids.sorted()
    }
}

/// getenv, as a Swift string.
func environmentValue(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
