import Foundation

/// Reads one record body line — a flat JSON object — straight into the fields
/// `RecordLine` needs.
///
/// Written by hand because the libraries fall short here, measured on record
/// lines: `JSONSerialization` on Linux reads about half of all doubles one
/// unit in the last place off, and `JSONDecoder`, exact, reads about 28,000
/// lines a second, so a 10^6-line record took 36 s to back-fill. This reads
/// the full JSON grammar (any value may appear under an unknown key and is
/// skipped), converts numbers with `strtod` (correctly rounded), and rejects
/// any line that is not one complete JSON object. Per field it is lenient the
/// way the schema wants: a value of the wrong type reads as absent.
struct RecordLineScanner {
    /// The fields of a body line the reader uses.
    struct Fields {
        var type: String?
        var model: String?
        var step: Double?
        var numbers: [Double?] = Array(repeating: nil, count: NumberField.allCases.count)
        var arrays: [[Double]?] = Array(repeating: nil, count: ArrayField.allCases.count)
        var chiNetEstimate: Bool?
        var event: String?
        var detail: String?
        var reason: String?
        /// `exact` or `lanczos` (spectrum lines; absent before matrix-free spectra).
        var method: String?
        /// A `scalars` line's `values`: names in order, a null or non-number as NaN.
        var values: [(String, Double)]?
        /// A matrix-free spectrum's histogram (`density`): its numbers and arrays.
        var density: (numbers: [DensityNumber: Double], arrays: [DensityArray: [Double]])?

        subscript(_ field: NumberField) -> Double? { numbers[field.rawValue] }
        subscript(_ field: ArrayField) -> [Double]? { arrays[field.rawValue] }
    }

    enum NumberField: Int, CaseIterable {
        case loss, chiLoss, chiNet, chiPos, gradSq, wall, chiNetStandardError, chiPosExact, lambdaEff, rEff, effectiveRank
        case modeCount, rEffUncertainty, restWeight
        case rows, chiLossNormalized, chiNetNormalized
        case window, crossLoss, crossGradDot, crossChiLoss, crossChiNet, crossChiPos, crossRows, crossChiLossNormalized, crossChiNetNormalized
        case rssBytes, cpuPercent, stepSeconds, gpuMemoryBytes, gpuUtilization
    }

    enum DensityNumber: String, CaseIterable {
        case nearZeroCount = "near_zero_count", nearZeroWeight = "near_zero_weight", markerBin = "marker_bin"
    }

    enum DensityArray: String, CaseIterable {
        case log10Edges = "log10_edges", counts, countsUncertainty = "counts_uncertainty", residualWeights = "residual_weights"
    }

    enum ArrayField: Int, CaseIterable {
        case layerChiNet, layerGradSq, eigenvalues, weights
    }

    private enum Key {
        case type, model, step, number(NumberField), array(ArrayField), chiNetEstimate, event, detail, reason, method, density, values, other

        init(_ name: String) {
            switch name {
            case "type": self = .type
            case "model": self = .model
            case "step": self = .step
            case "loss": self = .number(.loss)
            case "chi_loss": self = .number(.chiLoss)
            case "chi_net": self = .number(.chiNet)
            case "chi_pos": self = .number(.chiPos)
            case "grad_sq": self = .number(.gradSq)
            case "wall": self = .number(.wall)
            case "chi_net_stderr": self = .number(.chiNetStandardError)
            case "chi_pos_exact": self = .number(.chiPosExact)
            case "lambda_eff": self = .number(.lambdaEff)
            case "r_eff": self = .number(.rEff)
            case "effective_rank": self = .number(.effectiveRank)
            case "layer_chi_net": self = .array(.layerChiNet)
            case "layer_grad_sq": self = .array(.layerGradSq)
            case "eigenvalues": self = .array(.eigenvalues)
            case "weights": self = .array(.weights)
            case "chi_net_estimate": self = .chiNetEstimate
            case "event": self = .event
            case "detail": self = .detail
            case "reason": self = .reason
            case "method": self = .method
            case "density": self = .density
            case "values": self = .values
            case "mode_count": self = .number(.modeCount)
            case "r_eff_uncertainty": self = .number(.rEffUncertainty)
            case "rest_weight": self = .number(.restWeight)
            case "rows": self = .number(.rows)
            case "chi_loss_normalized": self = .number(.chiLossNormalized)
            case "chi_net_normalized": self = .number(.chiNetNormalized)
            case "window": self = .number(.window)
            case "cross_loss": self = .number(.crossLoss)
            case "cross_grad_dot": self = .number(.crossGradDot)
            case "cross_chi_loss": self = .number(.crossChiLoss)
            case "cross_chi_net": self = .number(.crossChiNet)
            case "cross_chi_pos": self = .number(.crossChiPos)
            case "cross_rows": self = .number(.crossRows)
            case "cross_chi_loss_normalized": self = .number(.crossChiLossNormalized)
            case "cross_chi_net_normalized": self = .number(.crossChiNetNormalized)
            case "rss_bytes": self = .number(.rssBytes)
            case "cpu_percent": self = .number(.cpuPercent)
            case "step_seconds": self = .number(.stepSeconds)
            case "gpu_memory_bytes": self = .number(.gpuMemoryBytes)
            case "gpu_utilization": self = .number(.gpuUtilization)
            default: self = .other
            }
        }
    }

    /// The fields of `line`, or nil when it is not exactly one JSON object.
    static func scan(_ line: Data) -> Fields? {
        line.withUnsafeBytes { raw in
            var scanner = RecordLineScanner(bytes: raw.bindMemory(to: UInt8.self))
            return scanner.object()
        }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    /// Nesting depth of skipped values: a hostile line cannot exhaust the stack.
    private static let maxDepth = 64

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D {
            index += 1
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard current == byte else { return false }
        index += 1
        return true
    }

    private mutating func object() -> Fields? {
        var fields = Fields()
        guard consume(UInt8(ascii: "{")) else { return nil }
        if consume(UInt8(ascii: "}")) { return finished(fields) }
        repeat {
            skipWhitespace()
            guard let name = string(), consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            guard value(for: Key(name), into: &fields) else { return nil }
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "}")) else { return nil }
        return finished(fields)
    }

    private mutating func finished(_ fields: Fields) -> Fields? {
        skipWhitespace()
        return index == bytes.count ? fields : nil
    }

    /// Reads the value at `index` into the field `key` names when its type fits; false on a syntax error.
    private mutating func value(for key: Key, into fields: inout Fields) -> Bool {
        switch (key, current) {
        case (.type, UInt8(ascii: "\"")?): fields.type = string(); return fields.type != nil
        case (.model, UInt8(ascii: "\"")?): fields.model = string(); return fields.model != nil
        case (.event, UInt8(ascii: "\"")?): fields.event = string(); return fields.event != nil
        case (.detail, UInt8(ascii: "\"")?): fields.detail = string(); return fields.detail != nil
        case (.reason, UInt8(ascii: "\"")?): fields.reason = string(); return fields.reason != nil
        case (.method, UInt8(ascii: "\"")?): fields.method = string(); return fields.method != nil
        case (.values, UInt8(ascii: "{")?):
            guard let values = valuesObject() else { return false }
            fields.values = values
            return true
        case (.density, UInt8(ascii: "{")?):
            guard let density = densityObject() else { return false }
            fields.density = density
            return true
        case (.step, let byte?) where RecordLineScanner.startsNumber(byte):
            guard let number = number() else { return false }
            fields.step = number.isFinite ? number : nil
            return true
        case (.number(let field), let byte?) where RecordLineScanner.startsNumber(byte):
            guard let number = number() else { return false }
            fields.numbers[field.rawValue] = number.isFinite ? number : nil
            return true
        case (.array(let field), UInt8(ascii: "[")?):
            guard let values = numberArray() else { return false }
            fields.arrays[field.rawValue] = values
            return true
        case (.chiNetEstimate, UInt8(ascii: "t")?), (.chiNetEstimate, UInt8(ascii: "f")?):
            let isTrue = current == UInt8(ascii: "t")
            guard skipValue(depth: 0) else { return false }
            fields.chiNetEstimate = isTrue
            return true
        default:
            // Unknown key, `null`, or a value of another type: skipped, and the field stays absent.
            return skipValue(depth: 0)
        }
    }

    /// The `values` object of a scalars line: every name with a number, null
    /// or another value (the last two as NaN, a gap). Nil on a syntax error.
    private mutating func valuesObject() -> [(String, Double)]? {
        var values: [(String, Double)] = []
        index += 1  // "{"
        if consume(UInt8(ascii: "}")) { return values }
        repeat {
            skipWhitespace()
            guard let name = string(), consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            if let byte = current, RecordLineScanner.startsNumber(byte) {
                guard let value = number() else { return nil }
                values.append((name, value.isFinite ? value : .nan))
            } else {
                guard skipValue(depth: 1) else { return nil }
                values.append((name, .nan))
            }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? values : nil
    }

    /// The `density` object of a matrix-free spectrum line: known numbers and
    /// number arrays, anything else skipped. Nil on a syntax error.
    private mutating func densityObject() -> (numbers: [DensityNumber: Double], arrays: [DensityArray: [Double]])? {
        var numbers: [DensityNumber: Double] = [:], arrays: [DensityArray: [Double]] = [:]
        index += 1  // "{"
        if consume(UInt8(ascii: "}")) { return (numbers, arrays) }
        repeat {
            skipWhitespace()
            guard let name = string(), consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            if let key = DensityNumber(rawValue: name), let byte = current, RecordLineScanner.startsNumber(byte) {
                guard let value = number() else { return nil }
                if value.isFinite { numbers[key] = value }
            } else if let key = DensityArray(rawValue: name), current == UInt8(ascii: "[") {
                guard let values = numberArray() else { return nil }
                if let values { arrays[key] = values }
            } else {
                guard skipValue(depth: 1) else { return nil }
            }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? (numbers, arrays) : nil
    }

    private static func startsNumber(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// `[` numbers or nulls `]`, nulls (values the writer could not write as
    /// numbers) left out. Nil on a syntax error; `.some(nil)` when an element
    /// is another kind of value (the array then reads as absent).
    private mutating func numberArray() -> [Double]?? {
        index += 1  // "["
        var values: [Double] = []
        if consume(UInt8(ascii: "]")) { return .some(values) }
        var allNumbers = true
        repeat {
            skipWhitespace()
            if let byte = current, RecordLineScanner.startsNumber(byte) {
                guard let number = number() else { return nil }
                if number.isFinite { values.append(number) }
            } else {
                let isNull = current == UInt8(ascii: "n")
                guard skipValue(depth: 1) else { return nil }
                if !isNull { allNumbers = false }
            }
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "]")) else { return nil }
        return .some(allNumbers ? values : nil)
    }

    /// A JSON number (strict grammar), converted with `strtod`.
    private mutating func number() -> Double? {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return nil }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if current == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { return nil }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { return nil }
        }
        let length = index - start
        // strtod needs a terminated string: copy the number (at most a few dozen bytes) onto the stack.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
            for k in 0..<length { buffer[k] = CChar(bitPattern: bytes[start + k]) }
            buffer[length] = 0
            return strtod(buffer.baseAddress!, nil)
        }
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    /// A JSON string at `index` (which must be at its quote), decoded.
    private mutating func string() -> String? {
        guard current == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        // Fast path: no escapes.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { return nil }
            index += 1
        }
        guard let stop = current else { return nil }
        if stop == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
        }
        var decoded = Array(bytes[start..<index])
        while let byte = current {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { return nil }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escaped)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A surrogate pair: \uD83D\uDE00.
                        guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else { return nil }
                        index += 2
                        guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    decoded.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    return nil
                }
            default:
                guard byte >= 0x20 else { return nil }
                decoded.append(byte)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// Skips any JSON value; false on a syntax error or nesting deeper than `maxDepth`.
    private mutating func skipValue(depth: Int) -> Bool {
        skipWhitespace()
        guard let byte = current, depth < RecordLineScanner.maxDepth else { return false }
        switch byte {
        case UInt8(ascii: "\""): return string() != nil
        case UInt8(ascii: "{"):
            index += 1
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                skipWhitespace()
                guard string() != nil, consume(UInt8(ascii: ":")), skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            index += 1
            if consume(UInt8(ascii: "]")) { return true }
            repeat {
                guard skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]"))
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default:
            return RecordLineScanner.startsNumber(byte) && number() != nil
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for k in 0..<count where bytes[index + k] != word.utf8Start[k] { return false }
        index += count
        return true
    }
}
