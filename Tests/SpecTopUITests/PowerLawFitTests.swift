import SpecTopRecord
import XCTest

final class PowerLawFitTests: XCTestCase {
    func testExactPowerLaw() throws {
        let x = [1.0, 10, 100, 1000]
        let fit = try XCTUnwrap(PowerLawFit(x: x, y: x.map { 3 * pow($0, -0.5) }))
        XCTAssertEqual(fit.exponent, -0.5, accuracy: 1e-12)
        XCTAssertEqual(fit.prefactor, 3, accuracy: 1e-12)
        XCTAssertEqual(fit.rSquared, 1, accuracy: 1e-12)
        XCTAssertEqual(fit.predict(10_000), 0.03, accuracy: 1e-12)
    }

    func testAgainstAHandComputation() throws {
        // ln x = 0, 1, 2; ln y = 0, 2, 1 (x = 1, e, e², y = 1, e², e).
        // Means 1 and 1; Sxx = 2, Sxy = (-1)(-1) + 0 + (1)(0) = 1, Syy = 1 + 1 + 0 = 2.
        // b = Sxy/Sxx = 0.5; ln a = 1 − 0.5·1 = 0.5; R² = Sxy²/(Sxx·Syy) = 1/4.
        let e = M_E
        let fit = try XCTUnwrap(PowerLawFit(x: [1, e, e * e], y: [1, e * e, e]))
        XCTAssertEqual(fit.exponent, 0.5, accuracy: 1e-12)
        XCTAssertEqual(fit.prefactor, exp(0.5), accuracy: 1e-12)
        XCTAssertEqual(fit.rSquared, 0.25, accuracy: 1e-12)
        XCTAssertEqual(fit.pointCount, 3)
    }

    func testUnusablePointsAreSkipped() throws {
        let fit = try XCTUnwrap(PowerLawFit(x: [0, 1, -1, 10, .nan, 100], y: [5, 2, 1, 0.2, 1, .infinity]))
        XCTAssertEqual(fit.pointCount, 2)
        XCTAssertEqual(fit.exponent, -1, accuracy: 1e-12)
    }

    func testTooFewPointsGiveNil() {
        XCTAssertNil(PowerLawFit(x: [1], y: [1]))
        XCTAssertNil(PowerLawFit(x: [1, 2], y: [0, 1]))
        XCTAssertNil(PowerLawFit(x: [], y: []))
        XCTAssertNil(PowerLawFit(x: [3, 3], y: [1, 2]), "all x equal: slope undefined")
    }

    func testFlatDataFitsPerfectly() throws {
        let fit = try XCTUnwrap(PowerLawFit(x: [1, 10], y: [2, 2]))
        XCTAssertEqual(fit.exponent, 0, accuracy: 1e-12)
        XCTAssertEqual(fit.rSquared, 1)
    }
}
