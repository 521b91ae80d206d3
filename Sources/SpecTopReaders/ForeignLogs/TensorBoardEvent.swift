import Foundation
import SwiftProtobuf

/// One TensorBoard `Event` record's content, decoded with the messages
/// generated from TensorBoard's own .proto files (Generated/).
struct TensorBoardEvent {
    var wall: Double
    var step: Int
    /// Scalar values: `simple_value`, or a one-element tensor of a number type
    /// (`float_val`/`double_val`/… or `tensor_content`), the form newer writers use.
    var scalars: [(tag: String, value: Double)] = []
    /// Tags of values that are no scalar (images, histograms, text, wider tensors).
    var otherTags: [String] = []
    /// The first record of every event file: `brain.Event:2`.
    var fileVersion: String?

    /// Nil when the bytes are no `Event` message.
    init?(_ bytes: ArraySlice<UInt8>) {
        guard let event = try? Tensorboard_Event(serializedBytes: Array(bytes)) else { return nil }
        wall = event.wallTime
        // A step beyond what a step line holds (RECORD.md: below 10^15) is clamped; negative ones are 0.
        step = Int(min(max(event.step, 0), 999_999_999_999_999))
        switch event.what {
        case .fileVersion(let version): fileVersion = version
        case .summary(let summary):
            for value in summary.value {
                if let number = Self.scalar(value) { scalars.append((value.tag, number)) } else { otherTags.append(value.tag) }
            }
        default: break
        }
    }

    private static func scalar(_ value: Tensorboard_Summary.Value) -> Double? {
        switch value.value {
        case .simpleValue(let number): return Double(number)
        case .tensor(let tensor): return scalar(tensor)
        default: return nil
        }
    }

    /// A tensor holding exactly one number, as a Double (exact for every type read).
    static func scalar(_ tensor: Tensorboard_TensorProto) -> Double? {
        let elements = tensor.tensorShape.dim.reduce(Int64(1)) { $0.multipliedReportingOverflow(by: max(0, $1.size)).partialValue }
        guard elements == 1 else { return nil }
        let content = tensor.tensorContent
        func raw<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard content.count == MemoryLayout<T>.size else { return nil }
            return content.reduce(into: (T(0), 0)) { acc, byte in acc.0 |= T(truncatingIfNeeded: byte) << (8 * acc.1); acc.1 += 1 }.0
        }
        switch tensor.dtype {
        case .dtFloat:
            if let number = tensor.floatVal.first { return Double(number) }
            return raw(UInt32.self).map { Double(Float(bitPattern: $0)) }
        case .dtDouble:
            if let number = tensor.doubleVal.first { return number }
            return raw(UInt64.self).map { Double(bitPattern: $0) }
        case .dtInt32, .dtInt16, .dtInt8, .dtUint8, .dtUint16:
            if let number = tensor.intVal.first { return Double(number) }
            return nil
        case .dtInt64:
            if let number = tensor.int64Val.first { return Double(number) }
            return raw(UInt64.self).map { Double(Int64(bitPattern: $0)) }
        default:
            return nil
        }
    }
}

/// TensorBoard event records made here, for the benchmark's and the tests'
/// own logs (spectop writes no TensorBoard files for users): the first record
/// of a file (`brain.Event:2`) and one event of `simple_value` scalars, each
/// framed as TFRecord.
package enum TensorBoardRecords {
    package static func fileVersion(wall: Double) -> [UInt8] {
        var event = Tensorboard_Event()
        event.wallTime = wall
        event.fileVersion = "brain.Event:2"
        return frame(event)
    }

    package static func scalars(step: Int, wall: Double, _ values: [(tag: String, value: Float)]) -> [UInt8] {
        var event = Tensorboard_Event()
        event.step = Int64(step)
        event.wallTime = wall
        var summary = Tensorboard_Summary()
        summary.value = values.map { tag, value in
            var entry = Tensorboard_Summary.Value()
            entry.tag = tag
            entry.simpleValue = value
            return entry
        }
        event.summary = summary
        return frame(event)
    }

    private static func frame(_ event: Tensorboard_Event) -> [UInt8] {
        // Serialising a message built here cannot fail (no required fields, no unknown types).
        let payload: [UInt8] = (try? event.serializedBytes()) ?? []
        func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
            (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        let length = littleEndian(UInt64(payload.count))
        return length + littleEndian(CRC32C.masked(CRC32C.checksum(length))) + payload
            + littleEndian(CRC32C.masked(CRC32C.checksum(payload)))
    }
}
