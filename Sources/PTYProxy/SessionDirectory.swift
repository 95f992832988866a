// SPDX-License-Identifier: MIT
import Glibc
import SystemPackage

/// Where control sockets live, and the rules for session IDs.
///
/// Candidates, in order of preference (the same order for `new` and for the
/// clients, so both find the same directory):
///
/// 1. `$XDG_RUNTIME_DIR/ptyproxy`, when XDG_RUNTIME_DIR is an absolute path
///    to a directory owned by us with no access for others. When it is, it
///    is the only candidate: nobody else can create anything in it. (After
///    `su` without `-`, root inherits the user's XDG_RUNTIME_DIR; it is not
///    root's, so root falls through to the next candidates.)
/// 2. `$TMPDIR/ptyproxy-UID` (TMPDIR only when absolute, else `/tmp`).
/// 3. `$HOME/.cache/ptyproxy`, when HOME is ours (or root's) and not writable
///    by others: the way out when another user squats candidate 2, since
///    nobody else can pre-create a name in our home.
///
/// Every directory is verified through its own descriptor (opened with
/// O_DIRECTORY|O_NOFOLLOW, then fstat): a real directory, owned by us,
/// mode 0700. `new` creates it with an explicit mode (mkdir, then fchmod,
/// independent of the umask) and repairs one of ours with a wrong mode.
/// Clients only use a directory that passes the same checks, and act in it
/// through the descriptor (openat, unlinkat, sockets via /proc/self/fd).
public enum SessionDirectory {
    /// One candidate: how it is reached from an environment variable.
    ///
    /// The base is bytes, exactly as the environment holds it: a TMPDIR or
    /// HOME that is not UTF-8 names the same directory for `new`, for the
    /// clients and in the child's PTYPROXY_SOCKET (decoding it would name
    /// another one, or none). The names below it are ASCII.
    struct Candidate {
        /// The absolute base directory (from the environment) and the names below it.
        let base: ByteString
        let components: [String]
        /// Whether `base` itself must be private to us (XDG_RUNTIME_DIR), or
        /// only not writable by others (HOME), or may be shared (TMPDIR, sticky).
        let baseRule: BaseRule

        var path: ByteString { components.reduce(base) { $0.appending(component: $1) } }
    }

    enum BaseRule { case privateToUs, notWritableByOthers, shared }

    /// The candidates for this process's environment, in order of preference.
    static func candidates() -> [Candidate] {
        let uid = getuid()
        if let runtime = absoluteEnvironmentPath("XDG_RUNTIME_DIR") {
            let candidate = Candidate(base: runtime, components: ["ptyproxy"], baseRule: .privateToUs)
            if (try? openBase(candidate)).map({ $0.closeQuietly() }) != nil { return [candidate] }
        }
        var result = [Candidate(base: absoluteEnvironmentPath("TMPDIR") ?? ByteString("/tmp"),
                                components: ["ptyproxy-\(uid)"], baseRule: .shared)]
        if let home = absoluteEnvironmentPath("HOME") {
            result.append(Candidate(base: home, components: [".cache", "ptyproxy"], baseRule: .notWritableByOthers))
        }
        return result
    }

    /// The directory path a new session would use first (for messages and tests).
    public static func defaultPath() -> ByteString { candidates().first?.path ?? ByteString("/tmp/ptyproxy-\(getuid())") }

    /// The directory for a new session `id`: the first candidate that can be
    /// created or repaired and verified (else the first candidate's problem
    /// is thrown). With it, the socket of a live session `id` in one of the
    /// other candidate directories, if there is one (made while the
    /// preferred directory was squatted): `new` refuses that ID. One walk of
    /// the candidates serves both, so start-up resolves them once.
    public static func forNewSession(id: String) throws(SessionError)
        -> (directory: ControlDirectory, liveElsewhere: ByteString?) {
        var firstProblem: SessionError?
        var chosen: ControlDirectory?
        var liveElsewhere: ByteString?
        for candidate in candidates() {
            guard chosen != nil else {
                // One that cannot be created or repaired cannot be used by a client either.
                do {
                    chosen = try open(candidate, create: true)
                } catch {
                    if firstProblem == nil { firstProblem = error }
                }
                continue
            }
            if liveElsewhere == nil, let other = try? open(candidate, create: false) {
                liveElsewhere = ControlClient(directory: other).liveSocket(of: id)
            }
        }
        guard let chosen else { throw firstProblem ?? SessionError("no usable control directory") }
        return (chosen, liveElsewhere)
    }

    /// What a client finds: the verified directories, and the problems of the
    /// candidates that exist but cannot be trusted (one line each).
    public static func forClients() -> (directories: [ControlDirectory], problems: [String]) {
        var directories: [ControlDirectory] = []
        var problems: [String] = []
        for candidate in candidates() {
            // A base that is missing or unfit (a HOME others can write to)
            // only means this candidate is not one: nothing to report.
            guard let base = try? openBase(candidate) else { continue }
            base.closeQuietly()
            do {
                directories.append(try open(candidate, create: false))
            } catch {
                if !error.message.hasSuffix(Self.missingSuffix) { problems.append(error.message) }
            }
        }
        return (directories, problems)
    }

    /// Opens (and for `new`, creates or repairs) a directory at an explicit path.
    public static func open(path: String, create: Bool) throws(SessionError) -> ControlDirectory {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard path.hasPrefix("/"), let last = parts.popLast() else {
            throw SessionError("control directory \(path) is not an absolute path")
        }
        return try open(Candidate(base: ByteString("/" + parts.joined(separator: "/")), components: [last],
                                  baseRule: .shared),
                        create: create)
    }

    private static let missingSuffix = ": does not exist"

    /// Opens the base of a candidate and checks it against its rule.
    private static func openBase(_ candidate: Candidate) throws(SessionError) -> FileDescriptor {
        let base = candidate.base.printablePath
        let raw: CInt
        do {
            raw = try candidate.base.withCString { path throws(Errno) in
                try valueOrErrno { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            }
        } catch .noSuchFileOrDirectory {
            throw SessionError("\(base)\(missingSuffix)")
        } catch {
            throw SessionError("cannot use \(base): \(error)")
        }
        let descriptor = FileDescriptor(rawValue: raw)
        var info = stat()
        do {
            try valueOrErrno { fstat(raw, &info) }
        } catch {
            descriptor.closeQuietly()
            throw SessionError("cannot use \(base): \(error)")
        }
        let owner = info.st_uid, mode = info.st_mode & 0o7777
        switch candidate.baseRule {
        case .privateToUs:
            guard owner == getuid(), mode & 0o077 == 0 else {
                descriptor.closeQuietly()
                throw SessionError("\(base) is not private to uid \(getuid()) (owner \(owner), mode \(octal(mode)))")
            }
        case .notWritableByOthers:
            guard owner == getuid() || owner == 0, mode & 0o022 == 0 else {
                descriptor.closeQuietly()
                throw SessionError("\(base) is writable by others or not ours (owner \(owner), mode \(octal(mode)))")
            }
        case .shared:
            break
        }
        return descriptor
    }

    /// Walks from the base to the control directory one component at a time,
    /// each opened with O_NOFOLLOW relative to its parent's descriptor.
    static func open(_ candidate: Candidate, create: Bool) throws(SessionError) -> ControlDirectory {
        var current = try openBase(candidate)
        var bytePath = candidate.base
        for (index, name) in candidate.components.enumerated() {
            bytePath = bytePath.appending(component: name)
            let path = bytePath.printablePath  // for messages
            let isLast = index == candidate.components.count - 1
            if create {
                do {
                    try valueOrErrno { mkdirat(current.rawValue, name, 0o700) }
                } catch .fileExists {
                    // Made before, or by a session starting at the same time: checked below.
                } catch {
                    current.closeQuietly()
                    throw SessionError("cannot create control directory \(path): \(error)")
                }
            }
            let raw: CInt
            do {
                defer { current.closeQuietly() }
                raw = try valueOrErrno { openat(current.rawValue, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            } catch .noSuchFileOrDirectory {
                throw SessionError("\(path)\(missingSuffix)")
            } catch .tooManySymbolicLinkLevels, .notDirectory {
                throw SessionError("control directory \(path) is not a directory (a symlink or a file); remove it")
            } catch {
                throw SessionError("cannot use control directory \(path): \(error)")
            }
            current = FileDescriptor(rawValue: raw)
            var info = stat()
            do {
                try valueOrErrno { fstat(raw, &info) }
            } catch {
                current.closeQuietly()
                throw SessionError("cannot use control directory \(path): \(error)")
            }
            guard info.st_uid == getuid() else {
                current.closeQuietly()
                throw SessionError("control directory \(path) belongs to uid \(info.st_uid), not to uid \(getuid()); "
                                   + "have it removed, or set XDG_RUNTIME_DIR to a private directory")
            }
            let mode = info.st_mode & 0o7777
            let wanted: mode_t = isLast ? 0o700 : mode & ~0o022
            if mode != wanted {
                // Ours, with a wrong mode (a strict umask, a chmod): repair it
                // when creating; a client refuses one that others can enter.
                if create && fchmod(raw, wanted) == 0 { continue }
                if !isLast ? mode & 0o022 != 0 : mode & 0o077 != 0 {
                    current.closeQuietly()
                    throw SessionError("control directory \(path) is open to other users (mode \(octal(mode))); "
                                       + "run: chmod 700 \(path)")
                }
            }
        }
        return ControlDirectory(path: bytePath, descriptor: current)
    }

    /// The longest ID, in bytes.
    public static let maximumIDLength = 64

    /// IDs are `[A-Za-z0-9._-]{1,maximumIDLength}`, and not `.` or `..`:
    /// safe as file names.
    public static func isValidID(_ id: String) -> Bool {
        guard (1...maximumIDLength).contains(id.utf8.count), id != ".", id != ".." else { return false }
        return id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    /// The suffix of a session's socket name.
    static let socketSuffix = ".sock"

    /// The file name of session `id`'s control socket: the one place that
    /// spells it.
    public static func socketName(_ id: String) -> String { id + socketSuffix }

    /// The socket path of session `id` in `directory`.
    public static func socketPath(directory: String, id: String) -> String {
        "\(directory)/\(socketName(id))"
    }

    /// The IDs of the sockets at `directory` (live or stale), read by path:
    /// for tests and diagnostics only; the tool reads a verified directory.
    public static func socketIDs(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        return entryNames(closing: handle).compactMap { name in
            guard name.hasSuffix(socketSuffix) else { return nil }
            let id = String(name.dropLast(socketSuffix.utf8.count))
            return isValidID(id) ? id : nil
        }.sorted()
    }

    /// An environment variable holding an absolute path, trailing slashes
    /// removed; its bytes as they are.
    private static func absoluteEnvironmentPath(_ name: String) -> ByteString? {
        guard let raw = getenv(name) else { return nil }
        var value = ByteString(cString: raw)
        guard value.bytes.first == UInt8(ascii: "/") else { return nil }
        while value.count > 1 && value.bytes.last == UInt8(ascii: "/") { value.bytes.removeLast() }
        return value
    }
}

/// A verified control directory, held open: everything done in it goes
/// through `descriptor`, so replacing the path afterwards changes nothing.
public final class ControlDirectory: Sendable {
    /// The path it was reached by, as bytes (PTYPROXY_SOCKET, messages).
    public let path: ByteString
    let descriptor: FileDescriptor
    /// The prefix socket calls use to reach an entry: `/proc/self/fd/N` when
    /// /proc shows this very directory there (then the kernel resolves the
    /// name through the descriptor, never through the path again, and a
    /// long TMPDIR still fits sockaddr_un), else the path itself.
    private let socketPrefix: ByteString

    init(path: ByteString, descriptor: FileDescriptor) {
        self.path = path
        self.descriptor = descriptor
        let viaProc = "/proc/self/fd/\(descriptor.rawValue)"
        var own = stat(), seen = stat()
        if fstat(descriptor.rawValue, &own) == 0, stat(viaProc, &seen) == 0,
           own.st_dev == seen.st_dev, own.st_ino == seen.st_ino {
            socketPrefix = ByteString(viaProc)
        } else {
            socketPrefix = path
        }
    }

    deinit { descriptor.closeQuietly() }

    /// The path to hand to bind/connect for `name`; nil when it does not fit sockaddr_un.
    func socketAddress(_ name: String) -> ByteString? {
        let address = socketPrefix.appending(component: name)
        return address.count <= UnixSocket.maximumPathLength ? address : nil
    }

    /// The public path of session `id`'s socket.
    public func socketPath(_ id: String) -> ByteString { path.appending(component: SessionDirectory.socketName(id)) }

    /// The names in the directory. Read through a new open of "." relative
    /// to the descriptor (not a dup, which would share, and leave at the
    /// end, the directory offset of the next reading).
    func entries() -> [String] {
        let copy = openat(descriptor.rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0 else { return [] }
        guard let handle = fdopendir(copy) else { close(copy); return [] }
        return entryNames(closing: handle)
    }

    /// The IDs with a socket, a lock or a temporary name (`.ID.PID.tmp`) in
    /// the directory, live or stale.
    public func sessionIDs() -> [String] {
        var ids = Set<String>()
        for name in entries() {
            var id: Substring?
            if name.hasSuffix(SessionDirectory.socketSuffix) {
                id = name.dropLast(SessionDirectory.socketSuffix.utf8.count)
            } else if name.hasSuffix(SessionLock.lockSuffix) {
                id = name.dropLast(SessionLock.lockSuffix.utf8.count)
            } else if name.hasPrefix("."), name.hasSuffix(".tmp"), let dot = name.dropLast(4).lastIndex(of: ".") {
                id = name[name.index(after: name.startIndex)..<dot]
            }
            if let id, SessionDirectory.isValidID(String(id)) { ids.insert(String(id)) }
        }
        return ids.sorted()
    }

    /// Removes `name` if it is still the file `identity` names (unlinkat, no symlinks followed).
    func remove(_ name: String, ifStill identity: FileIdentity? = nil) {
        if let identity, FileIdentity(in: self, name: name) != identity { return }
        unlinkat(descriptor.rawValue, name, 0)
    }
}

/// The names in an open directory stream, `.` and `..` left out; closes it.
private func entryNames(closing handle: OpaquePointer) -> [String] {
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

private func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }
