import Foundation
import Synchronization

/// errno of the first failed write to stdout (0: none).
private let standardOutputFailure = Atomic<Int32>(0)

/// spectop's only way to write diagnostics and command output.
///
/// `FileHandle.standardError.write` traps when the write fails (stderr on a
/// full disk, a closed pipe, a closed descriptor), which would kill a run in
/// the middle of training. These functions use `write(2)` and report failure
/// as a value instead; a lost diagnostic never stops training.
package enum StandardStreams {
    /// Opens /dev/null on any of descriptors 0–2 that is closed, so a record or
    /// data file opened later can never land on them (with `2>&-`, progress
    /// lines would otherwise be written into the record).
    package static func reserveStandardDescriptors() {
        for descriptor in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] where fcntl(descriptor, F_GETFD) == -1 && errno == EBADF {
            let opened = open("/dev/null", descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY)
            if opened >= 0 && opened != descriptor {
                dup2(opened, descriptor)
                close(opened)
            }
        }
    }

    /// Prints `spectop: message` as one line on stderr, with every control
    /// character from user-supplied text escaped (see `TerminalSafeText`).
    package static func printError(_ message: String) {
        writeError("spectop: " + TerminalSafeText.line(message) + "\n")
    }

    /// Writes `text` as it is to stderr (spectop's own progress lines, whose
    /// escapes are deliberate). Returns false when it could not be written.
    @discardableResult
    package static func writeError(_ text: String) -> Bool {
        write(text, to: STDERR_FILENO)
    }

    /// Writes command output (config, claims, presets) to stdout, unbuffered,
    /// remembering the first failure for `outputFailure`.
    package static func writeOutput(_ text: String) {
        if !write(text, to: STDOUT_FILENO) {
            _ = standardOutputFailure.compareExchange(expected: 0, desired: errno, ordering: .relaxed)
        }
    }

    /// Why output could not be written, if it could not
    /// (`--print-config > /dev/full` must not exit 0 with an empty file).
    package static var outputFailure: String? {
        let code = standardOutputFailure.load(ordering: .relaxed)
        return code == 0 ? nil : "cannot write to stdout: \(String(cString: strerror(code)))"
    }

    /// Writes all of `text` to `descriptor`, retrying after interruptions.
    package static func write(_ text: String, to descriptor: Int32) -> Bool {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        bytes.removeAll()
        return true
    }
}
