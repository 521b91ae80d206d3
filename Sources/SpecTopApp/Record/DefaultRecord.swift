import SpecTopReaders
import Foundation

/// The record a run gets without `--out` (and without `--no-record`): a new
/// file in the runs directory (`RunsDirectory`), so no run is lost. It never
/// stops a run: whatever keeps it from being made is a one-line warning and
/// the run goes on unrecorded. Once it is made, a write error is `--out`'s.
struct DefaultRecord {
    let directory: RunsDirectory
    let environment: [String: String]

    /// Before anything is prepared, nothing created: where the record will
    /// go. Nil, the warning printed, when it cannot be made there.
    static func plan(environment: [String: String] = ProcessInfo.processInfo.environment) -> DefaultRecord? {
        do {
            let directory = try RunsDirectory.locate(environment: environment)
            if let problem = directory.problem() {
                warn(problem)
                return nil
            }
            return DefaultRecord(directory: directory, environment: environment)
        } catch {
            warn("\(error)")
            return nil
        }
    }

    static func warn(_ problem: String) {
        StandardStreams.printError("warning: \(problem); this run is not recorded (--out FILE records it elsewhere)")
    }

    /// Once the run is ready to start: makes the directory and the record
    /// (named for `started` and `preset`, locked before it has its name),
    /// then prunes older records; nil, the warning printed, when it cannot.
    func open(preset: String, started: Date) -> RunRecorder? {
        let recorder: RunRecorder
        do {
            try directory.create()
            recorder = RunRecorder(try directory.createRecord(started: started, preset: preset))
        } catch {
            Self.warn("\(error)")
            return nil
        }
        // After this run's record exists: it is locked, so never taken for an old one.
        pruneOldRecords()
        return recorder
    }

    /// Prunes the directory to the limits the environment sets (or the
    /// defaults). A bad limit prunes nothing: removing records on a typo
    /// could lose runs.
    func pruneOldRecords() {
        let limits: PruneLimits
        do { limits = try PruneLimits.from(environment: environment) } catch {
            StandardStreams.printError("warning: \(error); no old record pruned")
            return
        }
        let result: RunsPruning.Result
        do { result = try RunsPruning.prune(directory.path, limits: limits) } catch {
            StandardStreams.printError("warning: \(error); no old record pruned")
            return
        }
        let home = environment["HOME"]
        if !result.removed.isEmpty {
            let bytes = result.removed.reduce(Int64(0)) { $0 + $1.size }
            let count = result.removed.count
            StandardStreams.printError("removed \(count) old record\(count == 1 ? "" : "s") (\(ByteCount.text(bytes))) from "
                                       + "\(RunsDirectory.display(directory.path, home: home)), which keeps \(limits.description) "
                                       + "(\(PruneLimits.keepVariable), \(PruneLimits.sizeVariable))")
        }
        if let first = result.failures.first {
            let more = result.failures.count > 1 ? " (and \(result.failures.count - 1) more)" : ""
            StandardStreams.printError("warning: \(first)\(more)")
        }
    }

    /// What a run prints when it ends: where its record is, and the one
    /// command that checks the paper's claims on it, pasteable as it is.
    static func exitLine(path: String, home: String? = ProcessInfo.processInfo.environment["HOME"]) -> String {
        let shown = RunsDirectory.display(path, home: home)
        return "recorded to \(shown); check its claims: spectop claims \(shown)"
    }
}
