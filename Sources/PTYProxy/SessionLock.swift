// SPDX-License-Identifier: MIT
import Glibc
import SystemPackage

/// Liveness of a session ID, made exclusive with flock(2) on `ID.lock`.
///
/// The running proxy holds an exclusive lock on `ID.lock` for its whole life;
/// the kernel drops it when the process dies, however it dies. So:
/// - a second `new` with the same ID fails to take the lock: "already running";
/// - a lock that can be taken means the session is gone, at once, without
///   connecting to anything (a stopped proxy still holds its lock);
/// - only the holder of the lock may create, replace or remove `ID.sock` and
///   `.ID.PID.tmp`, so "is it stale?" and "remove it" cannot race with a new
///   session appearing in between.
///
/// A holder removes the lock file before it lets go. Someone who opened the
/// old file just before may then lock an unlinked inode; every taker therefore
/// checks, once locked, that the name still refers to the inode it holds.
final class SessionLock: Sendable {
    let descriptor: FileDescriptor
    let id: String
    private let directory: ControlDirectory

    static func lockName(_ id: String) -> String { id + lockSuffix }

    /// The suffix of a session's lock file name.
    static let lockSuffix = ".lock"

    private init(descriptor: FileDescriptor, id: String, directory: ControlDirectory) {
        self.descriptor = descriptor
        self.id = id
        self.directory = directory
    }

    enum Outcome {
        case acquired(SessionLock)
        /// Another process holds it: the session is alive.
        case held
        /// No lock file (and `create` was false): no session of this ID.
        case absent
    }

    /// Tries to take the lock of `id` without waiting.
    static func take(_ id: String, in directory: ControlDirectory, create: Bool) throws(Errno) -> Outcome {
        let name = lockName(id)
        for _ in 0..<8 {
            let flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0)
            let raw: CInt
            do {
                raw = try valueOrErrno { openat(directory.descriptor.rawValue, name, flags, 0o600) }
            } catch .noSuchFileOrDirectory where !create {
                return .absent
            }
            let descriptor = FileDescriptor(rawValue: raw)
            var info = stat()
            guard fstat(raw, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid() else {
                descriptor.closeQuietly()
                throw .permissionDenied
            }
            do {
                try valueOrErrno(retryOnInterrupt: false) { flock(raw, LOCK_EX | LOCK_NB) }
            } catch {
                descriptor.closeQuietly()
                if error == .wouldBlock || error == .interrupted { return .held }
                throw error
            }
            // Locked: is it still the file the name refers to?
            if FileIdentity(in: directory, name: name) == FileIdentity(descriptor: descriptor) {
                return .acquired(SessionLock(descriptor: descriptor, id: id, directory: directory))
            }
            descriptor.closeQuietly()  // a holder removed it meanwhile: try the new one
        }
        return .held
    }

    /// Removes what a dead holder of this ID may have left: its socket
    /// (unless `keepSocket`) and temporary names `.ID.PID.tmp`.
    func removeLeftovers(keepSocket: Bool = false) {
        if !keepSocket { directory.remove(SessionDirectory.socketName(id)) }
        let prefix = ".\(id)."
        for name in directory.entries() where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            let middle = name.dropFirst(prefix.count).dropLast(4)
            if !middle.isEmpty && middle.allSatisfy(\.isNumber) { directory.remove(name) }
        }
    }

    /// Removes the lock file, then lets go of the lock.
    func release() {
        directory.remove(Self.lockName(id), ifStill: FileIdentity(descriptor: descriptor))
        descriptor.closeQuietly()
    }
}

/// Identifies a file, to remove a name only while it is still the file we mean.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// The entry `name` of `directory`, not following a symlink.
    init?(in directory: ControlDirectory, name: String) {
        var info = stat()
        guard fstatat(directory.descriptor.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        self.init(info)
    }

    init?(descriptor: FileDescriptor) {
        var info = stat()
        guard fstat(descriptor.rawValue, &info) == 0 else { return nil }
        self.init(info)
    }
}
