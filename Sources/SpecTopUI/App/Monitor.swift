import CNcurses
import Foundation

/// The live monitor: owns the terminal and the UI loop. Key presses, resizes,
/// signals and new snapshots are handled between frames at a fixed frame rate.
///
/// ```swift
/// let monitor = Monitor(source: engine, info: info, options: MonitorOptions(framesPerSecond: 10))
/// let reason = try monitor.run()   // .quitKey or .signal(SIGINT/SIGTERM/SIGHUP)
/// ```
public final class Monitor {
    public let controller: MonitorController
    public let options: MonitorOptions

    public init(source: any MonitorSource, info: MonitorInfo, options: MonitorOptions = MonitorOptions()) {
        self.options = options
        self.controller = MonitorController(source: source, info: info, mode: options.mode, theme: options.theme)
    }

    /// Runs until a quit key or SIGINT/SIGTERM/SIGHUP, then restores the
    /// terminal (on every path out, errors included) and returns why it
    /// stopped. Sends `.quit` to the source before returning (not when it
    /// throws: the loop never started). Must be called
    /// on the thread that will own the terminal (normally the main thread).
    ///
    /// - Throws: `TerminalError` when there is no usable terminal.
    public func run() throws -> MonitorExitReason {
        setlocale(LC_ALL, "")
        let codeset = nl_langinfo(nl_item(CODESET)).map { String(cString: $0) }
        let glyphs = GlyphSet.detect(codeset: codeset, forceASCII: options.forceASCII)

        // Handlers first, so ncurses leaves SIGINT/SIGTERM to us.
        let signals = SignalWatcher()
        defer { signals.restore() }
        let screen = try TerminalScreen(noColor: ProcessInfo.processInfo.environment["NO_COLOR"])
        defer { screen.restore() }

        if options.mouse { screen.enableMouse() }
        var theme = controller.theme
        screen.apply(theme: theme)
        controller.setMonochrome(screen.isMonochrome)
        let period = 1 / max(0.5, min(120, options.framesPerSecond))
        let clock = ContinuousClock()
        var nextFrame = clock.now
        let dataPeriod = max(period, options.dataInterval)
        var nextData = clock.now
        var frames = FrameBuffers()
        var dirty = true

        while controller.exitReason == nil {
            if let number = signals.stopSignal {
                controller.finish(.signal(number))
                break
            }
            if signals.takeResume() {
                screen.invalidate()
                frames.invalidate()
                dirty = true
            }
            if clock.now >= nextFrame {
                if clock.now >= nextData {
                    controller.refresh()
                    dirty = true
                    nextData = clock.now.advanced(by: .seconds(dataPeriod))
                }
                nextFrame = nextFrame.advanced(by: .seconds(period))
                // After a stall (suspend, slow terminal) start afresh instead of catching up.
                if nextFrame < clock.now { nextFrame = clock.now.advanced(by: .seconds(period)) }
            }
            if dirty {
                if controller.theme != theme {
                    theme = controller.theme
                    screen.apply(theme: theme)
                    controller.setMonochrome(screen.isMonochrome)
                    frames.invalidate()
                }
                let size = screen.size
                frames.current.reset(width: size.width, height: size.height)
                controller.render(into: &frames.current, glyphs: glyphs)
                screen.present(frames.changes())
                frames.swap()
                dirty = false
            }
            let remaining = clock.now.duration(to: nextFrame)
            let milliseconds = max(0, Int(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
            switch screen.readInput(timeoutMilliseconds: milliseconds) {
            case .resize?:
                screen.invalidate()
                frames.invalidate()
                dirty = true
            case .key(let key)?:
                if controller.handle(key) { dirty = true }
            case .mouse(let event)?:
                if controller.handle(event) { dirty = true }
            case nil:
                break
            }
        }
        return controller.exitReason ?? .quitKey
    }
}
