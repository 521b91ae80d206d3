import Foundation

/// MNIST-style classification data from a pair of IDX files that the user
/// has downloaded and decompressed: e.g. `train-images-idx3-ubyte` and
/// `train-labels-idx1-ubyte` from MNIST or Fashion-MNIST. spectop never
/// downloads them.
///
/// Format (all integers big-endian):
/// - images: magic 0x00000803 (unsigned bytes, 3 dimensions), count, rows,
///   cols, then count × rows × cols pixel bytes, image by image, row-major;
/// - labels: magic 0x00000801 (unsigned bytes, 1 dimension), count, then
///   count label bytes.
///
/// Every size in a header is checked against the measured file length before
/// anything is allocated from it, so a damaged or hostile header cannot ask
/// for gigabytes.
public enum IDXDataset {
    /// Magic number of an unsigned-byte, three-dimensional IDX file (images).
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// Magic number of an unsigned-byte, one-dimensional IDX file (labels).
    public static let labelsMagic: UInt32 = 0x0000_0801
    static let imagesHeaderSize = 16
    static let labelsHeaderSize = 8
    /// MNIST and Fashion-MNIST both have ten classes; a tiny `limit` that
    /// happens to miss a class must not shrink the network's output layer.
    static let minimumClasses = 10

    /// Loads images and labels.
    ///
    /// - Parameters:
    ///   - images: path of the images file (magic 0x00000803).
    ///   - labels: path of the labels file (magic 0x00000801), same count.
    ///   - limit: read only the first `limit` samples (at least 1); nil reads all.
    ///   - name: the `Dataset.name`, e.g. "mnist" or "fashion-mnist".
    /// - Returns: inputs = pixels / 255 as [count, rows × cols] (each image
    ///   flattened row-major); targets `.labels(…, classes: max(10, largest label + 1))`.
    public static func load(images: String, labels: String, limit: Int? = nil, name: String = "mnist") throws(DataError) -> Dataset {
        if let limit, limit < 1 {
            throw DataError.invalidParameter(owner: "idx", parameter: "limit", requirement: "at least 1", value: "\(limit)")
        }
        let imageReader = try DataFile.Reader(path: images)
        defer { imageReader.close() }
        let labelReader = try DataFile.Reader(path: labels)
        defer { labelReader.close() }

        let imageHeader = try readHeader(imageReader, kind: "images", magic: imagesMagic, headerSize: imagesHeaderSize)
        let imageCount = Int(imageHeader[0])
        let rows = Int(imageHeader[1]), cols = Int(imageHeader[2])
        guard rows > 0, cols > 0 else {
            throw DataError.idxInvalidHeader(file: images, detail: "image size is \(rows)×\(cols); both must be at least 1")
        }
        // Each header field is below 2^32, but their products can still
        // overflow Int; such a header cannot match any real file.
        let (pixelsPerImage, pixelOverflow) = rows.multipliedReportingOverflow(by: cols)
        let (imageBytes, imageOverflow) = imageCount.multipliedReportingOverflow(by: pixelsPerImage)
        guard !pixelOverflow, !imageOverflow, imageBytes <= Int.max - imagesHeaderSize else {
            throw DataError.idxInvalidHeader(
                file: images, detail: "\(imageCount) images of \(rows)×\(cols) pixels is too large to address")
        }
        try checkSize(imageReader, expected: imagesHeaderSize + imageBytes)

        let labelHeader = try readHeader(labelReader, kind: "labels", magic: labelsMagic, headerSize: labelsHeaderSize)
        let labelCount = Int(labelHeader[0])
        try checkSize(labelReader, expected: labelsHeaderSize + labelCount)

        guard imageCount == labelCount else {
            throw DataError.idxCountMismatch(imagesFile: images, images: imageCount, labelsFile: labels, labels: labelCount)
        }
        guard imageCount > 0 else { throw DataError.idxInvalidHeader(file: images, detail: "the file holds no images") }

        // Every size below is bounded by the measured file lengths.
        let count = min(imageCount, limit ?? imageCount)
        var inputs = Matrix<Float>(rows: count, cols: pixelsPerImage)
        // Pixels are converted a chunk at a time, so the raw bytes never sit
        // in memory beside the floats made from them.
        var done = 0
        while done < inputs.storage.count {
            let pixels = try imageReader.read(
                offset: imagesHeaderSize + done, count: min(DataFile.defaultChunkSize, inputs.storage.count - done))
            inputs.storage.withUnsafeMutableBufferPointer { out in
                for i in pixels.indices { out[done + i] = Float(pixels[i]) / 255 }
            }
            done += pixels.count
        }
        let labelData = try labelReader.read(offset: labelsHeaderSize, count: count)
        let labelValues = labelData.map { Int($0) }
        let classes = max(minimumClasses, (labelValues.max() ?? 0) + 1)
        return Dataset(name: name, inputs: inputs, targets: .labels(labelValues, classes: classes))
    }

    /// Checks the magic number and returns the header's dimension fields
    /// (the 32-bit words after the magic).
    private static func readHeader(_ reader: DataFile.Reader, kind: String, magic: UInt32, headerSize: Int) throws(DataError) -> [UInt32] {
        let prefix = try reader.read(offset: 0, count: min(reader.size, headerSize))
        if DataFile.isGzip(prefix) { throw DataError.compressedFile(file: reader.path) }
        guard prefix.count >= 4 else {
            throw DataError.idxWrongSize(file: reader.path, expectedBytes: headerSize, foundBytes: reader.size)
        }
        let words = stride(from: 0, to: prefix.count - 3, by: 4).map { offset -> UInt32 in
            (0..<4).reduce(UInt32(0)) { ($0 << 8) | UInt32(prefix[prefix.startIndex + offset + $1]) }
        }
        guard words[0] == magic else {
            throw DataError.idxWrongMagic(file: reader.path, kind: kind, expected: magic, found: words[0])
        }
        guard prefix.count == headerSize else {
            throw DataError.idxWrongSize(file: reader.path, expectedBytes: headerSize, foundBytes: reader.size)
        }
        return Array(words.dropFirst())
    }

    private static func checkSize(_ reader: DataFile.Reader, expected: Int) throws(DataError) {
        guard reader.size == expected else {
            throw DataError.idxWrongSize(file: reader.path, expectedBytes: expected, foundBytes: reader.size)
        }
    }
}
