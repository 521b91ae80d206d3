import Foundation
import SpecTopRecord

/// How many records, and how many bytes of them, the runs directory keeps.
/// `nil` is no limit (`unlimited`).
package struct PruneLimits: Sendable, Equatable {
    package var keep: Int?
    package var maxBytes: Int64?

    package init(keep: Int?, maxBytes: Int64?) { self.keep = keep; self.maxBytes = maxBytes }

    /// 200 records and 1 GiB: the default preset's record is about 5 MiB, so
    /// the two limits agree for it; months of a few runs a day, and never a
    /// surprise on a small home partition.
    package static let defaults = PruneLimits(keep: 200, maxBytes: 1 << 30)

    package static let keepVariable = "SPECTOP_RUNS_KEEP"
    package static let sizeVariable = "SPECTOP_RUNS_MAX_SIZE"

    /// The limits `SPECTOP_RUNS_KEEP` and `SPECTOP_RUNS_MAX_SIZE` set, the
    /// defaults for those unset; a bad value is an error naming the variable.
    package static func from(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PruneLimits {
        var limits = defaults
        if let text = environment[keepVariable], !text.isEmpty { limits.keep = try count(text, name: keepVariable) }
        if let text = environment[sizeVariable], !text.isEmpty { limits.maxBytes = try size(text, name: sizeVariable) }
        return limits
    }

    /// `200`, or `unlimited`. At least 1: the newest record is always kept.
    package static func count(_ text: String, name: String) throws -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "unlimited" { return nil }
        guard let value = Int(trimmed), value >= 1 else {
            throw ConfigError("\(name) must be a number of records, at least 1, or unlimited; got '\(text)'")
        }
        return value
    }

    /// `1G`, `500M`, `1.5GiB`, `800K`, `4096` (bytes), or `unlimited`; the
    /// units are binary (K = 1024).
    package static func size(_ text: String, name: String) throws -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "unlimited" { return nil }
        var number = Substring(trimmed)
        for suffix in ["iB", "ib", "B", "b"] where number.hasSuffix(suffix) && number.count > suffix.count {
            number = number.dropLast(suffix.count)
            break
        }
        var scale = 1.0
        if let unit = number.last, let power = ["k": 1, "m": 2, "g": 3, "t": 4][String(unit).lowercased()] {
            scale = pow(1024, Double(power))
            number = number.dropLast()
        }
        guard let value = Double(number), value.isFinite, value * scale >= 1, value * scale < 9e18 else {
            throw ConfigError("\(name) must be a size such as 500M, 2G or 1.5GiB, or unlimited; got '\(text)'")
        }
        return Int64((value * scale).rounded(.down))
    }

    /// `the newest 200 records and at most 1 GiB`.
    package var description: String {
        switch (keep, maxBytes) {
        case (let keep?, let bytes?): return "the newest \(keep) record\(keep == 1 ? "" : "s") and at most \(ByteCount.text(bytes))"
        case (let keep?, nil): return "the newest \(keep) record\(keep == 1 ? "" : "s")"
        case (nil, let bytes?): return "at most \(ByteCount.text(bytes)) of records"
        case (nil, nil): return "every record"
        }
    }
}

/// Byte counts as people read them: `812 B`, `12.3 MiB`, `1 GiB`.
package enum ByteCount {
    package static func text(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return (rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)) + " " + units[unit]
    }
}

/// The records of a runs directory, and the pruning that keeps it within
/// `PruneLimits`.
package enum RunsPruning {
    /// One record as pruning sees it.
    package struct Candidate: Sendable, Equatable {
        package var path: String
        package var size: Int64
        package var date: Date
        /// Being written (locked), or so young and empty that its writer may
        /// not have locked it yet: never removed, but it counts.
        package var live: Bool

        package init(path: String, size: Int64, date: Date, live: Bool) {
            self.path = path; self.size = size; self.date = date; self.live = live
        }
    }

    /// What a prune did (or, dry, would do).
    package struct Result: Sendable, Equatable {
        package var removed: [Candidate] = []
        /// Kept though beyond the limits: being written.
        package var keptLive: [Candidate] = []
        package var keptCount = 0
        package var keptBytes: Int64 = 0
        /// One message per record that could not be removed.
        package var failures: [String] = []
    }

    /// A `*.jsonl` file in `directory` (not a hidden one): the records `spectop runs` lists.
    package static func recordPaths(in directory: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            var info = stat()
            let reason = stat(directory, &info) != 0 ? String(cString: strerror(errno))
                : access(directory, R_OK | X_OK) != 0 ? String(cString: strerror(errno)) : "cannot list it"
            throw ConfigError("cannot read \(directory): \(reason)")
        }
        return names.filter { $0.hasSuffix(".jsonl") && !$0.hasPrefix(".") }.sorted().map { directory + "/" + $0 }.filter { path in
            var info = stat()
            return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        }
    }

    /// Every record in `directory`, newest first (start time, then name).
    package static func list(_ directory: String, tail: Bool = true) throws -> [RecordSummary] {
        try recordPaths(in: directory).map { RecordSummary.read(path: $0, tail: tail) }.sorted(by: newerFirst)
    }

    package static func newerFirst(_ a: RecordSummary, _ b: RecordSummary) -> Bool {
        isNewer(a.date, a.path, than: b.date, b.path)
    }

    /// The order of "newest": by start time, which records give to the
    /// second; within one second by name, where the suffix `RunsDirectory`
    /// adds on a collision says which started later (`x.jsonl`, then
    /// `x-2.jsonl`, `x-3.jsonl`, … `x-10.jsonl`), so two runs started in the
    /// same second are never taken one for the other.
    package static func isNewer(_ date: Date, _ path: String, than otherDate: Date, _ otherPath: String) -> Bool {
        if date != otherDate { return date > otherDate }
        let stem = String(PathName.base(of: path).dropLast(".jsonl".count))
        let other = String(PathName.base(of: otherPath).dropLast(".jsonl".count))
        if let suffix = collisionSuffix(stem, after: other) { return suffix > 1 }
        if let suffix = collisionSuffix(other, after: stem) { return suffix <= 1 }
        if let (base, number) = splitSuffix(stem), let (otherBase, otherNumber) = splitSuffix(other), base == otherBase, number != otherNumber {
            return number > otherNumber
        }
        return path > otherPath
    }

    /// N when `stem` is `base-N`.
    private static func collisionSuffix(_ stem: String, after base: String) -> Int? {
        guard stem.hasPrefix(base + "-") else { return nil }
        return Int(stem.dropFirst(base.count + 1))
    }

    /// `("x", 3)` for `x-3`; nil without a numeric suffix.
    private static func splitSuffix(_ stem: String) -> (String, Int)? {
        guard let dash = stem.lastIndex(of: "-"), let number = Int(stem[stem.index(after: dash)...]) else { return nil }
        return (String(stem[..<dash]), number)
    }

    /// How long an empty, unlocked record is taken for one whose writer is
    /// between creating and locking it (file systems without hard links).
    package static let youngEmptySeconds = 60.0

    /// The records pruning may consider: regular files (not links) named as
    /// `RunsDirectory.fileName` names them, headers only.
    package static func candidates(in directory: String, now: Date = Date()) throws -> [Candidate] {
        try recordPaths(in: directory).compactMap { path -> Candidate? in
            var info = stat()
            guard RunsDirectory.isRecordName(PathName.base(of: path)), lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            let summary = RecordSummary.read(path: path, tail: false)
            let young = summary.size == 0 && now.timeIntervalSince(summary.modified) < youngEmptySeconds
            return Candidate(path: path, size: summary.size, date: summary.date, live: summary.isLocked || young)
        }
    }

    /// Which records to remove: the newest records are kept while they fit
    /// both limits, and from the first that does not, every older one goes
    /// (no holes: what is kept is always the newest stretch). The newest
    /// record is always kept, and a live one is never removed, though both
    /// count towards the limits.
    package struct Plan: Sendable, Equatable {
        /// Oldest first.
        package var remove: [Candidate] = []
        /// Live records the limits would have removed.
        package var liveBeyondLimits: [Candidate] = []
    }

    package static func plan(_ candidates: [Candidate], limits: PruneLimits) -> Plan {
        let newestFirst = candidates.sorted { isNewer($0.date, $0.path, than: $1.date, $1.path) }
        var count = 0
        var bytes: Int64 = 0
        var cut = false
        var plan = Plan()
        for (index, candidate) in newestFirst.enumerated() {
            let fits = !cut && count + 1 <= (limits.keep ?? Int.max) && bytes + candidate.size <= (limits.maxBytes ?? Int64.max)
            if !fits { cut = true }
            if index == 0 || fits || candidate.live {
                if index > 0 && !fits { plan.liveBeyondLimits.append(candidate) }
                count += 1
                bytes += candidate.size
            } else {
                plan.remove.insert(candidate, at: 0)
            }
        }
        return plan
    }

    /// Prunes `directory` to `limits`; `dryRun` removes nothing and reports
    /// what would go. Each record is removed only while this process holds
    /// its lock and only if the path still names the file it locked, so a
    /// record whose writer started meanwhile is kept.
    package static func prune(_ directory: String, limits: PruneLimits, dryRun: Bool = false, now: Date = Date()) throws -> Result {
        let all = try candidates(in: directory, now: now)
        let plan = plan(all, limits: limits)
        let removing = Set(plan.remove.map(\.path))
        var result = Result()
        result.keptLive = plan.liveBeyondLimits
        for candidate in all where !removing.contains(candidate.path) {
            result.keptCount += 1
            result.keptBytes += candidate.size
        }
        for candidate in plan.remove {
            if dryRun {
                result.removed.append(candidate)
                continue
            }
            switch removeRecord(candidate.path) {
            case .removed: result.removed.append(candidate)
            case .live:
                result.keptLive.append(candidate)
                result.keptCount += 1
                result.keptBytes += candidate.size
            case .failed(let message):
                result.failures.append(message)
                result.keptCount += 1
                result.keptBytes += candidate.size
            }
        }
        return result
    }

    enum Removal: Equatable {
        case removed
        case live
        case failed(String)
    }

    /// Removes one record under its lock (see `prune`).
    static func removeRecord(_ path: String) -> Removal {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else {
            // Gone already (another pruner): nothing left to do.
            return errno == ENOENT ? .removed : .failed("cannot remove \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return .live }
        var opened = stat(), named = stat()
        guard fstat(descriptor, &opened) == 0, lstat(path, &named) == 0,
              opened.st_dev == named.st_dev && opened.st_ino == named.st_ino else { return .live }
        guard unlink(path) == 0 else { return .failed("cannot remove \(path): \(String(cString: strerror(errno)))") }
        return .removed
    }
}
