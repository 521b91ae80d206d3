import Foundation

/// Reads and writes NumPy `.npy` files (format version 1.0, little-endian,
/// C order) for the element types the state dump uses.
public enum NPYFile {
    public enum Element: String, Sendable {
        case float32 = "<f4"
        case float64 = "<f8"
        case int64 = "<i8"
        var size: Int { self == .float32 ? 4 : 8 }
    }

    public enum Failure: Error, CustomStringConvertible {
        case malformed(String, reason: String)
        public var description: String {
            switch self {
            case .malformed(let file, let reason): return "\(file): not a readable .npy file: \(reason)"
            }
        }
    }

    /// The file bytes: magic, version 1.0, a header padded to 64 bytes, data.
    public static func encode(shape: [Int], element: Element, payload: Data) -> Data {
        precondition(payload.count == shape.reduce(1, *) * element.size, "payload does not match shape")
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(element.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let length = UInt16(header.utf8.count)
        data.append(UInt8(length & 0xFF))
        data.append(UInt8(length >> 8))
        data.append(Data(header.utf8))
        data.append(payload)
        return data
    }

    public static func encode(_ values: [Float], shape: [Int]) -> Data {
        encode(shape: shape, element: .float32, payload: values.withUnsafeBytes { Data($0) })
    }

    public static func encode(_ values: [Double], shape: [Int]) -> Data {
        encode(shape: shape, element: .float64, payload: values.withUnsafeBytes { Data($0) })
    }

    public static func encode(_ values: [Int64], shape: [Int]) -> Data {
        encode(shape: shape, element: .int64, payload: values.withUnsafeBytes { Data($0) })
    }

    /// Parses a file written by `encode` (or NumPy) into shape and values as Double.
    public static func decode(_ data: Data, name: String = "npy") throws -> (shape: [Int], values: [Double]) {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw Failure.malformed(name, reason: "missing the \\x93NUMPY magic")
        }
        guard bytes[6] == 1 else { throw Failure.malformed(name, reason: "unsupported version \(bytes[6]).\(bytes[7])") }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        guard bytes.count >= 10 + headerLength else { throw Failure.malformed(name, reason: "truncated header") }
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        guard let descrRange = header.range(of: "'descr': '"),
              let descrEnd = header[descrRange.upperBound...].firstIndex(of: "'"),
              let element = Element(rawValue: String(header[descrRange.upperBound..<descrEnd])) else {
            throw Failure.malformed(name, reason: "unsupported dtype in header \(header)")
        }
        guard header.contains("'fortran_order': False") else { throw Failure.malformed(name, reason: "Fortran order is not supported") }
        guard let shapeStart = header.range(of: "'shape': ("), let shapeEnd = header[shapeStart.upperBound...].firstIndex(of: ")") else {
            throw Failure.malformed(name, reason: "no shape in header")
        }
        let shape = try header[shapeStart.upperBound..<shapeEnd].split(separator: ",").map { part -> Int in
            guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw Failure.malformed(name, reason: "bad shape entry '\(part)'")
            }
            return value
        }
        let count = shape.reduce(1, *)
        let start = 10 + headerLength
        guard bytes.count - start == count * element.size else {
            throw Failure.malformed(name, reason: "expected \(count * element.size) data bytes, found \(bytes.count - start)")
        }
        var values = [Double](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            for k in 0..<count {
                switch element {
                case .float32: values[k] = Double(Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: k * 4, as: UInt32.self))))
                case .float64: values[k] = Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: k * 8, as: UInt64.self)))
                case .int64: values[k] = Double(Int64(littleEndian: base.loadUnaligned(fromByteOffset: k * 8, as: Int64.self)))
                }
            }
        }
        return (shape, values)
    }
}
