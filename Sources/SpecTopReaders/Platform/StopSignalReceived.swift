/// A stop signal arrived while spectop was waiting (for a FIFO writer, for
/// the run to prepare): the command ends with status 128 + signal.
package struct StopSignalReceived: Error, CustomStringConvertible {
    package let signal: Int32
    package var description: String { "interrupted (\(SignalFlag.name(signal)))" }

    package init(signal: Int32) { self.signal = signal }
}
