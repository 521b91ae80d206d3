import ArgumentParser
import Foundation
import SpecTopRecord
import SpecTopUI

/// `spectop watch PATH...`: the monitor on records other processes write.
package struct WatchCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Open the monitor on runs other processes are writing (records or directories of them), live.",
        discussion: """
            PATH is a record (`spectop run --headless --out FILE.jsonl`, the PyTorch probe) or a directory \
            whose *.jsonl files, present now or appearing later, are all watched. A TensorBoard log directory or \
            event file, or a Lightning metrics.csv (or lightning_logs/), is watched as one run whose models are \
            the directories holding its files (docs/USAGE.md, "Foreign logs"). Files are polled, so this \
            works on NFS and Lustre; a file that does not exist yet is waited for. The writers never know: \
            any number of people can watch the same files. q quits and leaves the writers running.
            """)

    @Argument(help: "Record files or directories of them.")
    package var paths: [String]
    @Option(help: "Seconds between polls of every file.") package var poll: Double = 0.5
    @Option(help: "A run whose file has not grown for this many seconds is marked stale.") package var stale: Double = 30
    @Option(help: "Seconds after which a file that has not appeared is reported (watch keeps waiting).") var timeout: Double = 60
    @OptionGroup package var display: DisplayOptions

    package func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one record file or directory to watch") }
        if paths.contains("") { throw ValidationError("an empty path names no record file or directory") }
        if !(poll >= 0.05 && poll <= 60) { throw ValidationError("--poll must be between 0.05 and 60 seconds, got \(poll)") }
        if !(stale > 0 && stale <= 1e6) { throw ValidationError("--stale must be a positive number of seconds, got \(stale)") }
        if !(timeout > 0 && timeout <= 1e6) { throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)") }
    }

    package func run() throws {
        let targets = try paths.map(WatchCommand.target)
        try requireTerminal("watch", alternative: "use `spectop claims \(paths.joined(separator: " "))` for a report without one")
        let source = WatchSource(targets: targets, options: .init(poll: poll, stale: stale, timeout: timeout))
        source.start()
        let (chosen, themeError) = ThemeChoice.theme(display.theme)
        let info = MonitorInfo(preset: targets.count == 1 ? WatchCommand.label(targets[0]) : "\(targets.count) paths",
                               dataset: "", blasCore: "", status: themeError)
        let monitor = Monitor(source: source, info: info,
                              options: display.monitorOptions(mode: .watch, theme: chosen))
        let reason: MonitorExitReason
        do { reason = try monitor.run() } catch { throw CommandFailure.runtime("\(error)") }
        if case .signal(let number) = reason {
            throw CommandFailure.interrupted(signal: number, "watch stopped by \(SignalFlag.name(number)); the writers go on")
        }
    }

    private static func label(_ target: WatchSource.Target) -> String {
        switch target {
        case .file(let path), .directory(let path): return TerminalSafeText.line(path)
        }
    }

    /// What `path` is, checked before the monitor opens: a bad path is a usage error (status 2) with one line.
    package static func target(_ path: String) throws -> WatchSource.Target {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let error = errno
            guard error == ENOENT else { throw CommandFailure.usage("\(path): \(String(cString: strerror(error)))") }
            // Not there yet: wait for it, as long as the directory it would appear in exists.
            let directory = PathName.parent(of: path)
            var parentInfo = stat()
            guard stat(directory, &parentInfo) == 0, (parentInfo.st_mode & S_IFMT) == S_IFDIR else {
                throw CommandFailure.usage("\(path): no such file, and its directory \(directory) does not exist either")
            }
            return .file(path)
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            guard access(path, R_OK | X_OK) == 0 else { throw CommandFailure.usage("\(path): cannot list the directory (permission denied)") }
            return .directory(path)
        case S_IFREG:
            guard access(path, R_OK) == 0 else { throw CommandFailure.usage("\(path): cannot read the file (permission denied)") }
            try checkHeader(path)
            return .file(path)
        case S_IFIFO:
            throw CommandFailure.usage("\(path): a FIFO, not a record file; watch follows regular files (write the record to a file)")
        default:
            throw CommandFailure.usage("\(path): not a regular file or directory, so not a record to watch")
        }
    }

    /// A file that is there already must be a record this spectop reads (an empty one may still become one).
    private static func checkHeader(_ path: String) throws {
        // A TensorBoard event file or a metrics.csv is read as a foreign log; damage in it is said while watching.
        if ForeignLog.kind(ofFile: path) != nil { return }
        let follower = RecordFollower(path: path, now: 0)
        follower.poll(now: 0, maxBytes: 1)
        if case .refused(let reason) = follower.phase { throw CommandFailure.usage(reason) }
    }
}
