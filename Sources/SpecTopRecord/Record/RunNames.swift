import Foundation

/// The names runs go by when several records are shown together: models are
/// called `RUN/MODEL`, so RUN must tell the files apart.
public enum RunNames {
    /// The file name without its directory and its `.jsonl` (or last) extension.
    public static func stem(of path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// The records of a directory: its `*.jsonl` files in name order, hidden ones skipped
    /// (what `watch`, `claims` and `export` take a directory to mean).
    public static func recordFiles(inDirectory directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") && !$0.hasPrefix(".") }.sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }

    /// What model `id` of `run` is called on screen: `RUN/MODEL` when runs are
    /// told apart, but plain when the run is named after its one model (a sweep
    /// of one model per file: `w256-active`, not `w256-active/w256-active`).
    public static func modelID(_ id: String, run: String?, prefixing: Bool) -> String {
        guard prefixing, let run, run != id else { return id }
        return "\(run)/\(id)"
    }

    /// `names` with repeats told apart by a suffix (`exp`, `exp#2`, `exp#3`), in order.
    public static func unique(_ names: [String]) -> [String] {
        var seen: [String: Int] = [:]
        var taken = Set(names)
        return names.map { name in
            let count = seen[name, default: 0] + 1
            seen[name] = count
            guard count > 1 else { return name }
            var candidate = "\(name)#\(count)"
            var n = count
            while taken.contains(candidate) { n += 1; candidate = "\(name)#\(n)" }
            taken.insert(candidate)
            return candidate
        }
    }
}
