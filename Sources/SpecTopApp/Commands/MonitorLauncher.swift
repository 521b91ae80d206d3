import SpectralCore
enum MonitorLauncher {
    static func run(session: TrainingSession, fps: Int, theme: String?, forceASCII: Bool) -> SessionOutcome {
        HeadlessRunner(session: session).run()
    }
}
