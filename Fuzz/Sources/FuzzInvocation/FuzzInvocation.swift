// SPDX-License-Identifier: MIT
// libFuzzer entry point for the command-line parser.
//
// The input is split on NUL bytes into arguments (a NUL can never be inside a
// real argv element); each argument is passed as raw bytes (`ByteString`), as
// the tool reads argv. Beyond "does not crash", usage errors must be one
// printable line, as the tool prints them to stderr, and CMD must come out
// byte for byte as it went in.
import FuzzDriver
import PTYProxy

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map { ByteString($0) }
    let result = Invocation.parse(size == 0 ? [] : arguments)
    switch result {
    case .success(.new(let options)):
        precondition(arguments.suffix(options.command.count).elementsEqual(options.command), "CMD was altered")
        precondition(SessionDirectory.isValidID(options.id), "invalid ID accepted")
        precondition(options.size.columns >= 1 && options.size.rows >= 1, "zero size accepted")
        precondition(!options.command.isEmpty && !options.command[0].isEmpty, "empty CMD accepted")
        precondition(options.outputBufferCount == 1 || options.outputBufferCount == 2, "bad buffer count")
        precondition((0...3_600_000).contains(options.hangupGraceMilliseconds), "grace out of range")
    case .success(.resize(let id, let size)):
        precondition(SessionDirectory.isValidID(id) && size.columns >= 1 && size.rows >= 1, "bad resize accepted")
    case .success(.signal(let id, _)), .success(.status(let id)):
        precondition(SessionDirectory.isValidID(id), "invalid ID accepted")
    case .success:
        break
    case .failure(let error):
        precondition(!error.message.utf8.contains(10), "usage error spans lines")
        precondition(!error.message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f },
                     "usage error contains control characters")
    }
    return 0
}

/// The executable's entry point (SwiftPM points `main` here): run libFuzzer.
@_cdecl("FuzzInvocation_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in
        guard let data else { return fuzz(UnsafePointer(bitPattern: 1)!, 0) }
        return fuzz(data, size)
    }
}
