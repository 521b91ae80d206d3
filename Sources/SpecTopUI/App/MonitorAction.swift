/// What a key does in the monitor; the key table maps keys to these.
public enum MonitorAction: Sendable, Hashable, CaseIterable {
    case quit
    case togglePause
    case singleStep
    case faster
    case slower
    case selectNext
    case selectPrevious
    case selectNextSize
    case selectPreviousSize
    case selectUp
    case selectDown
    case toggleSpectrum
    case back
    case cycleView
    case cycleFocusedMetric
    case toggleYScale
    case toggleDisplayFreeze
    case freezeFeatures
    case cycleTheme
    case export
    case toggleHelp
    case scrubBackward
    case scrubForward
    case scrubBackwardFar
    case scrubForwardFar
    case jumpToStart
    case jumpToEnd
    case cycleSmoothing
    case cursorBackward
    case cursorForward
    case toggleSeriesHidden
    case cycleXAxis
    case cycleZoom
    case cycleRunFilter
    case showAllRuns
}
