import SpecTopReaders
import Foundation

/// Reads an experiment file given with `--config`: regular files, and also
/// pipes and devices (`/dev/stdin`, `<(…)`), with a size cap so `/dev/zero`
/// cannot fill memory and a wait for a FIFO's writer that says what it waits
/// for and still answers Ctrl-C.
package enum ExperimentFile {
    /// No experiment file is anywhere near this large.
    package static let maxBytes = 1 << 20

    package static func read(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { throw ConfigError("\(path): no such file") }
            throw ConfigError("\(path): cannot read the file: \(String(cString: strerror(errno)))")
        }
        let type = info.st_mode & S_IFMT
        if type == S_IFDIR { throw ConfigError("\(path): is a directory, not an experiment file") }
        if type == S_IFREG && Int(info.st_size) > maxBytes { throw tooLarge(path) }
        // Non-blocking, so opening a FIFO that has no writer returns at once.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw ConfigError("\(path): cannot read the file: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var waited = 0
        while true {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if let signal = SignalFlag.received { throw StopSignalReceived(signal: signal) }
            if ready == 0 {
                waited += 1
                if waited == 10 { StandardStreams.printError("waiting for a writer on \(path)… (Ctrl-C to stop)") }
                continue
            }
            if ready < 0 {
                if errno == EINTR { continue }
                throw ConfigError("\(path): cannot read the file: \(String(cString: strerror(errno)))")
            }
            let count = chunk.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw ConfigError("\(path): cannot read the file: \(String(cString: strerror(errno)))")
            }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > maxBytes { throw tooLarge(path) }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ConfigError("\(path): not a UTF-8 text file") }
        return text
    }

    private static func tooLarge(_ path: String) -> ConfigError {
        ConfigError("\(path): larger than \(maxBytes >> 20) MiB, which is not an experiment file")
    }
}
