import SpecTopApp
import SpecTopReaders
/// A figure measured by code that SpecTopApp's own benchmarks do not reach
/// — the terminal UI's render speed and output rate — registered by whoever
/// links that code, and reported under its own JSON key.
///
/// The suite always reports `expectedKeys`; one with no plugin registered is
/// null with a note, so consumers of the JSON can rely on the keys.
struct BenchmarkPlugin: Sendable {
    /// Thrown by `measure` for a figure this run leaves out on purpose (`--quick`):
    /// null with `not measured: REASON`, never a failure.
    struct Skipped: Error, CustomStringConvertible {
        var description: String
    }

    /// Milliseconds to render one frame of the monitor with 8 models on a
    /// 200×60 terminal (median).
    static let uiRenderKey = "ui_render_ms_8_models_200x60"
    /// Bytes per second the monitor writes to a 120×40 terminal at its
    /// default frame rate.
    static let uiBytesKey = "ui_bytes_per_second_120x40"
    /// Keys always present in the report, with their human labels and units.
    static let expectedKeys: [(key: String, label: String, unit: String)] = [
        (uiRenderKey, "UI render, 8 models, 200x60", "ms"),
        (uiBytesKey, "UI output, 120x40", "B/s"),
    ]

    /// The JSON key, snake_case, unit in the name.
    var key: String
    /// The label of the human table.
    var label: String
    var unit: String
    /// Measures the figure. Gets the suite's options (for `repeats` and
    /// `quick`); `BenchTimer` gives warm-up and medians. A thrown error or a
    /// value that is not finite becomes null with the error as the note.
    var measure: @Sendable (BenchmarkOptions) throws -> Double
    /// How to read a measured figure (how many rounds, what it includes);
    /// the report's note for the key when the figure is a number.
    var note: String?

    init(key: String, label: String, unit: String, note: String? = nil,
         measure: @escaping @Sendable (BenchmarkOptions) throws -> Double) {
        self.key = key
        self.label = label
        self.unit = unit
        self.note = note
        self.measure = measure
    }
}
