import SpecTopReaders
import Foundation

/// Checks a `--dump DIR` before the run starts, so a dump that cannot be
/// written is an error up front rather than after hours of training, and a
/// directory holding someone's files is never written into by surprise.
enum DumpDestination {
    /// The files a state dump puts at the top of its directory.
    static let probeFiles = ["probe_x.npy", "probe_y.npy"]

    static func check(_ directory: String, reuse: Bool, record: String?) throws {
        guard !directory.isEmpty else { throw ConfigError("--dump needs a directory name") }
        let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
        if let record {
            let recordPath = URL(fileURLWithPath: record).standardizedFileURL.path
            if recordPath.hasPrefix(absolute + "/") {
                throw ConfigError("--out \(record) is inside --dump \(directory); keep the record outside the dump directory")
            }
        }
        var info = stat()
        if stat(directory, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw ConfigError("--dump \(directory) exists and is not a directory") }
            guard access(directory, W_OK) == 0 else {
                throw ConfigError("cannot write the state dump to \(directory): \(String(cString: strerror(errno)))")
            }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            if entries.isEmpty { return }
            let foreign = entries.filter { !isDumpEntry($0, in: directory) }.sorted()
            if !foreign.isEmpty {
                throw ConfigError("--dump \(directory) holds files that are not a spectop state dump (\(foreign.prefix(3).joined(separator: ", "))); choose an empty or new directory")
            }
            if !reuse {
                throw ConfigError("--dump \(directory) already holds a state dump; pass --force to replace it, or choose another directory")
            }
            return
        }
        guard errno == ENOENT else { throw ConfigError("cannot write the state dump to \(directory): \(String(cString: strerror(errno)))") }
        // It will be created: the nearest existing ancestor must be a writable directory.
        var ancestor = URL(fileURLWithPath: absolute).deletingLastPathComponent()
        while stat(ancestor.path, &info) != 0 && ancestor.path != "/" { ancestor.deleteLastPathComponent() }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ConfigError("cannot write the state dump to \(directory): \(ancestor.path) is not a directory")
        }
        // access() says yes to root everywhere, even in /proc: try for real,
        // with a directory that is removed at once.
        guard let made = temporaryFolder(in: ancestor.path, prefix: ".spectop-check-") else {
            throw ConfigError("cannot write the state dump to \(directory): \(ancestor.path): \(String(cString: strerror(errno)))")
        }
        rmdir(made)
    }

    /// A new folder `folder/PREFIXxxxxxx` (mkdtemp); nil with errno set when it cannot be made.
    private static func temporaryFolder(in folder: String, prefix: String) -> String? {
        var template = Array((folder.hasSuffix("/") ? folder : folder + "/").utf8CString.dropLast()) + Array((prefix + "XXXXXX").utf8CString)
        return mkdtemp(&template).map { String(cString: $0) }
    }

    /// Removes what an earlier state dump left in `directory` (its probe files
    /// and model folders), and nothing else: called before the first dump of
    /// a run that reuses the directory, so no stale model stays beside new ones.
    static func removePreviousDump(in directory: String) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for entry in entries where isDumpEntry(entry, in: directory) {
            try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(entry))
        }
    }

    /// The prefix of the hidden folder an export is written into before it
    /// gets its name: a dump is complete or absent, never half there.
    static let partialPrefix = ".spectop-partial-"

    /// Creates a hidden folder in `root` (created if missing) for an export
    /// being written; nil with the reason when it cannot be made.
    static func partialFolder(in root: String) -> Result<String, ConfigError> {
        do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
            return .failure(ConfigError("cannot write the state dump to \(root): \(error.localizedDescription)"))
        }
        guard let made = temporaryFolder(in: root, prefix: partialPrefix) else {
            return .failure(ConfigError("cannot write the state dump to \(root): \(String(cString: strerror(errno)))"))
        }
        return .success(made)
    }

    /// Gives the complete export in `partial` its name, `root/step-000500`
    /// for step 500 (`-2`, `-3`… when that step was exported already:
    /// paused, `e` pressed twice), by one `rename`, which never replaces a
    /// folder with anything in it, so two exports never share a name.
    static func publish(_ partial: String, in root: String, step: Int) -> Result<String, ConfigError> {
        let digits = String(max(0, step))
        let base = (root as NSString).appendingPathComponent("step-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits)
        var candidate = base
        var n = 1
        while rename(partial, candidate) != 0 {
            guard errno == ENOTEMPTY || errno == EEXIST else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: partial)
                return .failure(ConfigError("cannot name the state dump \(candidate): \(reason)"))
            }
            n += 1
            candidate = "\(base)-\(n)"
        }
        return .success(candidate)
    }

    /// True for the probe files, for folders whose manifest says spectop wrote
    /// them, for the numbered export folders (`step-…`) that hold such a dump,
    /// and for the hidden folder of an export that never finished.
    static func isDumpEntry(_ name: String, in directory: String) -> Bool {
        // An export a stop signal cut short: spectop's own, and never a dump.
        if probeFiles.contains(name) || name.hasPrefix(partialPrefix) { return true }
        if name.hasPrefix("step-") {
            let folder = (directory as NSString).appendingPathComponent(name)
            let inside = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return !inside.isEmpty && inside.allSatisfy { isDumpEntry($0, in: folder) }
        }
        let manifest = ((directory as NSString).appendingPathComponent(name) as NSString).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: manifest),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
        return object["format"] as? String == "spectop-dump"
    }
}
