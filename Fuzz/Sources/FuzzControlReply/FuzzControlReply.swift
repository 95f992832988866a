// SPDX-License-Identifier: MIT
//
// libFuzzer entry point for the client's reply parser.
//
// The whole input is one reply line, as ControlClient hands it to
// `ControlReply.parse` (newline stripped). Whatever the server sent, the
// parsed text is printed on the user's terminal, so beyond "does not crash"
// the harness checks that no control byte (C0, DEL, C1) and no malformed
// UTF-8 survives, and traps (a crash the fuzzer reports) when one does.
import FuzzDriver
import PTYProxy

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let line = UnsafeBufferPointer(start: data, count: size)
    let reply = ControlReply.parse(line)
    precondition(ControlReply.parse(Array(line)) == reply, "parse is not deterministic")
    let text: String
    switch reply {
    case .ok(let body):
        text = body
        precondition(line.starts(with: "ok".utf8), "ok without ok")
    case .error(let reason):
        text = reason
        precondition(line.starts(with: "error ".utf8), "error without error")
    case .unexpected(let quoted):
        text = quoted
        precondition(text.utf8.count <= 4 * 80 + 3, "unexpected reply quoted at length")
    }
    for scalar in text.unicodeScalars {
        let value = scalar.value
        precondition(value >= 0x20 && value != 0x7f && !(0x80...0x9f).contains(value), "control character printed")
    }
    // Printable ASCII passes through unchanged.
    if line.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }), line.starts(with: "ok ".utf8) {
        precondition(reply == .ok(String(decoding: line.dropFirst(3), as: UTF8.self)), "printable text altered")
    }
    return 0
}

/// The executable's entry point (SwiftPM points `main` here): run libFuzzer.
@_cdecl("FuzzControlReply_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in
        guard let data else { return fuzz(UnsafePointer(bitPattern: 1)!, 0) }
        return fuzz(data, size)
    }
}
