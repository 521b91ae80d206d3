import Foundation

/// A file a command writes whole (`export --csv`): complete or absent.
///
/// A regular file is written under a hidden temporary name in its own folder
/// and renamed over the destination only once every byte is written and
/// synced, so a stop signal, a full disk or a file-size limit mid-write never
/// leaves a cut-off file that looks whole (nor replaces a good one with it).
/// A FIFO or a device (`/dev/stdout`) has no name to rename to and is written
/// directly.
package final class OutputFile {
    private let destination: RecordDestination
    private let naming: RecordDestination.Naming
    /// The temporary file (regular destinations), or nil for a direct write.
    private let temporary: String?
    private let descriptor: Int32
    private var finished = false

    package init(_ destination: RecordDestination, naming: RecordDestination.Naming) throws {
        self.destination = destination
        self.naming = naming
        switch destination.kind {
        case .newFile, .existingFile:
            let folder = PathName.parent(of: destination.path)
            let name = destination.path.split(separator: "/").last.map(String.init) ?? "output"
            var template = Array((folder + "/." + name + ".spectop-partial-XXXXXX").utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else {
                throw CommandFailure.usage("cannot write \(naming.noun) to \(destination.path): \(String(cString: strerror(errno)))")
            }
            fchmod(fd, 0o644)
            temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            descriptor = fd
        case .fifo, .device:
            let file: UnsafeMutablePointer<FILE>
            do { file = try destination.open() } catch let error as ConfigError { throw CommandFailure.usage(error.description) }
            // Written through the descriptor alone, so nothing waits in a stdio buffer.
            descriptor = dup(fileno(file))
            fclose(file)
            temporary = nil
            guard descriptor >= 0 else {
                throw CommandFailure.runtime("cannot write \(naming.noun) to \(destination.path): \(String(cString: strerror(errno)))")
            }
        }
    }

    deinit { discard() }

    private func failure(_ code: Int32) -> CommandFailure {
        .runtime("cannot write \(naming.noun) to \(destination.path): \(String(cString: strerror(code)))")
    }

    /// Appends `text`; throws a runtime failure (disk full, `ulimit -f`, a closed FIFO).
    package func write(_ text: String) throws {
        guard StandardStreams.write(text, to: descriptor) else { throw failure(errno) }
    }

    /// Makes the file whole under its name: synced, then renamed over the destination.
    package func commit() throws {
        guard !finished else { return }
        if let temporary {
            if fsync(descriptor) != 0 { throw failure(errno) }
            if close(descriptor) != 0 { finished = true; unlink(temporary); throw failure(errno) }
            finished = true
            if rename(temporary, destination.path) != 0 {
                let code = errno
                unlink(temporary)
                throw failure(code)
            }
        } else {
            finished = true
            if close(descriptor) != 0 { throw failure(errno) }
        }
    }

    /// Abandons the write: the temporary file is removed, the destination untouched.
    package func discard() {
        guard !finished else { return }
        finished = true
        close(descriptor)
        if let temporary { unlink(temporary) }
    }
}
