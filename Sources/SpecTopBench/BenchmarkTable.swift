import SpecTopApp
import SpecTopReaders
import Foundation

/// The human-readable form of a `BenchmarkReport`: a header and one aligned
/// table per section.
enum BenchmarkTable {
    static func render(_ report: BenchmarkReport) -> String {
        var out = "spectop \(report.spectopVersion) bench\(report.quick ? " --quick (reduced sizes)" : "")\n"
        out += "OpenBLAS core \(report.blasCore), \(report.cpuCores) CPU cores, default \(report.blasThreadsDefault) BLAS thread(s); "
        out += "median of \(report.repeats) run(s) after warm-up\n\n"

        out += "Machine limit: SGEMM \(report.sgemmSize)^3\n"
        out += table(["threads", "GFLOP/s"], [
            ["1", number(report.sgemmGFLOPS1Thread)],
            ["2", number(report.sgemmGFLOPS2Threads)],
        ])

        let threadNote = report.benchThreads == 2 ? ": the single-model case" : ""
        out += "\nTraining step (OpenBLAS at \(report.benchThreads) thread(s)\(threadNote))\n"
        out += table(["width", "depth", "d", "batch", "C", "params", "ms", "GFLOP/s", "of SGEMM"],
                     report.trainSteps.map { s in
                         [String(s.width), String(s.depth), String(s.inputDim), String(s.batch), String(s.outputs), String(s.params),
                          number(s.ms), number(s.gflops), String(format: "%.0f%%", s.fractionOfSGEMM * 100)]
                     })

        out += "\nKernel-free LNP (exact trace, no kernel)\n"
        out += table(["width", "probe", "C", "ms", "train step ms", "= steps"],
                     report.lnp.map { l in
                         [String(l.width), String(l.probe), String(l.outputs), number(l.ms), number(l.trainStepMs), number(l.stepsEquivalent)]
                     })

        out += "\nExact eNTK + eigen-decomposition (double precision)\n"
        out += table(["n", "C", "nC", "width", "factors ms", "kernel ms", "eigh ms", "total ms"],
                     report.kernels.map { k in
                         [String(k.n), String(k.outputs), String(k.kernelSize), String(k.width), number(k.factorsMs),
                          number(k.kernelMs), number(k.eighMs), number(k.totalMs)]
                     })

        for curve in report.curves { out += "\n" + curve.render() }

        // A figure a curve shows (with its notes) is not repeated below.
        func inCurve(_ key: String) -> Bool { report.curveKeyPrefixes.contains { key.hasPrefix($0) } }
        out += "\nOther figures\n"
        var rows: [[String]] = []
        for (key, label, unit) in BenchmarkPlugin.expectedKeys {
            rows.append([label, figure(report.pluginFigures[key] ?? nil, unit: unit)])
        }
        for key in report.pluginFigures.keys.sorted() where !BenchmarkPlugin.expectedKeys.contains(where: { $0.key == key }) && !inCurve(key) {
            rows.append([key, figure(report.pluginFigures[key] ?? nil, unit: "")])
        }
        rows.append(["Peak RSS, default preset", figure(report.peakRSSMiB, unit: "MiB")])
        out += table(["figure", "value"], rows)

        let noted = report.notes.keys.sorted().filter { !inCurve($0) }
        if !noted.isEmpty {
            out += "\nNotes\n"
            for key in noted { out += "  \(key): \(report.notes[key] ?? "")\n" }
        }
        return out
    }

    /// Three significant digits, or more for large values, never exponent
    /// notation for the sizes a bench produces.
    static func number(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 100 { return String(format: "%.0f", value) }
        if magnitude >= 10 { return String(format: "%.1f", value) }
        if magnitude >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3g", value)
    }

    private static func figure(_ value: Double?, unit: String) -> String {
        guard let value else { return "n/a" }
        return unit.isEmpty ? number(value) : "\(number(value)) \(unit)"
    }

    /// Left-aligned first column, right-aligned numbers, two-space gaps.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = " "
            for (i, cell) in cells.enumerated() where i < widths.count {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                text += " " + (i == 0 ? cell + pad : pad + cell)
            }
            return text + "\n"
        }
        return line(header) + rows.map(line).joined()
    }
}
