import Foundation

/// Reading user-supplied data files with errors a user can act on, and
/// without trusting any size the file claims about itself.
enum DataFile {
    /// Throws `DataError.fileUnreadable` unless `path` is a readable regular file.
    static func checkReadable(_ path: String) throws(DataError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.fileUnreadable(file: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw DataError.fileUnreadable(file: path, reason: "it is a directory, not a file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw DataError.fileUnreadable(file: path, reason: "permission denied")
        }
    }

    /// An open file and its length in bytes, measured rather than assumed.
    struct Reader {
        let path: String
        let handle: FileHandle
        let size: Int

        init(path: String) throws(DataError) {
            try DataFile.checkReadable(path)
            self.path = path
            do {
                handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
                size = Int(try handle.seekToEnd())
            } catch {
                throw DataError.fileUnreadable(file: path, reason: "\(error.localizedDescription)")
            }
        }

        /// Exactly `count` bytes from `offset`. Callers check `offset + count <= size` first.
        func read(offset: Int, count: Int) throws(DataError) -> Data {
            do {
                try handle.seek(toOffset: UInt64(offset))
                let data = try handle.read(upToCount: count) ?? Data()
                guard data.count == count else {
                    throw DataError.fileUnreadable(
                        file: path, reason: "expected \(count) bytes at offset \(offset), read \(data.count)")
                }
                return data
            } catch let error as DataError {
                throw error
            } catch {
                throw DataError.fileUnreadable(file: path, reason: "\(error.localizedDescription)")
            }
        }

        func close() { try? handle.close() }
    }

    /// The whole file, refusing gzip-compressed input.
    static func readAll(_ path: String) throws(DataError) -> Data {
        let reader = try Reader(path: path)
        defer { reader.close() }
        let data = try reader.read(offset: 0, count: reader.size)
        if isGzip(data) { throw DataError.compressedFile(file: path) }
        return data
    }

    /// True when `prefix` starts with the gzip magic bytes 1f 8b.
    static func isGzip(_ prefix: Data) -> Bool {
        prefix.count >= 2 && prefix[prefix.startIndex] == 0x1F && prefix[prefix.startIndex + 1] == 0x8B
    }
}
