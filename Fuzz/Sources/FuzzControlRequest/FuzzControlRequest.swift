// SPDX-License-Identifier: MIT
// libFuzzer entry point for the control protocol's line parser.
//
// The whole input is one request line, as the control server hands it to
// `ControlRequest.parse` (newline stripped). Beyond "does not crash", the
// harness checks properties every answer must have, and traps (a crash the
// fuzzer reports) when one does not hold.
import FuzzDriver
import PTYProxy

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let line = UnsafeBufferPointer(start: data, count: size)
    let result = ControlRequest.parse(line)
    // Deterministic: same bytes, same answer.
    precondition(ControlRequest.parse(Array(line)) == result, "parse is not deterministic")
    switch result {
    case .success(.resize(let size)):
        precondition(size.columns >= 1 && size.rows >= 1, "resize to a zero dimension accepted")
    case .success(.signal(let number)):
        precondition((1...64).contains(number), "signal \(number) out of range")
    case .success:
        break
    case .failure(let error):
        // The reply goes on one line: the reason must not contain a newline.
        let reason = error.description
        precondition(!reason.utf8.contains(10) && !reason.utf8.contains(13), "multi-line error reason")
    }
    if size > ControlRequest.maximumLineLength {
        precondition(result == .failure(.lineTooLong), "over-long line not refused")
    }
    return 0
}

/// The executable's entry point (SwiftPM points `main` here): run libFuzzer.
@_cdecl("FuzzControlRequest_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in
        guard let data else { return fuzz(UnsafePointer(bitPattern: 1)!, 0) }
        return fuzz(data, size)
    }
}
