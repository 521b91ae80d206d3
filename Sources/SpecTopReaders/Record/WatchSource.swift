import Foundation
import SpecTopRecord
import SpecTopUI

/// The monitor's source for `spectop watch`: records that other processes
/// write, followed by one background thread that polls every file (and lists
/// every watched directory for new `*.jsonl`) each `poll` seconds. The UI
/// thread only ever copies the last published snapshot, so a slow disk or a
/// 1 GB back-fill never stalls a frame.
package final class WatchSource: MonitorSource, @unchecked Sendable {
    // @unchecked: `published`, `notices` and `stopped` are guarded by `lock`;
    // the followers belong to the poll thread alone.
    package struct Options: Sendable {
        /// Seconds between polls of every file.
        package var poll: Double = 0.5
        /// A run whose file has not grown for this long (and has no `end` line) is stale.
        package var stale: Double = 30
        /// After this long, say so about a watched file that has not appeared.
        package var timeout: Double = 60
        /// How much of the end of a long existing file is read before the rest.
        package var tailBytes: Int = 4 << 20
        /// Chart points kept per model (then every other one is dropped).
        package var historyCapacity: Int = 1024
    }

    package enum Target: Sendable, Equatable {
        case file(String)
        case directory(String)
    }

    package let targets: [Target]
    package let options: Options
    private let started = ProcessInfo.processInfo.systemUptime
    private let lock = NSLock()
    private var published = EngineSnapshot(state: .running, models: [], elapsed: 0, stepsPerSecond: 0)
    private var notices: [(text: String, at: Double)] = []
    private var persistent: String?
    /// The poll time of `published`.
    private var publishedAt = 0.0
    private var stopped = false

    // Poll thread only.
    private var followers: [any RunFollower] = []
    private var known = Set<String>()
    private var reportedTimeouts = Set<String>()
    private var reportedEmptyDirectories = Set<String>()
    private var directoriesWithRecords = Set<String>()
    /// Directories whose foreign logs (TensorBoard, Lightning CSV) are followed as one run.
    private var foreignDirectories = Set<String>()

    package init(targets: [Target], options: Options = Options()) {
        self.targets = targets
        self.options = options
        for case .file(let path) in targets { addFollower(path) }
    }

    /// Starts the poll thread (the first poll runs before this returns, so the
    /// first frame already shows what the files hold).
    package func start() {
        refresh(now: clock(), backfilling: false)
        let thread = Thread { [self] in loop() }
        thread.name = "spectop-watch"
        thread.start()
    }

    package func snapshot() -> EngineSnapshot {
        lock.lock()
        defer { lock.unlock() }
        return published
    }

    package func perform(_ command: MonitorCommand) {
        guard case .quit = command else { return }
        lock.lock()
        stopped = true
        lock.unlock()
    }

    /// The newest notice for 10 s, then what still stands (junk skipped, files refused or missing).
    package func statusMessage() -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let last = notices.last, publishedAt - last.at < 10 { return last.text }
        return persistent
    }

    private func clock() -> Double { ProcessInfo.processInfo.systemUptime - started }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private func loop() {
        var nextPoll = clock() + options.poll
        while !isStopped {
            let now = clock()
            var busy = false
            if now >= nextPoll {
                busy = poll(now: now)
                nextPoll = now + options.poll
            }
            // Back-fill the older part of long files in slices, publishing between them.
            for follower in followers where follower.isBackfilling && !isStopped {
                if follower.backfill(maxBytes: 4 << 20) { busy = true }
                publish(now: clock())
            }
            if !busy && !followers.contains(where: \.isBackfilling) {
                Thread.sleep(forTimeInterval: max(0.005, min(0.05, nextPoll - clock())))
            }
        }
    }

    /// One poll at `now` on the caller's thread, reading everything there is
    /// (and, when `backfilling`, the older part of long files too): the first
    /// picture before the poll thread starts, and tests with their own clock.
    package func refresh(now: Double, backfilling: Bool = true) {
        while poll(now: now) {}
        while backfilling && followers.contains(where: { $0.backfill(maxBytes: 8 << 20) }) {}
        publish(now: now)
    }

    /// Lists the directories, reads what every file gained, publishes. True when a file has more waiting.
    @discardableResult
    private func poll(now: Double) -> Bool {
        lastNow = now
        discover()
        var more = false
        for follower in followers {
            if follower.poll(now: now, maxBytes: 32 << 20) { more = true }
            for notice in follower.takeNotices() { note(notice, now: now) }
        }
        publish(now: now)
        return more
    }

    private func discover() {
        for case .directory(let directory) in targets {
            let records = RunNames.recordFiles(inDirectory: directory)
            if !records.isEmpty { directoriesWithRecords.insert(directory) }
            for path in records { addFollower(path) }
            // A directory holding TensorBoard event files or metrics.csv (at any depth) is one foreign run.
            if !foreignDirectories.contains(directory), ForeignLog.hasLogs(inDirectory: directory) {
                foreignDirectories.insert(directory)
                directoriesWithRecords.insert(directory)
                followers.append(ForeignLogFollower(directory: directory, tailBytes: options.tailBytes,
                                                    historyCapacity: options.historyCapacity, now: lastNow))
            }
        }
    }

    private func addFollower(_ path: String) {
        guard known.insert(path).inserted else { return }
        if ForeignLog.kind(ofFile: path) != nil {
            followers.append(ForeignLogFollower(file: path, tailBytes: options.tailBytes, historyCapacity: options.historyCapacity, now: lastNow))
            return
        }
        followers.append(RecordFollower(path: path, tailBytes: options.tailBytes, historyCapacity: options.historyCapacity, now: lastNow))
    }

    /// The time of the latest poll (new followers start their stale clock there).
    private var lastNow = 0.0

    private func note(_ text: String, now: Double) {
        lock.lock()
        notices.append((TerminalSafeText.line(text), now))
        if notices.count > 20 { notices.removeFirst(notices.count - 20) }
        lock.unlock()
    }

    private func publish(now: Double) {
        let names = RunNames.unique(followers.map { $0.run?.header.name ?? RunNames.stem(of: $0.path) })
        // One file given by name: its models keep their own ids. A sweep: `RUN/MODEL`.
        let prefixed = followers.count > 1 || targets.contains { if case .directory = $0 { return true } else { return false } }
        var runs: [RunSummary] = []
        var models: [ModelSnapshot] = []
        var elapsed = 0.0
        var junk = 0
        var dropped = 0
        var droppedScalars = 0
        var marks: [RunMark] = []
        var problems: [String] = []
        for (follower, name) in zip(followers, names) {
            junk += follower.junkLines
            if let problem = follower.standingProblem { problems.append(problem) }
            let quiet = now - follower.lastGrowth
            switch follower.phase {
            case .refused(let reason):
                runs.append(RunSummary(name: name, state: .refused, detail: reason))
                problems.append(reason)
            case .waiting:
                runs.append(RunSummary(name: name, state: .waiting, detail: follower.path))
                if quiet >= options.timeout && reportedTimeouts.insert(follower.path).inserted {
                    note("\(follower.path): nothing to read after \(Int(options.timeout)) s; still waiting (q quits)", now: now)
                }
                if quiet >= options.timeout { problems.append("waiting for \(follower.path)") }
            case .reading:
                guard let run = follower.run else { continue }
                dropped += run.droppedModelCount
                droppedScalars += run.droppedScalarNameCount
                let state: RunSummary.State = run.isFinished ? .finished : (quiet >= options.stale ? .stale : .live)
                runs.append(RunSummary(name: name, state: state, detail: run.endReason, usage: state == .live ? run.usage : nil))
                models += run.modelSnapshots(run: name, prefixingIDs: prefixed, stale: state == .stale)
                marks += run.marks(run: name, prefixingIDs: prefixed)
                elapsed = max(elapsed, run.lastWall)
            }
        }
        for case .directory(let directory) in targets where !directoriesWithRecords.contains(directory) {
            problems.append("no records in \(directory) yet (waiting for *.jsonl, event files or metrics.csv)")
            if reportedEmptyDirectories.insert(directory).inserted {
                note("no records in \(directory) yet; waiting for *.jsonl files, TensorBoard event files or a metrics.csv", now: now)
            }
        }
        if droppedScalars > 0 {
            problems.insert("\(droppedScalars) scalar name\(droppedScalars == 1 ? "" : "s") not shown (at most \(LiveRun.scalarNameLimit) per model)", at: 0)
        }
        if dropped > 0 {
            problems.insert("more than \(LiveRun.modelLimit) models in one record: \(dropped)\(dropped >= LiveRun.modelLimit ? "+" : "") not shown", at: 0)
        }
        if junk > 0 { problems.insert("\(junk) junk line\(junk == 1 ? "" : "s") skipped", at: 0) }
        let live = runs.contains { $0.state == .live || $0.state == .waiting }
        // An empty directory is still waiting for its records, not finished.
        let state: EngineState = live || runs.isEmpty ? .running : (runs.allSatisfy { $0.state == .finished } ? .finished : .stopped)
        var snapshot = EngineSnapshot(state: state, models: models, elapsed: elapsed,
                                      stepsPerSecond: models.reduce(0) { $0 + $1.stepsPerSecond },
                                      runs: runs)
        snapshot.marks = Array(marks.suffix(RunMark.limit))
        lock.lock()
        published = snapshot
        publishedAt = now
        persistent = problems.isEmpty ? nil : TerminalSafeText.line(problems.joined(separator: "; "))
        lock.unlock()
    }
}
