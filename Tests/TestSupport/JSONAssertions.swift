import Foundation
import XCTest

/// `text` parsed as one JSON object (the bench report, a manifest); fails the calling test otherwise.
public func jsonObject(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try XCTUnwrap(object as? [String: Any], "not one JSON object", file: file, line: line)
}

/// Fails unless `value` is a finite positive number.
public func assertPositiveNumber(_ value: Any?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    guard let number = value as? Double else {
        XCTFail("\(what) is \(String(describing: value)), not a number", file: file, line: line)
        return
    }
    XCTAssertTrue(number.isFinite && number > 0, "\(what) = \(number)", file: file, line: line)
}
