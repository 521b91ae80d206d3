import Foundation
import SpecTopRecord

/// What a path given to `replay`, `claims`, `export` or `check` reads as: a
/// spectop record (JSON Lines), or a foreign log — TensorBoard event files or
/// a Lightning metrics.csv, a file or a log directory — that becomes one run
/// through `ForeignLog`. A directory gives its `*.jsonl` records and, when it
/// holds foreign log files at any depth, one run made of them.
package enum RecordSource: Sendable {
    case record(String)
    case foreign(ForeignLog)

    /// The files read (protected from `export --force`).
    package var files: [String] {
        switch self {
        case .record(let path): return [path]
        case .foreign(let log): return log.files.map(\.path)
        }
    }

    /// The path as a reader names it.
    package var path: String {
        switch self {
        case .record(let path): return path
        case .foreign(let log): return log.root
        }
    }

    /// The whole run (warnings for a foreign log's damage included).
    package func read() throws -> RunRecord {
        switch self {
        case .record(let path): return try RunRecord.read(path: path)
        case .foreign(let log): return try log.read().record
        }
    }

    /// The sources `paths` name, in order.
    package static func resolve(_ paths: [String]) throws -> [RecordSource] {
        var sources: [RecordSource] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let records = RunNames.recordFiles(inDirectory: path)
                let log = ForeignLog(directory: path)
                if records.isEmpty && log.files.isEmpty {
                    throw CommandFailure.usage("\(path): no *.jsonl records, TensorBoard event files or metrics.csv in this directory")
                }
                sources += records.map(RecordSource.record)
                if !log.files.isEmpty { sources.append(.foreign(log)) }
            } else if ForeignLog.kind(ofFile: path) != nil {
                sources.append(.foreign(ForeignLog(file: path)))
            } else {
                sources.append(.record(path))
            }
        }
        return sources
    }
}
