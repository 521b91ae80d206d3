import Foundation
import SpecTopRecord

/// A log another tool wrote — TensorBoard event files, Lightning
/// `metrics.csv` — read as one spectop run: the run is the file or log
/// directory given, its models the directories under it that hold log files
/// (`lightning_logs/version_0`, `w256/active`, …; files directly in the
/// directory are a model named after it). Every reader takes it through
/// `ForeignTranslator` into spectop's own record lines and from there the way
/// a record goes (`RunRecord`, `LiveRun`).
package struct ForeignLog: Sendable {
    package struct File: Sendable, Equatable {
        package var path: String
        package var model: String
        package var kind: ForeignLogKind
    }

    /// The path as given.
    package let root: String
    /// The run's name: the directory's (or, for a file given alone, its directory's) last component.
    package let runName: String
    package private(set) var files: [File]

    /// Deepest directory searched below a log directory, and the most files taken.
    static let searchDepth = 6
    static let fileLimit = 10_000

    /// What a file is, by its name: TensorBoard names event files
    /// `events.out.tfevents.<time>.<host>…`; Lightning's CSVLogger writes `metrics.csv`.
    package static func kind(ofFile path: String) -> ForeignLogKind? {
        let name = (path as NSString).lastPathComponent
        if name.hasPrefix(".") { return nil }
        if name.contains("tfevents") { return .tensorboard }
        if name == "metrics.csv" { return .lightningCSV }
        return nil
    }

    /// One file read alone: the run and its one model are named after the file's directory.
    package init(file path: String) {
        root = path
        let directory = PathName.parent(of: path)
        let name = (directory as NSString).lastPathComponent
        let run = name.isEmpty || name == "." || name == "/" ? RunNames.stem(of: path) : name
        runName = run
        files = ForeignLog.kind(ofFile: path).map { [File(path: path, model: run, kind: $0)] } ?? []
    }

    /// A log directory; its files as found now (`rescan` finds new ones).
    package init(directory path: String) {
        root = path
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        let name = (trimmed as NSString).lastPathComponent
        runName = name.isEmpty || name == "." ? (FileManager.default.currentDirectoryPath as NSString).lastPathComponent : name
        files = []
        rescan()
    }

    /// True when the directory holds foreign log files (at any depth searched).
    package static func hasLogs(inDirectory path: String) -> Bool { !ForeignLog(directory: path).files.isEmpty }

    /// Lists the directory again: files in path order (event files of one
    /// directory in name order, which is their creation-time order).
    package mutating func rescan() {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else { return }
        var found: [File] = []
        func walk(_ directory: String, relative: String, depth: Int) {
            guard depth <= Self.searchDepth, found.count < Self.fileLimit,
                  let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
            var subdirectories: [String] = []
            for name in names.sorted() where !name.hasPrefix(".") {
                let path = (directory as NSString).appendingPathComponent(name)
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: subdirectories.append(name)
                case S_IFREG:
                    if let kind = Self.kind(ofFile: name), found.count < Self.fileLimit {
                        found.append(File(path: path, model: relative.isEmpty ? runName : relative, kind: kind))
                    }
                default: break  // links are not followed: a loop would never end
                }
            }
            for name in subdirectories {
                walk((directory as NSString).appendingPathComponent(name), relative: relative.isEmpty ? name : relative + "/" + name, depth: depth + 1)
            }
        }
        walk(root, relative: "", depth: 0)
        files = found
    }

    /// The models in the order their files were found.
    package var models: [String] {
        var seen = Set<String>()
        return files.compactMap { seen.insert($0.model).inserted ? $0.model : nil }
    }

    /// What wrote it, for the header's `tool`: `tensorboard`, `lightning-csv` or both.
    package var writer: String {
        let kinds = Set(files.map(\.kind))
        return [kinds.contains(.tensorboard) ? "tensorboard" : nil, kinds.contains(.lightningCSV) ? "lightning-csv" : nil]
            .compactMap { $0 }.joined(separator: " + ")
    }

    /// The synthesised run line: the run's name, the writer, its models (size unknown, active).
    package var header: RecordHeader {
        var header = RecordHeader(version: RunRecord.supportedVersion, name: runName,
                                  models: models.map { RunRecord.ModelInfo(id: $0, width: 0, depth: 0, parameterCount: 0, trainable: "all", mode: .active) })
        header.toolVersion = writer
        return header
    }

    /// Everything a whole read learns.
    package struct Reading: Sendable {
        package var record: RunRecord
        /// Damage (bad checksums, truncation, rows that do not fit), with file and offset.
        package var issues: [ForeignLogIssue]
        /// Names kept as user scalars, with why (nil: not in the name table).
        package var keptNames: [(name: String, reason: String?)]
        /// Tags of values that are no scalar (images, histograms, text).
        package var otherTags: [String]
        package var notes: [String]
        package var recordCount: Int
        package var scalarCount: Int
        /// The step fields some model's lines filled.
        package var mappedFields: [String]
    }

    /// Reads every file whole (`replay`, `claims`, `export`, `check`). Each
    /// model's values are put in step order first (a stable sort keeps a
    /// step's values in log order), so a step logged in several pieces —
    /// training and validation rows, a restarted writer — is one step line.
    package func read() throws -> Reading {
        var scalars: [String: [ForeignScalar]] = [:]
        var issues: [ForeignLogIssue] = []
        var translator = ForeignTranslator()
        var otherTags: [String] = [], records = 0, count = 0
        for file in files {
            let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw RecordError("\(file.path): cannot read the file (\(String(cString: strerror(errno))))")
            }
            defer { close(descriptor) }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw RecordError("\(file.path): not a regular file, so not a log to read")
            }
            let size = Int(info.st_size)
            let reader = ForeignFileReader(path: file.path, model: file.model, kind: file.kind)
            var values: [ForeignScalar] = []
            _ = reader.read(descriptor: descriptor, size: size, scalar: { values.append($0) }, issue: { issues.append($0) })
            reader.finish(size: size, scalar: { values.append($0) }, issue: { issues.append($0) })
            scalars[file.model, default: []] += values
            if reader.csvHeaderRefused && files.count == 1 {
                throw RecordError(issues.first?.description ?? "\(file.path): not a Lightning metrics.csv")
            }
            if let wall = reader.firstWall { translator.setStart(wall, model: file.model) }
            if let earliest = values.lazy.compactMap(\.wall).filter(\.isFinite).min() { translator.setStart(earliest, model: file.model) }
            otherTags += reader.otherTags.filter { !otherTags.contains($0) }
            records += reader.recordCount
            count += reader.scalarCount
        }
        var lines: [RecordLine] = []
        for model in models {
            let values = (scalars[model] ?? []).enumerated().sorted { ($0.element.step, $0.offset) < ($1.element.step, $1.offset) }
            for (_, value) in values { lines += translator.add(value, model: model) }
            lines += translator.flush(model: model)
        }
        var fields = Set<String>()
        for line in lines {
            if case .step(_, let sample) = line {
                if sample.loss.isFinite { fields.insert("loss") }
                if sample.chiLoss.isFinite { fields.insert("chi_loss") }
                if sample.chiNet.isFinite { fields.insert("chi_net") }
                if sample.chiPos != nil { fields.insert("chi_pos") }
                if sample.gradSq.isFinite { fields.insert("grad_sq") }
                if sample.rows > 0 { fields.insert("rows") }
                if sample.cross != nil { fields.insert("cross") }
            }
        }
        let warnings = issues.prefix(20).map(\.description) + (issues.count > 20 ? ["\(root): \(issues.count - 20) more problems (spectop check \(root) lists them)"] : [])
        var record = RunRecord.assembled(file: root, header: header, lines: lines, warnings: warnings)
        record.writesEndLine = false
        let order = ["loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "rows", "cross"]
        return Reading(record: record, issues: issues, keptNames: translator.keptNames, otherTags: otherTags, notes: translator.notes,
                       recordCount: records, scalarCount: count, mappedFields: order.filter(fields.contains))
    }
}
