import Foundation

/// Reading user-supplied data files with errors a user can act on, and
/// without trusting any size the file claims about itself.
///
/// Files are read with POSIX calls rather than `FileHandle` so a failure
/// reports the C library's reason ("permission denied", "is a directory")
/// instead of Foundation's "NSCocoaErrorDomain error 256".
enum DataFile {
    /// Bytes per read when streaming a file: large enough that system calls
    /// cost nothing next to parsing, small enough to stay out of the way of
    /// the data set being built.
    static let defaultChunkSize = 1 << 20

    /// Throws `DataError.fileUnreadable` unless `path` names a regular file
    /// (following symbolic links). The type is checked before opening: opening
    /// a FIFO with no writer blocks forever, and a device such as /dev/zero
    /// never ends, so neither may reach `open`.
    static func checkReadable(_ path: String) throws(DataError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw DataError.fileUnreadable(file: path, reason: reason(errno: errno)) }
        if let problem = notRegular(info.st_mode) { throw DataError.fileUnreadable(file: path, reason: problem) }
    }

    /// Why `mode` is not a regular file, or nil when it is.
    static func notRegular(_ mode: mode_t) -> String? {
        switch mode & mode_t(S_IFMT) {
        case mode_t(S_IFREG): return nil
        // The wording users already saw for a directory is kept.
        case mode_t(S_IFDIR): return "it is a directory, not a file"
        case mode_t(S_IFIFO): return "it is a FIFO (named pipe), not a regular file"
        case mode_t(S_IFCHR): return "it is a character device, not a regular file"
        case mode_t(S_IFBLK): return "it is a block device, not a regular file"
        case mode_t(S_IFSOCK): return "it is a socket, not a regular file"
        default: return "it is not a regular file"
        }
    }

    /// The C library's description of `code`, starting lower-case to read as
    /// the end of "cannot read the file: …".
    static func reason(errno code: Int32) -> String {
        // A missing file keeps the short wording scripts and tests already match.
        if code == ENOENT { return "no such file" }
        guard let message = strerror(code) else { return "error \(code)" }
        let text = String(cString: message)
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// An open regular file and its length in bytes, measured rather than assumed.
    struct Reader {
        let path: String
        let descriptor: Int32
        let size: Int

        init(path: String) throws(DataError) {
            try DataFile.checkReadable(path)
            self.path = path
            // O_NONBLOCK: should the path be swapped for a FIFO between the
            // check and here, open returns at once instead of waiting for a
            // writer. It has no effect on reads from a regular file.
            let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard descriptor >= 0 else { throw DataError.fileUnreadable(file: path, reason: DataFile.reason(errno: errno)) }
            // The type is checked again on what was actually opened.
            var info = stat()
            guard fstat(descriptor, &info) == 0 else {
                let code = errno
                closeDescriptor(descriptor)
                throw DataError.fileUnreadable(file: path, reason: DataFile.reason(errno: code))
            }
            if let problem = DataFile.notRegular(info.st_mode) {
                closeDescriptor(descriptor)
                throw DataError.fileUnreadable(file: path, reason: problem)
            }
            self.descriptor = descriptor
            size = Int(info.st_size)
        }

        /// Up to `buffer.count` bytes from `offset`: fewer only at the end of
        /// the file, 0 past it.
        func read(offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
            guard let base = buffer.baseAddress else { return 0 }
            var done = 0
            while done < buffer.count {
                let count = pread(descriptor, base + done, buffer.count - done, off_t(offset + done))
                if count > 0 {
                    done += count
                } else if count == 0 {
                    break
                } else if errno != EINTR {
                    throw DataError.fileUnreadable(file: path, reason: DataFile.reason(errno: errno))
                }
            }
            return done
        }

        /// Exactly `count` bytes from `offset`. Callers check `offset + count <= size` first.
        func read(offset: Int, count: Int) throws(DataError) -> [UInt8] {
            guard count > 0 else { return [] }
            var failure: DataError?
            // Read straight into the array: no zero-fill, no second copy of a large pixel block.
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                do throws(DataError) {
                    initialized = try read(offset: offset, into: UnsafeMutableRawBufferPointer(buffer))
                } catch {
                    failure = error
                    initialized = 0
                }
            }
            if let failure { throw failure }
            guard bytes.count == count else {
                throw DataError.fileUnreadable(file: path, reason: "expected \(count) bytes at offset \(offset), read \(bytes.count)")
            }
            return bytes
        }

        /// Hands the file to `body` front to back, `chunkSize` bytes at a time
        /// (the last piece may be shorter), until the file ends or `body`
        /// returns false. Memory stays at one chunk however large the file.
        func forEachChunk(chunkSize: Int = DataFile.defaultChunkSize, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) throws(DataError) {
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, chunkSize))
            defer { buffer.deallocate() }
            var offset = 0
            while true {
                let count = try read(offset: offset, into: UnsafeMutableRawBufferPointer(buffer))
                guard count > 0 else { return }
                offset += count
                guard body(UnsafeBufferPointer(rebasing: buffer[0..<count])) else { return }
            }
        }

        func close() { closeDescriptor(descriptor) }
    }

    /// True when `prefix` starts with the gzip magic bytes 1f 8b.
    static func isGzip(_ prefix: [UInt8]) -> Bool {
        prefix.count >= 2 && prefix[0] == 0x1F && prefix[1] == 0x8B
    }
}

/// `close(2)`, out of reach of `Reader.close()`, which would shadow it there.
private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
