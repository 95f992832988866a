// SPDX-License-Identifier: MIT
import Glibc
import Testing
import CPTYShim
@testable import PTYProxy

/// The host's bytes reach a program reading in canonical mode as they would
/// from a terminal: every byte, ended where the line discipline ends lines,
/// with end of file exactly once; ^C drops what the proxy holds.
@Suite struct TypedInputTests {
    /// The child prints READY once its settings are made, so the host's
    /// bytes (and its end of input) meet those settings.
    private func session(_ script: String) -> HostedProcess {
        let proxy = HostedProcess(proxy: ["new", uniqueID("typed"), "80", "24", "sh", "-c", script])
        #expect(proxy.read(untilContains: "READY"), "no READY: \(proxy.errorText)")
        return proxy
    }

    @Test(arguments: [
        ("", "hello\r"), ("", "hello\n"), ("", "hello"), ("", ""), ("", "hello\r\r"),
        ("stty -icrnl;", "hello\r"), ("stty igncr;", "hello\n\r"), ("stty eol ';';", "hello;"),
    ])
    func endOfInputIsOneEndOfFile(settings: String, typed: String) {
        // A second end of file would end the second `cat` at once (status 0);
        // without one, `timeout` ends it (124). --foreground keeps `cat` in
        // the terminal's foreground group, where it can read.
        let proxy = session("stty -echo; \(settings) echo READY; cat >/dev/null; echo FIRST-EOF; "
                            + "timeout --foreground 1 cat >/dev/null; echo SECOND=$?")
        proxy.write(typed)
        proxy.closeInput()
        #expect(proxy.read(untilContains: "SECOND="), "\(settings) \(typed.debugDescription): \(proxy.outputText.debugDescription)")
        #expect(proxy.outputText.contains("FIRST-EOF"))
        #expect(proxy.outputText.contains("SECOND=124"),
                "\(settings) \(typed.debugDescription): a second end of file reached the next reader: \(proxy.outputText.debugDescription)")
        #expect(proxy.finish() == .exited(0))
    }

    @Test(arguments: [10_000, 100_000])
    func aLongLineReachesTheReaderWhole(length: Int) {
        let proxy = session("stty -echo; echo READY; wc -c")
        proxy.write([UInt8](repeating: UInt8(ascii: "x"), count: length) + [UInt8(ascii: "\n")])
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
        let counted = proxy.outputText.split(whereSeparator: \.isNewline).last.map(String.init)
        #expect(counted?.filter { $0 != " " } == "\(length + 1)", "wc -c saw \(proxy.outputText.debugDescription)")
    }

    @Test func aPasteOfLongLinesKeepsEveryLineAndByte() {
        let lengths = [5_000, 9_000, 7_321, 8_191, 6_000, 4_096, 4_095]
        var paste: [UInt8] = []
        for (index, length) in lengths.enumerated() {
            paste += [UInt8](repeating: UInt8(ascii: "a") + UInt8(index), count: length) + [UInt8(ascii: "\r")]
        }
        let proxy = session("stty -echo; echo READY; while IFS= read -r l; do echo \"len=${#l}\"; done; echo DONE")
        proxy.write(paste)
        proxy.closeInput()
        #expect(proxy.finish() == .exited(0))
        let seen = proxy.outputText.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("len=") }
        #expect(seen == lengths.map { "len=\($0)"[...] }, "\(proxy.outputText.debugDescription)")
    }

    /// What the program writes in answer to ^C (a prompt, a trap's line)
    /// comes after the kernel took the character, and is never dropped with
    /// the held output: 40 ^C in a row, each answered by a numbered line.
    /// The answer is the trap's last command: the next ^C is sent as soon
    /// as it is seen, and one landing in a `[` still running after it made
    /// dash's test fail, and the shell exit 0 with its answers untold.
    @Test func theAnswerToAnInterruptIsNeverDropped() {
        let id = uniqueID("intr-answer")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c",
                                          "i=0; trap 'i=$((i+1)); if [ $i -ge 40 ]; then echo ANSWER-$i.; exit 0; fi; echo ANSWER-$i.' INT; echo READY; "
                                          + "while :; do sleep 0.05; done"])
        #expect(proxy.read(untilContains: "READY"))
        for count in 1...40 {
            proxy.write("\u{3}")
            guard proxy.read(untilContains: "ANSWER-\(count).") else {
                Issue.record("^C number \(count): its answer never reached the host")
                break
            }
        }
        #expect(proxy.finish() == .exited(0))  // the 40th answer ends the shell
    }

    /// `yes` floods a host that has stopped reading; ^C kills it. What
    /// reaches the host after the ^C beyond what its pipe already held is
    /// what the proxy held: a terminal's own queue is flushed, and so must
    /// the proxy's be. The host's pipe is one page, so nothing the proxy
    /// holds can hide in it.
    @Test func interruptDropsTheHeldOutput() {
        for round in 1...3 {
            let id = uniqueID("intr")
            let proxy = HostedProcess(proxy: ["new", id, "80", "24", "bash", "-c",
                                              "trap 'echo TRAPPED' INT; echo READY; read go; yes; echo AFTER"])
            #expect(proxy.read(untilContains: "READY"))
            #expect(ptyshim_set_pipe_size(proxy.stdoutRead, 4096) == 0)
            proxy.write("go\n")
            var queued: CInt = 0
            #expect(eventually { ptyshim_bytes_queued(proxy.stdoutRead, &queued) == 0 && queued > 0 })
            // Time for the flood to fill whatever the proxy holds behind the
            // full pipe: more held makes the check harder, never flaky.
            usleep(200_000)
            _ = ptyshim_bytes_queued(proxy.stdoutRead, &queued)
            proxy.output = []
            proxy.write([0x03])
            // The host reads on once the proxy has passed the ^C on (a host
            // that drains at once races the proxy's reaction, which a
            // terminal's in-kernel flush does not have to).
            var status = ""
            #expect(eventually(timeoutMilliseconds: 10_000) {
                status = controlStatus(id)
                return status.contains("\"bytes_in\":4,") || proxy.waitForExit(timeoutMilliseconds: 0) != nil  // or already done
            }, "round \(round): \(status)")
            #expect(proxy.read(untilContains: "AFTER"))
            let text = proxy.output
            let trapped = (0...(text.count - 7)).first { text[$0..<($0 + 7)].elementsEqual("TRAPPED".utf8) } ?? text.count
            let beyondPipe = trapped - Int(queued)
            // A plain pty lets through the master's 4 KiB line buffer; the
            // proxy adds at most the page its write had not put in the pipe
            // (8 KiB in all; the tree before the flush let 16-20 KiB through).
            #expect(beyondPipe <= 12 * 1024, "round \(round): \(beyondPipe) bytes beyond the host's pipe came after ^C")
            #expect(proxy.finish() == .exited(0))
        }
    }

    /// `status` counts the bytes the host's pipe took, while a write waits
    /// for a host that stopped reading (its pipe full: no room, whatever
    /// the bytes queued).
    @Test func bytesOutCountsWhatTheHostsPipeTook() {
        let id = uniqueID("bytesout")
        let proxy = HostedProcess(proxy: ["new", id, "80", "24", "sh", "-c", "head -c 1000000 /dev/zero"])
        var inPipe: CInt = 0
        var counted = 0
        let settled = eventually(timeoutMilliseconds: 10_000) {
            _ = ptyshim_bytes_queued(proxy.stdoutRead, &inPipe)
            let status = controlStatus(id)
            guard let field = status.split(separator: ",").first(where: { $0.hasPrefix("\"bytes_out\":") }) else { return false }
            counted = Int(field.dropFirst(12).prefix(while: \.isNumber)) ?? -1
            return proxy.stdoutPipeIsFull && counted >= Int(inPipe) - 4096
        }
        #expect(settled, "bytes_out \(counted) while the host's pipe held \(inPipe)")
        proxy.closeOutput()
        #expect(proxy.waitForExit(timeoutMilliseconds: 10_000) != nil)
    }
}
