import Foundation

/// Where a run's record goes, checked before anything is prepared and opened
/// only once the run is ready to start, so a run that fails to start never
/// creates, truncates or removes a file.
///
/// - A new path is created exclusively (`O_EXCL`): a file that appears
///   meanwhile is never clobbered.
/// - An existing record is refused unless `--force`; with `--force` it is
///   truncated only after the run prepared successfully.
/// - Either way the record is held with an exclusive `flock`, so a second run
///   writing the same file refuses instead of interleaving with the first.
/// - Character devices (`/dev/null`, `/dev/full`) are written as they are,
///   never truncated; a FIFO needs a reader already; anything else that is
///   not a regular file is refused.
package struct RecordDestination: Sendable {
    package enum Kind: Sendable, Equatable {
        case newFile
        case existingFile
        case device
        case fifo
    }

    /// How messages name the file: the same rules serve the record (`--out`)
    /// and other outputs (`export --csv`).
    package struct Naming: Sendable {
        /// The option that names the file.
        package var option: String
        /// What is written, as in "cannot write the record to PATH".
        package var noun: String
        /// Who else may hold the lock.
        package var writer: String
        /// Who reads the protected files.
        package var reader: String

        package static let record = Naming(option: "--out", noun: "the record", writer: "another spectop run", reader: "this run")
    }

    package let path: String
    package let kind: Kind
    package var naming = Naming.record

    /// Checks `path` without changing anything. `overwrite` is `--force`;
    /// `protected` lists files the run reads (the experiment file, data
    /// files), which the record may never replace.
    package static func check(_ path: String, overwrite: Bool, protected: [String] = [], naming: Naming = .record) throws -> RecordDestination {
        let option = naming.option, noun = naming.noun
        guard !path.isEmpty else { throw ConfigError("\(option) needs a file name") }
        var info = stat()
        if stat(path, &info) != 0 {
            guard errno == ENOENT else { throw ConfigError("cannot write \(noun) to \(path): \(String(cString: strerror(errno)))") }
            let parent = PathName.parent(of: path)
            var parentInfo = stat()
            guard stat(parent, &parentInfo) == 0 else {
                throw ConfigError("cannot write \(noun) to \(path): \(String(cString: strerror(errno)))")
            }
            guard (parentInfo.st_mode & S_IFMT) == S_IFDIR else {
                throw ConfigError("cannot write \(noun) to \(path): \(parent) is not a directory")
            }
            guard access(parent, W_OK) == 0 else {
                throw ConfigError("cannot write \(noun) to \(path): \(String(cString: strerror(errno)))")
            }
            return RecordDestination(path: path, kind: .newFile, naming: naming)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            for other in protected where !other.isEmpty && sameFile(path, other) {
                throw ConfigError("\(option) \(path) is \(other), which \(naming.reader) reads; choose another file for \(noun)")
            }
            if RecordDestination.isLocked(path) {
                throw ConfigError("\(path) is being written by \(naming.writer); choose another \(option)")
            }
            guard overwrite else {
                throw ConfigError("\(path) already exists; pass --force to overwrite it, or choose another \(option)")
            }
            guard access(path, W_OK) == 0 else {
                throw ConfigError("cannot write \(noun) to \(path): \(String(cString: strerror(errno)))")
            }
            return RecordDestination(path: path, kind: .existingFile, naming: naming)
        case S_IFCHR:
            return RecordDestination(path: path, kind: .device, naming: naming)
        case S_IFIFO:
            return RecordDestination(path: path, kind: .fifo, naming: naming)
        case S_IFDIR:
            throw ConfigError("cannot write \(noun) to \(path): it is a directory")
        default:
            throw ConfigError("cannot write \(noun) to \(path): not a regular file")
        }
    }

    /// Opens the destination for writing: exclusive creation for a new file,
    /// lock then truncate for `--force` on an existing one.
    package func open() throws -> UnsafeMutablePointer<FILE> {
        let option = naming.option, noun = naming.noun
        let descriptor: Int32
        switch kind {
        case .newFile:
            descriptor = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor < 0 && errno == EEXIST {
                throw ConfigError("\(path) was created by another process meanwhile; choose another \(option)")
            }
        case .existingFile, .device:
            descriptor = Foundation.open(path, O_WRONLY | O_CLOEXEC)
        case .fifo:
            // Without a reader a blocking open would wait forever.
            descriptor = Foundation.open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if descriptor < 0 && errno == ENXIO {
                throw ConfigError("no process is reading the FIFO \(path); start the reader first")
            }
        }
        guard descriptor >= 0 else { throw ConfigError("cannot write \(noun) to \(path): \(String(cString: strerror(errno)))") }
        if kind == .fifo {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        }
        if kind == .newFile || kind == .existingFile {
            if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
                close(descriptor)
                throw ConfigError("\(path) is being written by \(naming.writer); choose another \(option)")
            }
            if kind == .existingFile && ftruncate(descriptor, 0) != 0 {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw ConfigError("cannot overwrite \(noun) \(path): \(reason)")
            }
        }
        guard let file = fdopen(descriptor, "w") else {
            close(descriptor)
            throw ConfigError("cannot write \(noun) to \(path): \(String(cString: strerror(errno)))")
        }
        return file
    }

    /// True when another process holds the record's lock (a run in progress).
    package static func isLocked(_ path: String) -> Bool {
        let descriptor = Foundation.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) != 0 { return errno == EWOULDBLOCK }
        flock(descriptor, LOCK_UN)
        return false
    }

    /// True when both paths name the same existing file (links included).
    package static func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}
