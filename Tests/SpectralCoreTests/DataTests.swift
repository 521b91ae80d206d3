import Foundation
import XCTest

@testable import SpectralCore

final class DataTests: DataFileTestCase {
    // MARK: Teacher

    func testTeacherIsDeterministicForASeed() throws {
        let config = TeacherConfig(inputDim: 8, samples: 300, outputs: 2, noise: 0.1)
        var first = SeededGenerator(seed: 7)
        var second = SeededGenerator(seed: 7)
        var other = SeededGenerator(seed: 8)
        let a = try TeacherDataset.make(config, generator: &first)
        let b = try TeacherDataset.make(config, generator: &second)
        let c = try TeacherDataset.make(config, generator: &other)
        XCTAssertEqual(a.name, "teacher")
        assertIdentical(a.inputs, b.inputs)
        XCTAssertEqual(a.targets, b.targets)
        XCTAssertNotEqual(a.inputs, c.inputs)
        XCTAssertNotEqual(a.targets, c.targets)
        XCTAssertEqual(a.count, 300)
        XCTAssertEqual(a.inputDim, 8)
        XCTAssertEqual(a.outputDim, 2)
        XCTAssertEqual(a.lossKind, .mse)
    }

    func testTeacherTargetsHaveZeroMeanAndUnitVariance() throws {
        var generator = SeededGenerator(seed: 1)
        let data = try TeacherDataset.make(TeacherConfig(outputs: 3), generator: &generator)
        let y = try XCTUnwrap(values(data))
        for column in 0..<3 {
            let (mean, variance) = moments(y, column: column)
            XCTAssertEqual(mean, 0, accuracy: 0.1, "column \(column) mean")
            XCTAssertEqual(variance, 1, accuracy: 0.1, "column \(column) variance")
        }
    }

    func testTeacherInputVarianceDecaysAndSumsToInputDim() throws {
        var generator = SeededGenerator(seed: 2)
        let config = TeacherConfig(inputDim: 16, samples: 8000, inputExponent: 1)
        let data = try TeacherDataset.make(config, generator: &generator)
        let variances = (0..<16).map { moments(data.inputs.converted(to: Double.self), column: $0).variance }
        XCTAssertEqual(variances.reduce(0, +), 16, accuracy: 0.8)
        XCTAssertGreaterThan(variances[0], 4 * variances[15], "input variance k^-1 must fall from the first to the last coordinate")
    }

    func testTeacherCoefficientSpectrumDecaysWithTheConfiguredExponent() throws {
        var generator = SeededGenerator(seed: 3)
        let config = TeacherConfig(outputs: 64, exponent: 1.5, features: 256)
        let teacher = try Teacher(config: config, generator: &generator)
        // Mean square coefficient of feature j over the outputs ≈ j^-(1+α): fit the log-log slope.
        let points = (0..<config.features).map { j -> (Double, Double) in
            let meanSquare = (0..<config.outputs).map { teacher.coefficients[j, $0] * teacher.coefficients[j, $0] }
                .reduce(0, +) / Double(config.outputs)
            return (log(Double(j + 1)), log(meanSquare))
        }
        let slope = leastSquaresSlope(points)
        XCTAssertEqual(slope, -2.5, accuracy: 0.15, "coefficient power must decay as j^-(1+exponent)")
    }

    func testTeacherFreshSamplesComeFromTheSameFunction() throws {
        var generator = SeededGenerator(seed: 4)
        let (data, teacher) = try TeacherDataset.makeWithTeacher(TeacherConfig(inputDim: 6, samples: 200), generator: &generator)
        XCTAssertEqual(teacher.cleanTargets(for: data.inputs), try XCTUnwrap(values(data)), "noise-free targets are f*(x)")

        var probeGenerator = SeededGenerator(seed: 99)
        let fresh = try teacher.sample(count: 50, generator: &probeGenerator)
        XCTAssertEqual(fresh.count, 50)
        XCTAssertNotEqual(fresh.inputs.row(0), data.inputs.row(0))
        XCTAssertEqual(teacher.cleanTargets(for: fresh.inputs), try XCTUnwrap(values(fresh)))
    }

    func testTeacherNoiseChangesTargetsButNotInputs() throws {
        var quietGenerator = SeededGenerator(seed: 5)
        var noisyGenerator = SeededGenerator(seed: 5)
        let quiet = try TeacherDataset.make(TeacherConfig(samples: 4000, noise: 0), generator: &quietGenerator)
        let noisy = try TeacherDataset.make(TeacherConfig(samples: 4000, noise: 0.5), generator: &noisyGenerator)
        assertIdentical(quiet.inputs, noisy.inputs)
        let (_, variance) = moments(try XCTUnwrap(values(noisy)), column: 0)
        XCTAssertEqual(variance, 1.25, accuracy: 0.12, "variance must be 1 + noise²")
    }

    func testTeacherRejectsInvalidConfigurationsWithReadableMessages() {
        var generator = SeededGenerator(seed: 0)
        let samples = errorMessage { _ = try TeacherDataset.make(TeacherConfig(samples: 0), generator: &generator) }
        XCTAssertEqual(samples, "teacher: samples must be at least 1, got 0")
        let exponent = errorMessage { _ = try TeacherDataset.make(TeacherConfig(exponent: .nan), generator: &generator) }
        XCTAssertTrue(exponent.contains("exponent must be a finite number ≥ 0, got nan"), exponent)
        let noise = errorMessage { _ = try TeacherDataset.make(TeacherConfig(noise: -1), generator: &generator) }
        XCTAssertTrue(noise.contains("noise"), noise)
        let huge = errorMessage {
            _ = try TeacherDataset.make(TeacherConfig(inputDim: 10_000, samples: 1_000_000), generator: &generator)
        }
        XCTAssertTrue(huge.contains("samples × inputDim must be at most"), huge)
    }

    // MARK: Digits

    func testDigitsLoadsTheEmbeddedSet() throws {
        let digits = try DigitsDataset.load()
        XCTAssertEqual(digits.name, "digits")
        XCTAssertEqual(digits.count, 1797)
        XCTAssertEqual(digits.inputDim, 64)
        XCTAssertEqual(digits.outputDim, 10)
        XCTAssertEqual(digits.lossKind, .crossEntropy)
        XCTAssertEqual(digits.inputs.storage.min(), 0)
        XCTAssertEqual(digits.inputs.storage.max(), 1)
        guard case .labels(let labels, let classes) = digits.targets else { return XCTFail("digits must have labels") }
        XCTAssertEqual(classes, 10)
        var counts = [Int](repeating: 0, count: 10)
        for label in labels { counts[label] += 1 }
        for (digit, count) in counts.enumerated() {
            XCTAssertTrue((170...190).contains(count), "digit \(digit) has \(count) samples, expected about 180")
        }
        // The first image of the set is a 0; its centre pixels are blank.
        XCTAssertEqual(labels[0], 0)
        XCTAssertEqual(digits.inputs[0, 3 * 8 + 3], 0)
    }

    func testDigitsLimitKeepsTheFirstSamples() throws {
        let all = try DigitsDataset.load()
        let first = try DigitsDataset.load(limit: 100)
        XCTAssertEqual(first.count, 100)
        assertIdentical(first.inputs, all.subset(Array(0..<100)).inputs)
        XCTAssertEqual(first.outputDim, 10, "a limit never shrinks the class count")
        XCTAssertEqual(try DigitsDataset.load(limit: 5000).count, 1797)
        XCTAssertEqual(errorMessage { _ = try DigitsDataset.load(limit: 0) }, "digits: limit must be at least 1, got 0")
    }

    // MARK: IDX

    func testIDXRoundTripAndLimit() throws {
        let pixels: [UInt8] = Array(0..<30).map { UInt8($0 * 8) }  // 5 images of 2×3
        let images = try write("images", idxImages(count: 5, rows: 2, cols: 3, pixels: pixels))
        let labels = try write("labels", idxLabels([3, 1, 4, 1, 5]))

        let data = try IDXDataset.load(images: images, labels: labels, name: "tiny")
        XCTAssertEqual(data.name, "tiny")
        XCTAssertEqual(data.count, 5)
        XCTAssertEqual(data.inputDim, 6)
        XCTAssertEqual(data.inputs.storage, pixels.map { Float($0) / 255 })
        XCTAssertEqual(data.targets, .labels([3, 1, 4, 1, 5], classes: 10))

        let limited = try IDXDataset.load(images: images, labels: labels, limit: 2)
        XCTAssertEqual(limited.count, 2)
        XCTAssertEqual(limited.inputs.row(1), data.inputs.row(1))
        XCTAssertEqual(limited.targets, .labels([3, 1], classes: 10))

        let limit = errorMessage { _ = try IDXDataset.load(images: images, labels: labels, limit: 0) }
        XCTAssertEqual(limit, "idx: limit must be at least 1, got 0")
    }

    func testIDXClassCountGrowsWithLargeLabels() throws {
        let images = try write("images", idxImages(count: 2, rows: 1, cols: 1, pixels: [0, 255]))
        let labels = try write("labels", idxLabels([0, 11]))
        XCTAssertEqual(try IDXDataset.load(images: images, labels: labels).targets, .labels([0, 11], classes: 12))
    }

    func testIDXWrongMagicSuggestsSwappedFiles() throws {
        let images = try write("images", idxImages(count: 2, rows: 1, cols: 1, pixels: [0, 1]))
        let labels = try write("labels", idxLabels([0, 1]))
        let message = errorMessage { _ = try IDXDataset.load(images: labels, labels: images) }
        XCTAssertTrue(message.contains(labels), message)
        XCTAssertTrue(message.contains("magic number is 0x00000801, expected 0x00000803"), message)
        XCTAssertTrue(message.contains("swapped"), message)

        let garbage = try write("garbage", Array("hello world, not idx".utf8))
        let other = errorMessage { _ = try IDXDataset.load(images: garbage, labels: labels) }
        XCTAssertTrue(other.contains("not an IDX images file"), other)
    }

    func testIDXTruncatedFileReportsExpectedAndFoundBytes() throws {
        var bytes = idxImages(count: 3, rows: 2, cols: 2, pixels: Array(repeating: 7, count: 12))
        bytes.removeLast(5)
        let images = try write("images", bytes)
        let labels = try write("labels", idxLabels([0, 1, 2]))
        let message = errorMessage { _ = try IDXDataset.load(images: images, labels: labels) }
        XCTAssertTrue(message.contains(images), message)
        XCTAssertTrue(message.contains("truncated"), message)
        XCTAssertTrue(message.contains("28 bytes, found 23"), message)

        let header = try write("header", [0, 0, 8, 3, 0, 0])
        let short = errorMessage { _ = try IDXDataset.load(images: header, labels: labels) }
        XCTAssertTrue(short.contains("16 bytes, found 6"), short)
    }

    func testIDXHugeHeaderCountIsRejectedBeforeAllocating() throws {
        // The header claims 4 billion 28×28 images in a 20-byte file.
        var bytes = bigEndian([IDXDataset.imagesMagic, 0xFFFF_FFFF, 28, 28])
        bytes += [1, 2, 3, 4]
        let images = try write("images", bytes)
        let labels = try write("labels", idxLabels([0]))
        let message = errorMessage { _ = try IDXDataset.load(images: images, labels: labels) }
        XCTAssertTrue(message.contains("truncated"), message)
        XCTAssertTrue(message.contains("found 20"), message)

        let absurd = try write("absurd", bigEndian([IDXDataset.imagesMagic, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF]))
        let overflow = errorMessage { _ = try IDXDataset.load(images: absurd, labels: labels) }
        XCTAssertTrue(overflow.contains("too large to address"), overflow)
    }

    func testIDXCountMismatchNamesBothFiles() throws {
        let images = try write("images", idxImages(count: 3, rows: 1, cols: 2, pixels: Array(repeating: 0, count: 6)))
        let labels = try write("labels", idxLabels([0, 1]))
        let message = errorMessage { _ = try IDXDataset.load(images: images, labels: labels) }
        XCTAssertTrue(message.contains("\(images) holds 3 images but \(labels) holds 2 labels"), message)
    }

    func testIDXGzipAndMissingFilesAreExplained() throws {
        let gzip = try write("train-images-idx3-ubyte.gz", [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0])
        let labels = try write("labels", idxLabels([0]))
        let message = errorMessage { _ = try IDXDataset.load(images: gzip, labels: labels) }
        XCTAssertTrue(message.contains(gzip), message)
        XCTAssertTrue(message.contains("gzip-compressed"), message)
        XCTAssertTrue(message.contains("decompress it first"), message)

        let missing = directory.appendingPathComponent("nope").path
        let notFound = errorMessage { _ = try IDXDataset.load(images: missing, labels: labels) }
        XCTAssertEqual(notFound, "\(missing): cannot read the file: no such file")
        let folder = errorMessage { _ = try IDXDataset.load(images: self.directory.path, labels: labels) }
        XCTAssertTrue(folder.contains("directory"), folder)
    }

    // MARK: CSV

    func testCSVRegressionUsesEveryOtherColumnAsInput() throws {
        let path = try write("houses.csv", "x1,x2,price\n1,2,10.5\n3,4,-2\n5e-1,6,0\n")
        let table = try CSVDataset.loadTable(path: path, target: "price", task: .regression)
        XCTAssertEqual(table.dataset.name, "houses")
        XCTAssertEqual(table.inputColumns, ["x1", "x2"])
        XCTAssertEqual(table.dataset.inputs, Matrix(rows: 3, cols: 2, storage: [1, 2, 3, 4, 0.5, 6]))
        XCTAssertEqual(table.dataset.targets, .values(Matrix(rows: 3, cols: 1, storage: [10.5, -2, 0])))
        XCTAssertEqual(table.classLabels, [])

        let chosen = try CSVDataset.load(path: path, target: "x1", task: .regression, inputColumns: ["price"])
        XCTAssertEqual(chosen.inputs.storage, [10.5, -2, 0])
        XCTAssertEqual(chosen.targets, .values(Matrix(rows: 3, cols: 1, storage: [1, 3, 0.5])))
    }

    func testCSVLimitStopsReadingRowsEarly() throws {
        let text = "x,y\n1,2\n3,4\nnot a number,5\n"
        let limited = try CSVDataset.parse(text: text, fileName: "l.csv", target: "y", task: .regression, limit: 2)
        XCTAssertEqual(limited.dataset.inputs.storage, [1, 3], "rows past the limit are not parsed")
        let message = errorMessage { _ = try CSVDataset.parse(text: text, fileName: "l.csv", target: "y", task: .regression) }
        XCTAssertTrue(message.contains("line 4, column 1 'x'"), message)
        let zero = errorMessage {
            _ = try CSVDataset.parse(text: text, fileName: "l.csv", target: "y", task: .regression, limit: 0)
        }
        XCTAssertEqual(zero, "csv: limit must be at least 1, got 0")
    }

    func testCSVClassificationMapsSortedLabelsToClassIndices() throws {
        let text = "a,label\n0.1,5\n0.2,3\n0.3,9.0\n0.4,5\n"
        let table = try CSVDataset.parse(text: text, fileName: "c.csv", target: "label", task: .classification)
        XCTAssertEqual(table.classLabels, [3, 5, 9])
        XCTAssertEqual(table.dataset.targets, .labels([1, 0, 2, 1], classes: 3))
        XCTAssertEqual(table.dataset.lossKind, .crossEntropy)

        let fractional = errorMessage {
            _ = try CSVDataset.parse(text: "a,label\n1,2\n2,2.5\n", fileName: "c.csv", target: "label", task: .classification)
        }
        XCTAssertTrue(fractional.contains("c.csv: line 3, column 2 'label': '2.5' is not an integer class label"), fractional)
        let single = errorMessage {
            _ = try CSVDataset.parse(text: "a,label\n1,4\n2,4\n", fileName: "c.csv", target: "label", task: .classification)
        }
        XCTAssertTrue(single.contains("single class (4)"), single)
        let manyRows = (0...CSVDataset.maxClasses).map { "0,\($0)" }.joined(separator: "\n")
        let many = errorMessage {
            _ = try CSVDataset.parse(text: "a,label\n" + manyRows, fileName: "c.csv", target: "label", task: .classification)
        }
        XCTAssertTrue(many.contains("has 1001 distinct labels, more than the 1000 classes allowed"), many)
    }

    func testCSVHandlesQuotesCRLFBlankLinesAndByteOrderMark() throws {
        let text = "\u{FEFF}id,\"size, m²\",y\r\n\r\n\"a, \"\"quoted\"\" name\",\"1.5\",2\r\n  \r\nplain, 3 ,4\r\n\"multi\nline\",5,6\n7,8,9"
        let table = try CSVDataset.parse(
            text: text, fileName: "q.csv", target: "y", task: .regression, inputColumns: ["size, m²"])
        XCTAssertEqual(table.inputColumns, ["size, m²"])
        XCTAssertEqual(table.dataset.inputs.storage, [1.5, 3, 5, 8])
        XCTAssertEqual(table.dataset.targets, .values(Matrix(rows: 4, cols: 1, storage: [2, 4, 6, 9])))

        let records = try CSVDataset.tokenize(Array(text.utf8), file: "q.csv")
        XCTAssertEqual(records[1].fields, ["a, \"quoted\" name", "1.5", "2"])
        XCTAssertEqual(records.map(\.line), [1, 3, 5, 6, 8], "lines count blank lines and line breaks inside quotes")

        let open = errorMessage {
            _ = try CSVDataset.parse(text: "a,y\n1,2\n\"3,4\n", fileName: "q.csv", target: "y", task: .regression)
        }
        XCTAssertEqual(open, "csv: q.csv: line 3: a quoted field is never closed (missing '\"')")
    }

    func testCSVMissingColumnNamesTheFileAndListsColumns() throws {
        let path = try write("data.csv", "x1,x2,y\n1,2,3\n")
        let message = errorMessage { _ = try CSVDataset.load(path: path, target: "target", task: .regression) }
        XCTAssertTrue(message.contains(path), message)
        XCTAssertTrue(message.contains("no column named 'target'"), message)
        XCTAssertTrue(message.contains("the columns are 'x1', 'x2', 'y'"), message)

        let input = errorMessage { _ = try CSVDataset.load(path: path, target: "y", task: .regression, inputColumns: ["x3"]) }
        XCTAssertTrue(input.contains("no column named 'x3'"), input)
        let overlap = errorMessage { _ = try CSVDataset.load(path: path, target: "y", task: .regression, inputColumns: ["y"]) }
        XCTAssertTrue(overlap.contains("input columns must be different from the target column 'y'"), overlap)
    }

    func testCSVNonNumericCellNamesFileLineAndColumn() throws {
        let path = try write("data.csv", "x1,x2,y\n1,2,3\n\n4,abc,6\n")
        let message = errorMessage { _ = try CSVDataset.load(path: path, target: "y", task: .regression) }
        XCTAssertEqual(message, "csv: \(path): line 4, column 2 'x2': 'abc' is not a finite number")

        let empty = errorMessage {
            _ = try CSVDataset.parse(text: "x,y\n1,\n", fileName: "e.csv", target: "y", task: .regression)
        }
        XCTAssertEqual(empty, "csv: e.csv: line 2, column 2 'y': the cell is empty")
        let nan = errorMessage { _ = try CSVDataset.parse(text: "x,y\nnan,1\n", fileName: "e.csv", target: "y", task: .regression) }
        XCTAssertTrue(nan.contains("line 2, column 1 'x': 'nan' is not a finite number"), nan)
    }

    func testCSVRaggedRowNamesTheLine() {
        let message = errorMessage {
            _ = try CSVDataset.parse(text: "x1,x2,y\n1,2,3\n4,5\n", fileName: "r.csv", target: "y", task: .regression)
        }
        XCTAssertEqual(message, "csv: r.csv: line 3 has 2 cells but the header has 3")
    }

    func testCSVStructuralProblemsAreExplained() throws {
        func parseError(_ text: String) -> String {
            errorMessage { _ = try CSVDataset.parse(text: text, fileName: "s.csv", target: "y", task: .regression) }
        }
        XCTAssertTrue(parseError("").contains("s.csv: the file is empty"))
        XCTAssertTrue(parseError("\n\n  \n").contains("the file is empty"))
        XCTAssertTrue(parseError("x,y\n").contains("header row but no data rows"))
        XCTAssertTrue(parseError("y\n1\n").contains("no input columns left after taking 'y' as the target"))
        XCTAssertTrue(parseError("x,y,x\n1,2,3\n").contains("columns 1 and 3 are both named 'x'"))

        let gzip = try write("data.csv.gz", [0x1F, 0x8B, 0x08, 0x00])
        let compressed = errorMessage { _ = try CSVDataset.load(path: gzip, target: "y", task: .regression) }
        XCTAssertTrue(compressed.contains("gzip-compressed"), compressed)
        let binary = try write("binary.csv", [0x78, 0x0A, 0xFF, 0xFE, 0x0A])
        let notText = errorMessage { _ = try CSVDataset.load(path: binary, target: "y", task: .regression) }
        XCTAssertTrue(notText.contains("not UTF-8 text"), notText)
    }

    // MARK: Split

    func testSplitIsDeterministicForASeed() throws {
        let data = try DigitsDataset.load()
        var first = SeededGenerator(seed: 11)
        var second = SeededGenerator(seed: 11)
        var other = SeededGenerator(seed: 12)
        let a = try DataSplit.make(from: data, probeSize: 100, probeSource: .heldOut, generator: &first)
        let b = try DataSplit.make(from: data, probeSize: 100, probeSource: .heldOut, generator: &second)
        let c = try DataSplit.make(from: data, probeSize: 100, probeSource: .heldOut, generator: &other)
        XCTAssertEqual(a.probeIndices, b.probeIndices)
        assertIdentical(a.train.inputs, b.train.inputs)
        assertIdentical(a.probe.inputs, b.probe.inputs)
        XCTAssertEqual(a.probe.targets, b.probe.targets)
        XCTAssertEqual(a.inputMean, b.inputMean)
        XCTAssertEqual(a.inputStd, b.inputStd)
        XCTAssertNotEqual(a.probeIndices, c.probeIndices)
    }

    func testSplitSizesAndDisjointnessPerProbeSource() throws {
        // Labels that are the sample indices show exactly which samples went where.
        let count = 50
        let data = Dataset(
            name: "indexed", inputs: Matrix(rows: count, cols: 2, storage: (0..<(2 * count)).map { Float($0 % 7) }),
            targets: .labels(Array(0..<count), classes: count))
        var generator = SeededGenerator(seed: 3)

        let shared = try DataSplit.make(from: data, probeSize: 10, probeSource: .train, generator: &generator)
        XCTAssertEqual(shared.train.count, 50)
        XCTAssertEqual(shared.probe.count, 10)
        XCTAssertEqual(labels(shared.probe), shared.probeIndices)
        XCTAssertEqual(Set(shared.probeIndices).count, 10)
        for (row, index) in shared.probeIndices.enumerated() {
            XCTAssertEqual(shared.probe.inputs.row(row), shared.train.inputs.row(index), "probe rows are training rows")
        }

        let heldOut = try DataSplit.make(from: data, probeSize: 10, probeSource: .heldOut, generator: &generator)
        XCTAssertEqual(heldOut.train.count, 40)
        XCTAssertEqual(heldOut.probe.count, 10)
        XCTAssertTrue(Set(labels(heldOut.train)).isDisjoint(with: labels(heldOut.probe)))
        XCTAssertEqual(Set(labels(heldOut.train)).union(labels(heldOut.probe)), Set(0..<count))
        XCTAssertEqual(heldOut.probeSource, .heldOut)
    }

    func testSplitStandardisesWithTrainingStatistics() throws {
        let data = try DigitsDataset.load()
        var generator = SeededGenerator(seed: 5)
        let split = try DataSplit.make(from: data, probeSize: 200, probeSource: .heldOut, generator: &generator)
        let train = split.train.inputs.converted(to: Double.self)
        for feature in 0..<data.inputDim {
            let (mean, variance) = moments(train, column: feature)
            XCTAssertEqual(mean, 0, accuracy: 1e-5, "feature \(feature) mean")
            if split.inputStd[feature] == 1 && split.inputMean[feature] == 0 {
                XCTAssertEqual(variance, 0, "a blank pixel stays 0, not NaN")
            } else {
                XCTAssertEqual(variance, 1, accuracy: 1e-4, "feature \(feature) variance")
            }
        }
        // The corner pixel is blank in every digit: its std is reported as 1.
        XCTAssertEqual(split.inputStd[0], 1)
        XCTAssertFalse(split.probe.inputs.storage.contains { !$0.isFinite })
        // The probe is transformed with the training statistics, not its own.
        let rawProbe = data.subset(split.probeIndices).inputs
        XCTAssertEqual(largestDifference(split.standardised(rawProbe), split.probe.inputs), 0)
    }

    func testSplitRejectsBadProbeSizes() throws {
        let data = try DigitsDataset.load()
        var generator = SeededGenerator(seed: 0)
        let tooLarge = errorMessage { _ = try DataSplit.make(from: data, probeSize: 2000, probeSource: .train, generator: &generator) }
        XCTAssertTrue(tooLarge.contains("probe size 2000 is larger than the 1797 samples available"), tooLarge)
        XCTAssertTrue(tooLarge.contains("at most 1797"), tooLarge)
        let allHeldOut = errorMessage { _ = try DataSplit.make(from: data, probeSize: 1797, probeSource: .heldOut, generator: &generator) }
        XCTAssertTrue(allHeldOut.contains("1796 samples available for probe source 'held_out'"), allHeldOut)
        let zero = errorMessage { _ = try DataSplit.make(from: data, probeSize: 0, probeSource: .train, generator: &generator) }
        XCTAssertEqual(zero, "split: probe size must be at least 1, got 0")
        XCTAssertNoThrow(try DataSplit.make(from: data, probeSize: 1797, probeSource: .train, generator: &generator))
    }

    func testSplitFreshProbeDrawsNewTeacherSamples() throws {
        var generator = SeededGenerator(seed: 21)
        let (data, teacher) = try TeacherDataset.makeWithTeacher(TeacherConfig(inputDim: 4, samples: 100), generator: &generator)
        let split = try DataSplit.make(
            from: data, probeSize: 30, probeSource: .fresh, generator: &generator, freshProbe: teacher.freshSampler)
        XCTAssertEqual(split.train.count, 100, "a fresh probe takes nothing from the training set")
        XCTAssertEqual(split.probe.count, 30)
        XCTAssertEqual(split.probeIndices, [])
        XCTAssertEqual(split.train.targets, data.targets)
        let trainRows = Set((0..<split.train.count).map { split.train.inputs.row($0) })
        XCTAssertFalse((0..<30).contains { trainRows.contains(split.probe.inputs.row($0)) }, "probe inputs are new")

        let digits = try DigitsDataset.load()
        let unavailable = errorMessage { _ = try DataSplit.make(from: digits, probeSize: 10, probeSource: .fresh, generator: &generator) }
        XCTAssertTrue(unavailable.contains("'digits' is a fixed data set"), unavailable)
        XCTAssertTrue(unavailable.contains("use probe source 'train' or 'held_out'"), unavailable)

        let mismatch = errorMessage {
            _ = try DataSplit.make(
                from: digits, probeSize: 10, probeSource: .fresh, generator: &generator, freshProbe: teacher.freshSampler)
        }
        XCTAssertTrue(mismatch.contains("input dimension 4, training data has 64"), mismatch)

        struct SamplerFailure: Error, CustomStringConvertible { var description: String { "sampler broke" } }
        let failing = errorMessage {
            _ = try DataSplit.make(from: data, probeSize: 10, probeSource: .fresh, generator: &generator) { _, _ in
                throw SamplerFailure()
            }
        }
        XCTAssertEqual(failing, "split: cannot use fresh probe samples for 'teacher': sampler broke")

        // The same seed reproduces the probe bit for bit.
        var again = SeededGenerator(seed: 21)
        let (sameData, sameTeacher) = try TeacherDataset.makeWithTeacher(TeacherConfig(inputDim: 4, samples: 100), generator: &again)
        let sameSplit = try DataSplit.make(
            from: sameData, probeSize: 30, probeSource: .fresh, generator: &again, freshProbe: sameTeacher.freshSampler)
        assertIdentical(sameSplit.probe.inputs, split.probe.inputs)
        XCTAssertEqual(sameSplit.probe.targets, split.probe.targets)
    }

    // MARK: Helpers

    private func values(_ data: Dataset) -> Matrix<Float>? {
        if case .values(let y) = data.targets { return y }
        return nil
    }

    private func labels(_ data: Dataset) -> [Int] {
        if case .labels(let l, _) = data.targets { return l }
        return []
    }

    private func moments<Scalar: BLASScalar>(_ matrix: Matrix<Scalar>, column: Int) -> (mean: Double, variance: Double) {
        let values = (0..<matrix.rows).map { Double(matrix[$0, column]) }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        return (mean, variance)
    }

    /// Fails unless the matrices are bit-identical, reporting the largest
    /// difference instead of printing both matrices.
    private func assertIdentical(
        _ a: Matrix<Float>, _ b: Matrix<Float>, file: StaticString = #filePath, line: UInt = #line
    ) {
        if a != b {
            XCTFail("matrices differ: \(a.rows)×\(a.cols) vs \(b.rows)×\(b.cols), largest difference \(largestDifference(a, b))",
                    file: file, line: line)
        }
    }

    /// Largest absolute element difference (infinity when the shapes differ),
    /// so a failure prints one number rather than two whole matrices.
    private func largestDifference(_ a: Matrix<Float>, _ b: Matrix<Float>) -> Float {
        guard a.rows == b.rows, a.cols == b.cols else { return .infinity }
        return zip(a.storage, b.storage).map { abs($0 - $1) }.max() ?? 0
    }

    private func leastSquaresSlope(_ points: [(Double, Double)]) -> Double {
        let n = Double(points.count)
        let meanX = points.map(\.0).reduce(0, +) / n
        let meanY = points.map(\.1).reduce(0, +) / n
        let covariance = points.map { ($0.0 - meanX) * ($0.1 - meanY) }.reduce(0, +)
        let varianceX = points.map { ($0.0 - meanX) * ($0.0 - meanX) }.reduce(0, +)
        return covariance / varianceX
    }
}
