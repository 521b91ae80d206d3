import Foundation

/// Where a run without `--out` is recorded: `$XDG_DATA_HOME/spectop/runs/`
/// (`~/.local/share/spectop/runs/` by default), one JSON Lines file per run,
/// named by its start time and preset. `spectop run` creates records here,
/// `spectop runs` lists and prunes them.
package struct RunsDirectory: Sendable, Equatable {
    package let path: String

    package init(path: String) { self.path = path }

    /// The directory the XDG Base Directory specification gives: under
    /// `XDG_DATA_HOME` when it is set to an absolute path (the specification
    /// says a relative one is invalid and must be ignored), else under
    /// `HOME/.local/share`; `passwdHome` (the password database's home) stands
    /// in for an unset `HOME`, as the shell's `~` does.
    package static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                               passwdHome: () -> String? = RunsDirectory.passwdHome) throws -> RunsDirectory {
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            return RunsDirectory(path: join(data, "spectop/runs"))
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? passwdHome()
        guard let home, !home.isEmpty else {
            throw ConfigError("cannot tell where to record runs: neither XDG_DATA_HOME nor HOME is set")
        }
        return RunsDirectory(path: join(home, ".local/share/spectop/runs"))
    }

    /// The calling user's home directory from the password database.
    package static func passwdHome() -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(getuid(), &entry, &buffer, buffer.count, &result) == 0, result != nil, let directory = entry.pw_dir else { return nil }
        return String(cString: directory)
    }

    private static func join(_ base: String, _ tail: String) -> String {
        var base = base
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        return base == "/" ? "/" + tail : base + "/" + tail
    }

    // MARK: names

    /// `2026-12-07T04-12-33Z-reach.jsonl`; `…-reach-2.jsonl` for the second
    /// run that starts in the same second. UTC, so names sort by start time
    /// on every machine and across daylight-saving changes; `-` for `:`,
    /// which some file systems and `scp` treat specially.
    package static func fileName(started: Date, preset: String, collision: Int = 1) -> String {
        var seconds = time_t(started.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let stamp = String(format: "%04d-%02d-%02dT%02d-%02d-%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                           Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        return stamp + "-" + safeName(preset) + (collision > 1 ? "-\(collision)" : "") + ".jsonl"
    }

    /// A preset or experiment name as a file-name part: letters, digits, `.`,
    /// `_` and `-` only (anything else, a `/` included, becomes `-`), at most
    /// 40 characters, never empty.
    package static func safeName(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars.prefix(40) {
            let allowed = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "." || scalar == "_" || scalar == "-")
            out.unicodeScalars.append(allowed ? scalar : "-")
        }
        while out.hasPrefix(".") || out.hasPrefix("-") { out.removeFirst() }
        return out.isEmpty ? "run" : out
    }

    /// True for names `fileName` makes: only such files are ever pruned, so
    /// a record a user copied into the directory under a name of their own
    /// is listed but never removed.
    package static func isRecordName(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        let shape = Array("dddd-dd-ddTdd-dd-ddZ-".unicodeScalars)
        guard scalars.count > shape.count + ".jsonl".count, name.hasSuffix(".jsonl") else { return false }
        for (character, expected) in zip(scalars, shape) {
            if expected == "d" { guard character.properties.numericType != nil, character.isASCII else { return false } }
            else if character != expected { return false }
        }
        let rest = scalars[shape.count..<(scalars.count - ".jsonl".count)]
        guard let first = rest.first, first != "." && first != "-" else { return false }
        return rest.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "." || $0 == "_" || $0 == "-") }
    }

    // MARK: checking and creating

    /// Why no record could be created here, found without creating anything
    /// (a run checks this before it prepares anything); nil when one can.
    /// A missing directory is fine when its nearest existing ancestor is a
    /// directory this process may write.
    package func problem() -> String? {
        var candidate = path
        var info = stat()
        while stat(candidate, &info) != 0 {
            guard errno == ENOENT else { return "cannot record to \(path): \(String(cString: strerror(errno)))" }
            let parent = PathName.parent(of: candidate)
            if parent == candidate { return "cannot record to \(path): no existing folder above it" }
            candidate = parent
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            return candidate == path ? "cannot record to \(path): it is not a directory" : "cannot record to \(path): \(candidate) is not a directory"
        }
        guard access(candidate, W_OK | X_OK) == 0 else {
            return "cannot record to \(path): \(candidate): \(String(cString: strerror(errno)))"
        }
        return nil
    }

    /// Makes the directory and every missing folder above it, with mode 0700
    /// as the XDG specification asks for data directories it creates.
    package func create() throws {
        var missing: [String] = []
        var candidate = path
        var info = stat()
        while stat(candidate, &info) != 0 && errno == ENOENT {
            missing.append(candidate)
            let parent = PathName.parent(of: candidate)
            if parent == candidate { break }
            candidate = parent
        }
        for folder in missing.reversed() where mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw ConfigError("cannot create \(folder): \(String(cString: strerror(errno)))")
        }
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ConfigError("cannot record to \(path): it is not a directory")
        }
    }

    /// A record file just created and already locked.
    package struct NewRecord {
        package let path: String
        package let file: UnsafeMutablePointer<FILE>
    }

    /// Creates a new record named for `started` and `preset`, never over an
    /// existing file (the next free `-2`, `-3`, … suffix instead), holding
    /// the exclusive `flock` every record has while it is written.
    ///
    /// The file is made under a hidden name, locked, and only then linked to
    /// its record name (`link` refuses an existing name, as `O_EXCL` does): so
    /// a record name never exists unlocked, and a pruner, which skips locked
    /// files, can never take a run that is just starting for an old one. On a
    /// file system without hard links the record name is created with
    /// `O_EXCL` and locked right after; the pruner also leaves young empty
    /// files alone, which covers that instant.
    package func createRecord(started: Date, preset: String) throws -> NewRecord {
        let hidden = path + "/.spectop-new-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).partial"
        let descriptor = open(hidden, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ConfigError("cannot create a record in \(path): \(String(cString: strerror(errno)))") }
        defer { unlink(hidden) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw ConfigError("cannot lock a new record in \(path): \(reason)")
        }
        for collision in 1...10_000 {
            let target = path + "/" + RunsDirectory.fileName(started: started, preset: preset, collision: collision)
            if link(hidden, target) == 0 { return try NewRecord(path: target, file: stream(descriptor, target)) }
            switch errno {
            case EEXIST: continue
            case EPERM, ENOTSUP, EOPNOTSUPP, EMLINK:
                close(descriptor)
                return try createWithoutLinks(started: started, preset: preset, firstCollision: collision)
            default:
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw ConfigError("cannot create a record in \(path): \(reason)")
            }
        }
        close(descriptor)
        throw ConfigError("cannot create a record in \(path): 10000 runs started in the same second")
    }

    private func createWithoutLinks(started: Date, preset: String, firstCollision: Int) throws -> NewRecord {
        for collision in firstCollision...10_000 {
            let target = path + "/" + RunsDirectory.fileName(started: started, preset: preset, collision: collision)
            let descriptor = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor < 0 && errno == EEXIST { continue }
            guard descriptor >= 0 else { throw ConfigError("cannot create a record in \(path): \(String(cString: strerror(errno)))") }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(target)
                close(descriptor)
                throw ConfigError("cannot lock \(target): \(reason)")
            }
            return try NewRecord(path: target, file: stream(descriptor, target))
        }
        throw ConfigError("cannot create a record in \(path): 10000 runs started in the same second")
    }

    private func stream(_ descriptor: Int32, _ target: String) throws -> UnsafeMutablePointer<FILE> {
        guard let file = fdopen(descriptor, "w") else {
            let reason = String(cString: strerror(errno))
            unlink(target)
            close(descriptor)
            throw ConfigError("cannot write the record to \(target): \(reason)")
        }
        return file
    }

    // MARK: showing paths

    /// `path` as a user can paste it into a shell: the home directory as `~`,
    /// anything but plain characters single-quoted, control characters
    /// escaped (they come from an environment variable, so they must never
    /// reach the terminal raw).
    package static func display(_ path: String, home: String? = ProcessInfo.processInfo.environment["HOME"]) -> String {
        if let home, home.count > 1, path.hasPrefix(home + "/") {
            return "~/" + shellWord(String(path.dropFirst(home.count + 1)))
        }
        return shellWord(path)
    }

    /// A word the shell reads back as `text`.
    package static func shellWord(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "/._-+:@%,=".unicodeScalars.contains($0))
        }
        let word = plain ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return TerminalSafeText.line(word)
    }
}
