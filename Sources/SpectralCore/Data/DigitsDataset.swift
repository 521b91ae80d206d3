import Foundation

/// The small handwritten-digits classification set that ships inside
/// spectop, so that a real data set works without any download.
///
/// 1,797 grey-scale 8×8 images of the digits 0–9 (about 180 per class),
/// from the UCI "Optical Recognition of Handwritten Digits" data set:
/// E. Alpaydin, C. Kaynak (1998), UCI Machine Learning Repository,
/// https://doi.org/10.24432/C50P49, licensed CC BY 4.0. Each pixel counts
/// the set bits of a 4×4 block of the original 32×32 bitmap, so it lies in
/// 0…16. The bytes are `Resources/digits.bin`, compiled into the binary
/// (`scripts/make_digits_resource.py` makes the file; see docs/DATA.md).
public enum DigitsDataset {
    /// The `Dataset.name` of the digits data.
    public static let name = "digits"
    public static let sampleCount = 1797
    public static let pixelCount = 64
    public static let classCount = 10
    /// Largest pixel value in the embedded data; inputs are divided by it.
    static let maxPixel: UInt8 = 16

    /// Decodes the embedded data: inputs are the 64 pixels (row-major) / 16,
    /// in [0, 1]; targets are `.labels(…, classes: 10)`, in file order.
    ///
    /// - Parameter limit: keep only the first `limit` samples (at least 1);
    ///   nil keeps all 1,797.
    /// - Throws: `DataError.invalidParameter` for a limit below 1;
    ///   `DataError.corruptEmbeddedData` only if Resources/digits.bin is damaged.
    public static func load(limit: Int? = nil) throws(DataError) -> Dataset {
        if let limit, limit < 1 {
            throw DataError.invalidParameter(owner: name, parameter: "limit", requirement: "at least 1", value: "\(limit)")
        }
        let recordSize = pixelCount + 1
        let bytes = PackageResources.digits_bin
        guard bytes.count == sampleCount * recordSize else {
            throw DataError.corruptEmbeddedData(
                dataset: name,
                detail: "expected \(sampleCount) records of \(recordSize) bytes, found \(bytes.count) bytes")
        }
        let count = min(sampleCount, limit ?? sampleCount)
        var inputs = Matrix<Float>(rows: count, cols: pixelCount)
        var labels = [Int](repeating: 0, count: count)
        for sample in 0..<count {
            let record = sample * recordSize
            for pixel in 0..<pixelCount {
                let value = bytes[record + pixel]
                guard value <= maxPixel else {
                    throw DataError.corruptEmbeddedData(
                        dataset: name, detail: "record \(sample) pixel \(pixel) is \(value), above \(maxPixel)")
                }
                inputs[sample, pixel] = Float(value) / Float(maxPixel)
            }
            let label = Int(bytes[record + pixelCount])
            guard label < classCount else {
                throw DataError.corruptEmbeddedData(dataset: name, detail: "record \(sample) has label \(label)")
            }
            labels[sample] = label
        }
        return Dataset(name: name, inputs: inputs, targets: .labels(labels, classes: classCount))
    }
}
