import Foundation

/// Lightning's `CSVLogger` file, `metrics.csv`: a header row naming the
/// columns (`step`, usually `epoch`, one per logged key), then rows with an
/// empty cell where a key was not logged at that step; several rows may
/// share a step (training and validation keys are logged apart). Read line
/// by line, so a file being written can be followed.
struct LightningCSV {
    /// The columns, from the header row; nil until it has been read.
    private(set) var columns: [String]?
    private var stepColumn = 0
    /// Columns whose cells were not numbers, each reported once.
    private var reportedColumns = Set<Int>()

    /// Reads the header row; a message when it is no Lightning metrics header.
    mutating func header(_ line: Substring) -> String? {
        let names = Self.cells(line).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let step = names.firstIndex(of: "step") else {
            return "no \"step\" column in the header row, so not a Lightning metrics.csv (its columns: \(names.prefix(6).joined(separator: ", "))\(names.count > 6 ? ", …" : ""))"
        }
        columns = names
        stepColumn = step
        return nil
    }

    /// One data row's values, or the problems that made a cell or the row unreadable.
    mutating func row(_ line: Substring) -> (scalars: [ForeignScalar], problems: [String]) {
        guard let columns else { return ([], []) }
        let cells = Self.cells(line)
        var problems: [String] = []
        if cells.count != columns.count {
            problems.append("\(cells.count) cells where the header has \(columns.count) columns")
            if cells.count < columns.count { return ([], problems) }
        }
        let stepText = cells[stepColumn].trimmingCharacters(in: .whitespaces)
        guard let stepValue = Double(stepText), stepValue >= 0, stepValue < 1e15, stepValue == stepValue.rounded() else {
            problems.append(stepText.isEmpty ? "no step in this row; the row is skipped" : "step \"\(stepText.prefix(20))\" is not a whole number ≥ 0; the row is skipped")
            return ([], problems)
        }
        var scalars: [ForeignScalar] = []
        for (index, name) in columns.enumerated() where index != stepColumn && index < cells.count {
            let text = cells[index].trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            // Python writes floats as repr (shortest round trip) and non-finite ones as nan/inf.
            guard let value = Double(text) ?? Self.special(text) else {
                if reportedColumns.insert(index).inserted {
                    problems.append("column \(name): \"\(text.prefix(20))\" is not a number (this column's other such cells are skipped without a word)")
                }
                continue
            }
            scalars.append(ForeignScalar(tag: name, step: Int(stepValue), wall: nil, value: value))
        }
        return (scalars, problems)
    }

    private static func special(_ text: String) -> Double? {
        switch text.lowercased() {
        case "nan": return .nan
        case "inf", "+inf", "infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: return nil
        }
    }

    /// The cells of one line, RFC 4180 quoting (Python's csv module writes it).
    static func cells(_ line: Substring) -> [String] {
        var cells: [String] = []
        var cell = ""
        var quoted = false
        var iterator = line.unicodeScalars.makeIterator()
        var pendingQuote = false
        while let scalar = iterator.next() {
            if quoted {
                if pendingQuote {
                    pendingQuote = false
                    if scalar == "\"" { cell.unicodeScalars.append(scalar); continue }
                    quoted = false
                } else if scalar == "\"" {
                    pendingQuote = true
                    continue
                } else {
                    cell.unicodeScalars.append(scalar)
                    continue
                }
            }
            switch scalar {
            case ",": cells.append(cell); cell = ""
            case "\"" where cell.isEmpty: quoted = true
            case "\r": break
            default: cell.unicodeScalars.append(scalar)
            }
        }
        cells.append(cell)
        return cells
    }
}
