import SpecTopUI
import XCTest

final class NumberFormatTests: XCTestCase {
    func testScientific() {
        XCTAssertEqual(NumberFormat.scientific(0.0321), "3.21e-2")
        XCTAssertEqual(NumberFormat.scientific(152.3), "1.52e2")
        XCTAssertEqual(NumberFormat.scientific(9.999), "1.00e1")
        XCTAssertEqual(NumberFormat.scientific(-0.5), "-5.00e-1")
        XCTAssertEqual(NumberFormat.scientific(0), "0")
        XCTAssertEqual(NumberFormat.scientific(nil), "-")
        XCTAssertEqual(NumberFormat.scientific(.nan), "nan")
        XCTAssertEqual(NumberFormat.scientific(.infinity), "inf")
    }

    func testCounts() {
        XCTAssertEqual(NumberFormat.count(950), "950")
        XCTAssertEqual(NumberFormat.count(12_345), "12.3k")
        XCTAssertEqual(NumberFormat.count(1_234), "1.23k")
        XCTAssertEqual(NumberFormat.count(123_456), "123k")
        XCTAssertEqual(NumberFormat.count(1_050_000), "1.05M")
        XCTAssertEqual(NumberFormat.count(999_999), "1.00M")
    }

    func testOtherFormats() {
        XCTAssertEqual(NumberFormat.fixed(1.844, decimals: 2), "1.84")
        XCTAssertEqual(NumberFormat.fixed(0.005, decimals: 3), "0.005")
        XCTAssertEqual(NumberFormat.percent(0.451), "45.1%")
        XCTAssertEqual(NumberFormat.duration(125), "2:05")
        XCTAssertEqual(NumberFormat.duration(3723), "1:02:03")
        XCTAssertEqual(NumberFormat.axis(1e-4), "1e-4")
        XCTAssertEqual(NumberFormat.axis(0.0032), "3.2e-3")
        XCTAssertEqual(NumberFormat.axis(1500), "1500")
        XCTAssertEqual(NumberFormat.axis(972.3), "970")
        XCTAssertEqual(NumberFormat.axis(2.54), "2.5")
        XCTAssertEqual(NumberFormat.axis(42_000), "4.2e4")
        XCTAssertEqual(NumberFormat.axis(0.25), "2.5e-1")
    }
}
