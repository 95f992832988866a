// SPDX-License-Identifier: MIT
import SystemPackage

/// The symbolic name of the errors a host's stdout typically gives, for the
/// one line that reports them.
func errnoName(_ error: Errno) -> String {
    switch error {
    case .fileTooLarge: return "EFBIG"
    case .noSpace: return "ENOSPC"
    case .ioError: return "EIO"
    case .badFileDescriptor: return "EBADF"
    case .invalidArgument: return "EINVAL"
    case .resourceTemporarilyUnavailable: return "EAGAIN"
    case .permissionDenied: return "EACCES"
    case .notPermitted: return "EPERM"
    case .diskQuotaExceeded: return "EDQUOT"
    default: return "errno \(error.rawValue)"
    }
}
