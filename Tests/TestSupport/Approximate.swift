import XCTest

/// Relative error |a − b| / max(|a|, |b|, floor): the floor keeps values
/// near zero from demanding impossible relative precision.
public func relativeError(_ a: Double, _ b: Double, floor: Double = 1e-12) -> Double {
    abs(a - b) / max(abs(a), abs(b), floor)
}

/// Fails at the caller's line when `actual` and `expected` differ by more
/// than `tolerance` in relative error.
public func assertClose(_ actual: Double, _ expected: Double, tolerance: Double, floor: Double = 1e-12,
                        _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    let error = relativeError(actual, expected, floor: floor)
    if !(error <= tolerance) {
        XCTFail("\(actual) vs \(expected): relative error \(error) > \(tolerance) \(message())", file: file, line: line)
    }
}

/// Element-wise version that reports the largest relative difference.
public func assertClose(_ actual: [Double], _ expected: [Double], tolerance: Double, floor: Double = 1e-12,
                        _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) vs \(expected.count) \(message())", file: file, line: line)
        return
    }
    var worst = 0.0, worstIndex = -1
    for k in actual.indices {
        let e = relativeError(actual[k], expected[k], floor: floor)
        if !(e <= worst) { worst = e; worstIndex = k }
    }
    if !(worst <= tolerance) {
        XCTFail("largest relative error \(worst) at index \(worstIndex) (\(actual[worstIndex]) vs \(expected[worstIndex])) > \(tolerance) \(message())",
                file: file, line: line)
    }
}
